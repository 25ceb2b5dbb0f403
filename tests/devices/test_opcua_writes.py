"""OpcUaWorker.write and diagnostics against the capper simulator."""

from __future__ import annotations

import asyncio
import math

from hmi.core.bus import TagBus
from hmi.core.datatypes import DataType
from hmi.core.site import Device, DeviceKind, OpcUaAddress, Tag
from hmi.core.status import ConnectionState
from hmi.core.writes import WriteOutcome
from hmi.devices.opcua import OpcUaWorker
from hmi.sim.opcua_server import OpcUaPlantServer
from hmi.sim.plant import FillingLine
from tests.conftest import wait_for

POLL = 0.25


def _tag(name: str, node: str, data_type: DataType, writable: bool = True, **kw: object) -> Tag:
    address = OpcUaAddress(f"ns=2;s={node}")
    return Tag(name, "capper", address, data_type, writable=writable, **kw)  # type: ignore[arg-type]


SETPOINT = _tag("Setpoint", "Capper.TorqueSetpoint", DataType.FLOAT64, low=-1.0, high=20.0)
TARGET = _tag("Target", "Capper.TargetCases", DataType.UINT16)
ENABLED = _tag("Enabled", "Capper.Enabled", DataType.BOOL)
STATE = _tag("Capper.State", "Capper.State", DataType.STRING)
TORQUE = _tag("Torque", "Capper.Torque", DataType.FLOAT64, writable=False)
MISSING = _tag("Missing", "Capper.DoesNotExist", DataType.FLOAT64)
TAGS = (SETPOINT, TARGET, ENABLED, STATE, TORQUE, MISSING)


def _device(endpoint: str) -> Device:
    return Device("capper", DeviceKind.OPCUA, endpoint=endpoint, poll_interval=POLL, timeout=1.0)


def test_writes_are_typed_read_back_and_never_raise() -> None:
    async def scenario() -> None:
        server = OpcUaPlantServer(FillingLine())
        await server.start()
        bus = TagBus()
        worker = OpcUaWorker(_device(server.endpoint), TAGS, bus)
        not_running = await worker.write(SETPOINT, 3.0)
        assert not_running.outcome is WriteOutcome.FAILED
        assert "not connected" in not_running.message
        task = asyncio.create_task(worker.run())
        try:
            await wait_for(lambda: worker.status.state is ConnectionState.CONNECTED, 5.0)
            await wait_for(lambda: bus.latest("Setpoint") is not None, 5.0)

            ok = await worker.write(SETPOINT, 3.5)
            assert (ok.outcome, ok.read_back, ok.message) == (WriteOutcome.CONFIRMED, 3.5, "")
            await wait_for(lambda: bus.latest("Setpoint").value == 3.5, 3.0)  # type: ignore[union-attr]
            whole = await worker.write(SETPOINT, 4)  # an int for a Double node is converted
            assert (whole.outcome, whole.read_back) == (WriteOutcome.CONFIRMED, 4.0)

            clamped = await worker.write(SETPOINT, 9.0)  # the "PLC" clamps to 0..5 Nm
            assert (clamped.outcome, clamped.read_back) == (WriteOutcome.MISMATCH, 5.0)
            assert "5.0" in clamped.message

            not_writable = await worker.write(STATE, "STOPPED")
            assert not_writable.outcome is WriteOutcome.FAILED
            assert not_writable.message == (
                "BadNotWritable: the server does not allow writing Capper.State"
            )

            for tag, value in (
                (SETPOINT, "fast"),
                (SETPOINT, True),
                (ENABLED, 1),
                (TARGET, 2.5),
                (TARGET, 70_000),
                (STATE, 3),
                (SETPOINT, math.nan),
            ):
                result = await worker.write(tag, value)
                assert result.outcome is WriteOutcome.REFUSED, (tag.name, value, result)
                assert result.message
            assert "UInt16" in (await worker.write(TARGET, 70_000)).message

            out_of_range = await worker.write(SETPOINT, 25.0)
            assert out_of_range.outcome is WriteOutcome.REFUSED
            assert "range" in out_of_range.message
            config_says_no = await worker.write(TORQUE, 1.0)
            assert config_says_no.outcome is WriteOutcome.REFUSED
            assert "not writable" in config_says_no.message

            assert (await worker.write(TARGET, 12)).outcome is WriteOutcome.CONFIRMED
            assert (await worker.write(TARGET, 12.0)).read_back == 12
            assert (await worker.write(ENABLED, False)).read_back is False

            missing = await worker.write(MISSING, 1.0)
            assert missing.outcome is WriteOutcome.FAILED
            assert missing.message.startswith("BadNodeIdUnknown")
            assert "ns=2;s=Capper.DoesNotExist" in missing.message

            diagnostics = worker.diagnostics()
            assert diagnostics.device == "capper"
            assert diagnostics.state is ConnectionState.CONNECTED
            assert diagnostics.requests >= 20
            assert diagnostics.errors == 0
            assert 0 < diagnostics.latency_p50 <= diagnostics.latency_p99 < 1.0
            assert diagnostics.requests_per_s > 0
            assert diagnostics.bytes_sent > 1000
            assert diagnostics.bytes_received > 1000
            assert worker.notifications >= 2  # data changes arrived by the subscription
        finally:
            await worker.stop()
            await server.stop()
        assert task.done()

    asyncio.run(scenario())


def test_a_write_while_the_server_is_gone_fails_with_a_reason() -> None:
    async def scenario() -> None:
        server = OpcUaPlantServer(FillingLine())
        await server.start()
        worker = OpcUaWorker(_device(server.endpoint), TAGS, TagBus())
        task = asyncio.create_task(worker.run())
        try:
            await wait_for(lambda: worker.status.state is ConnectionState.CONNECTED, 5.0)
            await server.stop()
            result = await worker.write(SETPOINT, 1.0)
            assert result.outcome is WriteOutcome.FAILED
            assert result.message
            errors_before = worker.diagnostics().errors
            assert errors_before >= 0
        finally:
            await worker.stop()
            await server.stop()
        assert task.done()

    asyncio.run(scenario())
