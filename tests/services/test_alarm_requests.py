"""The station's side of `hmi alarms ack/shelve` while it runs, on a real SQLite file: a
pending request is performed through AlarmActions with its answer in the alarm's
transaction; the station judges the permission, the comment and the signature itself; a
request withdrawn or expired is never performed; the command's side withdraws what was
not answered in time and keeps an answer that came meanwhile."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from hmi.core.alarm_rules import AlarmKind, AlarmRule, Priority
from hmi.core.alarm_states import AlarmEvent, AlarmState
from hmi.core.security import Action, Actor, Role, SecuritySettings
from hmi.core.site import AlarmSettings
from hmi.services.alarm_actions import AlarmActions
from hmi.services.alarm_requests import AlarmRequestDesk, hand_to_station
from hmi.services.alarms import AlarmEngine
from hmi.services.security import StationSecurity
from hmi.store.alarm_requests import (
    AlarmRequestRepository,
    NewRequest,
    RequestAction,
    RequestAnswer,
    RequestStatus,
    RequestWithdrawnError,
)
from hmi.store.alarms import AlarmRepository
from hmi.store.database import open_database

RULES = [
    AlarmRule("Tank.Low", "Tank", AlarmKind.LO, Priority.MEDIUM, "Tank low", limit=20.0),
    AlarmRule("Tank.Empty", "Tank", AlarmKind.LOLO, Priority.CRITICAL, "Tank empty",
              limit=5.0),
]
SIGNED = SecuritySettings(signed={Action.SHELVE_ALARM: "set an alarm aside"})


class Station:
    """An engine with its alarms raised, the services, the request desk; users ann
    (operator) and tom (shift lead)."""

    def __init__(self, tmp_path, settings: SecuritySettings = SIGNED) -> None:
        self.db = open_database(tmp_path / "hmi.db")
        security = StationSecurity.build(self.db, settings)
        admin = security.users.first_admin("boss", "Adm1n-passw0rd")
        security.users.add(admin, "ann", Role.OPERATOR, "Operat0r-pass")
        security.users.add(admin, "tom", Role.SHIFT_LEAD, "Sh1ftlead-pass")
        self.audit = security.audit
        self.store = AlarmRepository(self.db)
        self.engine = AlarmEngine(RULES, AlarmSettings(max_shelve_minutes=60), self.store)
        self.actions = AlarmActions(self.engine, security.guard)
        self.requests = AlarmRequestRepository(self.db)
        self.desk = AlarmRequestDesk(self.actions, self.requests, security.user_store)

    async def raise_all(self) -> None:
        await self.engine.open()
        async with self.engine._lock:
            made = []
            for rule in RULES:
                made += self.engine._apply(rule.name, AlarmEvent.ACTIVATE, time.time())
            await self.engine._commit(made)

    def ask(self, *asked: NewRequest, wait_s: float = 10.0) -> list[int]:
        return self.requests.submit(asked, wait_s)

    def answers(self, ids: list[int]) -> list[tuple[RequestStatus, str]]:
        got = self.requests.answers(ids)
        return [(got[i].status, got[i].answer) for i in ids]

    def state(self, name: str) -> AlarmState:
        return self.engine.record(name).alarm.state

    def operator_actions(self) -> list[tuple[str, AlarmEvent, str]]:
        return [(r.name, r.event, r.user) for r in self.store.journal()
                if r.event is not AlarmEvent.ACTIVATE]


def ack(alarm: str, user: str = "ann", text: str = "") -> NewRequest:
    return NewRequest(alarm, RequestAction.ACKNOWLEDGE, user, "operator", text)


def test_a_request_is_performed_as_at_the_screen_and_answered_in_its_transaction(tmp_path):
    async def scenario() -> None:
        station = Station(tmp_path)
        await station.raise_all()
        shelve = NewRequest("Tank.Empty", RequestAction.SHELVE, "tom", "shift_lead",
                            "level sensor swap", 30, "set an alarm aside")
        ids = station.ask(ack("Tank.Low", text="seen"), shelve, ack("Tank.Low"))
        assert await station.desk.take() == 3
        assert station.answers(ids) == [
            (RequestStatus.DONE, "acknowledged"), (RequestStatus.DONE, "shelved"),
            (RequestStatus.REFUSED, "already acknowledged")]
        assert station.state("Tank.Low") is AlarmState.ACKED
        assert station.state("Tank.Empty") is AlarmState.SHELVED
        assert station.operator_actions() == [("Tank.Low", AlarmEvent.ACK, "ann"),
                                              ("Tank.Empty", AlarmEvent.SHELVE, "tom")]
        rows = [r for r in station.audit.rows() if r.action.startswith(("ack", "shelve"))]
        assert [(r.user, r.action, r.meaning) for r in rows] == [
            ("ann", "ack_alarm:acknowledge", ""),
            ("tom", "shelve_alarm:shelve", "set an alarm aside")]
        assert await station.desk.take() == 0  # answered: never taken again
        station.db.close()

    asyncio.run(scenario())


def test_the_station_judges_permission_comment_signature_and_user_itself(tmp_path):
    async def scenario() -> None:
        station = Station(tmp_path)
        await station.raise_all()
        ids = station.ask(
            NewRequest("Tank.Low", RequestAction.SHELVE, "ann", "shift_lead", "x", 30,
                       "set an alarm aside"),  # the row's role is not believed
            NewRequest("Tank.Low", RequestAction.SHELVE, "tom", "shift_lead", "x", 30),
            ack("Tank.Empty"),  # critical: a comment is required
            ack("Tank.Low", user="mallory"),
            ack("Nope"))
        await station.desk.take()
        answers = station.answers(ids)
        assert {status for status, _ in answers} == {RequestStatus.REFUSED}
        said = [text for _, text in answers]
        assert said[0].startswith("ann (Operator) may not shelve alarms")
        assert said[1] == ("Shelve alarms needs your signature (set an alarm aside): "
                           "re-enter your password to sign")
        assert said[2] == "the comment is empty: say why, in a few words"
        assert said[3] == "the user mallory is unknown or disabled on this station"
        assert said[4].startswith("no alarm named 'Nope' is configured")
        assert station.operator_actions() == []
        assert station.state("Tank.Low") is AlarmState.UNACKED
        station.db.close()

    asyncio.run(scenario())


def test_a_withdrawn_or_expired_request_is_never_performed(tmp_path):
    async def scenario() -> None:
        station = Station(tmp_path)
        await station.raise_all()
        [withdrawn] = station.ask(ack("Tank.Low"))
        assert station.requests.answer([RequestAnswer(
            withdrawn, RequestStatus.WITHDRAWN, "no answer within 10 s")]) == [withdrawn]
        ann = Actor("ann", Role.OPERATOR)
        # taken just before the withdrawal, performed just after: the transaction refuses
        with pytest.raises(RequestWithdrawnError):
            await station.actions.acknowledge(["Tank.Low"], ann, request=withdrawn)
        [expired] = station.ask(ack("Tank.Low"), wait_s=-1.0)
        await station.desk.take()
        assert station.answers([withdrawn, expired]) == [
            (RequestStatus.WITHDRAWN, "no answer within 10 s"),
            (RequestStatus.WITHDRAWN, "expired before the station took it")]
        assert station.state("Tank.Low") is AlarmState.UNACKED
        assert station.operator_actions() == []
        assert not [r for r in station.audit.rows() if r.action.startswith("ack")]
        station.db.close()

    asyncio.run(scenario())


def test_the_command_withdraws_what_was_not_answered_and_keeps_a_late_answer(tmp_path):
    db = open_database(tmp_path / "hmi.db")
    requests = AlarmRequestRepository(db)
    clock = itertools.count(0.0, 0.5)  # a second: two polls
    answered: list[int] = []

    def sleep(_seconds: float) -> None:  # the station answers the first, once
        if not answered:
            answered.append(requests.pending()[0].id)
            requests.answer([RequestAnswer(answered[0], RequestStatus.DONE, "acknowledged")])

    answers = hand_to_station(requests, [ack("Tank.Low"), ack("Tank.Empty", text="x")],
                              wait_s=1.0, monotonic=lambda: next(clock), sleep=sleep)
    assert [(a.status, a.answer) for a in answers] == [
        (RequestStatus.DONE, "acknowledged"),
        (RequestStatus.WITHDRAWN, "no answer within 1 s")]
    assert requests.pending() == []
    # the station, late: its answer does not overwrite the withdrawal
    assert requests.answer([RequestAnswer(answers[1].id, RequestStatus.DONE, "late")]) == []
    db.close()
