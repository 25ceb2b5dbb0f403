"""ModbusTcpWorker against the real pymodbus plant simulator on 127.0.0.1."""

from __future__ import annotations

import asyncio

from pymodbus.client import AsyncModbusTcpClient

from hmi.core.bus import TagBus
from hmi.core.datatypes import DataType, decode_registers, encode_value
from hmi.core.samples import Quality
from hmi.core.site import Device, DeviceKind, ModbusAddress, RegisterTable, Tag
from hmi.core.status import ConnectionState, DeviceStatus
from hmi.devices.modbus import ModbusTcpWorker, plan_blocks
from hmi.sim.modbus_server import ModbusPlantServer
from hmi.sim.plant import FillingLine
from tests.conftest import all_quality, wait_for

POLL = 0.2
HR, IR = RegisterTable.HOLDING_REGISTER, RegisterTable.INPUT_REGISTER
COIL, DI = RegisterTable.COIL, RegisterTable.DISCRETE_INPUT


def _tag(name: str, table: RegisterTable, offset: int, data_type: DataType) -> Tag:
    return Tag(name, "filler", ModbusAddress(table, offset), data_type)


DEMO_TAGS = (
    _tag("Filler.Speed", HR, 0, DataType.FLOAT32),
    _tag("Filler.TankLevel", HR, 2, DataType.FLOAT32),
    _tag("Filler.ProductTemp", HR, 4, DataType.FLOAT32),
    _tag("Filler.GoodCount", HR, 6, DataType.UINT32),
    _tag("Filler.RejectCount", HR, 8, DataType.UINT32),
    _tag("Filler.State", HR, 10, DataType.UINT16),
    _tag("Filler.FillPressure", HR, 11, DataType.INT16),
    _tag("Filler.ValvePosition", IR, 0, DataType.UINT16),
    _tag("Filler.Fault", COIL, 0, DataType.BOOL),
    _tag("Filler.RunCommand", COIL, 1, DataType.BOOL),
    _tag("Filler.TankLow", DI, 0, DataType.BOOL),
)


def _device(port: int) -> Device:
    return Device("filler", DeviceKind.MODBUS_TCP, port=port, poll_interval=POLL, timeout=0.5)


def test_blocks_are_coalesced_per_table() -> None:
    blocks = plan_blocks(DEMO_TAGS)
    assert sorted((b.table.value, b.start, b.count) for b in blocks) == [
        ("coil", 0, 2),
        ("discrete_input", 0, 1),
        ("holding_register", 0, 12),
        ("input_register", 0, 1),
    ]
    far = (*DEMO_TAGS, _tag("Far", HR, 40, DataType.UINT16), _tag("Near", HR, 20, DataType.UINT16))
    holding = sorted((b.start, b.count) for b in plan_blocks(far) if b.table is HR)
    assert holding == [(0, 21), (40, 1)]
    many = [_tag(f"T{i}", HR, i, DataType.UINT16) for i in range(300)]
    assert [b.count for b in plan_blocks(many)] == [125, 125, 50]


def test_all_demo_tags_good_and_match_the_plant() -> None:
    async def scenario() -> None:
        plant = FillingLine(seed=4)
        server = ModbusPlantServer(plant, step_interval=3600.0)  # frozen after one step
        await server.start()
        bus = TagBus()
        worker = ModbusTcpWorker(_device(server.port), DEMO_TAGS, bus)
        task = asyncio.create_task(worker.run())
        try:
            await wait_for(lambda: all_quality(bus, DEMO_TAGS, Quality.GOOD), 3.0)
            value = {t.name: bus.latest(t.name).value for t in DEMO_TAGS}  # type: ignore[union-attr]
            f32 = DataType.FLOAT32
            assert value["Filler.Speed"] == decode_registers(encode_value(plant.speed, f32), f32)
            tank = decode_registers(encode_value(plant.tank_level, f32), f32)
            assert value["Filler.TankLevel"] == tank
            assert value["Filler.GoodCount"] == plant.good_count
            assert value["Filler.RejectCount"] == plant.reject_count
            assert value["Filler.State"] == int(plant.machine_state) == 1
            assert value["Filler.FillPressure"] == plant.fill_pressure
            assert value["Filler.ValvePosition"] == plant.valve_position
            assert value["Filler.Fault"] is plant.fault
            assert value["Filler.RunCommand"] is True
            assert value["Filler.TankLow"] is plant.tank_low
            assert worker.status.state is ConnectionState.CONNECTED
            assert len(worker.blocks) == 4
        finally:
            await worker.stop()
            await server.stop()
        assert task.done()
        assert worker.status.state is ConnectionState.STOPPED

    asyncio.run(scenario())


