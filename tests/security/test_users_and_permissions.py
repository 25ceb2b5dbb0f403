"""User management and the permission checks in the services: every service function,
called by a user whose role lacks the action (or by nobody), is refused with the roles
that may, audited, and changes nothing."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from hmi.core import audit as events
from hmi.core.events import EventState, ProductionEvent
from hmi.core.samples import Value
from hmi.core.security import (
    Action,
    Actor,
    InputRejectedError,
    PermissionDeniedError,
    PermissionMap,
    Role,
    SecuritySettings,
)
from hmi.core.site import Site
from hmi.core.writes import WriteOutcome, WriteResult
from hmi.services.guard import NotLoggedInError
from hmi.services.production import OutboxQueue, ProductionService
from hmi.services.users import UserExistsError
from hmi.services.writes import WriteService
from hmi.store.audit import AuditFilter
from hmi.store.events import EventRepository
from hmi.store.outbox import OutboxRepository
from tests.security.conftest import PASSWORD, Security
from tests.services.test_writes import _site


def denied(sec: Security) -> list[tuple[str, str]]:
    return [(r.user, r.new_value) for r in
            sec.audit.rows(AuditFilter(action=events.PERMISSION_DENIED))]


# -- user management ----------------------------------------------------------------------

def test_the_first_administrator_is_made_once(sec: Security) -> None:
    with pytest.raises(UserExistsError, match="first administrator"):
        sec.users.first_admin("second", PASSWORD)
    assert [u.name for u in sec.users.list(sec.admin)] == ["admin"]


@pytest.mark.parametrize(("password", "problem"), [
    ("short1", "at least 10 characters"),
    ("onlyletters-here", "letters and digits"),
    ("1234567890123", "letters and digits"),
    ("olga-olga-2024", "not the user name"),
    ("bell\x07-ringer-42", "no control characters"),
    ("x" * 300 + "1", "at most 256"),
])
def test_password_rules_say_what_is_wrong(sec: Security, password: str, problem: str) -> None:
    with pytest.raises(InputRejectedError, match=problem):
        sec.users.add(sec.admin, "olga", Role.OPERATOR, password)
    assert sec.users_store.get("olga") is None


@pytest.mark.parametrize(("name", "problem"), [
    ("", "empty"), ("   ", "empty"), ("a" * 65, "at most 64"), ("a" * 1_000_000, "at most 64"),
    ("ol\x00ga", "control characters"), ("ol\u200bga", "control characters"),
    ("olga smith", "space"),
])
def test_bad_user_names_are_refused_with_the_reason(sec: Security, name: str,
                                                     problem: str) -> None:
    with pytest.raises(InputRejectedError, match=problem):
        sec.users.add(sec.admin, name, Role.OPERATOR, PASSWORD)
    assert len(sec.users.list(sec.admin)) == 1


def test_sql_like_and_unicode_names_are_just_names(sec: Security) -> None:
    for name in ("x';DROP_TABLE_users;--", "Müller", "操作员1", "O'Brien"):
        sec.users.add(sec.admin, name, Role.OPERATOR, "Good-password-42")
    names = {u.name for u in sec.users.list(sec.admin)}
    assert {"x';DROP_TABLE_users;--", "Müller", "操作员1", "O'Brien", "admin"} == names
    with pytest.raises(UserExistsError):
        sec.users.add(sec.admin, "Müller", Role.OPERATOR, "Good-password-42")


def test_own_password_needs_the_old_one_and_others_need_manage_users(sec: Security) -> None:
    olga = sec.add("olga", Role.OPERATOR)
    sec.add("otto", Role.OPERATOR)
    sec.users.set_password(olga, "olga", "New-password-43", old_password=PASSWORD)
    assert sec.auth.login("olga", "New-password-43").name == "olga"
    with pytest.raises(PermissionDeniedError, match="Administrator"):
        sec.users.set_password(olga, "otto", "Mine-now-44444")
    sec.users.set_password(sec.admin, "otto", "Reset-by-admin-1", reason="forgot it")
    assert sec.auth.login("otto", "Reset-by-admin-1").name == "otto"
    changed = sec.audit.rows(AuditFilter(action=events.PASSWORD_CHANGED))
    assert [(r.user, r.object) for r in changed] == [("olga", "olga"), ("admin", "otto")]
    assert all("password" not in r.new_value.lower() for r in changed)


def test_the_last_administrator_cannot_be_disabled(sec: Security) -> None:
    with pytest.raises(InputRejectedError, match="last enabled administrator"):
        sec.users.set_disabled(sec.admin, "admin", True, "testing")
    with pytest.raises(InputRejectedError, match="reason"):
        sec.users.set_disabled(sec.admin, "admin", True, "")


# -- every service refuses -------------------------------------------------------------------

def role_without(action: Action) -> Role:
    return next(r for r in Role if not PermissionMap().allows(r, action))


def add_event(db, state: EventState = EventState.PENDING) -> ProductionEvent:
    event = ProductionEvent(str(uuid.uuid4()), "count", "L1", 0.0, 60.0, 7, 1, "pcs", True)
    EventRepository(db).add(event)
    return event


def test_confirm_refused_without_confirm_event_and_when_logged_out(sec: Security) -> None:
    service = ProductionService(EventRepository(sec.db), lambda: None, sec.guard, sec.clock)
    event = add_event(sec.db)
    lacking = sec.add("mick", role_without(Action.CONFIRM_EVENT))
    with pytest.raises(PermissionDeniedError, match="may not confirm production: ask a user "
                                                    "with the role Operator"):
        asyncio.run(service.confirm(event.event_id, lacking))
    with pytest.raises(NotLoggedInError, match="Log in to confirm production"):
        asyncio.run(service.confirm(event.event_id, None))
    stored = EventRepository(sec.db).get(event.event_id)
    assert stored is not None
    assert stored.state is EventState.PENDING
    assert OutboxRepository(sec.db).list() == []
    assert denied(sec) == [("mick", "confirm_event")]


def test_confirm_by_an_operator_is_audited_in_the_same_transaction(sec: Security) -> None:
    service = ProductionService(EventRepository(sec.db), lambda: None, sec.guard, sec.clock)
    event = add_event(sec.db)
    olga = sec.add("olga", Role.OPERATOR)
    outbox_id = asyncio.run(service.confirm(event.event_id, olga, "x'); DROP TABLE outbox;--"))
    row = sec.audit.rows(AuditFilter(action="confirm_event"))[-1]
    assert (row.user, row.role, row.old_value, row.new_value) == (
        "olga", "operator", "pending", "7 good, 1 reject (pcs)")
    assert row.reason == "x'); DROP TABLE outbox;--"
    assert [i.id for i in OutboxRepository(sec.db).list()] == [outbox_id]


def test_a_failing_audit_write_leaves_the_event_unconfirmed(sec: Security) -> None:
    service = ProductionService(EventRepository(sec.db), lambda: None, sec.guard, sec.clock)
    event = add_event(sec.db)
    olga = sec.add("olga", Role.OPERATOR)
    with sec.db.engine.begin() as connection:  # the audit trail's head is gone
        connection.exec_driver_sql("DELETE FROM audit_head")
    with pytest.raises(Exception, match="nothing was written"):
        asyncio.run(service.confirm(event.event_id, olga))
    stored = EventRepository(sec.db).get(event.event_id)
    assert stored is not None
    assert stored.state is EventState.PENDING
    assert OutboxRepository(sec.db).list() == []


def test_correcting_a_confirmed_event_needs_edit_confirmed_event_and_a_reason(
        sec: Security) -> None:
    service = ProductionService(EventRepository(sec.db), lambda: None, sec.guard, sec.clock)
    event = add_event(sec.db)
    olga = sec.add("olga", Role.OPERATOR)
    sam = sec.add("sam", Role.SHIFT_LEAD)
    asyncio.run(service.confirm(event.event_id, olga))
    with pytest.raises(PermissionDeniedError, match="may not change confirmed production"):
        asyncio.run(service.correct(event.event_id, olga, 6, 2, "miscounted"))
    with pytest.raises(InputRejectedError, match="reason is empty"):
        asyncio.run(service.correct(event.event_id, sam, 6, 2, " "))
    with pytest.raises(InputRejectedError, match="whole number"):
        asyncio.run(service.correct(event.event_id, sam, -1, 2, "miscounted"))
    asyncio.run(service.correct(event.event_id, sam, 6, 2, "one bottle broke at the capper"))
    stored = EventRepository(sec.db).get(event.event_id)
    assert stored is not None
    assert (stored.good_count, stored.reject_count) == (6, 2)
    row = sec.audit.rows(AuditFilter(action="edit_confirmed_event"))[-1]
    assert (row.user, row.old_value, row.new_value, row.reason) == (
        "sam", "7 good, 1 reject (pcs)", "6 good, 2 reject (pcs)",
        "one bottle broke at the capper")
    sent = [i for i in OutboxRepository(sec.db).list() if '"correction"' in i.payload]
    assert len(sent) == 1
    assert '"replaces":{"good":7,"reject":1' in sent[0].payload


def test_mes_retry_needs_retry_mes(sec: Security) -> None:
    outbox = OutboxRepository(sec.db)
    queue = OutboxQueue(outbox, lambda: None, sec.guard, sec.clock)
    service = ProductionService(EventRepository(sec.db), lambda: None, sec.guard, sec.clock)
    olga = sec.add("olga", Role.OPERATOR)
    outbox_id = asyncio.run(service.confirm(add_event(sec.db).event_id, olga))
    outbox.mark_rejected(outbox_id, 422, "unknown line L1", sec.clock())
    with pytest.raises(PermissionDeniedError, match="may not resend to the MES"):
        asyncio.run(queue.retry(outbox_id, olga))
    assert outbox.get(outbox_id).status.value == "rejected"  # type: ignore[union-attr]
    sam = sec.add("sam", Role.SHIFT_LEAD)
    asyncio.run(queue.retry(outbox_id, sam, "line L1 added at the MES"))
    assert outbox.get(outbox_id).status.value == "pending"  # type: ignore[union-attr]
    row = sec.audit.rows(AuditFilter(action="retry_mes"))[-1]
    assert (row.user, row.old_value, row.new_value) == (
        "sam", "rejected: unknown line L1", "pending")


def test_writes_need_write_setpoint_and_are_audited(sec: Security) -> None:
    sent: list[tuple[str, Value]] = []

    async def writer(tag: str, value: Value) -> WriteResult:
        sent.append((tag, value))
        return WriteResult(tag, WriteOutcome.CONFIRMED, value, read_back=value)

    site: Site = _site()
    service = WriteService(site, writer, sec.guard, sec.audit.record)
    olga = sec.add("olga", Role.OPERATOR)
    refused = asyncio.run(service.write("Filler.Level", 50.0, olga))
    assert refused.outcome is WriteOutcome.REFUSED
    assert "may not write set-points" in refused.message
    nobody = asyncio.run(service.write("Filler.Level", 50.0, None))
    assert "Log in to write set-points" in nobody.message
    assert sent == []  # nothing went to the PLC
    mia = sec.add("mia", Role.MAINTENANCE)
    done = asyncio.run(service.write("Filler.Level", 50.0, mia, reason="calibration"))
    assert done.outcome is WriteOutcome.CONFIRMED
    assert sent == [("Filler.Level", 50.0)]
    row = sec.audit.rows(AuditFilter(action="write_setpoint"))[-1]
    assert (row.user, row.object, row.new_value) == ("mia", "Filler.Level", "50.0")
    assert row.reason == "calibration; confirmed"


def test_user_management_needs_manage_users(sec: Security) -> None:
    sam = sec.add("sam", Role.SHIFT_LEAD)
    for call in (lambda: sec.users.add(sam, "x1", Role.OPERATOR, PASSWORD),
                 lambda: sec.users.set_disabled(sam, "admin", True, "coup"),
                 lambda: sec.users.set_password(sam, "admin", "Taken-over-42"),
                 lambda: sec.users.list(sam)):
        with pytest.raises(PermissionDeniedError, match="may not manage users"):
            call()
    with pytest.raises(NotLoggedInError):
        sec.users.list(None)
    assert [u for u, _ in denied(sec)] == ["sam"] * 4
    assert sec.users_store.get("x1") is None


def test_site_overrides_change_who_may(db) -> None:
    from tests.security.conftest import build

    grants = PermissionMap.with_overrides({Role.OPERATOR: [Action.CONFIRM_EVENT,
                                                           Action.WRITE_SETPOINT]})
    sec = build(db, SecuritySettings(permissions=grants))
    assert sec.guard.require(Actor("o", Role.OPERATOR), Action.WRITE_SETPOINT)
    assert sec.guard.permissions.why_not(Action.RETRY_MES) == (
        "Needs the role Shift lead, Engineer, Administrator to resend to the MES")


@pytest.mark.parametrize(("typed", "problem"), [
    ("x" * 1_000_000, "1,000,000 characters long; at most 2,000"),
    ("ok\x1b[2Jcleared", "U\\+001B"),
    ("fine\u2066hidden", "U\\+2066"),
])
def test_huge_or_control_character_comments_and_reasons_are_refused_and_nothing_written(
        sec: Security, typed: str, problem: str) -> None:
    service = ProductionService(EventRepository(sec.db), lambda: None, sec.guard, sec.clock)
    event = add_event(sec.db)
    olga = sec.add("olga", Role.OPERATOR)
    sam = sec.add("sam", Role.SHIFT_LEAD)
    before = len(sec.audit.rows())
    with pytest.raises(InputRejectedError, match=problem):
        asyncio.run(service.confirm(event.event_id, olga, typed))
    asyncio.run(service.confirm(event.event_id, olga, "Grüße, 操作员 🙂"))
    with pytest.raises(InputRejectedError, match=problem):
        asyncio.run(service.correct(event.event_id, sam, 1, 1, typed))
    with pytest.raises(InputRejectedError, match=problem):
        sec.users.set_disabled(sec.admin, "olga", True, typed)
    assert len(sec.audit.rows()) == before + 1  # only the good confirmation
    assert sec.audit.rows()[-1].reason == "Grüße, 操作员 🙂"


def test_reading_the_audit_trail_needs_view_audit_and_an_export_is_audited(
        sec: Security, tmp_path) -> None:
    from hmi.services.audit import AUDIT_EXPORTED, AuditService

    who: list[Actor | None] = [sec.add("olga", Role.OPERATOR)]
    service = AuditService(sec.audit, sec.guard, lambda: who[0])
    with pytest.raises(PermissionDeniedError, match="may not read the audit trail"):
        service.rows(AuditFilter())
    with pytest.raises(PermissionDeniedError):
        service.export_csv(tmp_path / "a.csv", AuditFilter())
    assert not (tmp_path / "a.csv").exists()
    assert service.verify().ok  # OK or broken says nothing of the rows
    who[0] = sec.add("sam", Role.SHIFT_LEAD)
    assert service.rows(AuditFilter(user="olga"))
    count = service.export_csv(tmp_path / "a.csv", AuditFilter(user="olga"))
    row = sec.audit.rows()[-1]
    assert (row.user, row.action, row.new_value, row.reason) == (
        "sam", AUDIT_EXPORTED, f"{count} rows", "user olga")
