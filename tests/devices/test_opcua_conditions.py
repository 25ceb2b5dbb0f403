"""OPC UA Alarms & Conditions (Part 9) against a real server: node-opcua
(tests/opcua_alarms/alarm_server.js) on 127.0.0.1 and a free port, driven line by line.
asyncua's own server has no Part 9 alarms. Skipped, saying what to install, without
Node.js and npm."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from hmi.config import ConfigError, parse_site
from hmi.core.alarm_rules import Priority
from hmi.core.security import InputRejectedError, PermissionDeniedError, SecuritySettings
from hmi.core.server_alarms import ConditionChanges, ServerCondition, priority_for_severity
from hmi.core.site import AlarmSettings, Device, DeviceKind
from hmi.devices.opcua_conditions import ConditionSource
from hmi.services.security import StationSecurity
from hmi.services.server_alarms import ServerAlarmActions
from hmi.store.database import open_database
from tests.conftest import free_port, wait_for
from tests.opcua_alarms.harness import AlarmServer
from tests.opcua_alarms.install import ensure_installed
from tests.security_helpers import operator, shift_lead

pytestmark = pytest.mark.slow  # a Node.js server process; the module takes ~15 s

TANK = "ns=1;s=TankLevelAlarm"
DOOR = "ns=1;s=DoorAlarm"
PRESSURE = "ns=1;s=PressureAlarm"


@pytest.fixture(scope="module")
def alarm_server() -> Iterator[AlarmServer]:
    why = ensure_installed()
    if why:
        pytest.skip(why)
    server = AlarmServer(free_port())
    server.start("tank")
    yield server
    server.close()


def _device(endpoint: str) -> Device:
    return Device("boiler", DeviceKind.OPCUA, endpoint=endpoint, poll_interval=0.1,
                  timeout=1.0, alarms_and_conditions=True)


def _ids(source: ConditionSource) -> set[str]:
    return {c.condition_id for c in source.conditions()}


def _state(source: ConditionSource, condition_id: str) -> ServerCondition:
    condition = source.condition(condition_id)
    assert condition is not None, f"{condition_id} not in {_ids(source)}"
    return condition


def test_device_option_is_parsed_for_opcua_devices_only() -> None:
    site = """[site]
name = "Line"

[[devices]]
name = "boiler"
kind = "opcua"
endpoint = "opc.tcp://127.0.0.1:4840"
alarms_and_conditions = true

