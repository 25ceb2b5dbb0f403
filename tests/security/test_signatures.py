"""Electronic signatures (21 CFR Part 11 style): the site marks actions as signed; the
first signature in a session takes user name and password, later ones the password;
the audit row and the MES transaction carry the signer, the time and the meaning."""

from __future__ import annotations

import asyncio
import json

import pytest

from hmi.core import audit as events
from hmi.core.security import Action, Role, SecuritySettings
from hmi.security.authentication import LoginRefusedError
from hmi.services.guard import SignatureRequiredError
from hmi.services.production import ProductionService
from hmi.store.audit import AuditFilter
from hmi.store.events import EventRepository
from hmi.store.outbox import OutboxRepository
from tests.security.conftest import PASSWORD, build
from tests.security.test_users_and_permissions import add_event

MEANING = "confirmed production quantity"


@pytest.fixture
def signed(db):
    return build(db, SecuritySettings(lockout_attempts=3,
                                      signed={Action.CONFIRM_EVENT: MEANING}))


def test_first_signature_needs_user_and_password_later_ones_the_password(signed) -> None:
    signed.add("olga", Role.OPERATOR)
    session = signed.session()
    session.login("olga", PASSWORD)
    assert session.needs_user_name
    with pytest.raises(LoginRefusedError, match="Type your user name"):
        session.sign(Action.CONFIRM_EVENT, MEANING, PASSWORD)
    with pytest.raises(LoginRefusedError, match="Sign as yourself"):
        session.sign(Action.CONFIRM_EVENT, MEANING, PASSWORD, user_name="admin")
    first = session.sign(Action.CONFIRM_EVENT, MEANING, PASSWORD, user_name="olga")
    assert (first.signer, first.full_name, first.meaning) == ("olga", "Olga", MEANING)
    assert first.shown().startswith("Signed by Olga (olga) at ")
    assert not session.needs_user_name
    later = session.sign(Action.CONFIRM_EVENT, MEANING, PASSWORD)
    assert later.signer == "olga"
    session.login("admin", PASSWORD)  # a new person: the user name again
    assert session.needs_user_name


def test_a_wrong_signature_password_is_refused_audited_and_counts_to_lockout(signed) -> None:
    signed.add("olga", Role.OPERATOR)
    session = signed.session()
    session.login("olga", PASSWORD)
    for _ in range(2):
        with pytest.raises(LoginRefusedError, match="Wrong"):
            session.sign(Action.CONFIRM_EVENT, MEANING, "not-it-123", user_name="olga")
    with pytest.raises(LoginRefusedError, match="locked"):
        session.sign(Action.CONFIRM_EVENT, MEANING, "not-it-123", user_name="olga")
    failed = signed.audit.rows(AuditFilter(action=events.SIGNATURE_FAILED))
    assert len(failed) == 3
    assert failed[0].object == f"signature: {MEANING}"


def test_a_signed_action_is_refused_without_a_valid_signature(signed) -> None:
    service = ProductionService(EventRepository(signed.db), lambda: None, signed.guard,
                                signed.clock)
    event = add_event(signed.db)
    olga = signed.add("olga", Role.OPERATOR)
    otto = signed.add("otto", Role.OPERATOR)
    with pytest.raises(SignatureRequiredError, match="re-enter your password"):
        asyncio.run(service.confirm(event.event_id, olga))
    session = signed.session()
    session.login("otto", PASSWORD)
    ottos = session.sign(Action.CONFIRM_EVENT, MEANING, PASSWORD, user_name="otto")
    with pytest.raises(SignatureRequiredError, match="otto's, not olga's"):
        asyncio.run(service.confirm(event.event_id, olga, signature=ottos))
    signed.clock.now += 600
    with pytest.raises(SignatureRequiredError, match="too old"):
        asyncio.run(service.confirm(event.event_id, otto, signature=ottos))
    assert OutboxRepository(signed.db).list() == []


def test_the_signature_goes_into_the_audit_row_and_the_mes_transaction(signed) -> None:
    service = ProductionService(EventRepository(signed.db), lambda: None, signed.guard,
                                signed.clock)
    event = add_event(signed.db)
    signed.add("olga", Role.OPERATOR)
    session = signed.session()
    olga = session.login("olga", PASSWORD)
    signature = session.sign(Action.CONFIRM_EVENT, MEANING, PASSWORD, user_name="olga")
    asyncio.run(service.confirm(event.event_id, olga, "all good", signature))
    row = signed.audit.rows(AuditFilter(action="confirm_event"))[-1]
    assert (row.user, row.meaning, row.reason) == ("olga", MEANING, "all good")
    payload = json.loads(OutboxRepository(signed.db).list()[0].payload)
    assert payload["signature"]["signer"] == "olga"
    assert payload["signature"]["meaning"] == MEANING
    assert payload["signature"]["signedAt"].endswith("Z")
    assert signed.audit.verify().ok


def test_idle_lock_logs_the_user_out_and_is_audited(signed) -> None:
    signed.add("olga", Role.OPERATOR)
    ticks = [0.0]
    from hmi.security.session import Session

    session = Session(signed.auth, idle_lock_minutes=10, clock=signed.clock,
                      monotonic=lambda: ticks[0])
    session.login("olga", PASSWORD)
    ticks[0] = 9 * 60
    assert not session.lock_if_idle()
    session.touch()
    ticks[0] = 9 * 60 + 10 * 60
    assert session.lock_if_idle()
    assert session.actor is None
    row = signed.audit.rows()[-1]
    assert (row.user, row.action, row.reason) == ("olga", events.SCREEN_LOCKED,
                                                  "idle for 10 min")


def test_switching_user_logs_the_previous_one_out(signed) -> None:
    signed.add("olga", Role.OPERATOR)
    signed.add("sam", Role.SHIFT_LEAD)
    session = signed.session()
    session.login("olga", PASSWORD)
    session.login("sam", PASSWORD)
    rows = [(r.user, r.action, r.reason) for r in signed.audit.rows()[-3:]]
    # the next person's login first: a failed one leaves the previous user logged in
    assert rows == [("olga", "login", ""), ("sam", "login", ""),
                    ("olga", "logout", "user switched to sam")]
    assert session.actor is not None
    assert session.actor.name == "sam"
    with pytest.raises(LoginRefusedError):
        session.login("olga", "wrong-one-99")
    assert session.actor.name == "sam"


def test_a_lockout_by_wrong_signatures_ends_the_session(signed) -> None:
    signed.add("olga", Role.OPERATOR)
    session = signed.session()
    session.login("olga", PASSWORD)
    for _ in range(3):
        with pytest.raises(LoginRefusedError):
            session.sign(Action.CONFIRM_EVENT, MEANING, "not-it-123", user_name="olga")
    assert session.actor is None  # the locked user cannot go on with unsigned actions
    assert signed.audit.rows()[-1].action == events.LOGOUT


def test_a_right_signature_starts_the_wrong_password_count_again(signed) -> None:
    signed.add("olga", Role.OPERATOR)
    session = signed.session()
    session.login("olga", PASSWORD)
    for _ in range(10):  # a typo now and then, weeks apart, never adds up to a lockout
        with pytest.raises(LoginRefusedError, match="Wrong"):
            session.sign(Action.CONFIRM_EVENT, MEANING, "typo-typo-1", user_name="olga")
        session.sign(Action.CONFIRM_EVENT, MEANING, PASSWORD, user_name="olga")
    assert session.actor is not None
