"""An OPC UA endpoint that accepts TCP and never answers the Hello: the OPC UA worker's
tags go BAD saying so, and a healthy Modbus device on the same TagBus is undisturbed."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from hmi.core.datatypes import DataType
from hmi.core.samples import Quality, Sample
from hmi.core.site import Device, DeviceKind, ModbusAddress, OpcUaAddress, RegisterTable, Tag
from hmi.core.status import ConnectionState
from hmi.devices.modbus import ModbusTcpWorker
from hmi.devices.opcua import OpcUaWorker
from hmi.sim.faults import MuteTcpServer
from hmi.sim.modbus_server import ModbusRegisterServer
from tests.conftest import TappedBus, all_quality, wait_for

POLL = 0.2
UA_TIMEOUT = 1.0
MARGIN = 0.5  # scheduling on a shared two-core box
HOLD = 2.5  # seconds the mute endpoint is watched: two connect attempts and a backoff

CAPPER_TAGS = tuple(
    Tag(f"Capper.{name}", "capper", OpcUaAddress(f"ns=2;s=Capper.{name}"), DataType.FLOAT64)
    for name in ("Torque", "Temperature", "Speed")
)
FILLER_TAGS = (
    Tag(
        "Filler.Counter",
        "filler",
        ModbusAddress(RegisterTable.HOLDING_REGISTER, 0),
        DataType.UINT16,
    ),
    Tag(
        "Filler.Total", "filler", ModbusAddress(RegisterTable.HOLDING_REGISTER, 1), DataType.UINT32
    ),
)


def test_mute_opcua_endpoint_goes_bad_and_modbus_device_undisturbed() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        loop_errors: list[dict[str, Any]] = []
        loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
        mute = MuteTcpServer()
        await mute.start()
        modbus = ModbusRegisterServer(holding_count=8)
        await modbus.start()

        async def change_filler() -> None:
            for n in itertools.count():
                modbus.set_holding(0, [n & 0xFFFF])
                await asyncio.sleep(POLL / 2)

        changer = asyncio.create_task(change_filler())
        bus = TappedBus()
        filler_times: list[float] = []
        filler_not_good: list[Sample] = []

        def on_batch(batch: list[Sample]) -> None:
            for sample in batch:
                if sample.tag.startswith("Filler."):
                    if sample.quality is not Quality.GOOD:
                        filler_not_good.append(sample)
                    if sample.tag == "Filler.Counter":
                        filler_times.append(loop.time())

        bus.tap(on_batch)
        filler = ModbusTcpWorker(
            Device(
                "filler", DeviceKind.MODBUS_TCP, port=modbus.port, poll_interval=POLL, timeout=0.5
            ),
            FILLER_TAGS,
            bus,
        )
        endpoint = f"opc.tcp://127.0.0.1:{mute.port}/hmi-demo/"
        capper = OpcUaWorker(
            Device(
                "capper",
                DeviceKind.OPCUA,
                endpoint=endpoint,
                poll_interval=POLL,
                timeout=UA_TIMEOUT,
            ),
            CAPPER_TAGS,
            bus,
        )
        filler_task = asyncio.create_task(filler.run())
        try:
            await wait_for(lambda: all_quality(bus, FILLER_TAGS, Quality.GOOD), 3.0, "filler")
            counter0 = bus.latest("Filler.Counter")
            assert counter0 is not None
            capper_task = asyncio.create_task(capper.run())
            took = await wait_for(
                lambda: all_quality(bus, CAPPER_TAGS, Quality.BAD), UA_TIMEOUT + MARGIN, "capper"
            )
            assert took <= UA_TIMEOUT + MARGIN
            assert mute.connections >= 1
            assert mute.bytes_received > 0  # the Hello was sent, and never answered
            for tag in CAPPER_TAGS:
                sample = bus.latest(tag.name)
                assert sample is not None
                assert sample.detail.startswith("comm:"), sample.detail
                assert any(w in sample.detail for w in ("no response", "timed out", "no answer"))
                assert endpoint in sample.detail  # which server to go and look at
            assert capper.status.state in (ConnectionState.DISCONNECTED, ConnectionState.CONNECTING)
            assert capper.status.last_error

            mark = len(filler_times)
            await asyncio.sleep(HOLD)  # the worker retries (and hangs again) meanwhile
            assert not capper_task.done(), "the OPC UA worker's run() ended"
            assert all_quality(bus, CAPPER_TAGS, Quality.BAD)
            assert mute.connections >= 2, "the OPC UA worker stopped retrying"

            times = filler_times[max(0, mark - 1) :]
            gaps = [b - a for a, b in itertools.pairwise(times)]
            assert len(times) >= HOLD / POLL - 1, f"filler polled {len(times)} times"
            assert max(gaps) <= POLL + 0.3, f"filler stalled {max(gaps):.3f} s"
            assert not filler_not_good, filler_not_good[:3]
            assert all_quality(bus, FILLER_TAGS, Quality.GOOD)
            counter = bus.latest("Filler.Counter")
            assert counter is not None
            assert counter.value != counter0.value
            assert filler.status.state is ConnectionState.CONNECTED
            assert filler.status.reconnects == 0
            assert not filler_task.done()
        finally:
            await capper.stop()
            await filler.stop()
            changer.cancel()
            await asyncio.gather(changer, return_exceptions=True)
            await mute.stop()
            await modbus.stop()
        assert filler_task.done()
        assert filler_task.cancelled() or filler_task.exception() is None
        assert capper_task.done()
        assert capper_task.cancelled() or capper_task.exception() is None
        assert not loop_errors, loop_errors

    asyncio.run(scenario())