def test_server_loss_goes_bad_then_recovers_on_same_port() -> None:
    async def scenario() -> None:
        server = ModbusPlantServer(FillingLine())
        await server.start()
        port = server.port
        bus = TagBus()
        statuses: list[DeviceStatus] = []
        worker = ModbusTcpWorker(_device(port), DEMO_TAGS, bus, on_status=statuses.append)
        task = asyncio.create_task(worker.run())
        try:
            await wait_for(lambda: all_quality(bus, DEMO_TAGS, Quality.GOOD), 3.0)
            await server.stop()
            took = await wait_for(lambda: all_quality(bus, DEMO_TAGS, Quality.BAD), 2 * POLL)
            assert took <= 2 * POLL
            for tag in DEMO_TAGS:
                assert bus.latest(tag.name).detail.startswith("comm:")  # type: ignore[union-attr]
            assert worker.status.state is ConnectionState.DISCONNECTED
            assert worker.status.last_error
            await wait_for(lambda: any(s.retry_in > 0 for s in statuses), 2 * POLL)
            # stays BAD, re-published while the server is away
            published = bus.published
            await asyncio.sleep(3 * POLL)
            assert bus.published > published
            assert all_quality(bus, DEMO_TAGS, Quality.BAD)

            server = ModbusPlantServer(FillingLine(), port=port)
            await server.start()
            await wait_for(lambda: all_quality(bus, DEMO_TAGS, Quality.GOOD), 5.0)
            assert worker.status.state is ConnectionState.CONNECTED
            assert worker.status.reconnects == 1
            assert worker.status.last_error == ""
        finally:
            await worker.stop()
            await server.stop()
        assert task.done()

    asyncio.run(scenario())


def test_illegal_address_marks_only_that_block_bad() -> None:
    async def scenario() -> None:
        server = ModbusPlantServer(FillingLine())
        await server.start()
        bus = TagBus()
        outside = _tag("Filler.Nowhere", HR, 100, DataType.UINT16)
        tags = (*DEMO_TAGS, outside)
        worker = ModbusTcpWorker(_device(server.port), tags, bus)
        task = asyncio.create_task(worker.run())
        try:
            await wait_for(lambda: bus.latest(outside.name) is not None, 3.0)
            await asyncio.sleep(2 * POLL)  # several polls: the rest keeps updating
            bad = bus.latest(outside.name)
            assert bad is not None
            assert bad.quality is Quality.BAD
            assert "illegal data address (exception 2)" in bad.detail
            assert bad.detail.endswith("at holding_register:100")
            assert all_quality(bus, DEMO_TAGS, Quality.GOOD)
            assert worker.status.state is ConnectionState.CONNECTED
        finally:
            await worker.stop()
            await server.stop()
        assert task.done()

    asyncio.run(scenario())


def test_nan_float_is_bad_with_reason() -> None:
    async def scenario() -> None:
        server = ModbusPlantServer(FillingLine(), step_interval=3600.0)
        await server.start()
        await asyncio.sleep(0.05)  # let the plant task write its one image first
        server.set_holding(2, [0x7FC0, 0x0000])  # float32 NaN in Filler.TankLevel
        bus = TagBus()
        worker = ModbusTcpWorker(_device(server.port), DEMO_TAGS, bus)
        try:
            samples = {s.tag: s for s in await worker.read_once()}
            assert samples["Filler.TankLevel"].quality is Quality.BAD
            assert "nan" in samples["Filler.TankLevel"].detail
            assert samples["Filler.Speed"].quality is Quality.GOOD
        finally:
            await worker.stop()
            await server.stop()

    asyncio.run(scenario())


def test_read_once_against_a_dead_port_gives_bad_samples() -> None:
    async def scenario() -> None:
        server = ModbusPlantServer(FillingLine())
        await server.start()
        port = server.port
        await server.stop()
        worker = ModbusTcpWorker(_device(port), DEMO_TAGS, TagBus())
        samples = await worker.read_once()
        assert len(samples) == len(DEMO_TAGS)
        assert all(s.quality is Quality.BAD and s.detail.startswith("comm:") for s in samples)
        await worker.stop()

    asyncio.run(scenario())


def test_raw_client_write_of_run_command_stops_the_line_seen_by_worker() -> None:
    async def scenario() -> None:
        server = ModbusPlantServer(FillingLine())
        await server.start()
        bus = TagBus()
        worker = ModbusTcpWorker(_device(server.port), DEMO_TAGS, bus)
        task = asyncio.create_task(worker.run())
        client = AsyncModbusTcpClient("127.0.0.1", port=server.port, reconnect_delay=0)
        try:
            await wait_for(lambda: all_quality(bus, DEMO_TAGS, Quality.GOOD), 3.0)
            assert await client.connect()
            assert not (await client.write_coil(1, False, device_id=1)).isError()

            def stopped() -> bool:
                speed = bus.latest("Filler.Speed")
                run = bus.latest("Filler.RunCommand")
                return speed is not None and speed.value == 0.0 and run is not None and (
                    run.value is False
                )

            await wait_for(stopped, 2.0)
        finally:
            client.close()
            await worker.stop()
            await server.stop()
        assert task.done()

    asyncio.run(scenario())
