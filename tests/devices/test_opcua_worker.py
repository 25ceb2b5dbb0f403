"""OpcUaWorker against the real asyncua capper simulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time

from hmi.core.bus import TagBus
from hmi.core.datatypes import DataType
from hmi.core.samples import Quality
from hmi.core.site import Device, DeviceKind, OpcUaAddress, Tag
from hmi.core.status import ConnectionState
from hmi.devices.opcua import OpcUaWorker
from hmi.sim.opcua_server import OpcUaPlantServer
from hmi.sim.plant import FillingLine
from tests.conftest import all_quality, wait_for

POLL = 0.25


def _tag(name: str, node: str, data_type: DataType) -> Tag:
    return Tag(name, "capper", OpcUaAddress(node), data_type)


CAPPER_TAGS = (
    _tag("Capper.Torque", "ns=2;s=Capper.Torque", DataType.FLOAT64),
    _tag("Capper.Temperature", "nsu=urn:hmi:demo;s=Capper.Temperature", DataType.FLOAT64),
    _tag("Capper.CasesPacked", "ns=2;s=Capper.CasesPacked", DataType.UINT32),
    _tag("Capper.State", "ns=2;s=Capper.State", DataType.STRING),
)
UNKNOWN = _tag("Capper.Nope", "ns=2;s=Capper.DoesNotExist", DataType.FLOAT64)


def _device(endpoint: str) -> Device:
    return Device("capper", DeviceKind.OPCUA, endpoint=endpoint, poll_interval=POLL, timeout=1.0)


def test_subscription_delivers_values_and_survives_server_restart() -> None:
    async def scenario() -> None:
        plant = FillingLine()
        server = OpcUaPlantServer(plant)
        await server.start()
        bus = TagBus()
        worker = OpcUaWorker(_device(server.endpoint), (*CAPPER_TAGS, UNKNOWN), bus)
        task = asyncio.create_task(worker.run())
        try:
            await wait_for(lambda: all_quality(bus, CAPPER_TAGS, Quality.GOOD), 5.0)
            torque = bus.latest("Capper.Torque")
            assert torque is not None
            assert isinstance(torque.value, float)
            assert 2.0 < torque.value < 3.0
            assert abs(torque.source_time - time.time()) < 5.0
            assert bus.latest("Capper.State").value == "RUNNING"  # type: ignore[union-attr]
            assert isinstance(bus.latest("Capper.CasesPacked").value, int)  # type: ignore[union-attr]
            nope = bus.latest(UNKNOWN.name)
            assert nope is not None
            assert nope.quality is Quality.BAD
            assert "ns=2;s=Capper.DoesNotExist" in nope.detail
            assert "BadNodeIdUnknown" in nope.detail
            # values keep arriving through the subscription
            first = torque.receive_time
            await wait_for(lambda: bus.latest("Capper.Torque").receive_time > first, 2.0)  # type: ignore[union-attr]
            assert worker.status.state is ConnectionState.CONNECTED

            await server.stop()
            await wait_for(lambda: all_quality(bus, CAPPER_TAGS, Quality.BAD), 2 * POLL + 0.3)
            assert bus.latest("Capper.Torque").detail.startswith("comm:")  # type: ignore[union-attr]
            assert worker.status.state is ConnectionState.DISCONNECTED

            server = OpcUaPlantServer(plant, port=server.port)
            await server.start()
            await wait_for(lambda: all_quality(bus, CAPPER_TAGS, Quality.GOOD), 6.0)
            assert worker.status.reconnects == 1
        finally:
            started = time.monotonic()
            await worker.stop()
            assert time.monotonic() - started < 2.5
            await server.stop()
        assert task.done()

    asyncio.run(scenario())


def test_read_once_reads_directly_and_names_unknown_nodes() -> None:
    async def scenario() -> None:
        server = OpcUaPlantServer(FillingLine())
        await server.start()
        worker = OpcUaWorker(_device(server.endpoint), (*CAPPER_TAGS, UNKNOWN), TagBus())
        try:
            samples = {s.tag: s for s in await worker.read_once()}
            assert all(samples[t.name].quality is Quality.GOOD for t in CAPPER_TAGS)
            assert samples["Capper.State"].value in {"RUNNING", "STOPPED", "FAULT"}
            assert samples[UNKNOWN.name].quality is Quality.BAD
            assert "Capper.DoesNotExist" in samples[UNKNOWN.name].detail
        finally:
            await worker.stop()
            await server.stop()

    asyncio.run(scenario())
