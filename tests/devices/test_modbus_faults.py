"""ModbusTcpWorker against misbehaving peers (hmi.sim.faults): the affected tags go BAD
within two poll periods plus the timeout, with a detail that says what to fix, the
worker keeps running, and a healthy device on the same TagBus is undisturbed."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from pymodbus.exceptions import ModbusIOException

from hmi.core.datatypes import DataType, encode_value
from hmi.core.samples import Quality, Sample
from hmi.core.site import Device, DeviceKind, ModbusAddress, RegisterTable, Tag
from hmi.core.status import ConnectionState, DeviceStatus
from hmi.devices.modbus import ModbusTcpWorker
from hmi.sim.faults import (
    INF_FLOAT32,
    NAN_FLOAT32,
    NEG_INF_FLOAT32,
    ExceptionCode,
    ExceptionServer,
    FaultyModbusServer,
    GarbageServer,
    SilentServer,
    TruncatedServer,
    Truncation,
)
from hmi.sim.modbus_server import ModbusRegisterServer
from tests.conftest import TappedBus, all_quality, wait_for

POLL = 0.2
TIMEOUT = 0.5
BUDGET = 2 * POLL + TIMEOUT  # from the fault's onset to BAD on the bus
OBSERVE = 4 * POLL  # how long the fault is held after the tags went BAD
MAX_HEALTHY_GAP = POLL + 0.3  # between two updates of the healthy device: one poll + jitter
HR, COIL = RegisterTable.HOLDING_REGISTER, RegisterTable.COIL

# Words an operator can act on. "comm: connection lost" and "no response" are what the
# worker says today for a peer that *did* answer, with bytes it could not parse.
TIMED_OUT = ("no response", "timed out", "no answer")
MALFORMED = ("garbage", "invalid", "malformed", "incomplete", "truncated")
MALFORMED_TODAY = ("no response", "connection lost")


def _says(detail: str, *words: str) -> bool:
    text = detail.lower()
    return any(word in text for word in words)


def _device(name: str, port: int, unit_id: int = 1) -> Device:
    return Device(
        name,
        DeviceKind.MODBUS_TCP,
        port=port,
        unit_id=unit_id,
        poll_interval=POLL,
        timeout=TIMEOUT,
    )


def _tag(device: str, name: str, table: RegisterTable, offset: int, data_type: DataType) -> Tag:
    return Tag(f"{device}.{name}", device, ModbusAddress(table, offset), data_type)


def _line_tags(device: str) -> tuple[Tag, ...]:
    """A small realistic tag set: a counter, two floats, an int32 and a coil."""
    return (
        _tag(device, "Counter", HR, 0, DataType.UINT16),
        _tag(device, "Speed", HR, 1, DataType.FLOAT32),
        _tag(device, "Level", HR, 3, DataType.FLOAT32),
        _tag(device, "Total", HR, 5, DataType.INT32),
        _tag(device, "Running", COIL, 0, DataType.BOOL),
    )


HEALTHY_TAGS = _line_tags("Healthy")
COUNTER = HEALTHY_TAGS[0].name


@dataclass
class Plant:
    """The bus, a healthy device that changes every poll, and the devices under test."""

    bus: TappedBus
    healthy: ModbusTcpWorker
    workers: list[ModbusTcpWorker]
    tasks: list[asyncio.Task[None]]
    loop_errors: list[dict[str, Any]]
    statuses: list[DeviceStatus] = field(default_factory=list)
    # pymodbus 3.16 raises ModbusIOException out of data_received for a frame it cannot
    # decode; asyncio reports it as a fatal transport error and closes the socket. Not
    # ours to fail on here, but counted (see the report).
    pymodbus_decode_errors: list[dict[str, Any]] = field(default_factory=list)
    healthy_times: list[float] = field(default_factory=list)  # loop time of each Counter
    healthy_not_good: list[Sample] = field(default_factory=list)

    def on_batch(self, batch: list[Sample]) -> None:
        now = asyncio.get_running_loop().time()
        for sample in batch:
            if sample.tag.startswith("Healthy."):
                if sample.quality is not Quality.GOOD:
                    self.healthy_not_good.append(sample)
                if sample.tag == COUNTER:
                    self.healthy_times.append(now)

    def detail(self, tag: Tag) -> str:
        sample = self.bus.latest(tag.name)
        assert sample is not None, f"{tag.name} never published"
        return sample.detail

    def on_loop_error(self, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), ModbusIOException) and "data_received" in str(
            context.get("message", "")
        ):
            self.pymodbus_decode_errors.append(context)
        else:
            self.loop_errors.append(context)

    def assert_all_running(self) -> None:
        for task in self.tasks:
            assert not task.done(), f"a worker's run() ended: {task}"
        assert not self.loop_errors, self.loop_errors

    def errors_seen(self, device: str) -> list[str]:
        return [s.last_error for s in self.statuses if s.device == device and s.last_error]

    async def hold_and_check_healthy(self, seconds: float) -> None:
        """Keep the fault for ``seconds``; the healthy device must keep updating, GOOD."""
        first = len(self.healthy_times)
        counter0 = self.bus.latest(COUNTER)
        assert counter0 is not None
        await asyncio.sleep(seconds)
        times = self.healthy_times[max(0, first - 1) :]
        assert len(times) >= seconds / POLL - 1, f"healthy device polled {len(times)} times"
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert max(gaps) <= MAX_HEALTHY_GAP, f"healthy device stalled {max(gaps):.3f} s"
        assert not self.healthy_not_good, self.healthy_not_good[:3]
        assert all_quality(self.bus, HEALTHY_TAGS, Quality.GOOD)
        counter = self.bus.latest(COUNTER)
        assert counter is not None
        assert counter.value != counter0.value, "healthy values stopped changing"
        assert self.healthy.status.state is ConnectionState.CONNECTED
        assert self.healthy.status.reconnects == 0
        self.assert_all_running()


async def _change_healthy_plant(server: ModbusRegisterServer) -> None:
    """Change the healthy device's values twice a poll, as a running line does."""
    for n in itertools.count():
        server.set_holding(0, [n & 0xFFFF])
        server.set_holding(1, encode_value(1.5 * n, DataType.FLOAT32))
        server.set_holding(3, encode_value(50.0 + n % 10, DataType.FLOAT32))
        server.set_holding(5, encode_value(-n, DataType.INT32))
        await asyncio.sleep(POLL / 2)


