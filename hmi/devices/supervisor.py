"""DeviceSupervisor: owns one worker per device, restarts crashed ones, routes writes,
reports diagnostics, marks stale values UNCERTAIN, and stops them all."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from hmi.core.bus import TagBus
from hmi.core.diagnostics import DeviceDiagnostics, RequestStats
from hmi.core.samples import Sample, Value
from hmi.core.site import Device, DeviceKind, Site, Tag
from hmi.core.stale import StaleWatcher, site_rules
from hmi.core.status import DeviceStatus, DeviceStatusListener
from hmi.core.writes import WriteOutcome, WriteResult
from hmi.devices import modbus as modbus_module
from hmi.devices.connection import ReconnectBackoff, bad_samples
from hmi.devices.modbus import ModbusTcpWorker
from hmi.devices.opcua import OpcUaWorker

_log = logging.getLogger(__name__)

STOP_TIMEOUT = 3.0  # seconds stop() may take in all
STALE_TICK = 0.5  # seconds between stale checks
NOT_WRITABLE_YET = "writing is not supported for this device kind yet"

PasswordProvider = Callable[[str], str]  # keyring entry name -> secret


class DeviceWorker(Protocol):
    """What the supervisor needs of a protocol worker.

    Optional, looked up at run time so workers can grow them one by one:
    ``async write(tag, value) -> WriteResult`` (engineering value in, read back,
    compared), ``diagnostics() -> DeviceDiagnostics``, ``stats: RequestStats`` and
    ``last_alive: float`` (POSIX time of the last data or keep-alive; OPC UA).
    """

    device: Device
    tags: tuple[Tag, ...]

    @property
    def status(self) -> DeviceStatus: ...

    async def run(self) -> None: ...

    async def read_once(self) -> list[Sample]: ...

    async def stop(self) -> None: ...


WorkerFactory = Callable[[Device, tuple[Tag, ...], TagBus, DeviceStatusListener], DeviceWorker]


def build_worker(
    device: Device,
    tags: tuple[Tag, ...],
    bus: TagBus,
    on_status: DeviceStatusListener,
    *,
    pki_dir: Path | None = None,
    password_provider: PasswordProvider | None = None,
) -> DeviceWorker:
    """The worker class for a device's protocol."""
    if device.kind is DeviceKind.MODBUS_TCP:
        return ModbusTcpWorker(device, tags, bus, on_status)
    if device.kind is DeviceKind.OPCUA:
        security = _accepted(
            OpcUaWorker, pki_dir=pki_dir, password_provider=password_provider
        )
        return OpcUaWorker(device, tags, bus, on_status, **security)
    raise ValueError(f"no worker for device kind {device.kind!r}")


def _accepted(cls: type, **kwargs: Any) -> dict[str, Any]:
    """The keyword arguments ``cls`` takes, of those given (and not None)."""
    parameters = inspect.signature(cls).parameters
    given = {k: v for k, v in kwargs.items() if v is not None}
    dropped = sorted(set(given) - set(parameters))
    if dropped:
        _log.warning("%s does not take %s yet; ignored", cls.__name__, ", ".join(dropped))
    return {k: v for k, v in given.items() if k in parameters}


def modbus_factory() -> Callable[..., dict[str, DeviceWorker]] | None:
    """``hmi.devices.modbus.build_modbus_workers(devices_with_tags, bus, on_status)``:
    workers for every Modbus device, those behind one gateway sharing its connection.
    Looked up at run time so the supervisor also works with a Modbus module without it."""
    factory = getattr(modbus_module, "build_modbus_workers", None)
    return factory if callable(factory) else None


