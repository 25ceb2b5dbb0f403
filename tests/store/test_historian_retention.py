"""Retention: raw samples and minute roll-ups expire separately, in short chunks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from hmi.core.samples import Quality, Sample
from hmi.store.database import Database, StoreError
from hmi.store.historian_retention import (
    DAY,
    HistorianRetention,
    RetentionPolicy,
    count_rows,
    read_minutes,
    read_samples,
)
from hmi.store.historian_writer import HistorianWriter
from tests.store.test_historian_fixtures import BACKENDS, fresh_database

NOW = 1_700_000_000.0 - 1_700_000_000.0 % 60


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with fresh_database(request.param, tmp_path) as database:
        yield database


def fill(db: Database, tags: int = 3, hours: int = 4) -> None:
    """One sample a minute per tag over the last ``hours`` hours, every one stored."""
    samples = [
        Sample(f"tag{k}", float(i % 7 + k), Quality.GOOD, NOW - i * 60.0, 0.0)
        for k in range(tags)
        for i in range(hours * 60)
    ]
    assert HistorianWriter(db, heartbeat=0).write(samples)


def test_raw_and_rollups_expire_separately_in_chunks(db: Database) -> None:
    fill(db)
    assert count_rows(db, "historian_samples") == 3 * 240
    policy = RetentionPolicy(raw_seconds=3600, minutes_seconds=3 * 3600)
    result = HistorianRetention(db, policy, chunk_rows=25, pause=0).purge(now=NOW)
    # strictly older than the cutoff goes: each tag keeps 61 raw minutes and 181 roll-ups
    assert result.raw_rows == 3 * (240 - 61)
    assert result.minute_rows == 3 * (240 - 181)
    assert count_rows(db, "historian_samples") == 3 * 61
    assert count_rows(db, "historian_minutes") == 3 * 181
    assert read_samples(db, "tag1")[0].t == NOW - 3600
    assert read_minutes(db, "tag1")[0].minute == NOW - 3 * 3600
    again = HistorianRetention(db, policy, chunk_rows=25, pause=0).purge(now=NOW)
    assert (again.raw_rows, again.minute_rows) == (0, 0)


def test_none_keeps_for_ever(db: Database) -> None:
    fill(db, tags=1, hours=1)
    policy = RetentionPolicy(raw_seconds=None, minutes_seconds=None)
    assert HistorianRetention(db, policy).purge(now=NOW + 365 * DAY).raw_rows == 0
    assert count_rows(db, "historian_samples") == 60


def test_policy_in_days_and_validation(tmp_path: Path) -> None:
    assert RetentionPolicy.days(30, 730) == RetentionPolicy(30 * DAY, 730 * DAY)
    assert RetentionPolicy.days(None, 1).raw_seconds is None
    with pytest.raises(ValueError, match="raw_seconds must be positive"):
        RetentionPolicy(raw_seconds=0)
    with fresh_database("sqlite", tmp_path) as db, pytest.raises(ValueError, match="chunk_rows"):
        HistorianRetention(db, RetentionPolicy(), chunk_rows=0)


def test_a_purge_that_cannot_write_raises_a_clear_store_error(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path) as db:
        fill(db, tags=1, hours=1)
        retention = HistorianRetention(db, RetentionPolicy(raw_seconds=60), pause=0)
        engine = retention._engine
        event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA query_only=ON"))
        engine.dispose()
        with pytest.raises(StoreError, match="cannot delete old history") as caught:
            retention.purge(now=NOW)
        assert "write access" in str(caught.value)
        assert count_rows(db, "historian_samples") == 60