@contextlib.asynccontextmanager
async def _plant(
    fault: FaultyModbusServer | ModbusRegisterServer,
    faulty: Sequence[tuple[Device, Sequence[Tag]]],
) -> AsyncIterator[Plant]:
    """Start the healthy device, the fault server (if the test has not: devices need its
    port) and one worker per faulty device, all on one TagBus; wait until every tag of
    every device is GOOD."""
    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, Any]] = []
    healthy_server = ModbusRegisterServer(holding_count=16)
    await healthy_server.start()
    changer = asyncio.create_task(_change_healthy_plant(healthy_server))
    await fault.start()
    bus = TappedBus()
    statuses: list[DeviceStatus] = []
    healthy = ModbusTcpWorker(
        _device("Healthy", healthy_server.port), HEALTHY_TAGS, bus, statuses.append
    )
    workers = [ModbusTcpWorker(device, tags, bus, statuses.append) for device, tags in faulty]
    plant = Plant(bus, healthy, workers, [], loop_errors, statuses)
    loop.set_exception_handler(lambda _loop, context: plant.on_loop_error(context))
    bus.tap(plant.on_batch)
    plant.tasks = [asyncio.create_task(w.run()) for w in (healthy, *workers)]
    try:
        every_tag = [*HEALTHY_TAGS, *(t for _, tags in faulty for t in tags)]
        await wait_for(lambda: all_quality(bus, every_tag, Quality.GOOD), 3.0, "all GOOD")
        yield plant
    finally:
        for worker in (healthy, *workers):
            await worker.stop()
        changer.cancel()
        await asyncio.gather(changer, return_exceptions=True)
        await fault.stop()
        await healthy_server.stop()
    for task in plant.tasks:
        assert task.done()
        assert task.cancelled() or task.exception() is None, "an exception escaped run()"
    assert not loop_errors, loop_errors


def _run(scenario: Callable[[], Coroutine[Any, Any, str]]) -> str:
    return asyncio.run(scenario())