[[devices]]
name = "press"
kind = "opcua"
endpoint = "opc.tcp://127.0.0.1:4841"
"""
    parsed = parse_site(site, "site.toml")
    assert [d.alarms_and_conditions for d in parsed.devices] == [True, False]
    with pytest.raises(ConfigError, match="alarms_and_conditions = 'yes' must be true or false"):
        parse_site(site.replace("= true", "= 'yes'"), "site.toml")
    modbus = site.replace('kind = "opcua"\nendpoint = "opc.tcp://127.0.0.1:4840"',
                          'kind = "modbus_tcp"\nhost = "127.0.0.1"')
    with pytest.raises(ConfigError, match="unknown key 'alarms_and_conditions'"):
        parse_site(modbus, "site.toml")


def test_severity_maps_onto_priority_bands() -> None:
    assert [priority_for_severity(s) for s in (1000, 801, 800, 601, 600, 401, 400, 1)] == [
        Priority.CRITICAL, Priority.CRITICAL, Priority.HIGH, Priority.HIGH,
        Priority.MEDIUM, Priority.MEDIUM, Priority.LOW, Priority.LOW]


def test_conditions_follow_the_server_and_take_ack_confirm_and_shelve(
        alarm_server: AlarmServer) -> None:
    async def scenario() -> None:
        await alarm_server.set("TankLevel", "95")  # active before the client comes
        source = ConditionSource(_device(alarm_server.endpoint))
        told: list[ConditionChanges] = []
        source.changes.add(told.append)
        source.start()
        try:
            await wait_for(lambda: source.reachable, 10.0, "connect and refresh")
            assert source.problem == ""
            tank = _state(source, TANK)  # the refresh brought the alarm raised before
            assert (tank.name, tank.source_name, tank.severity, tank.priority) == (
                "TankLevelAlarm", "1:TankLevel", 900, Priority.CRITICAL)
            assert tank.message.startswith("Tank level HighHigh")
            assert (tank.active, tank.acked, tank.confirmed, tank.shelved, tank.enabled) == (
                True, False, False, "", True)
            assert _ids(source) == {TANK}
            assert told[-1].reachable
            assert tank in told[-1].changed

            await alarm_server.set("DoorOpen", "true")
            await wait_for(lambda: DOOR in _ids(source), 5.0, "the door alarm")
            door = _state(source, DOOR)
            assert (door.message, door.priority, door.active, door.confirmed) == (
                "Tank door open", Priority.LOW, True, None)  # no ConfirmedState on it
            assert [c.condition_id for c in source.conditions()] == [TANK, DOOR]

            await alarm_server.set("TankLevel", "85")
            await wait_for(lambda: _state(source, TANK).priority is Priority.HIGH, 5.0, "High")
            assert _state(source, TANK).message.startswith("Tank level High ")

            assert await source.acknowledge(TANK, "valve opened by hand") == ""
            await wait_for(lambda: _state(source, TANK).acked, 5.0, "acked")
            assert _state(source, TANK).comment == "valve opened by hand"

            # the server caps a shelve (MaxTimeShelved 10 s): its refusal, in words
            refused = await source.shelve(TANK, 3600)
            assert refused == ("the server refused the shelve: BadShelvingTimeOutOfRange "
                               "(longer than the server allows)")
            assert _state(source, TANK).shelved == ""
            assert await source.shelve(TANK, 8) == ""
            await wait_for(lambda: _state(source, TANK).shelved == "TimedShelved", 5.0,
                           "shelved")
            assert await source.unshelve(TANK) == ""
            await wait_for(lambda: _state(source, TANK).shelved == "", 5.0, "unshelved")
            assert "BadConditionNotShelved" in await source.unshelve(TANK)

            # back to normal: retained until confirmed; confirmed, the server lets it go
            await alarm_server.set("TankLevel", "50")
            await wait_for(lambda: not _state(source, TANK).active, 5.0, "inactive")
            assert _state(source, TANK).confirmed is False
            assert await source.confirm(TANK, "level checked") == ""
            await wait_for(lambda: TANK not in _ids(source), 5.0, "released")
            gone = [c for change in told for c in change.removed if c.condition_id == TANK]
            assert gone[-1].confirmed is True
            assert gone[-1].comment == "level checked"
            assert "no alarm" in await source.acknowledge(TANK, "too late")

            await alarm_server.set("DoorOpen", "false")
            await wait_for(lambda: not source.conditions(), 5.0, "the door closed")
        finally:
            await source.stop()
        assert not source.reachable

    asyncio.run(scenario())


def test_service_checks_permission_and_audits(alarm_server: AlarmServer, tmp_path) -> None:
    async def scenario() -> None:
        database = open_database(tmp_path / "hmi.db")
        security = StationSecurity.build(database, SecuritySettings())
        source = ConditionSource(_device(alarm_server.endpoint))
        actions = ServerAlarmActions({"boiler": source}, security.guard,
                                     security.audit.record, AlarmSettings())
        await alarm_server.set("TankLevel", "95")
        source.start()
        try:
            await wait_for(lambda: TANK in _ids(source), 10.0, "the tank alarm")
            assert actions.conditions() == source.conditions()
            assert actions.problems() == {}
            # an operator may not shelve: refused, naming who may, and audited
            with pytest.raises(PermissionDeniedError, match="may not shelve alarms"):
                await actions.shelve("boiler", TANK, operator("ann"), 0.1, "noisy")
            denied = [r for r in security.audit.rows() if r.action == "permission_denied"]
            assert [(r.user, r.object) for r in denied] == [
                ("ann", "server alarm boiler/TankLevelAlarm")]
            # a critical alarm needs a comment to acknowledge (the site's default)
            assert actions.comment_required("boiler", TANK)
            with pytest.raises(InputRejectedError, match="the comment is empty"):
                await actions.acknowledge("boiler", TANK, operator("ann"))
            assert await actions.acknowledge("boiler", TANK, operator("ann"),
                                             "pump started") == ""
            await wait_for(lambda: _state(source, TANK).acked, 5.0, "acked")
            # longer than the server allows: its words, nothing audited
            said = await actions.shelve("boiler", TANK, shift_lead("sam"), 1.0, "sensor work")
            assert "BadShelvingTimeOutOfRange" in said
            assert await actions.shelve("boiler", TANK, shift_lead("sam"), 0.1,
                                        "sensor work") == ""
            rows = [(r.user, r.action, r.object, r.old_value, r.reason)
                    for r in security.audit.rows() if r.action.startswith(("ack", "shelve"))]
            assert rows == [  # (node-opcua sets ConfirmedState false at the ack, not before)
                ("ann", "ack_alarm:ack", f"server alarm boiler/TankLevelAlarm ({TANK})",
                 "active unacked confirmed", "pump started"),
                ("sam", "shelve_alarm:shelve", f"server alarm boiler/TankLevelAlarm ({TANK})",
                 "active acked unconfirmed", "sensor work"),
            ]
            await wait_for(lambda: _state(source, TANK).shelved == "TimedShelved", 5.0, "shelved")
            assert await actions.unshelve("boiler", TANK, shift_lead("sam")) == ""
            await alarm_server.set("TankLevel", "50")
            await wait_for(lambda: not _state(source, TANK).active, 5.0, "inactive")
            assert await actions.confirm("boiler", TANK, operator("ann"), "ok") == ""
            await wait_for(lambda: not source.conditions(), 5.0, "released")
        finally:
            await source.stop()
            database.close()

    asyncio.run(scenario())


def test_server_lost_and_back_with_other_alarms_reconciles() -> None:
    why = ensure_installed()
    if why:
        pytest.skip(why)
    server = AlarmServer(free_port())
    server.start("tank", "TankLevel=95", "DoorOpen=true")

    async def scenario() -> None:
        source = ConditionSource(_device(server.endpoint))
        told: list[ConditionChanges] = []
        source.changes.add(told.append)
        source.start()
        try:
            await wait_for(lambda: _ids(source) == {TANK, DOOR}, 10.0, "both alarms")
            await asyncio.to_thread(server.kill)
            await wait_for(lambda: not source.reachable, 5.0, "unreachable")
            assert source.problem, "no reason given"
            assert not told[-1].reachable
            assert told[-1].problem == source.problem
            assert _ids(source) == {TANK, DOOR}  # the last seen, until the server says
            # back, with another set of alarms: the refresh replaces the list
            await asyncio.to_thread(server.start, "pump", "Pressure=11")
            await wait_for(lambda: source.reachable, 20.0, "reconnected")
            assert _ids(source) == {PRESSURE}
            pressure = _state(source, PRESSURE)
            assert (pressure.priority, pressure.active, pressure.acked) == (
                Priority.HIGH, True, False)
            removed = {c.condition_id for c in told[-1].removed}
            assert removed == {TANK, DOOR}
        finally:
            await source.stop()

    try:
        asyncio.run(scenario())
    finally:
        server.close()
