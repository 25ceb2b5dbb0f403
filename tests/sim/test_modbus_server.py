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
