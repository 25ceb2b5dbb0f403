"""Logging in, locking out, and checking a password again for a signature.

Every attempt is audited (login, login_failed, locked_out) and logged on the
``hmi.security`` logger. A wrong user name and a wrong password get the same answer,
after the same work, so nobody learns which names exist. After
``lockout_attempts`` failures in a row the account locks for ``lockout_minutes``;
the message says until when and who can unlock it sooner.
"""

from __future__ import annotations

import logging
import time

from hmi.core import audit as events
from hmi.core.audit import AuditEntry
from hmi.core.security import (
    MAX_NAME,
    Actor,
    InputRejectedError,
    Role,
    SecuritySettings,
    clean_user_name,
)
from hmi.security.passwords import check_password, hash_password, needs_rehash
from hmi.store.audit import AuditRepository, Clock
from hmi.store.users import UserRepository, UserRow

log = logging.getLogger("hmi.security")

WRONG = "Wrong user name or password."


class LoginRefusedError(Exception):
    """Why a login (or a signature's password) was not accepted, in words for the screen."""


def shown_name(typed: str) -> str:
    """A typed user name as it may appear in the audit trail and the log: printable,
    at most MAX_NAME characters (a megabyte of garbage is not worth keeping)."""
    printable = "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in typed)
    return printable[:MAX_NAME] + ("…" if len(printable) > MAX_NAME else "")


class Authenticator:
    def __init__(self, users: UserRepository, audit: AuditRepository,
                 settings: SecuritySettings, clock: Clock = time.time) -> None:
        self._users = users
        self._audit = audit
        self._settings = settings
        self._clock = clock

    def login(self, typed_name: str, password: str, workstation: str = "") -> Actor:
        actor = self.check(typed_name, password, purpose="login")
        self._users.login_succeeded(actor.name, AuditEntry(
            actor.name, actor.role, events.LOGIN, workstation or "hmi"))
        log.info("login: %s (%s)", actor.name, actor.role)
        return actor

    def check(self, typed_name: str, password: str, purpose: str = "signature") -> Actor:
        """The account if ``password`` is its password now; else LoginRefusedError (audited,
        and counted towards the lockout like a failed login)."""
        try:
            name = clean_user_name(typed_name)
        except InputRejectedError:
            name = ""
        row = self._users.get(name) if name else None
        too_long = len(password) > 1024
        # the same argon2 work whether or not the user exists
        matches = check_password(None if row is None or too_long else row.password_hash,
                                 "" if too_long else password)
        now = self._clock()
        if row is not None and row.locked_until is not None and row.locked_until > now:
            self._refuse(row.name, row.role, purpose, "account locked")
            raise LoginRefusedError(self._locked_text(row))
        if row is None or not matches:
            if row is None:
                self._refuse(shown_name(typed_name), "", purpose, "unknown user")
                raise LoginRefusedError(WRONG)
            failed_action = (events.LOGIN_FAILED if purpose == "login"
                             else events.SIGNATURE_FAILED)
            row, locked = self._users.login_failed(
                row.name, self._settings.lockout_attempts,
                self._settings.lockout_minutes * 60,
                AuditEntry(row.name, row.role, failed_action, purpose,
                           reason="wrong password"),
                AuditEntry(row.name, row.role, events.LOCKED_OUT, purpose,
                           reason=f"{self._settings.lockout_attempts} failed attempts in a row"))
            log.warning("%s failed for %s: wrong password (%d in a row)", purpose, row.name,
                        row.failed_attempts)
            if locked:
                log.warning("account %s locked until %s", row.name,
                            time.strftime("%H:%M", time.localtime(row.locked_until or now)))
                raise LoginRefusedError(self._locked_text(row))
            raise LoginRefusedError(WRONG)
        if row.disabled:
            self._refuse(row.name, row.role, purpose, "account disabled")
            raise LoginRefusedError(f"The account {row.name} is disabled: ask an administrator.")
        if row.failed_attempts and purpose != "login":  # login() resets it, audited
            self._users.reset_failures(row.name)
        if needs_rehash(row.password_hash):
            self._users.set_password(row.name, hash_password(password), AuditEntry(
                events.SYSTEM, events.SYSTEM, events.PASSWORD_CHANGED, row.name,
                reason="password hash upgraded to the current argon2id parameters"))
        return _actor(row)

    def is_locked(self, name: str) -> bool:
        row = self._users.get(name)
        return bool(row and row.locked_until is not None and row.locked_until > self._clock())

    def _refuse(self, name: str, role: str, purpose: str, why: str) -> None:
        action = events.LOGIN_FAILED if purpose == "login" else events.SIGNATURE_FAILED
        self._audit.record(AuditEntry(name, role, action, purpose, reason=why))
        log.warning("%s refused for %s: %s", purpose, name, why)

    def _locked_text(self, row: UserRow) -> str:
        until = time.strftime("%H:%M", time.localtime(row.locked_until or self._clock()))
        return (f"The account {row.name} is locked after {self._settings.lockout_attempts} "
                f"wrong passwords, until {until}. An administrator can unlock it sooner.")

    def logout(self, actor: Actor, why: str = "") -> None:
        self._audit.record(AuditEntry(actor.name, actor.role, events.LOGOUT, "hmi",
                                      reason=why))
        log.info("logout: %s%s", actor.name, f" ({why})" if why else "")

    def screen_locked(self, actor: Actor, idle_minutes: float) -> None:
        self._audit.record(AuditEntry(actor.name, actor.role, events.SCREEN_LOCKED, "hmi",
                                      reason=f"idle for {idle_minutes:g} min"))
        log.info("screen locked: %s idle for %g min", actor.name, idle_minutes)

    def permission_denied(self, actor: Actor, action: str, target: str, message: str) -> None:
        """A refusal by a service: audited and logged (hmi.services call this)."""
        self._audit.record(AuditEntry(actor.name, actor.role, events.PERMISSION_DENIED,
                                      target, new_value=action, reason=message))
        log.warning("permission denied: %s", message)


def _actor(row: UserRow) -> Actor:
    return Actor(row.name, Role(row.role), row.full_name)
