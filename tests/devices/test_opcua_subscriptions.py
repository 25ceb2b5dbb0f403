"""OpcUaWorker: per-tag sampling and deadband, polling, fallback, quality and timestamps."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time

import pytest
from asyncua import ua

from hmi.core.datatypes import DataType
from hmi.core.samples import Quality, Sample
from hmi.core.site import Device, DeviceKind, OpcUaAddress, Tag
from hmi.devices.opcua import OpcUaWorker
from hmi.sim.opcua_server import OpcUaPlantServer
from hmi.sim.plant import FillingLine
from tests.conftest import TappedBus, all_quality, wait_for

POLL = 0.25


def _tag(name: str, node: str, data_type: DataType = DataType.FLOAT64, **kw: object) -> Tag:
    return Tag(name, "capper", OpcUaAddress(f"ns=2;s={node}"), data_type, **kw)  # type: ignore[arg-type]


def _device(endpoint: str, **kw: object) -> Device:
    device = Device("capper", DeviceKind.OPCUA, endpoint=endpoint, poll_interval=POLL, timeout=1.0)
    return dataclasses.replace(device, **kw)  # type: ignore[arg-type]


def _recorder(bus: TappedBus) -> dict[str, list[Sample]]:
    seen: dict[str, list[Sample]] = {}

    def record(samples: list[Sample]) -> None:
        for sample in samples:
            seen.setdefault(sample.tag, []).append(sample)

    bus.tap(record)
    return seen


def test_each_tag_gets_its_sampling_interval_and_deadband() -> None:
    torque = _tag("Torque", "Capper.Torque")
    coarse = _tag("TorqueCoarse", "Capper.Torque", deadband=100.0, scan_interval=0.1)
    state = _tag("State", "Capper.State", DataType.STRING, deadband=5.0)

    async def scenario() -> None:
        server = OpcUaPlantServer(FillingLine(), update_interval=0.05)
        await server.start()
        bus = TappedBus()
        seen = _recorder(bus)
        worker = OpcUaWorker(_device(server.endpoint), (torque, coarse, state), bus)
        task = asyncio.create_task(worker.run())
        try:
            await wait_for(lambda: all_quality(bus, (torque, coarse, state), Quality.GOOD), 5.0)
            await wait_for(lambda: len(seen["Torque"]) >= 4, 5.0, "torque changes")
            plans = {plan.tags[0].name: plan for plan in worker.monitored_items}
            assert (plans["Torque"].sampling_interval, plans["Torque"].deadband) == (POLL, 0.0)
            assert (plans["TorqueCoarse"].sampling_interval, plans["TorqueCoarse"].deadband) == (
                0.1,
                100.0,
            )
            assert plans["State"].deadband == 0.0  # no deadband filter on text
            assert not worker.polling
            assert server.subscription_count == 1
            # the server filters: torque moves by far less than 100 Nm
            assert len(seen["TorqueCoarse"]) == 1
        finally:
            await worker.stop()
            await server.stop()
        assert task.done()

    asyncio.run(scenario())


def test_polling_reads_all_nodes_once_per_interval_when_configured() -> None:
    tags = (
        _tag("Torque", "Capper.Torque"),
        _tag("State", "Capper.State", DataType.STRING),
        _tag("Nope", "Capper.DoesNotExist"),
    )

    async def scenario() -> None:
        server = OpcUaPlantServer(FillingLine())
        await server.start()
        bus = TappedBus()
        worker = OpcUaWorker(_device(server.endpoint, subscriptions=False), tags, bus)
        task = asyncio.create_task(worker.run())
        try:
            await wait_for(lambda: all_quality(bus, tags[:2], Quality.GOOD), 5.0)
            assert worker.polling
            assert server.subscription_count == 0
            nope = bus.latest("Nope")
            assert nope is not None
            assert nope.quality is Quality.BAD
            assert "BadNodeIdUnknown" in nope.detail
            assert "Capper.DoesNotExist" in nope.detail
            before = worker.stats.requests
            await asyncio.sleep(4 * POLL)
            reads = worker.stats.requests - before
            assert 3 <= reads <= 6, reads  # one Read per poll for all three nodes
        finally:
            await worker.stop()
            await server.stop()
        assert task.done()

    asyncio.run(scenario())


def test_falls_back_to_polling_when_the_server_refuses_subscriptions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tags = (_tag("Torque", "Capper.Torque"), _tag("State", "Capper.State", DataType.STRING))

    async def scenario() -> None:
        server = OpcUaPlantServer(FillingLine(), subscriptions=False)
        await server.start()
        bus = TappedBus()
        worker = OpcUaWorker(_device(server.endpoint), tags, bus)
        task = asyncio.create_task(worker.run())
        try:
            await wait_for(lambda: all_quality(bus, tags, Quality.GOOD), 5.0)
            assert worker.polling
            assert "BadTooManySubscriptions" in worker.status.last_error
            assert "polling every 0.25 s" in worker.status.last_error
            first = bus.latest("Torque").receive_time  # type: ignore[union-attr]
            await wait_for(lambda: bus.latest("Torque").receive_time > first, 2.0)  # type: ignore[union-attr]
        finally:
            await worker.stop()
            await server.stop()
        assert task.done()

    with caplog.at_level(logging.WARNING, logger="hmi.devices.opcua"):
        asyncio.run(scenario())
    assert any("subscriptions refused" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("subscriptions", [True, False], ids=["subscription", "polling"])
def test_status_codes_become_quality_and_timestamps_come_from_the_server(
    subscriptions: bool,
) -> None:
    setpoint = _tag("Setpoint", "Capper.TorqueSetpoint")

    async def scenario() -> None:
        server = OpcUaPlantServer(FillingLine())
        await server.start()
        bus = TappedBus()
        worker = OpcUaWorker(
            _device(server.endpoint, subscriptions=subscriptions), (setpoint,), bus
        )
        task = asyncio.create_task(worker.run())

        async def expect(value: float, status: ua.StatusCode | None) -> Sample:
            stamp_before = time.time()
            await server.set_value("Capper.TorqueSetpoint", value, status)

            def arrived() -> bool:
                sample = bus.latest("Setpoint")
                return sample is not None and sample.source_time >= stamp_before - 0.01

            await wait_for(arrived, 3.0, f"setpoint {value}")
            sample = bus.latest("Setpoint")
            assert sample is not None
            return sample

        try:
            await wait_for(lambda: all_quality(bus, (setpoint,), Quality.GOOD), 5.0)
            good = await expect(1.5, None)
            assert (good.value, good.quality, good.detail) == (1.5, Quality.GOOD, "")
            assert abs(good.source_time - time.time()) < 2.0

            uncertain = await expect(1.75, ua.StatusCode(ua.StatusCodes.UncertainLastUsableValue))
            assert uncertain.quality is Quality.UNCERTAIN
            assert uncertain.value == 1.75
            assert "UncertainLastUsableValue" in uncertain.detail

            bad = await expect(2.0, ua.StatusCode(ua.StatusCodes.BadSensorFailure))
            assert (bad.value, bad.quality) == (None, Quality.BAD)
            assert "BadSensorFailure" in bad.detail
            assert "ns=2;s=Capper.TorqueSetpoint" in bad.detail

            for weird in (math.nan, math.inf):
                sample = await expect(weird, None)
                assert (sample.value, sample.quality) == (None, Quality.BAD)
                assert "not a finite number" in sample.detail
        finally:
            await worker.stop()
            await server.stop()
        assert task.done()

    asyncio.run(scenario())


def test_a_stale_subscribed_value_is_read_again_while_the_subscription_lives() -> None:
    """A set-point that never changes is sent once by the server; once the supervisor
    marked it stale (the device was silent a while), the worker reads it once, so it comes
    back GOOD without waiting for a change that may never come."""
    setpoint = _tag("Setpoint", "Capper.TorqueSetpoint")

    async def scenario() -> None:
        server = OpcUaPlantServer(FillingLine())
        await server.start()
        bus = TappedBus()
        seen = _recorder(bus)
        worker = OpcUaWorker(_device(server.endpoint), (setpoint,), bus)
        task = asyncio.create_task(worker.run())
        try:
            await wait_for(lambda: all_quality(bus, (setpoint,), Quality.GOOD), 5.0)
            await asyncio.sleep(3 * POLL)
            assert len(seen["Setpoint"]) == 1, "unchanged: the server sends it once"
            first = seen["Setpoint"][0]
            stale = dataclasses.replace(first, quality=Quality.UNCERTAIN,
                                        detail="stale: no update for 5 s")
            bus.put([stale])  # what the supervisor sends, then tells the worker
            worker.note_stale([stale])
            await wait_for(lambda: all_quality(bus, (setpoint,), Quality.GOOD), 5.0,
                           "GOOD again from a read")
            latest = bus.latest("Setpoint")
            assert latest is not None
            assert latest.value == first.value
            assert latest.receive_time > first.receive_time
        finally:
            await worker.stop()
            await server.stop()
        assert task.done()

    asyncio.run(scenario())
