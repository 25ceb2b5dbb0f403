"""The runtime's alarm engine end to end: a Modbus simulator on 127.0.0.1, the site's
[[alarms]], the device thread, the runner; a value past its limit raises the alarm and
the journal on the SQLite file says so; the PLC going away raises its communication
alarm; the station stopping raises nothing."""

from __future__ import annotations

import asyncio
import struct
import time

from hmi.config import parse_site
from hmi.core.alarm_states import AlarmEvent, AlarmState
from hmi.runtime import Runtime
from hmi.sim.modbus_server import ModbusRegisterServer


def site_text(port: int) -> str:
    return f"""
[site]
name = "alarms"

[[devices]]
name = "plc1"
kind = "modbus_tcp"
host = "127.0.0.1"
port = {port}
poll_interval = 0.1
timeout = 0.5

[[tags]]
name = "Tank"
device = "plc1"
table = "holding_register"
address = 0
type = "float32"

[[alarms]]
name = "Tank.High"
tag = "Tank"
type = "hi"
limit = 80
priority = "high"
message = "Tank high"

[[alarms]]
name = "plc1.Comm"
device = "plc1"
type = "bad_quality"
priority = "high"
"""


def float32(value: float) -> list[int]:
    return list(struct.unpack(">HH", struct.pack(">f", value)))


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_a_value_past_its_limit_and_a_lost_plc_raise_their_alarms(tmp_path):
    async def scenario() -> None:
        plc = ModbusRegisterServer(holding_count=8)
        await plc.start()
        plc.set_holding(0, float32(50.0))
        runtime = Runtime(parse_site(site_text(plc.port), "site.toml"), tmp_path)
        await runtime.start()
        state = lambda name: runtime.alarms.record(name).alarm.state  # noqa: E731
        try:
            await until(lambda: runtime.bus.latest("Tank") is not None)
            assert state("Tank.High") is AlarmState.NORMAL
            plc.set_holding(0, float32(91.5))
            await until(lambda: state("Tank.High") is AlarmState.UNACKED)
            await plc.stop()  # the PLC goes away
            await until(lambda: state("plc1.Comm") is AlarmState.UNACKED)
            await until(lambda: runtime.alarms.pending == 0)
        finally:
            await runtime.stop()
            if plc.running:
                await plc.stop()
        # the stop raised or cleared nothing; the journal is on the file
        runtime2 = Runtime(parse_site(site_text(1), "site.toml"), tmp_path)
        try:
            rows = runtime2.alarm_store.journal()
        finally:
            runtime2.database.close()
        assert [(r.name, r.event, r.value) for r in rows][:1] == [
            ("Tank.High", AlarmEvent.ACTIVATE, "91.5")]
        assert ("plc1.Comm", AlarmEvent.ACTIVATE) in [(r.name, r.event) for r in rows]
        assert all(r.event is AlarmEvent.ACTIVATE for r in rows)

    asyncio.run(scenario())
