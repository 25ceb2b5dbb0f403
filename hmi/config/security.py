"""The [security] section: lockout, idle lock, password length, per-role permission
overrides and the actions that need an electronic signature (hmi.core.security)."""

from __future__ import annotations

import unicodedata
from typing import Any

from hmi.config.checker import Checker
from hmi.config.locate import Path
from hmi.core.security import Action, PasswordRules, PermissionMap, Role, SecuritySettings

KEYS = frozenset(
    {
        "lockout_attempts", "lockout_minutes", "idle_lock_minutes", "min_password_length",
        "permissions", "signatures",
    }
)
MAX_MEANING = 200  # characters: a signature's meaning is a phrase, shown beside the name
_ROLES = ", ".join(r.value for r in Role)
_ACTIONS = ", ".join(a.value for a in Action)
_QUOTED_ACTIONS = ", ".join(repr(a.value) for a in Action)


def parse_security(check: Checker, raw: dict[str, Any]) -> SecuritySettings:
    table = check.table(raw, "security")
    check.unknown_keys(table, ("security",), KEYS, "[security]")
    default = SecuritySettings()
    attempts = check.number(
        table, ("security", "lockout_attempts"), default.lockout_attempts, 1, 100, integer=True
    )
    lockout = check.number(table, ("security", "lockout_minutes"), default.lockout_minutes, 1, 1440)
    idle = check.number(
        table, ("security", "idle_lock_minutes"), default.idle_lock_minutes, 0, 480
    )
    length = check.number(
        table,
        ("security", "min_password_length"),
        default.password.min_length,
        8,
        128,
        integer=True,
    )
    return SecuritySettings(
        permissions=_permissions(check, table),
        lockout_attempts=int(attempts),
        lockout_minutes=lockout,
        idle_lock_minutes=idle,
        password=PasswordRules(min_length=int(length)),
        signed=_signatures(check, table),
    )


def _subtable(check: Checker, table: dict[str, Any], key: str) -> dict[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        check.error(("security", key), f"[security.{key}] must be a table")
        return {}
    return value


def _permissions(check: Checker, table: dict[str, Any]) -> PermissionMap:
    """``[security.permissions]``: role = [actions], replacing that role's defaults whole."""
    overrides: dict[Role, frozenset[Action]] = {}
    for role_name, value in _subtable(check, table, "permissions").items():
        path: Path = ("security", "permissions", role_name)
        where = f"security.permissions.{role_name}"
        try:
            role = Role(role_name)
        except ValueError:
            check.error(
                path, f"unknown role {role_name!r} in [security.permissions]; allowed: {_ROLES}"
            )
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            check.error(
                path,
                f"{where} = {value!r} must be a list of action names in quotes, "
                f'e.g. {role_name} = ["ack_alarm", "confirm_event"]',
            )
            continue
        before = len(check.issues)
        actions: list[Action] = []
        for name in value:
            try:
                action = Action(name)
            except ValueError:
                check.error(path, f"{where}: unknown action {name!r}; allowed: {_QUOTED_ACTIONS}")
                continue
            if action in actions:
                check.error(path, f"{where} lists {name!r} twice: name each action once")
                continue
            actions.append(action)
        # checked only on an otherwise valid list: a misspelt manage_users was reported already
        if len(check.issues) > before:
            continue
        if role is Role.ADMIN and Action.MANAGE_USERS not in actions:
            check.error(
                path,
                f"{where} leaves out 'manage_users': without it nobody could ever manage "
                'users (or give the right back); add "manage_users" to the list',
            )
            continue
        overrides[role] = frozenset(actions)
    return PermissionMap.with_overrides(overrides)


def _signatures(check: Checker, table: dict[str, Any]) -> dict[Action, str]:
    """``[security.signatures]``: action = "meaning" for each action that must be signed."""
    signed: dict[Action, str] = {}
    for action_name, value in _subtable(check, table, "signatures").items():
        path: Path = ("security", "signatures", action_name)
        where = f"security.signatures.{action_name}"
        try:
            action = Action(action_name)
        except ValueError:
            check.error(
                path,
                f"unknown action {action_name!r} in [security.signatures]; allowed: {_ACTIONS}",
            )
            continue
        example = f'e.g. {action_name} = "confirmed production quantity"'
        if not isinstance(value, str):
            check.error(
                path,
                f"{where} = {value!r} must be the meaning of the signature as text in quotes, "
                f"{example}",
            )
            continue
        meaning = unicodedata.normalize("NFC", value).strip()
        if not meaning:
            check.error(path, f"{where} is empty: say what the signature means, {example}")
            continue
        if len(meaning) > MAX_MEANING:
            check.error(
                path,
                f"{where} is {len(meaning)} characters long; at most {MAX_MEANING} are "
                "allowed: say what the signature means in a short phrase",
            )
            continue
        controls = _controls(meaning)
        if controls:
            check.error(
                path,
                f"{where} holds control characters ({', '.join(controls[:5])}); "
                "write the meaning without them",
            )
            continue
        signed[action] = meaning
    return signed


def _controls(text: str) -> list[str]:
    """Characters that hide or break text on the screen and in the audit trail."""
    return sorted({f"U+{ord(c):04X}" for c in text
                   if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn")})

