"""Who may do what: roles, actions, the permission map, and the rules for the text
people type (user names, passwords, comments, reasons). Pure: no I/O, no hashing.

The permission map has defaults here and per-role overrides in the site config
(``[security.permissions]``, hmi.config). A refusal names the roles that may, so the
operator at the screen knows whom to call.
"""

from __future__ import annotations

import enum
import time
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


class Role(enum.StrEnum):
    OPERATOR = "operator"
    SHIFT_LEAD = "shift_lead"
    MAINTENANCE = "maintenance"
    ENGINEER = "engineer"
    ADMIN = "admin"


class Action(enum.StrEnum):
    ACK_ALARM = "ack_alarm"
    SHELVE_ALARM = "shelve_alarm"
    ALARM_OUT_OF_SERVICE = "alarm_out_of_service"
    CONFIRM_EVENT = "confirm_event"
    EDIT_CONFIRMED_EVENT = "edit_confirmed_event"
    WRITE_SETPOINT = "write_setpoint"
    RETRY_MES = "retry_mes"
    VIEW_AUDIT = "view_audit"
    MANAGE_USERS = "manage_users"
    EDIT_CONFIG = "edit_config"


ROLE_TITLES = {
    Role.OPERATOR: "Operator",
    Role.SHIFT_LEAD: "Shift lead",
    Role.MAINTENANCE: "Maintenance",
    Role.ENGINEER: "Engineer",
    Role.ADMIN: "Administrator",
}

ACTION_TITLES = {
    Action.ACK_ALARM: "acknowledge alarms",
    Action.SHELVE_ALARM: "shelve alarms",
    Action.ALARM_OUT_OF_SERVICE: "take alarms out of service",
    Action.CONFIRM_EVENT: "confirm production",
    Action.EDIT_CONFIRMED_EVENT: "change confirmed production",
    Action.WRITE_SETPOINT: "write set-points",
    Action.RETRY_MES: "resend to the MES",
    Action.VIEW_AUDIT: "read the audit trail",
    Action.MANAGE_USERS: "manage users",
    Action.EDIT_CONFIG: "change the configuration",
}

_A = Action
DEFAULT_PERMISSIONS: Mapping[Role, frozenset[Action]] = {
    Role.OPERATOR: frozenset({_A.ACK_ALARM, _A.CONFIRM_EVENT}),
    Role.SHIFT_LEAD: frozenset({_A.ACK_ALARM, _A.SHELVE_ALARM, _A.CONFIRM_EVENT,
                                _A.EDIT_CONFIRMED_EVENT, _A.RETRY_MES, _A.VIEW_AUDIT}),
    Role.MAINTENANCE: frozenset({_A.ACK_ALARM, _A.SHELVE_ALARM, _A.ALARM_OUT_OF_SERVICE,
                                 _A.WRITE_SETPOINT}),
    Role.ENGINEER: frozenset({_A.ACK_ALARM, _A.SHELVE_ALARM, _A.ALARM_OUT_OF_SERVICE,
                              _A.WRITE_SETPOINT, _A.RETRY_MES, _A.VIEW_AUDIT, _A.EDIT_CONFIG}),
    Role.ADMIN: frozenset(Action),
}


class PermissionDeniedError(Exception):
    """A user tried an action their role does not allow."""

    def __init__(self, user: str, role: Role, action: Action, allowed: Iterable[Role]) -> None:
        self.user, self.role, self.action = user, role, action
        self.allowed = tuple(allowed)
        who = ", ".join(ROLE_TITLES[r] for r in self.allowed) or "nobody (check the site config)"
        super().__init__(f"{user} ({ROLE_TITLES[role]}) may not {ACTION_TITLES[action]}: "
                         f"ask a user with the role {who}")


@dataclass(frozen=True, slots=True)
class PermissionMap:
    """Role -> allowed actions. ``overrides`` replace a role's defaults whole."""

    grants: Mapping[Role, frozenset[Action]] = field(
        default_factory=lambda: dict(DEFAULT_PERMISSIONS))

    @classmethod
    def with_overrides(cls, overrides: Mapping[Role, Iterable[Action]]) -> PermissionMap:
        grants = dict(DEFAULT_PERMISSIONS)
        for role, actions in overrides.items():
            grants[role] = frozenset(actions)
        return cls(grants)

    def allows(self, role: Role, action: Action) -> bool:
        return action in self.grants.get(role, frozenset())

    def roles_for(self, action: Action) -> tuple[Role, ...]:
        return tuple(role for role in Role if self.allows(role, action))

    def why_not(self, action: Action) -> str:
        """The tooltip of a disabled button: which roles may."""
        roles = self.roles_for(action)
        if not roles:
            return f"No role may {ACTION_TITLES[action]} on this site (see [security.permissions])"
        names = ", ".join(ROLE_TITLES[r] for r in roles)
        return f"Needs the role {names} to {ACTION_TITLES[action]}"

    def check(self, user: str, role: Role, action: Action) -> None:
        if not self.allows(role, action):
            raise PermissionDeniedError(user, role, action, self.roles_for(action))


