"""The Modbus plant simulator, exercised with a raw pymodbus client."""

from __future__ import annotations

import asyncio
import logging

import pytest
from pymodbus.client import AsyncModbusTcpClient

from hmi.core.datatypes import DataType, decode_registers
from hmi.sim.modbus_server import ModbusPlantServer, ModbusRegisterServer
from hmi.sim.plant import FillingLine


def _client(port: int) -> AsyncModbusTcpClient:
    return AsyncModbusTcpClient("127.0.0.1", port=port, reconnect_delay=0, timeout=1, retries=0)


def test_serves_the_plant_without_deprecation_warning(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        caplog.set_level(logging.DEBUG)
        server = ModbusPlantServer(FillingLine(seed=2))
        await server.start()
        client = _client(server.port)
        try:
            assert await client.connect()
            holding = await client.read_holding_registers(0, count=12, device_id=1)
            speed = decode_registers(holding.registers[0:2], DataType.FLOAT32)
            assert 100 < float(speed) < 140  # type: ignore[arg-type]
            coils = await client.read_coils(0, count=2, device_id=1)
            assert coils.bits[1] is True  # run command
            valve = await client.read_input_registers(0, count=1, device_id=1)
            assert 0 <= valve.registers[0] <= 1000
            missing = await client.read_holding_registers(100, count=2, device_id=1)
            assert missing.isError()
            assert missing.exception_code == 2
        finally:
            client.close()
            await server.stop()

    asyncio.run(scenario())
    text = caplog.text.lower()
    assert "deprecated" not in text
    assert "deprecat" not in " ".join(r.getMessage().lower() for r in caplog.records)


def test_writing_run_command_coil_stops_the_line() -> None:
    async def scenario() -> None:
        plant = FillingLine()
        server = ModbusPlantServer(plant)
        await server.start()
        client = _client(server.port)
        try:
            assert await client.connect()
            await asyncio.sleep(0.3)
            before = await client.read_holding_registers(0, count=2, device_id=1)
            assert decode_registers(before.registers, DataType.FLOAT32) != 0.0
            written = await client.write_coil(1, False, device_id=1)
            assert not written.isError()
            assert plant.run_command is False
            await asyncio.sleep(0.3)  # a few plant steps later it is still stopped
            after = await client.read_holding_registers(0, count=2, device_id=1)
            assert decode_registers(after.registers, DataType.FLOAT32) == 0.0
            state = await client.read_holding_registers(10, count=1, device_id=1)
            assert state.registers == [0]
            coils = await client.read_coils(0, count=2, device_id=1)
            assert coils.bits[1] is False
        finally:
            client.close()
            await server.stop()

    asyncio.run(scenario())


def test_stop_releases_the_port_for_a_restart() -> None:
    async def scenario() -> None:
        first = ModbusRegisterServer(holding_count=10)
        await first.start()
        port = first.port
        await first.stop()
        second = ModbusRegisterServer(port=port, holding_count=10)
        await second.start()
        assert second.port == port
        second.set_holding(3, [1234])
        client = _client(port)
        try:
            assert await client.connect()
            response = await client.read_holding_registers(0, count=10, device_id=1)
            assert response.registers[3] == 1234
        finally:
            client.close()
            await second.stop()

    asyncio.run(scenario())


def test_units_faults_and_rtu_framing() -> None:
    from pymodbus.framer import FramerType

    from hmi.core.site import RegisterTable
    from hmi.sim.modbus_server import ModbusSimServer

    hr = RegisterTable.HOLDING_REGISTER

    async def scenario() -> None:
        server = ModbusSimServer(unit_ids=(1, 2), framer="rtu", holding_count=20)
        server.refuse(hr, 10, 2)
        server.read_only(hr, 5)
        server.clamp(hr, 0, 0, 100)
        await server.start()
        server.set_holding(1, [11], unit=1)
        server.set_holding(1, [22], unit=2)
        client = AsyncModbusTcpClient(
            "127.0.0.1", port=server.port, framer=FramerType.RTU, reconnect_delay=0,
            timeout=1, retries=0,
        )
        try:
            assert await client.connect()
            one = await client.read_holding_registers(1, count=1, device_id=1)
            two = await client.read_holding_registers(1, count=1, device_id=2)
            assert (one.registers, two.registers) == ([11], [22])
            refused = await client.read_holding_registers(8, count=4, device_id=1)
            assert refused.exception_code == 2
            locked = await client.write_register(5, 1, device_id=1)
            assert locked.exception_code == 2
            assert not (await client.write_register(0, 500, device_id=2)).isError()
            assert server.registers(hr, 0, 1, unit=2) == [100]  # clamped
            assert server.connections == 1
        finally:
            client.close()
            await server.stop()

    asyncio.run(scenario())
