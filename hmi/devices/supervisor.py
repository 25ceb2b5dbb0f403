"""DeviceSupervisor: owns one worker per device, restarts crashed ones, stops them all."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

from hmi.core.bus import TagBus
from hmi.core.samples import Sample
from hmi.core.site import Device, DeviceKind, Site, Tag
from hmi.core.status import DeviceStatus, DeviceStatusListener
from hmi.devices.connection import ReconnectBackoff, bad_samples
from hmi.devices.modbus import ModbusTcpWorker
from hmi.devices.opcua import OpcUaWorker

_log = logging.getLogger(__name__)

STOP_TIMEOUT = 3.0  # seconds stop() may take in all


class DeviceWorker(Protocol):
    """What the supervisor needs of a protocol worker."""

    device: Device
    tags: tuple[Tag, ...]

    @property
    def status(self) -> DeviceStatus: ...

    async def run(self) -> None: ...

    async def read_once(self) -> list[Sample]: ...

    async def stop(self) -> None: ...

    # To come with issue 3 (device layer), implemented by every worker:
    #   async def write(self, tag: Tag, value: Value) -> WriteResult
    #       engineering value in (scaling inverted by the worker), read back, compared.
    #   def diagnostics(self) -> DeviceDiagnostics


def build_worker(
    device: Device, tags: tuple[Tag, ...], bus: TagBus, on_status: DeviceStatusListener
) -> DeviceWorker:
    """The worker class for a device's protocol."""
    if device.kind is DeviceKind.MODBUS_TCP:
        return ModbusTcpWorker(device, tags, bus, on_status)
    if device.kind is DeviceKind.OPCUA:
        return OpcUaWorker(device, tags, bus, on_status)
    raise ValueError(f"no worker for device kind {device.kind!r}")


class DeviceSupervisor:
    """Runs every device worker of a site as a task and keeps them running."""

    def __init__(self, site: Site, bus: TagBus) -> None:
        self._site = site
        self._bus = bus
        self._listeners: list[DeviceStatusListener] = []
        self.workers: dict[str, DeviceWorker] = {
            device.name: build_worker(device, site.tags_of(device.name), bus, self._on_status)
            for device in site.devices
        }
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.restarts: dict[str, int] = dict.fromkeys(self.workers, 0)

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

    async def start(self) -> None:
        for name, worker in self.workers.items():
            if name not in self._tasks or self._tasks[name].done():
                self._tasks[name] = asyncio.create_task(self._keep_running(worker), name=name)

    async def _keep_running(self, worker: DeviceWorker) -> None:
        """Run a worker; if it ever returns or raises, log it and restart after backoff."""
        backoff = ReconnectBackoff(initial=1.0, maximum=30.0)
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

    async def stop(self) -> None:
        """Cancel every worker and close its connection, within STOP_TIMEOUT."""
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
