"""ModbusWorker.write: every outcome against the pymodbus simulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from hmi.core.bus import TagBus
from hmi.core.datatypes import ByteOrder, DataType
from hmi.core.samples import Quality
from hmi.core.site import Device, DeviceKind, ModbusAddress, RegisterTable, Scaling, Tag
from hmi.core.writes import WriteOutcome, WriteResult
from hmi.devices.modbus import ModbusWorker
from hmi.sim.modbus_server import ModbusSimServer

HR, IR = RegisterTable.HOLDING_REGISTER, RegisterTable.INPUT_REGISTER
COIL, DI = RegisterTable.COIL, RegisterTable.DISCRETE_INPUT


def _tag(name: str, table: RegisterTable, offset: int, data_type: DataType, **kw: object) -> Tag:
    return Tag(name, "plc", ModbusAddress(table, offset), data_type, writable=True, **kw)  # type: ignore[arg-type]


Scenario = Callable[[ModbusSimServer, ModbusWorker], Awaitable[None]]


def _against_server(
    scenario: Scenario, prepare: Callable[[ModbusSimServer], None] | None = None
) -> None:
    async def run() -> None:
        server = ModbusSimServer(holding_count=40)
        if prepare is not None:
            prepare(server)
        await server.start()
        device = Device(
            "plc",
            DeviceKind.MODBUS_TCP,
            port=server.port,
            timeout=0.5,
            byte_order=ByteOrder.CDAB,
        )
        worker = ModbusWorker(device, [], TagBus())
        try:
            await scenario(server, worker)
        finally:
            await worker.stop()
            await server.stop()

    asyncio.run(run())


def _confirmed(result: WriteResult, read_back: object) -> None:
    assert result.outcome is WriteOutcome.CONFIRMED, result.message
    assert result.read_back == read_back


def test_each_data_type_is_written_with_its_function_code_and_confirmed() -> None:
    async def scenario(server: ModbusSimServer, worker: ModbusWorker) -> None:
        coil = _tag("Coil", COIL, 3, DataType.BOOL)
        _confirmed(await worker.write(coil, True), True)  # FC 5
        assert server.bit(COIL, 3) is True
        word = _tag("Word", HR, 0, DataType.INT16)
        _confirmed(await worker.write(word, -2), -2)  # FC 6
        assert server.registers(HR, 0, 1) == [0xFFFE]
        flow = _tag("Flow", HR, 2, DataType.FLOAT32)  # device order CDAB
        _confirmed(await worker.write(flow, 123.456), pytest.approx(123.456, rel=1e-6))  # FC 16
        assert server.registers(HR, 2, 2) == [0xE979, 0x42F6]
        total = _tag("Total", HR, 4, DataType.UINT64, byte_order=ByteOrder.ABCD)
        _confirmed(await worker.write(total, 0x0123456789ABCDEF), 0x0123456789ABCDEF)
        assert server.registers(HR, 4, 4) == [0x0123, 0x4567, 0x89AB, 0xCDEF]
        precise = _tag("Precise", HR, 8, DataType.FLOAT64)
        _confirmed(await worker.write(precise, 0.1), 0.1)
        recipe = _tag("Recipe", HR, 12, DataType.STRING, length=4)
        _confirmed(await worker.write(recipe, "HMI-01"), "HMI-01")
        assert server.registers(HR, 12, 4) == [0x484D, 0x492D, 0x3031, 0x0000]

    _against_server(scenario)


def test_scaled_value_is_written_raw_and_read_back_in_engineering_units() -> None:
    async def scenario(server: ModbusSimServer, worker: ModbusWorker) -> None:
        setpoint = _tag("Setpoint", HR, 0, DataType.INT16, scaling=Scaling(0, 27648, 0.0, 100.0))
        result = await worker.write(setpoint, 42.5)
        assert result.outcome is WriteOutcome.CONFIRMED, result.message
        assert server.registers(HR, 0, 1) == [11750]  # 42.5 % of 27648 = 11750.4 -> 11750
        assert result.read_back == pytest.approx(42.5, abs=100 / 27648)

    _against_server(scenario)


def test_bit_of_register_is_read_modify_written_keeping_the_other_bits() -> None:
    async def scenario(server: ModbusSimServer, worker: ModbusWorker) -> None:
        server.set_holding(5, [0b1010_0000_0000_0001])
        bit3 = _tag("Bit3", HR, 5, DataType.BOOL, bit=3)
        _confirmed(await worker.write(bit3, True), True)
        assert server.registers(HR, 5, 1) == [0b1010_0000_0000_1001]
        bit0 = _tag("Bit0", HR, 5, DataType.BOOL, bit=0)
        _confirmed(await worker.write(bit0, False), False)
        assert server.registers(HR, 5, 1) == [0b1010_0000_0000_1000]

    _against_server(scenario)


def test_refused_before_sending() -> None:
    async def scenario(server: ModbusSimServer, worker: ModbusWorker) -> None:
        requests = server.requests
        cases = [
            (_tag("In", IR, 0, DataType.UINT16), 1, "input registers cannot be written"),
            (_tag("Di", DI, 0, DataType.BOOL), True, "discrete inputs cannot be written"),
            (_tag("Small", HR, 0, DataType.INT16), 70000, "does not fit a int16"),
            (_tag("Whole", HR, 0, DataType.UINT16), 1.5, "not a whole number"),
            (_tag("Num", HR, 0, DataType.FLOAT32), "fast", "not a number"),
            (_tag("Text", HR, 0, DataType.STRING, length=1), "ABC", "longer than 2"),
        ]
        for tag, value, reason in cases:
            result = await worker.write(tag, value)
            assert result.outcome is WriteOutcome.REFUSED, tag.name
            assert reason in result.message
        assert server.requests == requests  # nothing was sent

    _against_server(scenario)


def test_plc_exception_is_failed_with_the_exception_named() -> None:
    def prepare(server: ModbusSimServer) -> None:
        server.read_only(HR, 20, 2)
        server.read_only(COIL, 7)

    async def scenario(server: ModbusSimServer, worker: ModbusWorker) -> None:
        result = await worker.write(_tag("Locked", HR, 20, DataType.UINT16), 5)
        assert result.outcome is WriteOutcome.FAILED
        assert result.message.startswith("PLC refused: illegal data address (exception 2)")
        assert server.registers(HR, 20, 1) == [0]
        result = await worker.write(_tag("LockedCoil", COIL, 7, DataType.BOOL), True)
        assert result.outcome is WriteOutcome.FAILED
        assert "illegal data address (exception 2)" in result.message
        result = await worker.write(_tag("Nowhere", HR, 1000, DataType.UINT16), 1)
        assert result.outcome is WriteOutcome.FAILED
        assert "PLC refused: illegal data address (exception 2)" in result.message
        assert worker.diagnostics().errors == 3

    _against_server(scenario, prepare)


def test_clamped_value_is_a_mismatch_with_both_values() -> None:
    def prepare(server: ModbusSimServer) -> None:
        server.clamp(HR, 0, 0, 1000)

    async def scenario(server: ModbusSimServer, worker: ModbusWorker) -> None:
        speed = _tag("Speed", HR, 0, DataType.UINT16)
        result = await worker.write(speed, 1500)
        assert result.outcome is WriteOutcome.MISMATCH
        assert result.read_back == 1000
        assert "1500" in result.message
        assert "1000" in result.message
        _confirmed(await worker.write(speed, 900), 900)

    _against_server(scenario, prepare)


def test_write_to_an_unreachable_plc_fails_without_raising() -> None:
    async def run() -> None:
        server = ModbusSimServer()
        await server.start()
        port = server.port
        await server.stop()
        device = Device("plc", DeviceKind.MODBUS_TCP, port=port, timeout=0.5)
        worker = ModbusWorker(device, [], TagBus())
        result = await worker.write(_tag("Word", HR, 0, DataType.UINT16), 1)
        assert result.outcome is WriteOutcome.FAILED
        assert result.message.startswith("comm: cannot connect")
        await worker.stop()

    asyncio.run(run())


def test_confirmed_write_updates_the_bus_at_once() -> None:
    async def scenario(server: ModbusSimServer, worker: ModbusWorker) -> None:
        bus = TagBus()
        worker._sink = bus
        word = _tag("Word", HR, 0, DataType.UINT16)
        _confirmed(await worker.write(word, 77), 77)
        latest = bus.latest("Word")
        assert latest is not None
        assert latest.quality is Quality.GOOD
        assert latest.value == 77

    _against_server(scenario)


def test_function_codes_single_then_multiple_for_plcs_that_only_take_fc15_16() -> None:
    """FC 5/6 by default; a PLC without them refuses with exception 1 and the message says
    what to set; with write_multiple the same writes go as FC 15/16 and are confirmed."""

    async def run() -> None:
        server = ModbusSimServer(holding_count=8)
        await server.start()
        coil, word = _tag("Coil", COIL, 1, DataType.BOOL), _tag("Word", HR, 2, DataType.UINT16)
        try:
            single = ModbusWorker(
                Device("plc", DeviceKind.MODBUS_TCP, port=server.port, timeout=0.5), [], TagBus()
            )
            _confirmed(await single.write(coil, True), True)
            _confirmed(await single.write(word, 7), 7)
            # (pymodbus' datastore may consult the action twice per write: count > 0)
            assert server.function_codes[5] > 0
            assert server.function_codes[6] > 0
            assert server.function_codes[15] == server.function_codes[16] == 0
            server.unsupported_functions = {5, 6}
            refused = await single.write(word, 8)
            assert refused.outcome is WriteOutcome.FAILED
            assert "illegal function" in refused.message
            assert "write_multiple = true" in refused.message
            await single.stop()
            multiple = ModbusWorker(
                Device(
                    "plc", DeviceKind.MODBUS_TCP, port=server.port, timeout=0.5, write_multiple=True
                ),
                [],
                TagBus(),
            )
            _confirmed(await multiple.write(coil, False), False)
            _confirmed(await multiple.write(word, 9), 9)
            assert server.function_codes[15] > 0
            assert server.function_codes[16] > 0
            assert server.bit(COIL, 1) is False
            assert server.registers(HR, 2, 1) == [9]
            await multiple.stop()
        finally:
            await server.stop()

    asyncio.run(run())
