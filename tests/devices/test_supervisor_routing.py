"""DeviceSupervisor: restart of crashed workers, write routing, diagnostics, staleness.

Fake workers stand in where a real PLC cannot be made to misbehave on cue (a worker
that raises, one that goes silent); the rest runs against the simulators in hmi/sim.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from hmi.core.bus import SampleSink
from hmi.core.datatypes import DataType
from hmi.core.diagnostics import DeviceDiagnostics, RequestStats
from hmi.core.samples import Quality, Sample, Value
from hmi.core.site import Device, DeviceKind, ModbusAddress, OpcUaAddress, RegisterTable, Site, Tag
from hmi.core.status import ConnectionState, DeviceStatus, DeviceStatusListener
from hmi.core.writes import WriteOutcome, WriteResult
from hmi.devices.supervisor import (
    WORKER_FACTORIES,
    DeviceSupervisor,
    DeviceWorker,
    WorkerContext,
    WorkerFactory,
    diagnostics_from,
)
from hmi.sim.modbus_server import HR_SPEED, ModbusPlantServer
from hmi.sim.opcua_server import OpcUaPlantServer, free_port
from hmi.sim.plant import FillingLine
from tests.conftest import TappedBus, all_quality, wait_for

HR = RegisterTable.HOLDING_REGISTER


def _fake_site() -> Site:
    return Site(
        name="fake",
        devices=(Device("plc", DeviceKind.MODBUS_TCP, poll_interval=0.1, timeout=0.1),),
        tags=(
            Tag("Plc.Speed", "plc", ModbusAddress(HR, 0), DataType.FLOAT32, writable=True),
            Tag("Plc.State", "plc", ModbusAddress(HR, 2), DataType.UINT16),
        ),
    )


class FakeWorker:
    """Publishes one GOOD value per tag, then goes silent; crashes ``crashes`` times."""

    def __init__(self, device: Device, tags: tuple[Tag, ...], sink: SampleSink,
                 on_status: DeviceStatusListener, crashes: int = 0) -> None:
        self.device, self.tags, self._sink = device, tags, sink
        self._status = DeviceStatus(device.name, ConnectionState.CONNECTED, time.time())
        self.stats = RequestStats()
        self.noted_stale: list[Sample] = []
        self.runs = 0
        self.crashes = crashes

    @property
    def status(self) -> DeviceStatus:
        return self._status

    async def run(self) -> None:
        self.runs += 1
        if self.runs <= self.crashes:
            raise RuntimeError(f"crash number {self.runs}")
        now = time.time()
        self._sink.put([Sample(t.name, 42, Quality.GOOD, now, now) for t in self.tags])
        await asyncio.Event().wait()

    async def read_once(self) -> list[Sample]:
        return []

    async def write(self, tag: Tag, value: Value) -> WriteResult:
        return WriteResult(tag.name, WriteOutcome.FAILED, value, message="fake: no PLC")

    def diagnostics(self) -> DeviceDiagnostics:
        return diagnostics_from(self.status, self.stats)

    def note_stale(self, samples: Sequence[Sample]) -> None:
        self.noted_stale.extend(samples)

    async def stop(self) -> None:
        self._status = DeviceStatus(self.device.name, ConnectionState.STOPPED, time.time())


class WritingWorker(FakeWorker):
    def __init__(self, *args: Any, behaviour: str = "ok") -> None:
        super().__init__(*args)
        self.behaviour = behaviour
        self.written: list[tuple[str, Value]] = []

    async def write(self, tag: Tag, value: Value) -> WriteResult:
        if self.behaviour == "raise":
            raise ConnectionError("link down")
        if self.behaviour == "hang":
            await asyncio.Event().wait()
        self.written.append((tag.name, value))
        self.stats.record(0.004, sent=12, received=12)
        return WriteResult(tag.name, WriteOutcome.CONFIRMED, value, read_back=value)


def fake_workers(make: Callable[..., DeviceWorker]) -> dict[DeviceKind, WorkerFactory]:
    """A worker factory for every kind, building each device's worker with ``make``."""

    def factory(devices: Any, sink: SampleSink, on_status: DeviceStatusListener,
                _context: WorkerContext) -> dict[str, DeviceWorker]:
        return {device.name: make(device, tags, sink, on_status) for device, tags in devices}

    return dict.fromkeys(DeviceKind, factory)