async def _fault_to_bad(plant: Plant, fault: FaultyModbusServer, bad: Sequence[Tag]) -> float:
    """Switch the fault on; return the seconds until every tag of ``bad`` is BAD."""
    plant.assert_all_running()
    fault.active = True
    took = await wait_for(
        lambda: all_quality(plant.bus, bad, Quality.BAD), BUDGET, "the faulty tags to go BAD"
    )
    assert fault.faults > 0
    return took


def _xfail_unless_says(detail: str, words: Sequence[str], recommended: str) -> None:
    """Everything else passed: mark the poor wording visibly, without failing the suite."""
    if not _says(detail, *words):
        pytest.xfail(f"detail {detail!r} should say e.g. {recommended!r}")


# -- no answer ----------------------------------------------------------------------------


def test_silent_peer_times_out_then_recovers_and_others_undisturbed() -> None:
    tags = _line_tags("Filler")

    async def scenario() -> str:
        silent = SilentServer(active=False, registers=[0x4120, 0])
        await silent.start()
        async with _plant(silent, [(_device("Filler", silent.port), tags)]) as plant:
            took = await _fault_to_bad(plant, silent, tags)
            assert took <= BUDGET
            worker = plant.workers[0]
            detail = plant.detail(tags[0])
            assert detail.startswith("comm:")
            assert _says(detail, *TIMED_OUT), detail
            assert f"{TIMEOUT:g} s" in detail
            assert worker.status.state is ConnectionState.DISCONNECTED
            assert all(plant.detail(t).startswith("comm:") for t in tags)
            await plant.hold_and_check_healthy(OBSERVE)
            assert all_quality(plant.bus, tags, Quality.BAD)
            # the peer answers again: the worker, still running, reconnects on its own
            silent.active = False
            await wait_for(lambda: all_quality(plant.bus, tags, Quality.GOOD), 4.0, "recovery")
            plant.assert_all_running()
            return detail

    _run(scenario)


# -- answers that are not Modbus --------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "recommended"),
    [
        (
            lambda: GarbageServer(active=False, seed=7),
            "comm: invalid response (not Modbus TCP: protocol id 0x4c09) reading ...",
        ),
        (
            lambda: GarbageServer(active=False, framed=True, seed=7),
            "comm: malformed response (function 0x5c is no reply to 3) reading ...",
        ),
        (
            lambda: TruncatedServer(active=False, truncation=Truncation.SHORT_FRAME),
            "comm: incomplete response (8 of 17 bytes) within 0.5 s reading ...",
        ),
        (
            lambda: TruncatedServer(active=False, truncation=Truncation.CUT_PDU),
            "comm: malformed response (byte count 8, 5 data bytes) reading ...",
        ),
    ],
    ids=["garbage", "garbage-framed", "truncated-frame", "truncated-pdu"],
)
def test_unparseable_answers_make_the_device_bad_and_others_undisturbed(
    peer: Callable[[], FaultyModbusServer], recommended: str
) -> None:
    tags = _line_tags("Filler")
    details: set[str] = set()

    async def scenario() -> str:
        fault = peer()
        await fault.start()
        async with _plant(fault, [(_device("Filler", fault.port), tags)]) as plant:
            plant.bus.tap(
                lambda batch: details.update(
                    s.detail for s in batch if s.tag == tags[0].name and s.detail
                )
            )
            took = await _fault_to_bad(plant, fault, tags)
            assert took <= BUDGET
            await plant.hold_and_check_healthy(OBSERVE)
            assert all_quality(plant.bus, tags, Quality.BAD)
            # the worker reconnects after its backoff (TCP connect works) and fails again
            errors = plant.errors_seen("Filler")
            assert errors, "the device status never named the fault"
            for detail in details:
                assert detail.startswith("comm:"), detail
                assert "internal error" not in detail, detail  # handled, not a crash
                assert _says(detail, *MALFORMED, *MALFORMED_TODAY), detail
            return plant.detail(tags[0])

    detail = _run(scenario)
    _xfail_unless_says(detail, MALFORMED, recommended)


