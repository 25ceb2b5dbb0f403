"""DeviceSupervisor: owns one worker per device on one loop, restarts crashed ones,
routes writes, reports diagnostics, applies stale detection at the source, and stops
them all. ``hmi.devices.host.DeviceHost`` runs it on the device thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hmi.core.bus import SampleSink
from hmi.core.diagnostics import DeviceDiagnostics, RequestStats
from hmi.core.listeners import Listeners
from hmi.core.samples import Sample, Value
from hmi.core.site import Device, DeviceKind, Site, Tag
from hmi.core.stale import StaleWatcher, site_rules
from hmi.core.status import DeviceStatus, DeviceStatusListener
from hmi.core.writes import WriteOutcome, WriteResult
from hmi.devices.connection import ReconnectBackoff

_log = logging.getLogger(__name__)

STOP_TIMEOUT = 3.0  # seconds stop() may take in all
STALE_TICK = 0.5  # seconds between stale checks

PasswordProvider = Callable[[str], str]  # keyring entry name -> secret


class DeviceWorker(Protocol):
    """Everything the supervisor uses of a protocol worker; every worker has all of it."""

    device: Device
    tags: tuple[Tag, ...]
    stats: RequestStats  # answered requests prove the device alive (stale detection)

    @property
    def status(self) -> DeviceStatus: ...

    async def run(self) -> None:
        """Publish values until cancelled; only CancelledError escapes (else: restarted)."""

    async def write(self, tag: Tag, value: Value) -> WriteResult:
        """An engineering value written, read back and compared; never raises."""
        ...

    def diagnostics(self) -> DeviceDiagnostics: ...

    def note_stale(self, samples: Sequence[Sample]) -> None:
        """The supervisor sent these UNCERTAIN copies of this device's values: the next
        fresh value must reach the screens even if it did not move past the deadband."""

    async def stop(self) -> None:
        """Cancel run() and close the connection."""


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """What a worker may need beyond its device: where the OPC UA trust store is, and
    how to read a credential from the keyring."""

    pki_dir: Path | None = None
    password_provider: PasswordProvider | None = None


DevicesWithTags = Sequence[tuple[Device, tuple[Tag, ...]]]
# Builds the workers of every device of one kind in one call (devices behind one gateway
# share a connection): device name -> worker.
WorkerFactory = Callable[
    [DevicesWithTags, SampleSink, DeviceStatusListener, WorkerContext],
    Mapping[str, DeviceWorker],
]


def _modbus_workers(devices: DevicesWithTags, sink: SampleSink,
                    on_status: DeviceStatusListener, _context: WorkerContext,
                    ) -> Mapping[str, DeviceWorker]:
    from hmi.devices.modbus import build_modbus_workers  # noqa: PLC0415 (pymodbus on demand)

    return build_modbus_workers(devices, sink, on_status)


def _opcua_workers(devices: DevicesWithTags, sink: SampleSink,
                   on_status: DeviceStatusListener, context: WorkerContext,
                   ) -> Mapping[str, DeviceWorker]:
    from hmi.devices.opcua import OpcUaWorker  # noqa: PLC0415 (asyncua on demand)

    return {
        device.name: OpcUaWorker(device, tags, sink, on_status, pki_dir=context.pki_dir,
                                 password_provider=context.password_provider)
        for device, tags in devices
    }


WORKER_FACTORIES: Mapping[DeviceKind, WorkerFactory] = {
    DeviceKind.MODBUS_TCP: _modbus_workers,
    DeviceKind.MODBUS_RTU: _modbus_workers,
    DeviceKind.MODBUS_RTU_OVER_TCP: _modbus_workers,
    DeviceKind.OPCUA: _opcua_workers,
}


class _StaleOutlet:
    """The workers' sink: the stale watcher sees every sample on its way out."""

    def __init__(self, sink: SampleSink, stale: StaleWatcher) -> None:
        self._sink = sink
        self._stale = stale

    def put(self, samples: Sequence[Sample], /) -> None:
        if samples:
            self._stale.observe(samples)
            self._sink.put(samples)