def test_a_crashing_worker_is_restarted_and_then_publishes() -> None:
    workers: list[FakeWorker] = []

    def make(device: Device, tags: tuple[Tag, ...], sink: SampleSink,
             on_status: DeviceStatusListener) -> FakeWorker:
        workers.append(FakeWorker(device, tags, sink, on_status, crashes=2))
        return workers[-1]

    async def scenario() -> None:
        bus = TappedBus()
        supervisor = DeviceSupervisor(_fake_site(), bus, factories=fake_workers(make),
                                      restart_delay=0.05)
        await supervisor.start()
        try:
            await wait_for(lambda: bus.latest("Plc.Speed") is not None, 5, "a value after restarts")
            assert supervisor.restarts["plc"] == 2
            assert workers[0].runs == 3
        finally:
            await supervisor.stop()

    asyncio.run(scenario())


def test_a_silent_worker_goes_uncertain_with_its_last_value() -> None:
    async def scenario() -> None:
        bus = TappedBus()
        supervisor = DeviceSupervisor(_fake_site(), bus, factories=fake_workers(FakeWorker))
        await supervisor.start()
        try:
            await wait_for(lambda: all_quality(bus, supervisor.workers["plc"].tags,
                                               Quality.UNCERTAIN), 3, "stale after silence")
            sample = bus.latest("Plc.Speed")
            assert sample is not None
            assert sample.value == 42  # the last good value, not a blank
            assert sample.detail.startswith("stale: no update for ")
            assert sample.detail.endswith(" s")
            worker = supervisor.workers["plc"]
            assert isinstance(worker, FakeWorker)
            # the worker heard of it: its deadband filter lets the next fresh value through
            assert {s.tag for s in worker.noted_stale} == {"Plc.Speed", "Plc.State"}
        finally:
            await supervisor.stop()

    asyncio.run(scenario())


