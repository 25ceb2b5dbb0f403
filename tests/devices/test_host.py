"""DeviceHost: the device loop on its own thread. The boundary under stress: a blocked
device loop does not stall the caller's loop; what is handed over at shutdown is stored
or counted; writes never hang; a crashed thread is shown and restarted."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from hmi.core.bus import SampleQueue, SampleSink, TagBus
from hmi.core.consumers import ConsumerRunner
from hmi.core.datatypes import DataType
from hmi.core.samples import Quality, Sample, Value
from hmi.core.site import Device, DeviceKind, ModbusAddress, OpcUaAddress, RegisterTable, Site, Tag
from hmi.core.status import ConnectionState, DeviceStatus
from hmi.core.writes import WriteOutcome, WriteResult
from hmi.devices.host import THREAD_NAME, DeviceHost
from hmi.services.historian import HistorianService
from hmi.sim.opcua_server import free_port
from hmi.store.database import open_database
from hmi.store.historian_retention import count_rows
from tests.conftest import all_quality, wait_for
from tests.devices.test_supervisor_routing import FakeWorker, fake_workers

HR = RegisterTable.HOLDING_REGISTER


def _site(kind: DeviceKind = DeviceKind.MODBUS_TCP, port: int = 1, tags: int = 2) -> Site:
    if kind is DeviceKind.OPCUA:
        device = Device("plc", kind, endpoint=f"opc.tcp://127.0.0.1:{port}/x/",
                        poll_interval=0.1, timeout=0.3)
        address: Any = OpcUaAddress("ns=2;s=X")
    else:
        device = Device("plc", kind, port=port, poll_interval=0.1, timeout=0.3)
        address = ModbusAddress(HR, 0)
    return Site("host", (device,), tuple(
        Tag(f"Plc.T{i}", "plc", address, DataType.FLOAT32, writable=True)
        for i in range(tags)))


class Collector:
    name = "collector"

    def __init__(self) -> None:
        self.kept: list[Sample] = []

    def unfinished(self) -> int:
        return 0

    async def run(self, queue: SampleQueue) -> None:
        while batch := await queue.get():
            self.kept += batch


class BlockingWorker(FakeWorker):
    """Publishes, then blocks its whole loop for 2 s (a decoder stuck in a tight loop),
    then publishes again."""

    async def run(self) -> None:
        now = time.time()
        self._sink.put([Sample(t.name, 1, Quality.GOOD, now, now) for t in self.tags])
        time.sleep(2.0)  # noqa: ASYNC251 (blocks the device loop: the point of the test)
        now = time.time()
        self._sink.put([Sample(t.name, 2, Quality.GOOD, now, now) for t in self.tags])
        await asyncio.Event().wait()


def test_a_worker_that_blocks_its_loop_does_not_stall_the_callers_loop() -> None:
    async def scenario() -> None:
        bus = TagBus()
        host = DeviceHost(_site(), bus, factories=fake_workers(BlockingWorker))
        await host.start()
        try:
            loop = asyncio.get_running_loop()
            worst, last, end = 0.0, loop.time(), loop.time() + 2.5
            while loop.time() < end:
                await asyncio.sleep(0.01)
                worst, last = max(worst, loop.time() - last), loop.time()
            await wait_for(lambda: getattr(bus.latest("Plc.T0"), "value", None) == 2, 5,
                           "the value after the block")
        finally:
            await host.stop()
        # on one shared loop this would be the full 2 s block
        assert worst < 0.5, f"the caller's loop stalled {worst:.2f} s"

    asyncio.run(scenario())


class StreamingWorker(FakeWorker):
    """Publishes a new value of every tag each millisecond, and a last batch as it
    stops; counts everything it handed over."""

    published: ClassVar[list[int]] = [0]

    async def run(self) -> None:
        value = 0
        try:
            while True:
                value += 1
                self._send(value)
                await asyncio.sleep(0.001)
        finally:
            self._send(-1)  # handed over while being stopped

    def _send(self, value: int) -> None:
        now = time.time() + value * 1e-6
        self._sink.put([Sample(t.name, float(value), Quality.GOOD, now, now)
                        for t in self.tags])
        StreamingWorker.published[0] += len(self.tags)


def test_samples_handed_over_during_shutdown_are_stored_or_counted_as_lost(
        tmp_path: Path) -> None:
    StreamingWorker.published[0] = 0
    database = open_database(tmp_path / "hmi.sqlite3")
    site = _site(tags=5)

    async def scenario() -> tuple[int, int, int]:
        bus = TagBus(known_tags=[t.name for t in site.tags])
        runner = ConsumerRunner(bus)
        historian = HistorianService(database, site.tags, heartbeat=3600.0,
                                     queue_size=2_000, flush_interval=0.05)
        runner.add(historian, overflow=historian.overflow, maxsize=historian.queue_size)
        runner.start()
        host = DeviceHost(site, bus, factories=fake_workers(StreamingWorker))
        await host.start()
        await asyncio.sleep(1.0)
        await host.stop()  # as Runtime.stop does: devices, flush, consumers
        bus.flush()
        await runner.stop()
        stats = runner.stats()[0]
        return bus.published, stats.dropped, stats.lost_at_stop

    try:
        published, dropped, lost_at_stop = asyncio.run(scenario())
        stored = count_rows(database, "historian_samples")
    finally:
        database.close()
    handed_over = StreamingWorker.published[0]
    assert handed_over > 1_000
    assert published == handed_over  # nothing lost between the threads
    gaps = 5 if dropped else 0  # one BAD gap row per tag that lost samples
    assert stored + dropped + lost_at_stop == handed_over + gaps


def test_a_write_while_the_device_is_reconnecting_fails_with_the_reason() -> None:
    async def scenario() -> None:
        for kind in (DeviceKind.MODBUS_TCP, DeviceKind.OPCUA):
            site = _site(kind, port=free_port())  # nothing listens there
            bus = TagBus()
            host = DeviceHost(site, bus)
            await host.start()
            try:
                await wait_for(lambda h=host: all(  # type: ignore[misc]
                    s.state is ConnectionState.DISCONNECTED for s in h.statuses().values()),
                    10, f"{kind.value} reconnecting")
                result = await asyncio.wait_for(host.write("Plc.T0", 1.0), 15)
                assert result.outcome is WriteOutcome.FAILED, result
                assert "refused" in result.message or "not connected" in result.message, \
                    result.message
            finally:
                await host.stop()

    asyncio.run(scenario())


class CrashOnceWorker(FakeWorker):
    """Kills its loop's thread on the first run (SystemExit escapes any supervisor)."""

    crashed: ClassVar[list[bool]] = [False]

    async def run(self) -> None:
        if not CrashOnceWorker.crashed[0]:
            CrashOnceWorker.crashed[0] = True
            raise SystemExit("simulated crash of the device thread")
        await super().run()


