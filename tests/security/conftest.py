"""A real SQLite file with the security layer on it, and a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hmi.core.security import Actor, Role, SecuritySettings
from hmi.security.authentication import Authenticator
from hmi.security.session import Session
from hmi.services.guard import Guard
from hmi.services.security import StationSecurity
from hmi.services.users import UserService
from hmi.store.audit import AuditRepository
from hmi.store.database import Database, open_database
from hmi.store.users import UserRepository

PASSWORD = "Correct-horse-42"


class Clock:
    def __init__(self, now: float = 1_764_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Security:
    db: Database
    clock: Clock
    settings: SecuritySettings
    audit: AuditRepository
    users_store: UserRepository
    auth: Authenticator
    guard: Guard
    users: UserService
    admin: Actor

    def add(self, name: str, role: Role, password: str = PASSWORD) -> Actor:
        self.users.add(self.admin, name, role, password, name.title())
        return Actor(name, role, name.title())

    def session(self, idle_lock_minutes: float = 0.0) -> Session:
        return Session(self.auth, idle_lock_minutes, clock=self.clock)


def build(db: Database, settings: SecuritySettings | None = None) -> Security:
    clock = Clock()
    settings = settings or SecuritySettings(lockout_attempts=3, lockout_minutes=15)
    s = StationSecurity.build(db, settings, clock)
    admin = s.users.first_admin("admin", PASSWORD, "Ada Admin")
    return Security(db, clock, settings, s.audit, s.user_store, s.auth, s.guard, s.users,
                    admin)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "hmi.sqlite3")
    yield database
    database.close()


@pytest.fixture
def sec(db: Database) -> Security:
    return build(db)
