"""Historian retention: delete raw samples and minute roll-ups older than their limits,
and read stored history back synchronously (tests, diagnostics, the CLI).

Deletion goes tag by tag in chunks of at most ``chunk_rows`` rows, each chunk its own
short transaction with a pause after it, so the writer (and the event store on SQLite,
which shares the one write lock) never waits long behind a purge. Both deletes walk the
(tag_id, t) and (tag_id, minute) primary keys: no extra index slows the inserts down.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import Column, Table, delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from hmi.store.database import Database, StoreError
from hmi.store.historian_writer import describe_write_error
from hmi.store.schema.historian import historian_minutes, historian_samples, historian_tags

log = logging.getLogger(__name__)

DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long history is kept, in seconds; None keeps it for ever."""

    raw_seconds: float | None = 90 * DAY
    minutes_seconds: float | None = 3 * 365 * DAY

    def __post_init__(self) -> None:
        for name in ("raw_seconds", "minutes_seconds"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"retention {name} must be positive or None, not {value}")

    @classmethod
    def days(cls, raw: float | None, minutes: float | None) -> RetentionPolicy:
        return cls(
            raw_seconds=None if raw is None else raw * DAY,
            minutes_seconds=None if minutes is None else minutes * DAY,
        )


@dataclass(frozen=True, slots=True)
class PurgeResult:
    raw_rows: int
    minute_rows: int
    seconds: float


class HistorianRetention:
    """Synchronous; the historian service runs ``purge`` in a worker thread."""

    def __init__(
        self,
        db: Database,
        policy: RetentionPolicy,
        chunk_rows: int = 5_000,
        pause: float = 0.05,
    ) -> None:
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be positive")
        self.policy = policy
        self.location = db.location
        self.chunk_rows = chunk_rows
        self.pause = pause  # seconds after each chunk: the writer gets the lock in between
        self._engine: Engine = db.ingest_engine()

    def purge(self, now: float | None = None) -> PurgeResult:
        """Delete what is past its retention; StoreError if the database refuses."""
        now = time.time() if now is None else now
        started = time.monotonic()
        raw = minutes = 0
        try:
            with self._engine.connect() as connection:
                tag_ids = list(connection.execute(select(historian_tags.c.id)).scalars())
            if self.policy.raw_seconds is not None:
                cutoff = now - self.policy.raw_seconds
                raw = self._purge(historian_samples, historian_samples.c.t, tag_ids, cutoff)
            if self.policy.minutes_seconds is not None:
                cutoff = now - self.policy.minutes_seconds
                column = historian_minutes.c.minute
                minutes = self._purge(historian_minutes, column, tag_ids, cutoff)
        except SQLAlchemyError as exc:
            message = describe_write_error(exc, self.location).replace(
                "cannot write history", "cannot delete old history"
            )
            raise StoreError(message) from exc
        result = PurgeResult(raw, minutes, time.monotonic() - started)
        if raw or minutes:
            log.info(
                "historian retention: deleted %d samples and %d minute roll-ups in %.1f s",
                raw, minutes, result.seconds,
            )
        return result

    def _purge(self, table: Table, time_column: Column[float], tag_ids: list[int],
               cutoff: float) -> int:
        deleted = 0
        tag_column = table.c.tag_id
        for tag_id in tag_ids:
            while True:
                # the chunk_rows-th oldest time below the cutoff bounds this chunk; read
                # first, then delete in a transaction of its own that only writes
                with self._engine.connect() as connection:
                    bound = connection.execute(
                        select(time_column)
                        .where(tag_column == tag_id, time_column < cutoff)
                        .order_by(time_column)
                        .offset(self.chunk_rows - 1)
                        .limit(1)
                    ).scalar()
                condition = time_column < cutoff if bound is None else time_column <= bound
                with self._engine.begin() as connection:
                    result = connection.execute(
                        delete(table).where(tag_column == tag_id, condition)
                    )
                    deleted += max(result.rowcount, 0)
                if bound is None:
                    break
                time.sleep(self.pause)
        return deleted


# -- reading back (tests and diagnostics; the trend reads through historian_query) ------


@dataclass(frozen=True, slots=True)
class StoredSample:
    t: float
    value: float | None
    text: str | None
    quality: int  # hmi.core.history GOOD, UNCERTAIN, BAD
    detail: str | None


@dataclass(frozen=True, slots=True)
class StoredMinute:
    minute: float
    min: float | None
    max: float | None
    sum: float
    count: int
    first: float | None
    last: float | None
    quality: int


def read_samples(db: Database, tag: str) -> list[StoredSample]:
    """Every stored sample of one tag, oldest first."""
    s, tags = historian_samples.c, historian_tags.c
    query = (
        select(s.t, s.value, s.text, s.quality, s.detail)
        .join_from(historian_samples, historian_tags, s.tag_id == tags.id)
        .where(tags.name == tag)
        .order_by(s.t)
    )
    with db.engine.connect() as connection:
        return [StoredSample(*row) for row in connection.execute(query)]


def read_minutes(db: Database, tag: str) -> list[StoredMinute]:
    """Every minute roll-up of one tag, oldest first."""
    m, tags = historian_minutes.c, historian_tags.c
    query = (
        select(m.minute, m.min, m.max, m.sum, m.count, m.first, m.last, m.quality)
        .join_from(historian_minutes, historian_tags, m.tag_id == tags.id)
        .where(tags.name == tag)
        .order_by(m.minute)
    )
    with db.engine.connect() as connection:
        return [StoredMinute(*row) for row in connection.execute(query)]


def count_rows(db: Database, table: str) -> int:
    """Rows in one historian table ("historian_samples", "historian_minutes", ...)."""
    tables = {t.name: t for t in (historian_samples, historian_minutes, historian_tags)}
    if table not in tables:
        raise StoreError(f"{table!r} is not a historian table; one of {sorted(tables)}")
    with db.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(tables[table])).scalar_one())
