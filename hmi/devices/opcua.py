"""OPC UA device worker: one subscription per connection (or polling), reconnect with backoff.

asyncua's own auto-reconnect stays off: this worker tears the session down, marks
every tag BAD and rebuilds the connection and subscription itself, with the same
backoff as the Modbus worker, so both protocols behave alike for the operator. When
the device says ``subscriptions = false``, or the server refuses CreateSubscription,
the worker polls every node with one Read per poll interval instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.uaerrors import UaError

from hmi.core.bus import SampleSink
from hmi.core.deadband import DeadbandFilter
from hmi.core.diagnostics import DeviceDiagnostics, RequestStats
from hmi.core.samples import Quality, Sample, Value
from hmi.core.site import Device, OpcUaAddress, Tag
from hmi.core.status import ConnectionState, DeviceStatus, DeviceStatusListener
from hmi.core.writes import WriteResult
from hmi.devices.connection import CommError, ReconnectBackoff, StatusTracker, bad_samples
from hmi.devices.opcua_security import PasswordProvider
from hmi.devices.opcua_session import (
    DISCONNECT_TIMEOUT,
    close_session,
    describe,
    open_session,
)
from hmi.devices.opcua_stats import StatsObserver, instrument
from hmi.devices.opcua_subscription import (
    Changes,
    MonitoredItemPlan,
    SubscriptionRefusedError,
    plan_items,
    subscribe,
)
from hmi.devices.opcua_values import sample_from_datavalue
from hmi.devices.opcua_writes import write_or_fail

__all__ = ["OpcUaWorker", "sample_from_datavalue"]

_log = logging.getLogger(__name__)

SESSION_TIMEOUT_MS = 600_000

Clock = Callable[[], float]


class OpcUaWorker:
    """Subscribes to (or polls) one OPC UA server's tags and publishes their Samples."""

    def __init__(
        self,
        device: Device,
        tags: Sequence[Tag],
        sink: SampleSink,
        on_status: DeviceStatusListener | None = None,
        clock: Clock = time.time,
        *,
        pki_dir: Path | None = None,
        password_provider: PasswordProvider | None = None,
    ) -> None:
        self.device = device
        self.tags = tuple(tags)
        self._sink = sink
        self._clock = clock
        self._pki_dir = pki_dir
        self._password_provider = password_provider
        self._tracker = StatusTracker(device.name, on_status, clock)
        self._backoff = ReconnectBackoff()
        self.stats = RequestStats()
        self._observer = StatsObserver(self.stats)
        self._client: Client | None = None
        self._lost: asyncio.Event | None = None
        self._lost_reason = ""
        self._node_ids: dict[str, ua.NodeId] = {}  # tag name -> resolved node, per session
        self._reread: set[str] = set()  # stale subscribed tags to read once
        self._items: dict[int, MonitoredItemPlan] = {}
        self._variants: dict[ua.NodeId, ua.VariantType] = {}
        self._polled = DeadbandFilter({tag.name: tag.deadband for tag in self.tags})
        self._run_task: asyncio.Task[None] | None = None
        self.polling = False  # True while reading with Read instead of a subscription
        self.monitored_items: tuple[MonitoredItemPlan, ...] = ()

    @property
    def status(self) -> DeviceStatus:
        return self._tracker.status

    @property
    def notifications(self) -> int:
        """Data-change notifications received since start."""
        return self._observer.notifications

    async def run(self) -> None:
        """Keep the subscription (or polling) alive until cancelled; only CancelledError escapes."""
        self._run_task = asyncio.current_task()
        try:
            while True:
                try:
                    await self._connect()
                    await self._serve()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    reason = self._describe(exc)
                    if not isinstance(exc, CommError | OSError | TimeoutError | UaError):
                        _log.exception("OPC UA worker %s failed", self.device.name)
                    await self._handle_comm_loss(reason)
        finally:
            await self._disconnect()
            self._tracker.set(ConnectionState.STOPPED, retry_in=0.0)

    async def read_once(self) -> list[Sample]:
        """Read every tag's value directly (for the CLI); never raises."""
        try:
            if self._client is None:
                await self._connect()
            client = self._client
            assert client is not None
            nodes, samples = await self._resolve_nodes(client)
            samples.extend(await self._read(client, nodes))
            return samples
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = self._describe(exc)
            await self._disconnect()
            self._tracker.set(ConnectionState.DISCONNECTED, last_error=reason)
            return bad_samples(self.tags, f"comm: {reason}", self._clock())

    async def write(self, tag: Tag, value: Value) -> WriteResult:
        """Write with the node's data type, read back and compare; never raises."""
        status = self.status
        not_connected = f"{self.device.name} is not connected" + (
            f" ({status.last_error})" if status.last_error else ""
        )
        return await write_or_fail(
            self._client,
            self._node_ids.get(tag.name),
            tag,
            value,
            self._variants,
            request_timeout=self.device.timeout,
            endpoint=self.device.endpoint,
            not_connected=not_connected,
        )

    def note_stale(self, samples: Sequence[Sample]) -> None:
        """Stale copies went out for these tags: a polled tag's next read passes the
        deadband filter; a subscribed one is read once while the subscription lives (its
        keep-alives carry no values, and an unchanged value is never sent again)."""
        for sample in samples:
            self._polled.note(sample)
            self._reread.add(sample.tag)

    def diagnostics(self) -> DeviceDiagnostics:
        status = self.status
        stats = self.stats
        return DeviceDiagnostics(
            device=self.device.name,
            state=status.state,
            last_error=status.last_error,
            requests_per_s=stats.requests_per_second(),
            latency_p50=stats.latency_percentile(0.5),
            latency_p99=stats.latency_percentile(0.99),
            reconnects=status.reconnects,
            errors=stats.errors,
            requests=stats.requests,
            bytes_sent=stats.bytes_sent,
            bytes_received=stats.bytes_received,
        )

    async def stop(self) -> None:
        """Cancel run() if it is running and close the session within a bounded time."""
        task = self._run_task
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout=DISCONNECT_TIMEOUT + 1.0)
        await self._disconnect()
        self._tracker.set(ConnectionState.STOPPED, retry_in=0.0)

    # -- connection ---------------------------------------------------------------------

    def _describe(self, exc: BaseException) -> str:
        return describe(exc, self.device)

    async def _connect(self) -> None:
        await self._disconnect()
        self._tracker.set(ConnectionState.CONNECTING, retry_in=0.0)
        # asyncua probes the server state every watchdog interval and gives the probe that
        # same time to answer: never less than the request timeout, or a busy server (5,000
        # items at 100 ms) is declared lost and re-subscribed over and over. A closed socket
        # is seen at once through connection_lost_callback; a silent hang within two probes.
        interval = max(1.0, self.device.poll_interval, self.device.timeout)
        if not self.device.subscriptions:
            interval = max(interval * 4, 5.0)  # each poll's Read already proves the link
        client = Client(
            url=self.device.endpoint,
            timeout=self.device.timeout,
            watchdog_intervall=interval,
        )
        # asyncua asks for 1 h; servers commonly cap at 10 min and asyncua warns each time.
        client.session_timeout = SESSION_TIMEOUT_MS
        instrument(client, self.stats, self._observer)
        self._lost = asyncio.Event()
        self._lost_reason = ""
        client.connection_lost_callback = self._on_connection_lost
        self._client = client
        self._variants.clear()
        await open_session(client, self.device, self._pki_dir, self._password_provider)
        self._tracker.set(ConnectionState.CONNECTED, last_error="", retry_in=0.0)

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        await close_session(client)

    async def _on_connection_lost(self, exc: Exception) -> None:
        self._mark_lost(f"connection lost ({self._describe(exc)})")

    def _mark_lost(self, reason: str) -> None:
        if self._lost is not None and not self._lost.is_set():
            self._lost_reason = reason
            self._lost.set()

    async def _wait_lost(self, interval: float) -> None:
        """Sleep ``interval``; raise CommError if the connection is found dead meanwhile."""
        lost = self._lost
        assert lost is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(lost.wait(), timeout=interval)
        if lost.is_set():
            raise CommError(self._lost_reason or "connection lost")

    async def _watch_connection(self) -> None:
        """Return (by raising CommError) once the connection is found dead."""
        client = self._client
        assert client is not None
        interval = max(0.1, self.device.poll_interval)
        while True:
            await self._wait_lost(interval)
            try:
                await client.check_connection()
            except ConnectionError as exc:
                raise CommError(f"connection lost ({exc})") from exc
            if self._reread:
                await self._read_stale(client)

    async def _read_stale(self, client: Client) -> None:
        """Read the subscribed tags that went stale once, so their current value (GOOD
        again, or BAD with the reason) replaces the UNCERTAIN copy."""
        names, self._reread = self._reread, set()
        nodes = {tag: self._node_ids[tag.name] for tag in self.tags
                 if tag.name in names and tag.name in self._node_ids}
        self._sink.put(await self._read(client, nodes))

    async def _handle_comm_loss(self, reason: str) -> None:
        await self._disconnect()
        self._polled.forget()
        delay = self._backoff.next_delay()
        _log.warning("%s: %s; retrying in %.1f s", self.device.name, reason, delay)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        while True:
            remaining = deadline - loop.time()
            self._tracker.set(
                ConnectionState.DISCONNECTED, last_error=reason, retry_in=max(0.0, remaining)
            )
            self._sink.put(bad_samples(self.tags, f"comm: {reason}", self._clock()))
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, self.device.poll_interval))

    # -- values -------------------------------------------------------------------------

    async def _resolve_nodes(self, client: Client) -> tuple[dict[Tag, ua.NodeId], list[Sample]]:
        """Parse each tag's node id (resolving "nsu=" URIs); bad ids give BAD samples."""
        nodes: dict[Tag, ua.NodeId] = {}
        bad: list[Sample] = []
        namespaces: dict[str, int] = {}
        for tag in self.tags:
            address = tag.address
            if not isinstance(address, OpcUaAddress):
                bad.append(Sample.bad(tag.name, "config: tag has no OPC UA node id", self._clock()))
                continue
            text = address.node_id
            try:
                if text.startswith("nsu="):
                    uri, _, rest = text[4:].partition(";")
                    if uri not in namespaces:
                        namespaces[uri] = await client.get_namespace_index(uri)
                    text = f"ns={namespaces[uri]};{rest}"
                node_id = ua.NodeId.from_string(text)
            except (ValueError, UaError) as exc:
                detail = f"config: invalid node id {address.node_id!r} ({exc})"
                bad.append(Sample.bad(tag.name, detail, self._clock()))
                continue
            nodes[tag] = node_id
        self._node_ids = {tag.name: node_id for tag, node_id in nodes.items()}
        return nodes, bad

    async def _serve(self) -> None:
        """Deliver values until the connection dies: by subscription, else by polling."""
        client = self._client
        assert client is not None
        nodes, bad = await self._resolve_nodes(client)
        if bad:
            self._sink.put(bad)
        if self.device.subscriptions and nodes:
            try:
                await self._subscribe(client, nodes)
            except SubscriptionRefusedError as exc:
                note = (
                    f"subscriptions refused by the server ({exc.status}): "
                    f"polling every {self.device.poll_interval:g} s"
                )
                _log.warning("%s: %s", self.device.name, note)
                self.monitored_items = ()
                self._tracker.set(ConnectionState.CONNECTED, last_error=note)
            else:
                self.polling = False
                self._backoff.reset()
                await self._watch_connection()
                return
        self.polling = True
        self._backoff.reset()
        await self._poll(client, nodes)

    async def _subscribe(self, client: Client, nodes: dict[Tag, ua.NodeId]) -> None:
        default = self.device.poll_interval
        plans = plan_items(nodes, default)
        self.monitored_items = tuple(plans)
        publishing = min([default, *(plan.sampling_interval for plan in plans)])
        # The first values can arrive before create_monitored_items returns: the handles
        # (1..n, in plan order, as subscribe() numbers them) must be known already.
        self._items = dict(enumerate(plans, start=1))
        active = await subscribe(
            client, plans, publishing, self._on_changes, self._on_subscription_status
        )
        self._items = active.items
        now = self._clock()
        self._sink.put([
            Sample.bad(tag.name, reason, now) for plan, reason in active.failed for tag in plan.tags
        ])

    async def _poll(self, client: Client, nodes: dict[Tag, ua.NodeId]) -> None:
        interval = max(0.05, self.device.poll_interval)
        while True:
            started = asyncio.get_running_loop().time()
            self._publish_polled(await self._read(client, nodes))
            elapsed = asyncio.get_running_loop().time() - started
            await self._wait_lost(max(0.0, interval - elapsed))

    async def _read(self, client: Client, nodes: dict[Tag, ua.NodeId]) -> list[Sample]:
        """One Read request for all nodes, with source and server timestamps."""
        if not nodes:
            return []
        tags = list(nodes)
        params = ua.ReadParameters()
        params.TimestampsToReturn = ua.TimestampsToReturn.Both
        params.NodesToRead = [
            ua.ReadValueId(NodeId=nodes[tag], AttributeId=AttributeIds.Value) for tag in tags
        ]
        values = await asyncio.wait_for(
            client.uaclient.read(params), timeout=self.device.timeout + 1.0
        )
        now = self._clock()
        return [self._tag_sample(tag, value, now) for tag, value in zip(tags, values, strict=True)]

    def _publish_polled(self, samples: list[Sample]) -> None:
        """Publish a poll's samples; tags with a deadband only when they moved past it
        (hmi.core.deadband: the rule the server applies to a subscription)."""
        self._sink.put(self._polled.select(samples))

    def _on_changes(self, changes: Changes) -> None:
        """One publish response: all its values go to the bus as one batch."""
        now = self._clock()
        samples: list[Sample] = []
        for handle, value in changes:
            plan = self._items.get(handle)
            if plan is not None:
                samples.extend(self._tag_sample(tag, value, now) for tag in plan.tags)
        self._sink.put(samples)

    def _on_subscription_status(self, status: ua.StatusChangeNotification) -> None:
        code = status.Status
        if code is not None and not code.is_good():
            self._mark_lost(f"subscription status {code.name}")

    def _tag_sample(self, tag: Tag, value: ua.DataValue, now: float) -> Sample:
        sample = sample_from_datavalue(tag.name, value, now)
        if sample.quality is Quality.BAD and isinstance(tag.address, OpcUaAddress):
            return Sample(
                sample.tag,
                None,
                Quality.BAD,
                sample.source_time,
                now,
                f"{sample.detail} reading {tag.address.node_id}",
            )
        return sample