class DeviceSupervisor:
    """Runs every device worker of a site as a task and keeps them running.

    Samples leave through ``sink``; the workers apply the deadband and this supervisor
    the stale detection before they do. ``factories`` replaces the worker factory of
    some device kinds (tests: workers that misbehave on cue).
    """

    def __init__(
        self,
        site: Site,
        sink: SampleSink,
        *,
        context: WorkerContext | None = None,
        factories: Mapping[DeviceKind, WorkerFactory] | None = None,
        restart_delay: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._site = site
        self._sink = sink
        self._clock = clock
        self._restart_delay = restart_delay
        self._listeners: Listeners[[DeviceStatus]] = Listeners("device status")
        self.stale = StaleWatcher(site_rules(site))
        self._outlet = _StaleOutlet(sink, self.stale)
        self.workers: dict[str, DeviceWorker] = self._build_workers(
            {**WORKER_FACTORIES, **(factories or {})}, context or WorkerContext()
        )
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.restarts: dict[str, int] = dict.fromkeys(self.workers, 0)
        self._activity: dict[str, int] = {}
        self._stale_task: asyncio.Task[None] | None = None

    def _build_workers(self, factories: Mapping[DeviceKind, WorkerFactory],
                       context: WorkerContext) -> dict[str, DeviceWorker]:
        site = self._site
        workers: dict[str, DeviceWorker] = {}
        for kind in dict.fromkeys(device.kind for device in site.devices):
            factory = factories.get(kind)
            if factory is None:
                raise ValueError(f"no worker for device kind {kind.value!r}")
            devices = [(d, site.tags_of(d.name)) for d in site.devices if d.kind is kind]
            workers.update(factory(devices, self._outlet, self._on_status, context))
        return {device.name: workers[device.name] for device in site.devices}  # site order

    # -- status ---------------------------------------------------------------------------

    def statuses(self) -> dict[str, DeviceStatus]:
        return {name: worker.status for name, worker in self.workers.items()}

    def add_status_listener(self, listener: DeviceStatusListener) -> Callable[[], None]:
        """Register a listener for every worker's status changes; returns its remover."""
        return self._listeners.add(listener)

    def _on_status(self, status: DeviceStatus) -> None:
        self._listeners.fire(status)

    def diagnostics(self) -> dict[str, DeviceDiagnostics]:
        """Per device: state, rates, latency, errors and bytes (cheap: fine at 1 Hz)."""
        result: dict[str, DeviceDiagnostics] = {}
        for name, worker in self.workers.items():
            try:
                result[name] = worker.diagnostics()
            except Exception:
                _log.exception("diagnostics of %s failed", name)
                result[name] = diagnostics_from(worker.status, worker.stats)
        return result

    # -- running --------------------------------------------------------------------------

    async def start(self) -> None:
        for name, worker in self.workers.items():
            if name not in self._tasks or self._tasks[name].done():
                self._tasks[name] = asyncio.create_task(self._keep_running(worker), name=name)
        if self._stale_task is None or self._stale_task.done():
            self._stale_task = asyncio.create_task(self._watch_stale(), name="stale-watch")

    async def _keep_running(self, worker: DeviceWorker) -> None:
        """Run a worker; if it ever returns or raises, log it and restart after backoff."""
        backoff = ReconnectBackoff(initial=self._restart_delay, maximum=30.0)
        name = worker.device.name
        while True:
            started = time.monotonic()
            try:
                await worker.run()
                _log.error("device worker %s returned unexpectedly; restarting", name)
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("device worker %s crashed; restarting", name)
            self.restarts[name] += 1
            if time.monotonic() - started > 60.0:
                backoff.reset()
            await asyncio.sleep(backoff.next_delay())

    async def _watch_stale(self) -> None:
        while True:
            await asyncio.sleep(STALE_TICK)
            try:
                self.check_stale()
            except Exception:
                _log.exception("stale check failed")

    def check_stale(self) -> list[Sample]:
        """Send UNCERTAIN copies of the values that just went stale; return them."""
        now = self._clock()
        for name, worker in self.workers.items():
            stats = worker.stats
            answered = stats.requests - stats.errors
            if answered != self._activity.get(name, 0):
                self.stale.touch(name, now)  # an answer, a keep-alive: the device lives
            self._activity[name] = answered
        stale = self.stale.check(now)
        if stale:
            self._sink.put(stale)  # past the watcher: its own copies are no refresh
            by_device: dict[str, list[Sample]] = {}
            for sample in stale:
                by_device.setdefault(self._site.tag(sample.tag).device, []).append(sample)
            for name, samples in by_device.items():
                self.workers[name].note_stale(samples)
        return stale

    async def stop(self) -> None:
        """Cancel every worker and close its connection, within STOP_TIMEOUT."""
        if self._stale_task is not None:
            self._stale_task.cancel()
            self._stale_task = None
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_TIMEOUT / 2)
        stops = [asyncio.create_task(w.stop()) for w in self.workers.values()]
        done, pending = await asyncio.wait(stops, timeout=STOP_TIMEOUT / 2)
        for task in pending:
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                _log.error("stopping a device worker failed: %r", task.exception())
        for task in tasks:
            if task.done() and not task.cancelled():
                with contextlib.suppress(BaseException):
                    task.result()

    # -- writes ---------------------------------------------------------------------------

    async def write(self, tag_name: str, value: Value) -> WriteResult:
        """Send a value to the tag's device; never raises (the result says what happened).

        Range, type and permission checks are the write service's; this only routes.
        """
        try:
            tag = self._site.tag(tag_name)
        except KeyError:
            return WriteResult(
                tag_name, WriteOutcome.REFUSED, value,
                message=f"there is no tag {tag_name!r} in the site config: check its name",
            )
        worker = self.workers.get(tag.device)
        if worker is None:
            return WriteResult(tag_name, WriteOutcome.REFUSED, value,
                               message=f"tag {tag_name} names device {tag.device!r}, which "
                               "is not in the site config")
        limit = worker.device.timeout * 3 + 1.0
        try:
            result = await asyncio.wait_for(worker.write(tag, value), timeout=limit)
        except TimeoutError:
            return WriteResult(
                tag_name, WriteOutcome.FAILED, value,
                message=f"no answer from {tag.device} within {limit:g} s; the value may "
                "or may not be written: check it before writing again",
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _log.exception("writing %s failed", tag_name)
            return WriteResult(
                tag_name, WriteOutcome.FAILED, value, message=f"{tag.device}: {exc}"
            )
        return result


def diagnostics_from(status: DeviceStatus, stats: RequestStats | None) -> DeviceDiagnostics:
    """Diagnostics for a worker that does not report its own: status plus counters if any."""
    nan = math.nan
    return DeviceDiagnostics(
        device=status.device,
        state=status.state,
        last_error=status.last_error,
        requests_per_s=stats.requests_per_second() if stats else nan,
        latency_p50=stats.latency_percentile(0.50) if stats else nan,
        latency_p99=stats.latency_percentile(0.99) if stats else nan,
        reconnects=status.reconnects,
        errors=stats.errors if stats else 0,
        requests=stats.requests if stats else 0,
        bytes_sent=stats.bytes_sent if stats else 0,
        bytes_received=stats.bytes_received if stats else 0,
    )
