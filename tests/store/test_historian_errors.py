"""The historian writer against a database that cannot be written: locked, read-only,
full, refusing one row, or corrupt. It says why (status / last_error), keeps the rows
in memory within a bound, loses nothing already stored, and catches up afterwards."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from hmi.core.samples import Quality, Sample
from hmi.store.database import Database, StoreError, open_database
from hmi.store.historian_retention import count_rows, read_minutes, read_samples
from hmi.store.historian_writer import HistorianWriter
from tests.store.test_historian_fixtures import BACKENDS, fresh_database

T0 = 1_700_000_040.0


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with fresh_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    with fresh_database("sqlite", tmp_path) as database:
        yield database


def ramp(tag: str, count: int, first: int = 0) -> list[Sample]:
    """Values first, first + 1, ... at T0 + value."""
    values = range(first, first + count)
    return [Sample(tag, float(i), Quality.GOOD, T0 + i, T0 + i) for i in values]


def on_connect(writer: HistorianWriter, statement: str) -> Callable[[], None]:
    """Run ``statement`` on every new connection of the writer's engine (existing ones
    are dropped); returns the function that undoes it."""

    def listener(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()
        dbapi_connection.commit()  # PostgreSQL: a SET inside a rolled-back transaction is undone

    event.listen(writer.engine, "connect", listener)
    writer.engine.dispose()

    def undo() -> None:
        event.remove(writer.engine, "connect", listener)
        writer.engine.dispose()

    return undo


def test_a_locked_database_delays_history_and_loses_none(sqlite_db: Database) -> None:
    writer = HistorianWriter(sqlite_db, busy_timeout_ms=100)
    assert writer.write(ramp("x", 10))
    path = sqlite_db.location
    other = sqlite3.connect(path, isolation_level=None)  # another program
    try:
        other.execute("BEGIN IMMEDIATE")  # holds the write lock past the busy timeout
        assert not writer.write(ramp("x", 20, 10))
        status = writer.status
        assert not status.healthy
        assert "database is locked" in status.last_error
        assert "another program holds a write lock" in status.last_error
        assert path in status.last_error
        assert status.pending_rows == 20
        assert not writer.write(ramp("x", 5, 30))  # still locked: still kept
        assert writer.pending_rows == 25
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert writer.flush()
    assert writer.status.healthy
    assert writer.status.last_error == ""
    assert [r.value for r in read_samples(sqlite_db, "x")] == [float(i) for i in range(35)]


def test_failed_retries_do_not_multiply_the_pending_rollups(sqlite_db: Database) -> None:
    """During an outage a tag's samples of one minute fold into one pending roll-up,
    however many flushes fail; once written, it counts every sample."""
    writer = HistorianWriter(sqlite_db, busy_timeout_ms=100)
    assert writer.write(ramp("x", 1) + ramp("y", 1))
    other = sqlite3.connect(sqlite_db.location, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        for first in range(1, 40, 10):  # four failed flushes within one minute
            assert not writer.write(ramp("x", 10, first) + ramp("y", 10, first))
            assert writer.status.pending_minutes == 2
        assert not writer.write(ramp("x", 30, 41))  # into the next minute (T0 + 60)
        assert writer.status.pending_minutes == 3
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert writer.flush()
    assert writer.status.pending_minutes == 0
    x, y = read_minutes(sqlite_db, "x"), read_minutes(sqlite_db, "y")
    assert [(m.count, m.min, m.max) for m in x] == [(60, 0.0, 59.0), (11, 60.0, 70.0)]
    assert [(m.count, m.first, m.last) for m in y] == [(41, 0.0, 40.0)]


def test_a_read_only_database_is_reported_and_caught_up_later(db: Database) -> None:
    writer = HistorianWriter(db)
    assert writer.write(ramp("x", 3))
    statement = (
        "PRAGMA query_only=ON"
        if db.is_sqlite
        else "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"
    )
    undo = on_connect(writer, statement)
    assert not writer.write(ramp("x", 4, 3))
    assert "read-only" in writer.last_error or "readonly" in writer.last_error
    assert "write access" in writer.last_error
    assert writer.pending_rows == 4
    assert count_rows(db, "historian_samples") == 3  # what was stored is still there
    undo()
    assert writer.flush()
    assert count_rows(db, "historian_samples") == 7


def test_a_full_disk_is_reported_and_the_batch_retried(sqlite_db: Database) -> None:
    writer = HistorianWriter(sqlite_db)
    assert writer.write(ramp("x", 100))
    with writer.engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
    undo = on_connect(writer, f"PRAGMA max_page_count={pages + 1}")
    samples = [Sample(f"tag{i % 200}", float(i), Quality.GOOD, T0 + 200 + i // 200, 0)
               for i in range(20_000)]
    assert not writer.write(samples)
    assert "database or disk is full" in writer.last_error
    assert "free disk space" in writer.last_error
    assert writer.pending_rows == 20_000
    assert count_rows(sqlite_db, "historian_samples") == 100
    undo()
    assert writer.flush()
    assert count_rows(sqlite_db, "historian_samples") == 20_100


def test_the_pending_buffer_is_bounded_and_its_drops_counted_and_logged(
    sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    writer = HistorianWriter(sqlite_db, max_pending_rows=100, busy_timeout_ms=50)
    other = sqlite3.connect(sqlite_db.location, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with caplog.at_level(logging.WARNING, logger="hmi.store.historian_writer"):
            assert not writer.write(ramp("x", 250))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert writer.status.dropped == 150
    assert writer.pending_rows == 100
    assert "150 oldest rows dropped" in caplog.text
    assert "policy drop_oldest" in caplog.text
    assert writer.flush()
    assert [r.value for r in read_samples(sqlite_db, "x")] == [float(i) for i in range(150, 250)]


def _refuse_value_13(db: Database) -> None:
    with db.engine.begin() as connection:
        if db.is_sqlite:
            connection.execute(text(
                "CREATE TRIGGER refuse_13 BEFORE INSERT ON historian_samples "
                "WHEN NEW.value = 13 BEGIN SELECT RAISE(ABORT, 'thirteen refused'); END"
            ))
        else:
            connection.execute(text(
                "CREATE FUNCTION refuse_13() RETURNS trigger AS $$ BEGIN "
                "IF NEW.value = 13 THEN RAISE check_violation USING MESSAGE = "
                "'thirteen refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            ))
            connection.execute(text(
                "CREATE TRIGGER refuse_13 BEFORE INSERT ON historian_samples "
                "FOR EACH ROW EXECUTE FUNCTION refuse_13()"
            ))


@pytest.mark.parametrize("count", [40, 450])  # 450: many rows a statement on SQLite
def test_a_row_the_database_refuses_is_rejected_alone_not_the_batch(
    db: Database, caplog: pytest.LogCaptureFixture, count: int
) -> None:
    _refuse_value_13(db)
    writer = HistorianWriter(db)
    with caplog.at_level(logging.ERROR, logger="hmi.store.historian_writer"):
        assert writer.write(ramp("x", count))
    assert writer.status.rejected == 1
    assert writer.status.healthy
    assert "thirteen refused" in caplog.text
    values = [r.value for r in read_samples(db, "x")]
    assert values == [float(i) for i in range(count) if i != 13]
    minutes = len({(T0 + i) // 60 for i in range(count)})
    assert count_rows(db, "historian_minutes") == minutes  # the roll-ups were written too


def test_a_corrupt_file_is_refused_clearly_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "hmi.sqlite"
    db = open_database(path)
    assert HistorianWriter(db).write(ramp("x", 1000))
    db.close()
    damaged = b"garbage!" * 12 + path.read_bytes()[96:]
    path.write_bytes(damaged)
    with pytest.raises(StoreError) as caught:
        open_database(path)
    assert str(path) in str(caught.value)
    assert "not an HMI database" in str(caught.value) or "malformed" in str(caught.value)
    assert path.read_bytes() == damaged  # nothing was written over it
