"""Operator actions on alarms through the service: permission (refusals name the roles
that may), comments required per priority, a reason to shelve or take out of service,
signatures where the site asks, and the journal row, state and audit row committed
together, on a real SQLite file."""

from __future__ import annotations

import asyncio
import time

import pytest

from hmi.core.alarm_rules import AlarmKind, AlarmRule, Priority
from hmi.core.alarm_states import AlarmEvent, AlarmState
from hmi.core.security import (
    Action,
    Actor,
    InputRejectedError,
    PermissionDeniedError,
    Role,
    SecuritySettings,
    Signature,
)
from hmi.core.site import AlarmSettings
from hmi.services.alarm_actions import AlarmActions, UnknownAlarmError
from hmi.services.alarms import AlarmEngine
from hmi.services.guard import Guard, SignatureRequiredError
from hmi.store.alarms import AlarmRepository
from hmi.store.audit import AuditRepository
from hmi.store.database import open_database
from tests.security_helpers import GUARD, engineer, operator, shift_lead

RULES = [
    AlarmRule("Tank.Low", "Tank", AlarmKind.LO, Priority.MEDIUM, "Tank low", limit=20.0),
    AlarmRule("Tank.Empty", "Tank", AlarmKind.LOLO, Priority.CRITICAL, "Tank empty",
              limit=5.0),
    AlarmRule("Fault", "Fault", AlarmKind.DISCRETE, Priority.HIGH, "Fault", states=(True,),
              latching=True),
]


class Desk:
    """An engine with its store and the service, the alarms raised by the data path."""

    def __init__(self, tmp_path, guard: Guard = GUARD) -> None:
        self.db = open_database(tmp_path / "hmi.db")
        self.store = AlarmRepository(self.db)
        self.engine = AlarmEngine(RULES, AlarmSettings(max_shelve_minutes=60), self.store)
        self.actions = AlarmActions(self.engine, guard)
        self.audit = AuditRepository(self.db)

    async def raise_all(self) -> None:
        await self.engine._load()
        async with self.engine._lock:
            made = []
            for name in ("Tank.Low", "Tank.Empty", "Fault"):
                made += self.engine._apply(name, AlarmEvent.ACTIVATE, time.time())
            await self.engine._commit(made)

    def state(self, name: str) -> AlarmState:
        return self.engine.record(name).alarm.state


def test_acknowledge_selected_alarms_with_the_comment_their_priority_needs(tmp_path):
    async def scenario() -> None:
        desk = Desk(tmp_path)
        await desk.raise_all()
        assert desk.actions.comment_required(["Tank.Low"]) is False
        assert desk.actions.comment_required(["Tank.Low", "Tank.Empty"]) is True
        with pytest.raises(InputRejectedError, match="the comment is empty"):
            await desk.actions.acknowledge(["Tank.Low", "Tank.Empty"], operator("ann"))
        assert desk.state("Tank.Low") is AlarmState.UNACKED  # nothing changed
        said = await desk.actions.acknowledge(["Tank.Low", "Tank.Empty"], operator("ann"),
                                              "refill valve opened by hand")
        assert said == {"Tank.Low": "", "Tank.Empty": ""}
        assert desk.state("Tank.Low") is AlarmState.ACKED
        again = await desk.actions.acknowledge(["Tank.Low"], operator("ann"))
        assert again == {"Tank.Low": "already acknowledged"}
        rows = [r for r in desk.audit.rows() if r.action.startswith("ack_alarm")]
        assert [(r.user, r.object, r.old_value, r.new_value, r.reason) for r in rows] == [
            ("ann", "alarm Tank.Low", "unacknowledged", "acknowledged",
             "refill valve opened by hand"),
            ("ann", "alarm Tank.Empty", "unacknowledged", "acknowledged",
             "refill valve opened by hand"),
        ]
        journal = [(r.name, r.event, r.user) for r in desk.store.journal()
                   if r.event is AlarmEvent.ACK]
        assert journal == [("Tank.Low", AlarmEvent.ACK, "ann"),
                           ("Tank.Empty", AlarmEvent.ACK, "ann")]
        assert desk.audit.verify().ok
        desk.db.close()

    asyncio.run(scenario())


