"""`hmi secrets set NAME` and `hmi secrets check NAME`: the keyring entries the site
file names (``[mes] api_key_secret``, a device's ``password_secret``), stored under the
service hmi.mes.secrets reads. The value is typed twice at the terminal (not echoed) or
read as one line of stdin; it is never an argument, never printed, never logged, never
in the database: the audit row (secret_set) names the entry only.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import unicodedata

import keyring

from hmi.commands.login import (
    EXIT_BROKEN,
    EXIT_OK,
    CommandError,
    Passwords,
    Station,
    guarded,
)
from hmi.core import audit as events
from hmi.core.audit import AuditEntry
from hmi.core.security import Action
from hmi.mes.secrets import (
    SERVICE,
    MissingSecretError,
    NoKeyringBackendError,
    has_usable_backend,
    read_secret,
    write_secret,
)

log = logging.getLogger("hmi.security")

MAX_SECRET_NAME = 128
MAX_SECRET = 4096  # an API key or a password, never a file


@guarded("secrets set")
def cmd_set(args: argparse.Namespace) -> int:
    name = clean_secret_name(args.name)
    _need_backend()  # before anyone types anything
    station = Station.open(args, create=True)
    try:
        passwords = Passwords(args.password_stdin)
        if station.users.has_users():
            actor, _ = station.log_in(args.as_user, passwords, "secrets set", Action.EDIT_CONFIG)
            station.guard.require(actor, Action.EDIT_CONFIG, name)
            user, role, note = actor.name, actor.role.value, ""
        elif args.as_user:
            raise CommandError(f"there are no users yet, so nobody can log in as "
                               f"{args.as_user!r}: leave out --as, or add the administrator "
                               "first (hmi users add NAME --role admin)")
        else:  # commissioning: no HMI user exists yet to sign it
            user, role = events.SYSTEM, events.SYSTEM
            note = f"; set before any HMI user existed, by OS user {getpass.getuser()!r}"
        secret = clean_secret(_secret(args, passwords, name))
        replaced = write_secret(name, secret)
        station.audit.record(AuditEntry(
            user, role, events.SECRET_SET, name,
            reason=("replaced the stored value" if replaced else "stored a new value") + note))
    finally:
        station.close()
    log.info("secret %s %s by %s (command line)", name, "replaced" if replaced else "stored",
             user)
    print(f"stored the secret {name!r} in the keyring ({keyring.get_keyring().name})")
    return EXIT_OK


@guarded("secrets check")
def cmd_check(args: argparse.Namespace) -> int:
    name = clean_secret_name(args.name)
    _need_backend()
    try:
        read_secret(name)
    except MissingSecretError:
        print(f"{name}: not set (store it with: hmi secrets set {name})")
        return EXIT_BROKEN
    print(f"{name}: set")
    return EXIT_OK


def _need_backend() -> None:
    backend = keyring.get_keyring()
    if not has_usable_backend(backend):
        raise NoKeyringBackendError(backend.name, "secret", "stored or read")


def _secret(args: argparse.Namespace, passwords: Passwords, name: str) -> str:
    if args.stdin:
        return passwords.read_line(f"the secret {name!r}")
    typing = Passwords(from_stdin=False)
    return typing.new(f"Secret for {name} (service {SERVICE!r}): ", f"secret {name!r}")


def clean_secret_name(text: str) -> str:
    """A keyring entry name: 1..128 printable characters, no spaces (as in the site file)."""
    name = text.strip()
    if not name:
        raise CommandError("the secret name is empty: give the name the site file uses, "
                           "e.g. mes-api-key")
    if len(name) > MAX_SECRET_NAME:
        raise CommandError(f"the secret name is {len(name):,} characters long; at most "
                           f"{MAX_SECRET_NAME} are allowed")
    if any(not c.isprintable() or c.isspace() for c in name):
        raise CommandError("the secret name holds spaces or control characters; use letters, "
                           "digits, '.', '-' or '_'")
    return name


def clean_secret(secret: str) -> str:
    """Refuse what cannot be a key or a password; the message never repeats the value."""
    if len(secret) > MAX_SECRET:
        raise CommandError(f"the secret is {len(secret):,} characters long; at most "
                           f"{MAX_SECRET:,} are kept; nothing was stored")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in secret):
        raise CommandError("the secret holds control characters (a pasted line break or "
                           "escape?); nothing was stored")
    return secret