# -- Modbus exception responses ---------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "function_code", "words"),
    [
        (ExceptionCode.ILLEGAL_FUNCTION, 1, "illegal function (exception 1)"),
        (ExceptionCode.ILLEGAL_DATA_ADDRESS, 3, "illegal data address (exception 2)"),
    ],
    ids=["illegal-function", "illegal-data-address"],
)
def test_exception_response_makes_only_the_affected_block_bad(
    code: ExceptionCode, function_code: int, words: str
) -> None:
    tags = _line_tags("Filler")
    table = COIL if function_code == 1 else HR
    affected = [
        t for t in tags if isinstance(t.address, ModbusAddress) and t.address.table is table
    ]
    spared = [t for t in tags if t not in affected]

    async def scenario() -> str:
        fault = ExceptionServer(code, function_codes=[function_code], active=False)
        await fault.start()
        async with _plant(fault, [(_device("Filler", fault.port), tags)]) as plant:
            took = await _fault_to_bad(plant, fault, affected)
            assert took <= BUDGET
            await plant.hold_and_check_healthy(OBSERVE)
            assert all_quality(plant.bus, affected, Quality.BAD)
            assert all_quality(plant.bus, spared, Quality.GOOD)  # the same device's others
            detail = plant.detail(affected[0])
            assert detail.startswith("modbus:"), detail
            assert words in detail, detail
            assert f"{table.value}:0" in detail, detail  # where: the operator can look it up
            # the device answered: the link is fine, no reconnect churn
            assert plant.workers[0].status.state is ConnectionState.CONNECTED
            assert plant.workers[0].status.reconnects == 0
            # (recovery is not awaited: refused tags are re-probed only every 30 s)
            return detail

    _run(scenario)


def test_gateway_target_failed_marks_only_that_unit_bad() -> None:
    """Two units behind one gateway: unit 2's serial device is dead (exception 11)."""
    unit1, unit2 = _line_tags("Press"), _line_tags("Oven")

    async def scenario() -> str:
        gateway = ExceptionServer(
            ExceptionCode.GATEWAY_TARGET_FAILED_TO_RESPOND, unit_ids=[2], active=False
        )
        await gateway.start()
        devices = [
            (_device("Press", gateway.port, unit_id=1), unit1),
            (_device("Oven", gateway.port, unit_id=2), unit2),
        ]
        async with _plant(gateway, devices) as plant:
            took = await _fault_to_bad(plant, gateway, unit2)
            assert took <= BUDGET
            await plant.hold_and_check_healthy(OBSERVE)
            assert all_quality(plant.bus, unit2, Quality.BAD)
            assert all_quality(plant.bus, unit1, Quality.GOOD)
            detail = plant.detail(unit2[0])
            assert "gateway target failed to respond (exception 11)" in detail
            assert plant.workers[0].status.state is ConnectionState.CONNECTED
            return detail

    _run(scenario)


# -- values that are not numbers --------------------------------------------------------


def test_nan_and_inf_float32_make_only_that_tag_bad() -> None:
    tags = _line_tags("Filler")
    counter, speed, level, total, running = tags
    hot = _tag("Filler", "Temp", HR, 7, DataType.FLOAT32)
    all_tags = (*tags, hot)

    async def scenario() -> str:
        server = ModbusRegisterServer(holding_count=16)
        await server.start()
        server.set_holding(1, encode_value(12.5, DataType.FLOAT32))
        server.set_holding(3, encode_value(40.0, DataType.FLOAT32))
        server.set_holding(7, encode_value(80.0, DataType.FLOAT32))
        async with _plant(server, [(_device("Filler", server.port), all_tags)]) as plant:
            server.set_holding(1, NAN_FLOAT32)
            server.set_holding(3, INF_FLOAT32)
            server.set_holding(7, NEG_INF_FLOAT32)
            took = await wait_for(
                lambda: all_quality(plant.bus, (speed, level, hot), Quality.BAD), BUDGET
            )
            assert took <= BUDGET
            await plant.hold_and_check_healthy(OBSERVE)
            assert all_quality(plant.bus, (counter, total, running), Quality.GOOD)
            assert all_quality(plant.bus, (speed, level, hot), Quality.BAD)
            nan, inf, neg_inf = (plant.detail(t) for t in (speed, level, hot))
            assert _says(nan, "nan", "not a finite number"), nan
            assert _says(inf, "inf", "not a finite number"), inf
            assert _says(neg_inf, "-inf", "not a finite number"), neg_inf
            assert plant.workers[0].status.state is ConnectionState.CONNECTED
            return nan

    detail = _run(scenario)
    _xfail_unless_says(
        detail,
        ("not a finite number",),
        "decode: float32 at holding_register:1 is NaN (not a finite number: sensor fault?)",
    )
