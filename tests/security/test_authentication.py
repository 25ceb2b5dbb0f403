"""Login: the right password lets in; a wrong one, an unknown name, garbage, a flood:
the same plain answer, each attempt audited and logged, the account locked after N in
a row for M minutes; nothing is lost."""

from __future__ import annotations

import logging
import time

import pytest

from hmi.core import audit as events
from hmi.core.security import Role, SecuritySettings
from hmi.security.authentication import WRONG, LoginRefusedError
from hmi.security.passwords import check_password, hash_password
from hmi.store.audit import AuditFilter
from tests.security.conftest import PASSWORD, Security


def actions(sec: Security, user: str | None = None) -> list[str]:
    return [r.action for r in sec.audit.rows(AuditFilter(user=user or ""))]


def test_passwords_are_argon2id_and_never_stored_plain(sec: Security) -> None:
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$")
    assert check_password(hashed, PASSWORD)
    assert not check_password(hashed, PASSWORD + "x")
    assert not check_password("not a hash", PASSWORD)
    row = sec.users_store.get("admin")
    assert row is not None
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash


def test_login_succeeds_and_is_audited_and_logged(sec: Security, caplog) -> None:
    sec.add("olga", Role.OPERATOR)
    with caplog.at_level(logging.INFO, logger="hmi.security"):
        actor = sec.auth.login("olga", PASSWORD)
    assert (actor.name, actor.role) == ("olga", Role.OPERATOR)
    assert actions(sec, "olga")[-1] == events.LOGIN
    assert "login: olga (operator)" in caplog.text


def test_unknown_name_and_wrong_password_get_the_same_answer(sec: Security) -> None:
    sec.add("olga", Role.OPERATOR)
    with pytest.raises(LoginRefusedError) as unknown:
        sec.auth.login("nobody", PASSWORD)
    with pytest.raises(LoginRefusedError) as wrong:
        sec.auth.login("olga", "wrong-password-1")
    assert str(unknown.value) == str(wrong.value) == WRONG
    failed = sec.audit.rows(AuditFilter(action=events.LOGIN_FAILED))
    assert [(r.user, r.reason) for r in failed] == [("nobody", "unknown user"),
                                                     ("olga", "wrong password")]


def test_lockout_after_n_failures_for_m_minutes(sec: Security, caplog) -> None:
    sec.add("olga", Role.OPERATOR)
    with caplog.at_level(logging.WARNING, logger="hmi.security"):
        for _ in range(2):
            with pytest.raises(LoginRefusedError, match="Wrong"):
                sec.auth.login("olga", "nope-nope-1")
        with pytest.raises(LoginRefusedError, match="locked after 3 wrong passwords, until"):
            sec.auth.login("olga", "nope-nope-1")
    assert "account olga locked until" in caplog.text
    # the right password does not open a locked account ...
    with pytest.raises(LoginRefusedError, match="locked"):
        sec.auth.login("olga", PASSWORD)
    assert actions(sec, "olga").count(events.LOCKED_OUT) == 1
    # ... until the lock has run out
    sec.clock.now += 15 * 60 + 1
    assert sec.auth.login("olga", PASSWORD).name == "olga"
    row = sec.users_store.get("olga")
    assert row is not None
    assert row.failed_attempts == 0


def test_an_administrator_unlocks_sooner(sec: Security) -> None:
    sec.add("olga", Role.OPERATOR)
    for _ in range(3):
        with pytest.raises(LoginRefusedError):
            sec.auth.login("olga", "nope-nope-1")
    sec.users.set_disabled(sec.admin, "olga", False)  # enable = unlock
    assert sec.auth.login("olga", PASSWORD).name == "olga"


def test_a_password_flood_locks_once_loses_nothing_and_stays_fast(sec: Security) -> None:
    sec.add("olga", Role.OPERATOR)
    started = time.perf_counter()
    for n in range(60):
        with pytest.raises(LoginRefusedError):
            sec.auth.login("olga", f"guess-{n}")
    failures = actions(sec, "olga")
    assert failures.count(events.LOCKED_OUT) == 1
    assert len([a for a in failures if a == events.LOGIN_FAILED]) == 60  # every one audited
    assert sec.audit.verify().ok
    # locked attempts skip nothing but the verdict: each still costs one argon2 check
    assert time.perf_counter() - started < 60


def test_a_disabled_account_cannot_log_in(sec: Security) -> None:
    sec.add("olga", Role.OPERATOR)
    sec.users.set_disabled(sec.admin, "olga", True, "left the company")
    with pytest.raises(LoginRefusedError, match="disabled"):
        sec.auth.login("olga", PASSWORD)


@pytest.mark.parametrize("typed", ["", " ", "a" * 1_000_000, "ol\x00ga", "ol\u202ega",
                                   "x' OR '1'='1", "admin'--"])
def test_garbage_user_names_are_refused_plainly_and_audited_short(sec: Security,
                                                                   typed: str) -> None:
    with pytest.raises(LoginRefusedError) as refused:
        sec.auth.login(typed, PASSWORD)
    assert str(refused.value) == WRONG
    row = sec.audit.rows()[-1]
    assert row.action == events.LOGIN_FAILED
    assert len(row.user) <= 65
    assert "\x00" not in row.user


def test_a_megabyte_password_is_refused_without_hashing_it(sec: Security) -> None:
    with pytest.raises(LoginRefusedError):
        sec.auth.login("admin", "p" * 1_000_000)
    assert sec.auth.login("admin", PASSWORD).name == "admin"


def test_unicode_names_and_passwords_work(db) -> None:
    from tests.security.conftest import build

    sec = build(db, SecuritySettings())
    sec.users.add(sec.admin, "Müller", Role.SHIFT_LEAD, "Kennwort-äöü-42")
    sec.users.add(sec.admin, "操作员1", Role.OPERATOR, "密码密码密码密码42")
    assert sec.auth.login("Mu\u0308ller", "Kennwort-äöü-42").name == "Müller"  # NFD typed
    assert sec.auth.login("操作员1", "密码密码密码密码42").role is Role.OPERATOR
