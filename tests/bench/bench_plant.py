"""The benchmarks' simulated plant, in child processes so the CPU measured is the HMI's own
(plain subprocesses, started, stopped and reaped: tests/bench/plant_process.py).

Modbus: ``devices`` register banks of ``tags`` holding registers; OPC UA: one server with
``ua_items`` Double variables. Every value changes once a second, right after each
whole wall-clock second S: a register holds ``(S + i) & 0xFFFF`` and a variable
``S + i`` (i: its index), so a reader can tell from a value which second it was set in
(``change_time``) and measure the latency from the change in the PLC to the screen.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # the child: the repository on the path, as for the parent
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hmi.core.datatypes import DataType
from hmi.core.site import Device, DeviceKind, ModbusAddress, OpcUaAddress, RegisterTable, Site, Tag
from tests.bench.plant_process import PlantProcess, PlantSide, plant_arguments


@dataclass(frozen=True)
class PlantAddresses:
    modbus_ports: list[int]
    endpoint: str
    namespace: int


def _modbus_process(devices: int, tags: int, parent: PlantSide) -> None:
    from hmi.sim.modbus_server import ModbusRegisterServer

    async def serve() -> None:
        banks = [ModbusRegisterServer(holding_count=tags) for _ in range(devices)]
        for bank in banks:
            await bank.start()
        parent.send([bank.port for bank in banks])
        while not parent.is_set():
            second = math.floor(time.time())
            for bank in banks:
                bank.set_holding(0, [(second + i) & 0xFFFF for i in range(tags)])
            await asyncio.sleep(max(0.0, second + 1 - time.time()))
        for bank in banks:
            await bank.stop()

    asyncio.run(serve())


def _opcua_process(items: int, parent: PlantSide) -> None:
    from asyncua import Server, ua

    from hmi.sim.opcua_server import free_port, quiet_asyncua_server_logs

    async def serve() -> None:
        quiet_asyncua_server_logs()
        server = Server()
        await server.init()
        endpoint = f"opc.tcp://127.0.0.1:{free_port()}/bench/"
        server.set_endpoint(endpoint)
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        idx = await server.register_namespace("urn:hmi:bench")
        folder = await server.nodes.objects.add_object(f"ns={idx};s=Bench", "Bench")
        nodes = [await folder.add_variable(f"ns={idx};s=V{i}", f"V{i}", 0.0)
                 for i in range(items)]
        await server.start()
        parent.send([endpoint, idx])
        while not parent.is_set():
            second = math.floor(time.time())
            for i, node in enumerate(nodes):
                value = ua.DataValue(ua.Variant(float(second + i), ua.VariantType.Double))
                await server.write_attribute_value(node.nodeid, value)
            await asyncio.sleep(max(0.0, second + 1 - time.time()))
        await server.stop()

    asyncio.run(serve())


class Plant:
    """Start with ``await plant.start(devices, tags, ua_items)``; ``await plant.stop()``
    stops and reaps every child (no defunct processes left behind)."""

    def __init__(self) -> None:
        self._children: list[PlantProcess] = []

    async def start(self, devices: int, tags: int, ua_items: int) -> PlantAddresses:
        ports: list[int] = []
        endpoint, namespace = "", 0
        if devices:
            ports = await self._spawn(["modbus", devices, tags])
        if ua_items:
            endpoint, namespace = await self._spawn(["opcua", ua_items])
        return PlantAddresses(ports, endpoint, namespace)

    async def _spawn(self, arguments: list[Any]) -> Any:
        child = PlantProcess(__file__, arguments)
        self._children.append(child)
        return await child.message()

    async def stop(self) -> None:
        for child in self._children:
            await child.close()
        self._children.clear()


def plant_site(plant: PlantAddresses, tags: int, ua_items: int, *, pens: int = 8) -> Site:
    hr = RegisterTable.HOLDING_REGISTER
    devices = [Device(f"plc{d:02d}", DeviceKind.MODBUS_TCP, port=port, poll_interval=1.0,
                      timeout=2.0) for d, port in enumerate(plant.modbus_ports)]
    all_tags = [Tag(f"PLC{d:02d}.R{i:04d}", f"plc{d:02d}", ModbusAddress(hr, i),
                    DataType.UINT16)
                for d in range(len(plant.modbus_ports)) for i in range(tags)]
    if ua_items:
        devices.append(Device("ua", DeviceKind.OPCUA, endpoint=plant.endpoint,
                              poll_interval=1.0, timeout=2.0))
        all_tags += [Tag(f"UA.V{i:04d}", "ua", OpcUaAddress(f"ns={plant.namespace};s=V{i}"),
                         DataType.FLOAT64) for i in range(ua_items)]
    trend = tuple(t.name for t in all_tags[:: max(1, len(all_tags) // pens)][:pens])
    return Site("bench plant", tuple(devices), tuple(all_tags), trend_pens=trend)


def change_time(tag: Tag, value: float, arrived: float) -> float | None:
    """The wall-clock second the plant set ``value`` in (the latest one not after
    ``arrived``), from how the plant encodes it; None if the value says nothing."""
    index = int(tag.name.rsplit("R" if tag.name.startswith("PLC") else "V", 1)[1])
    if tag.name.startswith("PLC"):
        low = (int(value) - index) & 0xFFFF
        second = math.floor(arrived)
        second -= (second - low) & 0xFFFF  # the latest second with those low 16 bits
        return float(second)
    second = value - index
    return second if second <= arrived + 1 else None


if __name__ == "__main__":
    arguments = plant_arguments(sys.argv)
    if arguments is not None:
        side = PlantSide()
        if arguments[0] == "modbus":
            _modbus_process(int(arguments[1]), int(arguments[2]), side)
        else:
            _opcua_process(int(arguments[1]), side)
