"""Local user accounts: the rows, and the changes to them with their audit rows.

Every change takes the AuditEntry that records it and appends it in the same
transaction (hmi.store.audit.append). Passwords arrive already hashed (hmi.security).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from hmi.core.audit import AuditEntry
from hmi.store import audit
from hmi.store.audit import Clock
from hmi.store.database import Database, StoreError
from hmi.store.schema.security import users


class UserExistsError(StoreError):
    """A user with this name exists already."""


class UnknownUserError(StoreError, LookupError):
    """No user has this name."""


@dataclass(frozen=True, slots=True)
class UserRow:
    name: str
    full_name: str
    role: str
    password_hash: str
    disabled: bool
    failed_attempts: int
    locked_until: float | None
    created_at: float
    password_changed_at: float


def _user(row: RowMapping) -> UserRow:
    return UserRow(row["name"], row["full_name"], row["role"], row["password_hash"],
                   bool(row["disabled"]), int(row["failed_attempts"]), row["locked_until"],
                   float(row["created_at"]), float(row["password_changed_at"]))


class UserRepository:
    """Synchronous; callers on the loop use asyncio.to_thread."""

    def __init__(self, db: Database, clock: Clock = time.time) -> None:
        self._db = db
        self._clock = clock

    def _fail(self, what: str, exc: SQLAlchemyError) -> StoreError:
        return StoreError(f"could not {what} in {self._db.location}: {exc}; nothing was written")

    def count(self) -> int:
        with self._db.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(users)).scalar_one())

    def get(self, name: str) -> UserRow | None:
        with self._db.engine.connect() as connection:
            row = connection.execute(select(users).where(users.c.name == name)).mappings().first()
        return None if row is None else _user(row)

    def all(self) -> list[UserRow]:
        with self._db.engine.connect() as connection:
            return [_user(r) for r in connection.execute(
                select(users).order_by(users.c.name)).mappings()]

    def add(self, name: str, full_name: str, role: str, password_hash: str,
            entry: AuditEntry, only_if_empty: bool = False) -> None:
        """Create a user. ``only_if_empty``: the first-run path, refused once any user
        exists (checked inside the transaction, so two first runs cannot both win)."""
        now = self._clock()
        try:
            with self._db.engine.begin() as connection:
                audit.append(connection, entry, self._clock)  # takes the write lock first
                if only_if_empty and connection.execute(
                        select(func.count()).select_from(users)).scalar_one():
                    raise UserExistsError("users exist already: the first administrator "
                                          "is made only on a new installation")
                connection.execute(insert(users), {
                    "name": name, "full_name": full_name, "role": role,
                    "password_hash": password_hash, "disabled": False, "failed_attempts": 0,
                    "locked_until": None, "created_at": now, "password_changed_at": now})
        except IntegrityError as exc:
            raise UserExistsError(f"a user named {name!r} exists already") from exc
        except SQLAlchemyError as exc:
            raise self._fail(f"add user {name!r}", exc) from exc

    def _change(self, name: str, entry: AuditEntry, what: str, **values: object) -> None:
        try:
            with self._db.engine.begin() as connection:
                self._update(connection, name, **values)
                audit.append(connection, entry, self._clock)
        except SQLAlchemyError as exc:
            raise self._fail(what, exc) from exc

    @staticmethod
    def _update(connection: Connection, name: str, **values: object) -> None:
        done = connection.execute(update(users).where(users.c.name == name).values(**values))
        if done.rowcount != 1:
            raise UnknownUserError(f"there is no user named {name!r} (see: hmi users list)")

    def set_password(self, name: str, password_hash: str, entry: AuditEntry) -> None:
        self._change(name, entry, f"change the password of {name!r}",
                     password_hash=password_hash, password_changed_at=self._clock(),
                     failed_attempts=0, locked_until=None)

    def set_disabled(self, name: str, disabled: bool, entry: AuditEntry) -> None:
        values: dict[str, object] = {"disabled": disabled}
        if not disabled:
            values.update(failed_attempts=0, locked_until=None)
        self._change(name, entry, f"{'disable' if disabled else 'enable'} user {name!r}",
                     **values)

    def set_role(self, name: str, role: str, entry: AuditEntry) -> None:
        self._change(name, entry, f"change the role of {name!r}", role=role)

    def login_failed(self, name: str, lock_after: int, lock_seconds: float,
                     failed: AuditEntry, locked: AuditEntry) -> tuple[UserRow, bool]:
        """Count a failed attempt and audit it (``failed``); at ``lock_after`` in a row
        lock the account for ``lock_seconds`` and audit that too (``locked``), in the
        same transaction. Returns the row and whether this attempt locked it."""
        now = self._clock()
        try:
            with self._db.engine.begin() as connection:
                audit.append(connection, failed, self._clock)
                self._update(connection, name, failed_attempts=users.c.failed_attempts + 1)
                row = _user(connection.execute(select(users).where(users.c.name == name))
                            .mappings().one())
                already = row.locked_until is not None and row.locked_until > now
                locking = row.failed_attempts >= lock_after and not already
                if locking:
                    self._update(connection, name, locked_until=now + lock_seconds)
                    audit.append(connection, locked, self._clock)
                    row = _user(connection.execute(select(users).where(users.c.name == name))
                                .mappings().one())
                return row, locking
        except SQLAlchemyError as exc:
            raise self._fail(f"record a failed login of {name!r}", exc) from exc

    def reset_failures(self, name: str) -> None:
        """A right password (a signature): the count of wrong ones in a row starts again."""
        try:
            with self._db.engine.begin() as connection:
                self._update(connection, name, failed_attempts=0)
        except SQLAlchemyError as exc:
            raise self._fail(f"reset the failed logins of {name!r}", exc) from exc

    def login_succeeded(self, name: str, entry: AuditEntry) -> None:
        self._change(name, entry, f"record the login of {name!r}",
                     failed_attempts=0, locked_until=None)