def test_a_crashed_device_thread_is_logged_shown_and_restarted(
        caplog: pytest.LogCaptureFixture) -> None:
    CrashOnceWorker.crashed[0] = False
    site = _site()

    async def scenario() -> None:
        bus = TagBus()
        host = DeviceHost(site, bus, factories=fake_workers(CrashOnceWorker),
                          thread_restart_delays=(0.3,))
        seen: list[DeviceStatus] = []
        host.add_status_listener(seen.append)
        await host.start()
        try:
            await wait_for(lambda: any("device thread crashed" in s.last_error for s in seen),
                           5, "the crash shown on the device's status")
            assert all_quality(bus, site.tags, Quality.BAD)
            sample = bus.latest("Plc.T0")
            assert sample is not None
            assert "device thread crashed" in sample.detail
            await wait_for(lambda: all_quality(bus, site.tags, Quality.GOOD), 5,
                           "values again after the restart")
            assert host.crashes == 1
            assert host.running
        finally:
            await host.stop()

    with caplog.at_level(logging.ERROR, logger="hmi.devices.host"):
        asyncio.run(scenario())
    assert any("device thread crashed" in r.getMessage() and "SystemExit" in r.getMessage()
               for r in caplog.records)


class ThreadNotingWorker(FakeWorker):
    write_threads: ClassVar[list[str]] = []

    async def write(self, tag: Tag, value: Value) -> WriteResult:
        ThreadNotingWorker.write_threads.append(threading.current_thread().name)
        return WriteResult(tag.name, WriteOutcome.CONFIRMED, value, read_back=value)