class DeviceSupervisor:
    """Runs every device worker of a site as a task and keeps them running."""

    def __init__(
        self,
        site: Site,
        bus: TagBus,
        *,
        pki_dir: Path | None = None,
        password_provider: PasswordProvider | None = None,
        worker_factory: WorkerFactory | None = None,
        restart_delay: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._site = site
        self._bus = bus
        self._clock = clock
        self._restart_delay = restart_delay
        self._listeners: list[DeviceStatusListener] = []
        self.workers: dict[str, DeviceWorker] = self._build_workers(
            worker_factory, pki_dir, password_provider
        )
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.restarts: dict[str, int] = dict.fromkeys(self.workers, 0)
        self.stale = StaleWatcher(site_rules(site))
        self._activity: dict[str, int] = {}
        self._stale_task: asyncio.Task[None] | None = None
        self._remove_listener: Callable[[], None] | None = None

    def _build_workers(
        self,
        factory: WorkerFactory | None,
        pki_dir: Path | None,
        password_provider: PasswordProvider | None,
    ) -> dict[str, DeviceWorker]:
        site, bus, on_status = self._site, self._bus, self._on_status
        workers: dict[str, DeviceWorker] = {}
        shared = modbus_factory() if factory is None else None
        if shared is not None:
            modbus = [(d, site.tags_of(d.name)) for d in site.devices if d.kind.is_modbus]
            workers.update(shared(modbus, bus, on_status))
        for device in site.devices:
            if device.name in workers:
                continue
            tags = site.tags_of(device.name)
            if factory is not None:
                workers[device.name] = factory(device, tags, bus, on_status)
            else:
                workers[device.name] = build_worker(
                    device, tags, bus, on_status,
                    pki_dir=pki_dir, password_provider=password_provider,
                )
        return {d.name: workers[d.name] for d in site.devices}  # site order

    # -- status ---------------------------------------------------------------------------

    def statuses(self) -> dict[str, DeviceStatus]:
        return {name: worker.status for name, worker in self.workers.items()}

    def add_status_listener(self, listener: DeviceStatusListener) -> Callable[[], None]:
        """Register a listener for every worker's status changes; returns its remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _on_status(self, status: DeviceStatus) -> None:
        for listener in list(self._listeners):
            try:
                listener(status)
            except Exception:
                _log.exception("device status listener failed")

    def diagnostics(self) -> dict[str, DeviceDiagnostics]:
        """Per device: state, rates, latency, errors and bytes (cheap: fine at 1 Hz)."""
        result: dict[str, DeviceDiagnostics] = {}
        for name, worker in self.workers.items():
            report = getattr(worker, "diagnostics", None)
            if callable(report):
                try:
                    diagnostics = report()
                except Exception:
                    _log.exception("diagnostics of %s failed", name)
                else:
                    if isinstance(diagnostics, DeviceDiagnostics):
                        result[name] = diagnostics
                        continue
            result[name] = diagnostics_from(worker.status, getattr(worker, "stats", None))
        return result

    # -- running --------------------------------------------------------------------------

    async def start(self) -> None:
        for name, worker in self.workers.items():
            if name not in self._tasks or self._tasks[name].done():
                self._tasks[name] = asyncio.create_task(self._keep_running(worker), name=name)
        if self._stale_task is None or self._stale_task.done():
            if self._remove_listener is None:
                self._remove_listener = self._bus.add_listener(self.stale.observe)
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

    def touch(self, device: str, when: float | None = None) -> None:
        """Hook for workers: ``device`` is alive (a keep-alive, an answer) though no value
        changed. Keeps its subscribed tags from going stale."""
        self.stale.touch(device, self._clock() if when is None else when)

    async def _watch_stale(self) -> None:
        while True:
            await asyncio.sleep(STALE_TICK)
            try:
                self.check_stale()
            except Exception:
                _log.exception("stale check failed")

    def check_stale(self) -> list[Sample]:
        """Publish UNCERTAIN copies of the values that just went stale; return them."""
        now = self._clock()
        for name, worker in self.workers.items():
            alive = getattr(worker, "last_alive", None)
            if isinstance(alive, float | int) and alive > 0:
                self.stale.touch(name, float(alive))
            stats = getattr(worker, "stats", None)
            if isinstance(stats, RequestStats):
                answered = stats.requests - stats.errors
                if answered != self._activity.get(name, 0):
                    self.stale.touch(name, now)
                self._activity[name] = answered
        stale = self.stale.check(now)
        if stale:
            self._bus.publish_many(stale)
        return stale

    async def stop(self) -> None:
        """Cancel every worker and close its connection, within STOP_TIMEOUT."""
        if self._stale_task is not None:
            self._stale_task.cancel()
            self._stale_task = None
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
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
        write = getattr(worker, "write", None)
        if worker is None or not callable(write):
            return WriteResult(tag_name, WriteOutcome.FAILED, value, message=NOT_WRITABLE_YET)
        limit = worker.device.timeout * 3 + 1.0
        try:
            result = await asyncio.wait_for(write(tag, value), timeout=limit)
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
        if not isinstance(result, WriteResult):
            return WriteResult(
                tag_name, WriteOutcome.FAILED, value,
                message=f"internal error: {tag.device}'s worker answered {result!r}",
            )
        return result

    # -- one-shot reads (CLI) -------------------------------------------------------------

    async def read_all_once(self) -> list[Sample]:
        """Read every tag once, devices in parallel; a dead device gives BAD samples."""
        workers = list(self.workers.values())
        results = await asyncio.gather(
            *(self._read_one(worker) for worker in workers), return_exceptions=True
        )
        samples: list[Sample] = []
        for worker, result in zip(workers, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                detail = f"comm: {result!r}"
                samples.extend(bad_samples(worker.tags, detail, time.time()))
            else:
                samples.extend(result)
        return samples

    async def _read_one(self, worker: DeviceWorker) -> list[Sample]:
        limit = worker.device.timeout * 3 + 1.0
        try:
            return await asyncio.wait_for(worker.read_once(), timeout=limit)
        except TimeoutError:
            detail = f"comm: no answer from {worker.device.name} within {limit:g} s"
            return bad_samples(worker.tags, detail, time.time())


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
