"""DeviceSupervisor with one live Modbus device, one dead OPC UA device."""

from __future__ import annotations

import asyncio
import time

from hmi.core.bus import TagBus
from hmi.core.datatypes import DataType
from hmi.core.samples import Quality
from hmi.core.site import Device, DeviceKind, ModbusAddress, OpcUaAddress, RegisterTable, Site, Tag
from hmi.core.status import ConnectionState, DeviceStatus
from hmi.devices.supervisor import DeviceSupervisor
from hmi.sim.modbus_server import ModbusPlantServer
from hmi.sim.opcua_server import free_port
from hmi.sim.plant import FillingLine


def _site(modbus_port: int, opcua_port: int) -> Site:
    hr = RegisterTable.HOLDING_REGISTER
    return Site(
        name="test",
        devices=(
            Device("filler", DeviceKind.MODBUS_TCP, port=modbus_port, poll_interval=0.2,
                   timeout=0.5),
            Device("capper", DeviceKind.OPCUA, endpoint=f"opc.tcp://127.0.0.1:{opcua_port}/x/",
                   poll_interval=0.2, timeout=0.5),
        ),
        tags=(
            Tag("Filler.Speed", "filler", ModbusAddress(hr, 0), DataType.FLOAT32),
            Tag("Filler.State", "filler", ModbusAddress(hr, 10), DataType.UINT16),
            Tag("Capper.Torque", "capper", OpcUaAddress("ns=2;s=Capper.Torque"),
                DataType.FLOAT64),
        ),
    )


def test_one_device_down_leaves_the_other_good_and_stop_is_prompt() -> None:
    async def scenario() -> None:
        server = ModbusPlantServer(FillingLine())
        await server.start()
        bus = TagBus()
        supervisor = DeviceSupervisor(_site(server.port, free_port()), bus)
        seen: list[DeviceStatus] = []
        supervisor.add_status_listener(seen.append)
        try:
            await supervisor.start()
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:
                latest = bus.latest("Filler.Speed")
                capper = bus.latest("Capper.Torque")
                if latest and latest.quality.is_good and capper:
                    break
                await asyncio.sleep(0.05)
            statuses = supervisor.statuses()
            assert statuses["filler"].state is ConnectionState.CONNECTED
            assert statuses["capper"].state in {
                ConnectionState.DISCONNECTED, ConnectionState.CONNECTING
            }
            capper = bus.latest("Capper.Torque")
            assert capper is not None
            assert capper.quality is Quality.BAD
            assert capper.detail.startswith("comm:")
            assert bus.latest("Filler.State").value == 1  # type: ignore[union-attr]
            assert {s.device for s in seen} == {"filler", "capper"}
        finally:
            started = time.monotonic()
            await supervisor.stop()
            took = time.monotonic() - started
            await server.stop()
        assert took < 3.5
        assert all(s.state is ConnectionState.STOPPED for s in supervisor.statuses().values())

    asyncio.run(scenario())
