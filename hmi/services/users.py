"""Managing local users: the first administrator, adding, passwords, disabling.

Synchronous (the CLI calls it directly; the GUI through a thread). Every change checks
``manage_users`` (except a user changing their own password, which takes the old one),
validates what was typed, hashes the password (argon2id) and writes the change with its
audit row in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from hmi.core import audit as events
from hmi.core.audit import AuditEntry
from hmi.core.security import (
    Action,
    Actor,
    InputRejectedError,
    Role,
    clean_text,
    clean_user_name,
)
from hmi.security.authentication import Authenticator
from hmi.security.passwords import hash_password
from hmi.services.guard import Guard
from hmi.store.users import UnknownUserError, UserExistsError, UserRepository, UserRow

__all__ = ["UnknownUserError", "UserExistsError", "UserInfo", "UserService"]


@dataclass(frozen=True, slots=True)
class UserInfo:
    """What ``hmi users list`` and the GUI show: never the hash."""

    name: str
    full_name: str
    role: Role
    disabled: bool
    locked_until: float | None
    failed_attempts: int


def _info(row: UserRow) -> UserInfo:
    return UserInfo(row.name, row.full_name, Role(row.role), row.disabled, row.locked_until,
                    row.failed_attempts)


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InputRejectedError(f"unknown role {text!r}; allowed: {allowed}") from None


class UserService:
    def __init__(self, users: UserRepository, guard: Guard, auth: Authenticator) -> None:
        self._users = users
        self._guard = guard
        self._auth = auth

    def has_users(self) -> bool:
        return self._users.count() > 0

    def _password(self, password: str, name: str) -> str:
        self._guard.settings.password.check(password, name)
        return hash_password(password)

    def first_admin(self, name: str, password: str, full_name: str = "") -> Actor:
        """The first-run path: only while there are no users at all. No default password
        exists anywhere: whoever installs the station chooses it."""
        name = clean_user_name(name)
        full_name = clean_text(full_name, "full name")
        hashed = self._password(password, name)
        self._users.add(name, full_name, Role.ADMIN.value, hashed, AuditEntry(
            name, Role.ADMIN.value, events.USER_ADDED, name, new_value=Role.ADMIN.value,
            reason="first administrator of this installation"), only_if_empty=True)
        return Actor(name, Role.ADMIN, full_name)

    def add(self, actor: Actor | None, name: str, role: Role, password: str,
            full_name: str = "", reason: str = "") -> UserInfo:
        who = self._guard.require(actor, Action.MANAGE_USERS, "users")
        name = clean_user_name(name)
        full_name = clean_text(full_name, "full name")
        reason = clean_text(reason, "reason")
        hashed = self._password(password, name)
        self._users.add(name, full_name, role.value, hashed, AuditEntry(
            who.name, who.role, events.USER_ADDED, name, new_value=role.value, reason=reason))
        row = self._users.get(name)
        assert row is not None
        return _info(row)

    def set_password(self, actor: Actor | None, name: str, new_password: str,
                     old_password: str | None = None, reason: str = "") -> None:
        """Your own password with the old one; anyone's with ``manage_users``."""
        name = clean_user_name(name)
        if actor is not None and actor.name == name and old_password is not None:
            self._auth.check(name, old_password, purpose="password change")
            who = actor
        else:
            who = self._guard.require(actor, Action.MANAGE_USERS, name)
        reason = clean_text(reason, "reason")
        hashed = self._password(new_password, name)
        self._users.set_password(name, hashed, AuditEntry(
            who.name, who.role, events.PASSWORD_CHANGED, name, reason=reason))

    def set_disabled(self, actor: Actor | None, name: str, disabled: bool,
                     reason: str = "") -> None:
        name = clean_user_name(name)
        who = self._guard.require(actor, Action.MANAGE_USERS, name)
        reason = clean_text(reason, "reason", required=disabled)
        row = self._users.get(name)
        if row is None:
            raise UnknownUserError(f"there is no user named {name!r} (see: hmi users list)")
        if disabled and row.role == Role.ADMIN.value and not row.disabled:
            admins = [u for u in self._users.all() if u.role == Role.ADMIN.value
                      and not u.disabled]
            if len(admins) <= 1:
                raise InputRejectedError(f"{name} is the last enabled administrator: add another "
                                    "administrator first, or nobody could manage users")
        action = events.USER_DISABLED if disabled else events.USER_ENABLED
        self._users.set_disabled(name, disabled, AuditEntry(
            who.name, who.role, action, name, old_value=str(row.disabled).lower(),
            new_value=str(disabled).lower(), reason=reason))

    def list(self, actor: Actor | None) -> list[UserInfo]:
        self._guard.require(actor, Action.MANAGE_USERS, "users")
        return [_info(row) for row in self._users.all()]
