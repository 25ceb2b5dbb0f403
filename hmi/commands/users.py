"""`hmi users add|passwd|disable|enable|list`: the station's local user accounts.

On a new installation `hmi users add NAME --role admin` makes the first administrator
(no --as: there is nobody to log in as; every other role waits for it). From then on
every command takes `--as NAME` and that user's password, and every change is audited
under their name. `hmi users enable` also unlocks an account locked by wrong passwords.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from datetime import UTC, datetime

from hmi.commands.login import (
    EXIT_OK,
    CommandError,
    Passwords,
    Station,
    database_path,
    guarded,
)
from hmi.core.security import (
    ROLE_TITLES,
    Action,
    Actor,
    Role,
    clean_text,
    clean_user_name,
)
from hmi.services.users import UnknownUserError, UserInfo, parse_role

log = logging.getLogger("hmi.security")  # beside the logins and refusals it follows


# -- commands -----------------------------------------------------------------------------


@guarded("users add")
def cmd_add(args: argparse.Namespace) -> int:
    name = clean_user_name(args.name)  # refused before any password is asked
    role = parse_role(args.role)
    full_name = clean_text(args.full_name, "full name")
    passwords = Passwords(args.password_stdin)
    if role is not Role.ADMIN and not database_path(args).exists():
        _refuse_first(name, role)  # and leave no empty database behind
    station = Station.open(args, create=True)
    try:
        if not station.users.has_users():
            return _first_admin(station, args, name, role, full_name, passwords)
        actor = _log_in(station, args, passwords, "users add")
        station.guard.require(actor, Action.MANAGE_USERS, name)
        if station.user_store.get(name) is not None:
            raise CommandError(f"a user named {name!r} exists already; nothing was changed")
        password = _new_password(station, passwords, name)
        info = station.users.add(actor, name, role, password, full_name)
    finally:
        station.close()
    log.info("user %s added by %s as %s (command line)", info.name, actor.name, info.role)
    print(f"added user {info.name} ({ROLE_TITLES[info.role]})")
    return EXIT_OK


def _first_admin(station: Station, args: argparse.Namespace, name: str, role: Role,
                 full_name: str, passwords: Passwords) -> int:
    if role is not Role.ADMIN:
        _refuse_first(name, role)
    if args.as_user:
        # with --password-stdin the first line would otherwise become the new password
        raise CommandError(
            f"there are no users yet, so nobody can log in as {args.as_user!r}: create "
            "the first administrator without --as"
        )
    password = _new_password(station, passwords, name)
    actor = station.users.first_admin(name, password, full_name)
    log.info("first administrator %s created (command line)", actor.name)
    print(f"created the first administrator {actor.name} in {station.database.location}")
    return EXIT_OK


def _refuse_first(name: str, role: Role) -> None:
    raise CommandError(
        f"there are no users yet: create the administrator first "
        f"(hmi users add NAME --role admin), then add {name} as {role.value} with --as"
    )


@guarded("users passwd")
def cmd_passwd(args: argparse.Namespace) -> int:
    name = clean_user_name(args.name)
    passwords = Passwords(args.password_stdin)
    station = Station.open(args, create=False)
    try:
        _need_users(station)
        actor, current = station.log_in(args.as_user, passwords, "users passwd",
                                        Action.MANAGE_USERS)
        own = actor.name == name
        if not own:
            station.guard.require(actor, Action.MANAGE_USERS, name)
            _existing(station, name)
        password = _new_password(station, passwords, name)
        # your own needs no manage_users: the service checks your password once more
        station.users.set_password(actor, name, password,
                                   old_password=current if own else None)
    finally:
        station.close()
    log.info("password of %s changed by %s (command line)", name, actor.name)
    print(f"changed the password of {name}")
    return EXIT_OK


@guarded("users disable")
def cmd_disable(args: argparse.Namespace) -> int:
    return _set_disabled(args, disabled=True)


@guarded("users enable")
def cmd_enable(args: argparse.Namespace) -> int:
    return _set_disabled(args, disabled=False)


def _set_disabled(args: argparse.Namespace, *, disabled: bool) -> int:
    name = clean_user_name(args.name)
    reason = clean_text(args.reason, "reason", required=disabled)
    passwords = Passwords(args.password_stdin)
    station = Station.open(args, create=False)
    try:
        _need_users(station)
        actor = _log_in(station, args, passwords, f"users {args.users_command}")
        station.users.set_disabled(actor, name, disabled, reason)
    finally:
        station.close()
    done = "disabled" if disabled else "enabled"
    log.info("user %s %s by %s (command line)", name, done, actor.name)
    print(f"{done} user {name}")
    return EXIT_OK


@guarded("users list")
def cmd_list(args: argparse.Namespace) -> int:
    passwords = Passwords(args.password_stdin)
    station = Station.open(args, create=False)
    try:
        _need_users(station)
        actor = _log_in(station, args, passwords, "users list")
        users = station.users.list(actor)
    finally:
        station.close()
    now = time.time()
    if args.json:
        for user in users:
            print(json.dumps(_user_json(user, now), ensure_ascii=False))
        return EXIT_OK
    rows = [("NAME", "FULL NAME", "ROLE", "STATE")]
    rows += [(u.name, u.full_name, u.role.value, _state(u, now)) for u in users]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)),
                         row[3]]).rstrip())
    return EXIT_OK


# -- helpers ------------------------------------------------------------------------------


def _log_in(station: Station, args: argparse.Namespace, passwords: Passwords,
            command: str) -> Actor:
    actor, _ = station.log_in(args.as_user, passwords, command, Action.MANAGE_USERS)
    return actor


def _need_users(station: Station) -> None:
    if not station.users.has_users():
        raise CommandError(f"there are no users yet in {station.database.location}: create "
                           "the administrator first (hmi users add NAME --role admin)")


def _existing(station: Station, name: str) -> None:
    if station.user_store.get(name) is None:
        raise UnknownUserError(f"there is no user named {name!r} (see: hmi users list)")


def _new_password(station: Station, passwords: Passwords, name: str) -> str:
    password = passwords.new(f"New password for {name}: ", f"new password of {name}")
    station.settings.password.check(password, name)  # in words, before any hashing
    return password


def _locked(user: UserInfo, now: float) -> bool:
    return user.locked_until is not None and user.locked_until > now


def _state(user: UserInfo, now: float) -> str:
    states = []
    if user.disabled:
        states.append("disabled")
    if _locked(user, now):
        until = time.strftime("%Y-%m-%d %H:%M", time.localtime(user.locked_until))
        states.append(f"locked until {until}")
    if not states and user.failed_attempts:
        states.append(f"enabled ({user.failed_attempts} failed logins in a row)")
    return ", ".join(states) or "enabled"


def _user_json(user: UserInfo, now: float) -> dict[str, object]:
    locked = _locked(user, now)
    return {
        "name": user.name,
        "full_name": user.full_name,
        "role": user.role.value,
        "disabled": user.disabled,
        "locked": locked,
        "locked_until": (datetime.fromtimestamp(user.locked_until, UTC).isoformat()
                         if locked and user.locked_until is not None else None),
        "failed_attempts": user.failed_attempts,
    }