def test_a_write_runs_on_the_device_thread_and_answers_on_the_callers_loop() -> None:
    ThreadNotingWorker.write_threads.clear()

    async def scenario() -> None:
        host = DeviceHost(_site(), TagBus(), factories=fake_workers(ThreadNotingWorker))
        await host.start()
        try:
            result = await host.write("Plc.T0", 3.5)
            assert result.outcome is WriteOutcome.CONFIRMED
            assert threading.current_thread() is threading.main_thread()
            unknown = await host.write("Plc.Nope", 1)
            assert unknown.outcome is WriteOutcome.REFUSED
        finally:
            await host.stop()
        stopped = await host.write("Plc.T0", 1.0)
        assert stopped.outcome is WriteOutcome.FAILED
        assert "not running" in stopped.message

    asyncio.run(scenario())
    assert ThreadNotingWorker.write_threads == [THREAD_NAME]


def test_a_worker_factory_that_refuses_the_config_fails_start() -> None:
    def refuse(*_args: Any) -> dict[str, Any]:
        raise ValueError("device plc: bad address")

    async def scenario() -> None:
        host = DeviceHost(_site(), TagBus(), factories=dict.fromkeys(DeviceKind, refuse))
        with pytest.raises(ValueError, match="bad address"):
            await host.start()
        await asyncio.sleep(0.2)
        assert host.crashes == 0  # a refused config is not a crash to restart
        await host.stop()

    asyncio.run(scenario())



class HangingWriteWorker(FakeWorker):
    """A write that never gets its answer; the thread dies while it waits."""

    async def run(self) -> None:
        await asyncio.sleep(0.5)
        raise SystemExit("the device thread dies while a write waits")

    async def write(self, tag: Tag, value: Value) -> WriteResult:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def test_a_write_in_flight_when_the_thread_dies_is_answered_failed() -> None:
    async def scenario() -> None:
        host = DeviceHost(_site(), TagBus(), factories=fake_workers(HangingWriteWorker),
                          thread_restart_delays=(30.0,))
        await host.start()
        try:
            result = await asyncio.wait_for(host.write("Plc.T0", 1.0), 10)
            assert result.outcome is WriteOutcome.FAILED
            assert "stopped before answering" in result.message
            assert "may or may not be written" in result.message
        finally:
            await host.stop()

    asyncio.run(scenario())


def test_stop_while_the_workers_are_being_built_stops_the_thread() -> None:
    def slow(devices: Any, sink: SampleSink, on_status: Any, _context: Any) -> dict[str, Any]:
        time.sleep(1.0)  # e.g. importing asyncua and building an address space
        return {d.name: FakeWorker(d, tags, sink, on_status) for d, tags in devices}

    async def scenario() -> None:
        host = DeviceHost(_site(), TagBus(), factories=dict.fromkeys(DeviceKind, slow))
        starting = asyncio.create_task(host.start())
        await asyncio.sleep(0.2)
        await host.stop()
        await asyncio.gather(starting, return_exceptions=True)
        thread = threading.enumerate()
        assert not any(t.name == THREAD_NAME for t in thread), "no device thread left"
        assert not host.running

    asyncio.run(scenario())
