"""OPC UA device worker: one subscription per connection, reconnect with backoff.

asyncua's own auto-reconnect stays off: this worker tears the session down, marks
every tag BAD and rebuilds the connection and subscription itself, with the same
backoff as the Modbus worker, so both protocols behave alike for the operator.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.ua.uaerrors import UaError

from hmi.core.bus import TagBus
from hmi.core.samples import Quality, Sample, Value
from hmi.core.site import Device, OpcUaAddress, Tag
from hmi.core.status import ConnectionState, DeviceStatus, DeviceStatusListener
from hmi.devices.connection import CommError, ReconnectBackoff, StatusTracker, bad_samples

_log = logging.getLogger(__name__)

SESSION_TIMEOUT_MS = 600_000

Clock = Callable[[], float]
_DISCONNECT_TIMEOUT = 1.0  # a dead server must not hang stop()


def _plain_value(value: Any) -> Value:
    """Map an OPC UA value onto the Sample value types; others become their text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _timestamp(stamp: dt.datetime | None) -> float | None:
    if stamp is None:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)  # OPC UA DateTime is UTC
    return stamp.timestamp()


def sample_from_datavalue(tag: str, value: ua.DataValue, now: float) -> Sample:
    """Turn an OPC UA DataValue into a Sample, quality from its StatusCode."""
    status = value.StatusCode or ua.StatusCode()  # absent means Good
    source = _timestamp(value.SourceTimestamp) or _timestamp(value.ServerTimestamp) or now
    if status.is_good():
        quality, detail = Quality.GOOD, ""
    elif status.is_uncertain():
        quality, detail = Quality.UNCERTAIN, f"opcua: {status.name}"
    else:
        return Sample(tag, None, Quality.BAD, source, now, f"opcua: {status.name}")
    raw = value.Value.Value if value.Value is not None else None
    return Sample(tag, _plain_value(raw), quality, source, now, detail)


class _DataChangeHandler:
    """asyncua subscription handler: forwards changes and status to the worker."""

    def __init__(self, worker: OpcUaWorker) -> None:
        self._worker = worker

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        self._worker._on_datachange(node, data.monitored_item.Value)

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        self._worker._on_subscription_status(status)


