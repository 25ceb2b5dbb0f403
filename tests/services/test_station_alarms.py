"""One list of the station's alarms and its PLC servers' (StationAlarms): acknowledging a
mix answers each alarm on its own, also when a server alarm goes away meanwhile; a
server alarm raised again is a new occurrence (the horn sounds again). The station's
side is the real engine, service, guard and audit on a SQLite file; the PLC's server is
a small in-process stand-in (the real node-opcua server is in
tests/devices/test_opcua_conditions.py and tests/gui/test_server_alarms_screen.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from hmi.core.alarm_rules import Priority
from hmi.core.alarm_states import AlarmState
from hmi.core.listeners import Listeners
from hmi.core.server_alarms import ConditionChanges, ServerCondition
from hmi.core.site import AlarmSettings
from hmi.services.alarm_actions import AlarmActions
from hmi.services.server_alarms import ServerAlarmActions
from hmi.services.station_alarms import StationAlarms
from tests.security_helpers import GUARD, operator
from tests.services.test_alarm_actions import Desk


def condition(cid: str, *, active: bool = True, acked: bool = False,
              severity: int = 700) -> ServerCondition:
    return ServerCondition("plc", cid, cid, "Tank", f"{cid} message", severity,
                           Priority.HIGH, active, acked, None, "", True, time.time(), "")


class PlcServer:
    """What a ConditionSource offers, held in memory; ``on_ack`` runs during an
    acknowledge (the server answering slowly, its list changing meanwhile)."""

    def __init__(self, *conditions: ServerCondition) -> None:
        self.held = {c.condition_id: c for c in conditions}
        self.changes: Listeners[[ConditionChanges]] = Listeners("plc")
        self.acked: list[str] = []
        self.on_ack: Callable[[str], None] | None = None
        self.reachable = True
        self.problem = ""

    def conditions(self) -> list[ServerCondition]:
        return list(self.held.values())

    def condition(self, condition_id: str) -> ServerCondition | None:
        return self.held.get(condition_id)

    def add_listener(self, listener: Callable[[ConditionChanges], None]
                     ) -> Callable[[], None]:
        return self.changes.add(listener)

    def say(self, changed: tuple[ServerCondition, ...] = (),
            removed: tuple[ServerCondition, ...] = ()) -> None:
        for c in changed:
            self.held[c.condition_id] = c
        for c in removed:
            self.held.pop(c.condition_id, None)
        self.changes.fire(ConditionChanges("plc", changed, removed, True, ""))

    async def acknowledge(self, condition_id: str, comment: str = "") -> str:
        await asyncio.sleep(0)
        if self.on_ack is not None:
            self.on_ack(condition_id)
        if condition_id not in self.held:
            return "BadConditionBranchIdUnknown"
        self.acked.append(condition_id)
        return ""

    async def confirm(self, condition_id: str, comment: str = "") -> str:
        return ""

    async def shelve(self, condition_id: str, seconds: float) -> str:
        return ""

    async def unshelve(self, condition_id: str) -> str:
        return ""


def station(desk: Desk, plc: PlcServer) -> StationAlarms:
    servers = ServerAlarmActions({"plc": plc}, GUARD, desk.audit.record, AlarmSettings())
    return StationAlarms(desk.engine, AlarmActions(desk.engine, GUARD), servers)


def test_acknowledging_a_mix_answers_each_alarm_also_when_a_server_alarm_goes_meanwhile(
        tmp_path):
    async def scenario() -> None:
        desk = Desk(tmp_path)
        await desk.raise_all()
        plc = PlcServer(condition("c1"), condition("c2"))
        alarms = station(desk, plc)
        assert {"plc:c1", "plc:c2", "Tank.Low"} <= set(alarms.records())
        # the PLC drops c2 while c1 is being acknowledged (acknowledged at the panel)
        plc.on_ack = lambda cid: plc.say(removed=(plc.held["c2"],)) if cid == "c1" \
            else None
        said = await alarms.acknowledge(["Tank.Low", "plc:c1", "plc:c2"], operator("ann"))
        assert said["Tank.Low"] == "" and said["plc:c1"] == ""
        assert said["plc:c2"].startswith("no longer held by the server")
        assert desk.state("Tank.Low") is AlarmState.ACKED
        assert plc.acked == ["c1"]
        audited = [r.object for r in desk.audit.rows() if r.action == "ack_alarm:ack"]
        assert audited == ["server alarm plc/c1 (c1)"]
        # a name from a dialog opened before the alarm went: answered, others done
        assert alarms.comment_required(["plc:c2"]) is False
        said = await alarms.acknowledge(["plc:c2", "Fault"], operator("ann"))
        assert said == {"plc:c2": "no longer held by the server (cleared or acknowledged "
                                  "there)", "Fault": ""}

    asyncio.run(scenario())


def test_a_server_alarm_raised_again_is_a_new_occurrence(tmp_path):
    async def scenario() -> None:
        desk = Desk(tmp_path)
        await desk.engine._load()
        plc = PlcServer(condition("c1"))
        alarms = station(desk, plc)
        first = alarms.records()["plc:c1"]
        plc.say(changed=(condition("c1", active=False),))
        plc.say(changed=(condition("c1", active=True),))  # within one screen update
        again = alarms.records()["plc:c1"]
        assert again.alarm.state is AlarmState.UNACKED
        assert again.occurrence == first.occurrence + 1

    asyncio.run(scenario())