class KeepAliveWorker(FakeWorker):
    """A subscribed device whose values never change: only its request counters move."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.subscription_alive = True

    async def run(self) -> None:
        now = time.time()
        self._sink.put([Sample(t.name, 7, Quality.GOOD, now, now) for t in self.tags])
        while True:
            await asyncio.sleep(0.1)
            if self.subscription_alive:
                self.stats.record(0.001)  # a publish response (keep-alive), no data change


def test_keep_alives_keep_unchanging_subscribed_values_good() -> None:
    device = Device("ua", DeviceKind.OPCUA, endpoint="opc.tcp://127.0.0.1:1/",
                    poll_interval=0.1, timeout=0.1)
    site = Site("ua", (device,), (Tag("Ua.Mode", "ua", OpcUaAddress("ns=2;s=M"),
                                      DataType.STRING),))

    async def scenario() -> None:
        bus = TappedBus()
        supervisor = DeviceSupervisor(site, bus, factories=fake_workers(KeepAliveWorker))
        await supervisor.start()
        try:
            await asyncio.sleep(1.5)  # 3 x 0.1 + 0.1 s limit, passed three times over
            assert all_quality(bus, site.tags, Quality.GOOD)
            worker = supervisor.workers["ua"]
            assert isinstance(worker, KeepAliveWorker)
            worker.subscription_alive = False  # nothing arrives any more
            await wait_for(lambda: all_quality(bus, site.tags, Quality.UNCERTAIN), 3,
                           "stale once the keep-alives stop")
        finally:
            await supervisor.stop()

    asyncio.run(scenario())


def test_writes_are_routed_and_every_failure_is_a_result_not_an_exception() -> None:
    behaviour = {"value": "ok"}

    def make(device: Device, tags: tuple[Tag, ...], sink: SampleSink,
             on_status: DeviceStatusListener) -> WritingWorker:
        return WritingWorker(device, tags, sink, on_status, behaviour=behaviour["value"])

    async def scenario() -> None:
        supervisor = DeviceSupervisor(_fake_site(), TappedBus(), factories=fake_workers(make))
        result = await supervisor.write("Plc.Speed", 12.5)
        assert result.outcome is WriteOutcome.CONFIRMED
        worker = supervisor.workers["plc"]
        assert isinstance(worker, WritingWorker)
        assert worker.written == [("Plc.Speed", 12.5)]

        unknown = await supervisor.write("Plc.Nope", 1)
        assert unknown.outcome is WriteOutcome.REFUSED
        assert "Plc.Nope" in unknown.message

        for kind, words in (("raise", "link down"), ("hang", "may or may not")):
            worker.behaviour = kind
            failed = await supervisor.write("Plc.Speed", 1.0)
            assert failed.outcome is WriteOutcome.FAILED
            assert words in failed.message

        diagnostics = supervisor.diagnostics()["plc"]
        assert diagnostics.requests == 1
        assert diagnostics.bytes_sent == 12
        assert math.isclose(diagnostics.latency_p50, 0.004)

    asyncio.run(scenario())


def test_a_worker_whose_diagnostics_fail_still_reports_its_state() -> None:
    class BrokenDiagnostics(FakeWorker):
        def diagnostics(self) -> DeviceDiagnostics:
            raise RuntimeError("diagnostics bug")

    async def scenario() -> None:
        supervisor = DeviceSupervisor(_fake_site(), TappedBus(),
                                      factories=fake_workers(BrokenDiagnostics))
        diagnostics = supervisor.diagnostics()["plc"]
        assert isinstance(diagnostics, DeviceDiagnostics)
        assert diagnostics.state is ConnectionState.CONNECTED
        assert math.isnan(diagnostics.latency_p50)

    asyncio.run(scenario())


def test_every_device_kind_has_a_worker_factory() -> None:
    assert set(WORKER_FACTORIES) == set(DeviceKind)


def _live_site(modbus_port: int, opcua_port: int) -> Site:
    return Site(
        name="live",
        devices=(
            Device("filler", DeviceKind.MODBUS_TCP, port=modbus_port, poll_interval=0.2,
                   timeout=0.3),
            Device("capper", DeviceKind.OPCUA, endpoint=f"opc.tcp://127.0.0.1:{opcua_port}/x/",
                   poll_interval=0.2, timeout=0.5),
        ),
        tags=(
            Tag("Filler.Speed", "filler", ModbusAddress(HR, HR_SPEED), DataType.FLOAT32,
                units="bpm", low=0, high=600, writable=True),
            Tag("Filler.State", "filler", ModbusAddress(HR, 10), DataType.UINT16),
            Tag("Capper.Torque", "capper", OpcUaAddress("ns=2;s=Capper.Torque"),
                DataType.FLOAT64),
            Tag("Capper.State", "capper", OpcUaAddress("ns=2;s=Capper.State"),
                DataType.STRING),
        ),
    )


def test_live_values_never_go_stale_and_bad_stays_bad() -> None:
    async def scenario() -> None:
        plant = FillingLine()
        modbus = ModbusPlantServer(plant)
        await modbus.start()
        # its own plant: stopping the Modbus server must not freeze the capper's values
        opcua = OpcUaPlantServer(FillingLine(2), port=free_port())
        await opcua.start()
        site = _live_site(modbus.port, opcua.port)
        bus = TappedBus()
        supervisor = DeviceSupervisor(site, bus)
        seen: list[Sample] = []
        bus.tap(seen.extend)
        try:
            await supervisor.start()
            await wait_for(lambda: all_quality(bus, site.tags, Quality.GOOD), 10, "all GOOD")
            seen.clear()
            await asyncio.sleep(2.0)  # > 3 publishing intervals + timeout, several ticks
            assert [s for s in seen if s.quality is not Quality.GOOD] == []
            diagnostics = supervisor.diagnostics()
            assert set(diagnostics) == {"filler", "capper"}
            assert diagnostics["filler"].state is ConnectionState.CONNECTED

            await modbus.stop()
            filler = site.tags_of("filler")
            await wait_for(lambda: all_quality(bus, filler, Quality.BAD), 5, "filler BAD")
            seen.clear()
            await asyncio.sleep(1.5)
            assert not [s for s in seen if s.tag.startswith("Filler.")
                        and s.quality is Quality.UNCERTAIN], "BAD must never turn UNCERTAIN"
            assert all_quality(bus, site.tags_of("capper"), Quality.GOOD)
        finally:
            await supervisor.stop()
            await opcua.stop()
            await modbus.stop()

    asyncio.run(scenario())


def test_write_reaches_the_modbus_simulator() -> None:
    async def scenario() -> None:
        modbus = ModbusPlantServer(FillingLine())
        await modbus.start()
        site = _live_site(modbus.port, free_port())
        supervisor = DeviceSupervisor(site, TappedBus())
        try:
            result = await supervisor.write("Filler.Speed", 250.0)
            assert result.outcome in (WriteOutcome.CONFIRMED, WriteOutcome.MISMATCH), result
        finally:
            await supervisor.stop()
            await modbus.stop()

    asyncio.run(scenario())
