"""A server that accepts TCP but never answers the Hello: BAD, and nothing else disturbed."""

from __future__ import annotations

import asyncio
import time

from hmi.core.datatypes import DataType
from hmi.core.samples import Quality, Sample
from hmi.core.site import Device, DeviceKind, OpcUaAddress, Tag
from hmi.core.status import ConnectionState
from hmi.devices.opcua import OpcUaWorker
from hmi.sim.opcua_server import OpcUaPlantServer
from hmi.sim.plant import FillingLine
from tests.conftest import TappedBus, all_quality, wait_for


def _tag(device: str, name: str) -> Tag:
    return Tag(f"{device}.{name}", device, OpcUaAddress(f"ns=2;s=Capper.{name}"), DataType.FLOAT64)


def test_a_silent_server_goes_bad_without_disturbing_a_healthy_one() -> None:
    silent_tags = (_tag("silent", "Torque"),)
    healthy_tags = (_tag("capper", "Torque"), _tag("capper", "Temperature"))

    async def scenario() -> None:
        held: list[asyncio.StreamWriter] = []

        async def accept_and_say_nothing(
            _reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            held.append(writer)

        silent = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
        port = silent.sockets[0].getsockname()[1]
        server = OpcUaPlantServer(FillingLine())
        await server.start()
        bus = TappedBus()
        healthy_bad: list[Sample] = []

        def watch(samples: list[Sample]) -> None:
            healthy_bad.extend(
                s for s in samples if s.tag.startswith("capper.") and s.quality is Quality.BAD
            )

        quiet = Device(
            "silent",
            DeviceKind.OPCUA,
            endpoint=f"opc.tcp://127.0.0.1:{port}/",
            poll_interval=0.25,
            timeout=0.5,
        )
        capper = Device(
            "capper", DeviceKind.OPCUA, endpoint=server.endpoint, poll_interval=0.25, timeout=1.0
        )
        silent_worker = OpcUaWorker(quiet, silent_tags, bus)
        healthy_worker = OpcUaWorker(capper, healthy_tags, bus)
        tasks = [asyncio.create_task(w.run()) for w in (silent_worker, healthy_worker)]
        try:
            await wait_for(lambda: all_quality(bus, healthy_tags, Quality.GOOD), 5.0)
            bus.tap(watch)
            expected = f"comm: no answer from opc.tcp://127.0.0.1:{port}/ within 1 s"
            await wait_for(
                lambda: all_quality(bus, silent_tags, Quality.BAD), 5.0, "silent server BAD"
            )
            sample = bus.latest("silent.Torque")
            assert sample is not None
            assert sample.detail == expected
            assert silent_worker.status.state is ConnectionState.DISCONNECTED
            await asyncio.sleep(1.5)  # a retry or two against the silent server
            assert all_quality(bus, healthy_tags, Quality.GOOD)
            assert healthy_bad == []
            assert healthy_worker.status.state is ConnectionState.CONNECTED
            started = time.monotonic()
            await silent_worker.stop()
            assert time.monotonic() - started < 2.5
        finally:
            for worker in (silent_worker, healthy_worker):
                await worker.stop()
            await server.stop()
            for writer in held:
                writer.close()
            silent.close()
            await silent.wait_closed()
        assert all(task.done() for task in tasks)

    asyncio.run(scenario())
