"""What `hmi users`, `hmi audit` and `hmi secrets` share: the station's security services
on its own database (the file the app uses), `--as NAME` with that user's password, and
passwords from the terminal (never echoed) or, for scripts, one per line on stdin.

A password is never an argument (it would show in `ps` and the shell history), never
printed, never logged. There is no default password anywhere.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from hmi.config import load_site
from hmi.core.security import (
    ROLE_TITLES,
    Action,
    Actor,
    InputRejectedError,
    PermissionDeniedError,
    SecuritySettings,
)
from hmi.folders import DATABASE_FILE, data_dir
from hmi.mes.secrets import SecretError
from hmi.security.authentication import Authenticator, LoginRefusedError, shown_name
from hmi.security.session import Session
from hmi.services.guard import Guard
from hmi.services.security import StationSecurity
from hmi.services.users import UserService
from hmi.store.audit import AuditRepository
from hmi.store.database import Database, StoreError, open_database
from hmi.store.users import UserRepository

EXIT_OK, EXIT_BROKEN, EXIT_FAILURE = 0, 1, 2
MAX_LINE = 64 * 1024  # one line of stdin: far more than any password or key
MAX_MESSAGE = 500

Command = Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """One line for stderr and exit code 2."""


def one_line(text: str) -> str:
    """An error message as one bounded line, whatever a name in it held."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_MESSAGE else flat[:MAX_MESSAGE] + "…"


def guarded(title: str) -> Callable[[Command], Command]:
    """A command whose refusal or bad input becomes ``hmi TITLE: reason`` and exit 2."""

    def guard(command: Command) -> Command:
        @functools.wraps(command)
        def run(args: argparse.Namespace) -> int:
            try:
                return command(args)
            except (CommandError, InputRejectedError, PermissionDeniedError, LoginRefusedError,
                    SecretError, StoreError) as exc:
                print(f"hmi {title}: {one_line(str(exc))}", file=sys.stderr)
                return EXIT_FAILURE

        return run

    return guard


def database_path(args: argparse.Namespace) -> Path:
    """The app's database: hmi.sqlite3 in --data DIR, else in the user data folder."""
    return data_dir(args.data) / DATABASE_FILE


def existing_database(args: argparse.Namespace) -> Database:
    """The station's database, opened; a missing one is said, naming where it was
    looked for (a command that reads never makes an empty one)."""
    path = database_path(args)
    if not path.exists():
        raise CommandError(f"no database found at {path}; give the HMI's data folder with "
                           "--data DIR")
    return open_database(path)


# -- passwords ----------------------------------------------------------------------------


class Passwords:
    """Passwords in the order a command needs them: typed at the terminal (not echoed;
    a new one twice), or with ``from_stdin`` one line each from ``stream``."""

    def __init__(self, from_stdin: bool, stream: TextIO | None = None) -> None:
        self._from_stdin = from_stdin
        self._stream = stream
        self._line = 0

    def read_line(self, what: str) -> str:
        """The next line of stdin without its line break; refuses EOF and empty lines."""
        stream = self._stream or sys.stdin
        self._line += 1
        line = stream.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise CommandError(f"line {self._line} of standard input ({what}) is longer than "
                               f"{MAX_LINE:,} characters; nothing was changed")
        text = line.removesuffix("\n").removesuffix("\r")
        if not text:
            where = "is empty" if line else "is missing (end of input)"
            raise CommandError(f"line {self._line} of standard input ({what}) {where}; "
                               "nothing was changed")
        return text

    def _typed(self, prompt: str, what: str) -> str:
        if not _has_terminal():
            raise CommandError(f"no terminal to ask for {what}: type it at a terminal, or "
                               "pipe it in with --password-stdin (or --stdin), one per line")
        try:
            text = getpass.getpass(prompt)
        except EOFError:
            raise CommandError(f"no {what} given; nothing was changed") from None
        if not text:
            raise CommandError(f"the {what} is empty; nothing was changed")
        return text

    def current(self, prompt: str, what: str) -> str:
        """An existing password (the --as user's)."""
        return self.read_line(what) if self._from_stdin else self._typed(prompt, what)

    def new(self, prompt: str, what: str) -> str:
        """A new password or secret: twice at the terminal, and both must match."""
        if self._from_stdin:
            return self.read_line(what)
        first = self._typed(prompt, what)
        again = self._typed("Type it again: ", what)
        if first != again:
            raise CommandError(f"the two entries of the {what} differ; nothing was changed")
        return first


def _has_terminal() -> bool:
    """Whether getpass can ask someone: it reads the controlling terminal (/dev/tty on
    POSIX, the console on Windows), so a piped stdin alone does not rule it out."""
    if sys.stdin.isatty() or os.name == "nt":
        return True
    try:
        with open("/dev/tty", "rb"):
            return True
    except OSError:  # no controlling terminal: a service, a CI job, cron
        return False


# -- the station --------------------------------------------------------------------------


@dataclass
class Station:
    """The security services of this workstation, on the database the app uses."""

    database: Database
    settings: SecuritySettings
    audit: AuditRepository
    user_store: UserRepository
    auth: Authenticator
    guard: Guard
    users: UserService

    @classmethod
    def open(cls, args: argparse.Namespace, *, create: bool,
             settings: SecuritySettings | None = None) -> Station:
        """Built as hmi.runtime.Runtime builds them, without devices or the historian.
        ``create``: make the database on a new installation, else refuse to.
        ``settings``: the site's, when the command has loaded the site already."""
        if settings is None:
            settings = load_site(args.config).security if args.config else SecuritySettings()
        path = database_path(args)
        if not path.exists():
            if not create:
                raise CommandError(f"no database found at {path}; give the HMI's data folder "
                                   "with --data DIR")
            path.parent.mkdir(parents=True, exist_ok=True)
        database = open_database(path)
        s = StationSecurity.build(database, settings)
        return cls(database, settings, s.audit, s.user_store, s.auth, s.guard, s.users)

    def close(self) -> None:
        self.database.close()

    def log_in(self, typed_name: str, passwords: Passwords, command: str,
               action: Action, session: Session | None = None) -> tuple[Actor, str]:
        """The --as user and the password they gave: audited as a login from the command
        line (a wrong password counts towards the lockout like one at the screen)."""
        if not typed_name:
            roles = ", ".join(ROLE_TITLES[r] for r in self.settings.permissions.roles_for(action))
            raise CommandError(f"give --as NAME: a user with the role {roles or '(none)'} "
                               "(this station has users: its commands run as one of them)")
        shown = shown_name(typed_name)
        password = passwords.current(f"Password for {shown}: ", f"the password of {shown}")
        # login, not check: a success resets the failed-attempt count, as at the screen
        where = f"command line: hmi {command}"
        actor = (session.login(typed_name, password, where) if session is not None
                 else self.auth.login(typed_name, password, workstation=where))
        return actor, password