def test_a_latched_alarm_back_to_normal_is_reset_by_the_acknowledgement(tmp_path):
    async def scenario() -> None:
        desk = Desk(tmp_path)
        await desk.raise_all()
        async with desk.engine._lock:
            made = desk.engine._apply("Fault", AlarmEvent.CLEAR, time.time())
            await desk.engine._commit(made)
        assert desk.state("Fault") is AlarmState.LATCHED
        said = await desk.actions.acknowledge(["Fault"], operator(), "jam cleared")
        assert said == {"Fault": ""}
        assert desk.state("Fault") is AlarmState.NORMAL
        assert desk.store.journal()[-1].event is AlarmEvent.RESET
        desk.db.close()

    asyncio.run(scenario())


def test_shelving_needs_the_permission_a_reason_and_stays_within_the_maximum(tmp_path):
    async def scenario() -> None:
        desk = Desk(tmp_path)
        await desk.raise_all()
        with pytest.raises(PermissionDeniedError, match="may not shelve alarms: ask a user "
                                                        "with the role Shift lead"):
            await desk.actions.shelve("Tank.Low", operator("ann"), 30, "sensor swap")
        with pytest.raises(InputRejectedError, match="the reason is empty"):
            await desk.actions.shelve("Tank.Low", shift_lead(), 30, "  ")
        refused = await desk.actions.shelve("Tank.Low", shift_lead(), 90, "sensor swap")
        assert refused == "a shelve may last at most 60 min (asked: 90 min)"
        assert await desk.actions.shelve("Tank.Low", shift_lead("sam"), 30,
                                         "sensor swap") == ""
        assert desk.state("Tank.Low") is AlarmState.SHELVED
        audit = [r for r in desk.audit.rows() if r.action == "shelve_alarm:shelve"][-1]
        assert audit.user == "sam"
        assert audit.reason == "sensor swap"
        assert audit.new_value.startswith("shelved until 20")
        assert await desk.actions.unshelve("Tank.Low", shift_lead(), "done") == ""
        assert desk.state("Tank.Low") is AlarmState.ACKED  # manual unshelve: acknowledged
        with pytest.raises(UnknownAlarmError, match="no alarm named 'Nope' is configured"):
            await desk.actions.shelve("Nope", shift_lead(), 5, "x")
        desk.db.close()

    asyncio.run(scenario())


def test_out_of_service_needs_its_own_permission_and_a_signature_where_asked(tmp_path):
    settings = SecuritySettings(signed={Action.ALARM_OUT_OF_SERVICE: "took an alarm out of "
                                                                     "service"})
    guard = Guard(settings, None)

    async def scenario() -> None:
        desk = Desk(tmp_path, guard)
        await desk.raise_all()
        with pytest.raises(PermissionDeniedError, match="may not take alarms out of service"):
            await desk.actions.remove_from_service("Tank.Low", shift_lead(), "calibration")
        tech = Actor("mo", Role.MAINTENANCE, "Mo")
        with pytest.raises(SignatureRequiredError, match="re-enter your password to sign"):
            await desk.actions.remove_from_service("Tank.Low", tech, "calibration")
        signature = Signature("mo", "Mo", "maintenance", Action.ALARM_OUT_OF_SERVICE,
                              "took an alarm out of service", time.time())
        assert await desk.actions.remove_from_service("Tank.Low", tech, "calibration",
                                                      signature) == ""
        assert desk.state("Tank.Low") is AlarmState.OUT_OF_SERVICE
        audit = [r for r in desk.audit.rows()
                 if r.action == "alarm_out_of_service:remove from service"][-1]
        assert (audit.user, audit.meaning, audit.reason) == (
            "mo", "took an alarm out of service", "calibration")
        back = Signature("carol", "Carol", "engineer", Action.ALARM_OUT_OF_SERVICE,
                         "took an alarm out of service", time.time())  # the same action
        assert await desk.actions.return_to_service("Tank.Low", engineer(), "",
                                                    back) == ""
        assert desk.state("Tank.Low") is AlarmState.UNACKED  # still low: announced again
        desk.db.close()

    asyncio.run(scenario())


def test_a_comment_with_control_characters_is_refused_and_nothing_changes(tmp_path):
    async def scenario() -> None:
        desk = Desk(tmp_path)
        await desk.raise_all()
        with pytest.raises(InputRejectedError, match="control character"):
            await desk.actions.acknowledge(["Tank.Low"], operator(), "ok\x1b[2J")
        with pytest.raises(InputRejectedError, match="characters long"):
            await desk.actions.acknowledge(["Tank.Low"], operator(), "x" * 5000)
        assert desk.state("Tank.Low") is AlarmState.UNACKED
        assert not [r for r in desk.audit.rows() if r.action.startswith("ack_alarm")]
        desk.db.close()

    asyncio.run(scenario())