class OpcUaWorker:
    """Subscribes to one OPC UA server's tags and publishes their Samples."""

    def __init__(
        self,
        device: Device,
        tags: Sequence[Tag],
        bus: TagBus,
        on_status: DeviceStatusListener | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.device = device
        self.tags = tuple(tags)
        self._bus = bus
        self._clock = clock
        self._tracker = StatusTracker(device.name, on_status, clock)
        self._backoff = ReconnectBackoff()
        self._client: Client | None = None
        self._lost: asyncio.Event | None = None
        self._lost_reason = ""
        self._tags_by_node: dict[ua.NodeId, list[Tag]] = {}
        self._run_task: asyncio.Task[None] | None = None

    @property
    def status(self) -> DeviceStatus:
        return self._tracker.status

    async def run(self) -> None:
        """Keep a subscription alive until cancelled; only CancelledError escapes."""
        self._run_task = asyncio.current_task()
        try:
            while True:
                try:
                    await self._connect()
                    await self._subscribe()
                    self._backoff.reset()
                    await self._watch_connection()
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
            tagged = [(tag, node) for tag, node in nodes.items()]
            if tagged:
                values = await asyncio.wait_for(
                    client.read_attributes([node for _, node in tagged]),
                    timeout=self.device.timeout + 1.0,
                )
                now = self._clock()
                for (tag, _), value in zip(tagged, values, strict=True):
                    samples.append(self._tag_sample(tag, value, now))
            return samples
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = self._describe(exc)
            await self._disconnect()
            self._tracker.set(ConnectionState.DISCONNECTED, last_error=reason)
            return bad_samples(self.tags, f"comm: {reason}", self._clock())

    async def stop(self) -> None:
        """Cancel run() if it is running and close the session within a bounded time."""
        task = self._run_task
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout=_DISCONNECT_TIMEOUT + 1.0)
        await self._disconnect()
        self._tracker.set(ConnectionState.STOPPED, retry_in=0.0)

    # -- connection ---------------------------------------------------------------------

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, CommError):
            return str(exc)
        if isinstance(exc, TimeoutError):
            return f"no response from {self.device.endpoint} within {self.device.timeout:g} s"
        if isinstance(exc, ConnectionRefusedError):
            return f"connection refused by {self.device.endpoint}"
        text = str(exc) or type(exc).__name__
        return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text

    async def _connect(self) -> None:
        await self._disconnect()
        self._tracker.set(ConnectionState.CONNECTING, retry_in=0.0)
        interval = max(0.1, self.device.poll_interval)
        client = Client(
            url=self.device.endpoint,
            timeout=self.device.timeout,
            watchdog_intervall=interval,  # server-state probe period: loss seen within one poll
        )
        # asyncua asks for 1 h; servers commonly cap at 10 min and asyncua warns each time.
        client.session_timeout = SESSION_TIMEOUT_MS
        self._lost = asyncio.Event()
        self._lost_reason = ""
        client.connection_lost_callback = self._on_connection_lost
        self._client = client
        # connect() has no overall deadline of its own (only per request)
        await asyncio.wait_for(client.connect(), timeout=self.device.timeout * 2)
        self._tracker.set(ConnectionState.CONNECTED, last_error="", retry_in=0.0)

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            await asyncio.wait_for(client.disconnect(), timeout=_DISCONNECT_TIMEOUT)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                client.disconnect_socket()
            raise
        except Exception:
            # the server is gone: drop the socket without the goodbye handshake
            with contextlib.suppress(Exception):
                client.disconnect_socket()

    async def _on_connection_lost(self, exc: Exception) -> None:
        self._mark_lost(f"connection lost ({self._describe(exc)})")

    def _mark_lost(self, reason: str) -> None:
        if self._lost is not None and not self._lost.is_set():
            self._lost_reason = reason
            self._lost.set()

    async def _watch_connection(self) -> None:
        """Return (by raising CommError) once the connection is found dead."""
        lost = self._lost
        client = self._client
        assert lost is not None
        assert client is not None
        interval = max(0.1, self.device.poll_interval)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), timeout=interval)
            if lost.is_set():
                raise CommError(self._lost_reason or "connection lost")
            try:
                await client.check_connection()
            except ConnectionError as exc:
                raise CommError(f"connection lost ({exc})") from exc

    async def _handle_comm_loss(self, reason: str) -> None:
        await self._disconnect()
        delay = self._backoff.next_delay()
        _log.warning("%s: %s; retrying in %.1f s", self.device.name, reason, delay)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        while True:
            remaining = deadline - loop.time()
            self._tracker.set(
                ConnectionState.DISCONNECTED, last_error=reason, retry_in=max(0.0, remaining)
            )
            self._bus.publish_many(bad_samples(self.tags, f"comm: {reason}", self._clock()))
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, self.device.poll_interval))

    # -- subscription -------------------------------------------------------------------

    async def _resolve_nodes(self, client: Client) -> tuple[dict[Tag, Node], list[Sample]]:
        """Parse each tag's node id (resolving "nsu=" URIs); bad ids give BAD samples."""
        nodes: dict[Tag, Node] = {}
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
            nodes[tag] = client.get_node(node_id)
        return nodes, bad

    async def _subscribe(self) -> None:
        client = self._client
        assert client is not None
        nodes, bad = await self._resolve_nodes(client)
        self._tags_by_node = {}
        for tag, node in nodes.items():
            self._tags_by_node.setdefault(node.nodeid, []).append(tag)
        if bad:
            self._bus.publish_many(bad)
        if not nodes:
            return
        period_ms = self.device.poll_interval * 1000.0
        subscription = await client.create_subscription(period_ms, _DataChangeHandler(self))
        unique = list({node.nodeid: node for node in nodes.values()}.values())
        results = await subscription.subscribe_data_change(
            unique, sampling_interval=ua.Double(period_ms)
        )
        now = self._clock()
        failed: list[Sample] = []
        for node, result in zip(unique, results, strict=True):
            if isinstance(result, ua.StatusCode):
                detail = f"opcua: {result.name} subscribing {node.nodeid.to_string()}"
                tags = self._tags_by_node[node.nodeid]
                failed.extend(Sample.bad(tag.name, detail, now) for tag in tags)
        if failed:
            self._bus.publish_many(failed)

    def _on_datachange(self, node: Node, value: ua.DataValue) -> None:
        tags = self._tags_by_node.get(node.nodeid, ())
        now = self._clock()
        self._bus.publish_many(self._tag_sample(tag, value, now) for tag in tags)

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