# -- what people type ---------------------------------------------------------------------

class InputRejectedError(ValueError):
    """Typed text that cannot be used, with what to do instead."""


MAX_NAME = 64
MAX_TEXT = 2000  # a comment or reason: a paragraph, never a pasted file
MAX_PASSWORD = 256  # hashing a megabyte would be a denial of service


def _controls(text: str, allowed: str = "") -> list[str]:
    return sorted({f"U+{ord(c):04X}" for c in text
                   if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn")
                   and c not in allowed})


def clean_user_name(name: str) -> str:
    """A user name as stored: NFC, trimmed; 1..64 printable characters, no spaces
    inside (names are typed with gloves: ``j.smith``, ``Müller``, ``操作员1``)."""
    name = unicodedata.normalize("NFC", name).strip()
    if not name:
        raise InputRejectedError("the user name is empty: type a name, e.g. j.smith")
    if len(name) > MAX_NAME:
        raise InputRejectedError(f"the user name is {len(name)} characters long; "
                            f"at most {MAX_NAME} are allowed")
    bad = _controls(name)
    if bad:
        raise InputRejectedError(f"the user name holds control characters ({', '.join(bad[:5])}); "
                            "use letters, digits, '.', '-' or '_'")
    if any(c.isspace() for c in name):
        raise InputRejectedError("the user name has a space in it; use '.' or '_' instead")
    return name


def clean_text(text: str, what: str = "comment", required: bool = False) -> str:
    """A comment or reason as stored: NFC, trimmed, at most MAX_TEXT characters; line
    breaks and tabs are kept, other control characters refused (they hide text)."""
    text = unicodedata.normalize("NFC", text).strip()
    if required and not text:
        raise InputRejectedError(f"the {what} is empty: say why, in a few words")
    if len(text) > MAX_TEXT:
        raise InputRejectedError(f"the {what} is {len(text):,} characters long; at most "
                            f"{MAX_TEXT:,} are kept: shorten it")
    for position, char in enumerate(text, start=1):
        if char not in "\n\t" and _controls(char):
            raise InputRejectedError(
                f"the {what} holds a control character (U+{ord(char):04X}) at position "
                f"{position}; retype it without it (line breaks and tabs are fine)")
    return text


@dataclass(frozen=True, slots=True)
class PasswordRules:
    min_length: int = 10
    need_letter_and_digit: bool = True

    def problems(self, password: str, user: str = "") -> list[str]:
        """Everything wrong with ``password``, each in words (empty when it is fine)."""
        found = []
        if len(password) < self.min_length:
            found.append(f"at least {self.min_length} characters (it has {len(password)})")
        if len(password) > MAX_PASSWORD:
            found.append(f"at most {MAX_PASSWORD} characters")
        if self.need_letter_and_digit and not (any(c.isalpha() for c in password)
                                               and any(c.isdigit() for c in password)):
            found.append("letters and digits")
        if user and user.casefold() in password.casefold():
            found.append("not the user name")
        if _controls(password):
            found.append("no control characters")
        return found

    def check(self, password: str, user: str = "") -> None:
        problems = self.problems(password, user)
        if problems:
            raise InputRejectedError("the password needs " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    """The site's ``[security]`` section."""

    permissions: PermissionMap = field(default_factory=PermissionMap)
    lockout_attempts: int = 5  # failed logins in a row before the account locks
    lockout_minutes: float = 15.0
    idle_lock_minutes: float = 10.0  # 0: never lock the screen by itself
    password: PasswordRules = field(default_factory=PasswordRules)
    # action -> meaning of the signature, for the actions that must be signed
    signed: Mapping[Action, str] = field(default_factory=dict)

    def meaning(self, action: Action) -> str | None:
        return self.signed.get(action)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is doing something: the logged-in user as services see them."""

    name: str
    role: Role
    full_name: str = ""

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Signature:
    signer: str
    full_name: str
    role: str
    action: Action
    meaning: str
    time: float  # POSIX seconds

    def shown(self) -> str:
        """"Signed by Jane Smith (j.smith) at 2026-11-25 14:02: confirmed production quantity"."""
        who = f"{self.full_name} ({self.signer})" if self.full_name else self.signer
        at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.time))
        return f"Signed by {who} at {at}: {self.meaning}"
