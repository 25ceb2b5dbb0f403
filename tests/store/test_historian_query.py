"""HistorianQuery: SQL bucketing equals a numpy reference, spikes and BAD survive, raw
points when few, roll-ups when wide, and every bad request is a HistoryError.

Runs on SQLite; also on PostgreSQL when HMI_TEST_POSTGRES_URL is set (a throwaway
database: the historian tables are emptied before and after each test).
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, insert

from hmi.core.history import BAD, GOOD, UNCERTAIN, HistoryError, Resolution
from hmi.store import database as database_module
from hmi.store.database import Database, open_database
from hmi.store.historian_query import HistorianQuery
from hmi.store.schema.historian import historian_minutes, historian_samples, historian_tags

POSTGRES_URL = os.environ.get("HMI_TEST_POSTGRES_URL", "")
T0 = 1_700_000_040.0  # a whole minute (POSIX seconds)
Sample = tuple[float, float | None, int]  # t, value (None: BAD), quality

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not POSTGRES_URL,
            reason="set HMI_TEST_POSTGRES_URL (e.g. postgresql+psycopg://user@host/db) "
            "to run these on PostgreSQL",
        ),
    ),
]


def clear_historian(db: Database) -> None:
    with db.engine.begin() as connection:
        for table in (historian_minutes, historian_samples, historian_tags):
            connection.execute(delete(table))


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = open_database(tmp_path / "hmi.sqlite")
    else:
        database = open_database(POSTGRES_URL)
        clear_historian(database)
    yield database
    if request.param != "sqlite":
        clear_historian(database)
    database.close()


def add_tag(db: Database, name: str, samples: Sequence[Sample], *, rollups_until: float = 0.0,
            texts: dict[float, str] | None = None) -> int:
    """Store samples (and minute roll-ups for minutes before ``rollups_until``)."""
    with db.engine.begin() as connection:
        added = connection.execute(insert(historian_tags).values(name=name))
        tag_id = int(added.inserted_primary_key[0])
        rows = [
            {"tag_id": tag_id, "t": t, "value": v, "quality": q,
             "text": (texts or {}).get(t), "detail": None if q == GOOD else "test"}
            for t, v, q in samples
        ]
        if rows:
            connection.execute(insert(historian_samples), rows)
        minutes = rollups(tag_id, samples, rollups_until)
        if minutes:
            connection.execute(insert(historian_minutes), minutes)
    return tag_id


def rollups(tag_id: int, samples: Sequence[Sample], until: float) -> list[dict[str, object]]:
    """Per-minute roll-ups as the writer makes them, for minutes starting before ``until``."""
    by_minute: dict[float, list[Sample]] = {}
    for sample in samples:
        minute = math.floor(sample[0] / 60) * 60.0
        if minute < until:
            by_minute.setdefault(minute, []).append(sample)
    rows = []
    for minute, group in sorted(by_minute.items()):
        numbers = [(t, v) for t, v, _ in group if v is not None]
        values = [v for _, v in numbers]
        rows.append({
            "tag_id": tag_id, "minute": minute,
            "min": min(values) if values else None, "max": max(values) if values else None,
            "sum": sum(values), "count": len(values),
            "first": values[0] if values else None, "last": values[-1] if values else None,
            "first_t": numbers[0][0] if numbers else None,
            "last_t": numbers[-1][0] if numbers else None,
            "quality": max(q for _, _, q in group),
        })
    return rows


def reference(samples: Sequence[Sample], start: float, end: float, count: int) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """Min/max/worst quality per bucket, decimated in Python."""
    width = (end - start) / count
    mins, maxs = np.full(count, np.nan), np.full(count, np.nan)
    quality = np.zeros(count, dtype=np.int8)
    for t, v, q in samples:
        if not start <= t < end:
            continue
        i = min(math.floor((t - start) / width), count - 1)
        quality[i] = max(quality[i], q)
        if v is not None:
            mins[i] = v if np.isnan(mins[i]) else min(mins[i], v)
            maxs[i] = v if np.isnan(maxs[i]) else max(maxs[i], v)
    return mins, maxs, quality


def wave(seconds: int, step: float = 1.0) -> list[Sample]:
    """A sine with a spike, an UNCERTAIN stretch and a BAD gap."""
    samples: list[Sample] = []
    for n in range(int(seconds / step)):
        t = T0 + n * step
        value: float | None = 50 + 10 * math.sin(n / 300)
        quality = GOOD
        if n == 1234:
            value = 500.0  # one-sample spike: must survive decimation
        if 2000 <= n < 2010:
            quality = UNCERTAIN
        if 3000 <= n < 3005:
            value, quality = None, BAD
        samples.append((t, value, quality))
    return samples


def assert_matches(buckets: object, expected: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    mins, maxs, quality = expected
    np.testing.assert_allclose(buckets.mins, mins, equal_nan=True)  # type: ignore[attr-defined]
    np.testing.assert_allclose(buckets.maxs, maxs, equal_nan=True)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(buckets.quality, quality)  # type: ignore[attr-defined]


# -- choosing and bucketing ----------------------------------------------------------------


def test_few_samples_come_back_as_points(db: Database) -> None:
    samples: list[Sample] = [(T0, 1.0, GOOD), (T0 + 5, None, BAD), (T0 + 9, 3.5, UNCERTAIN)]
    add_tag(db, "Filler.Speed", samples)
    result = HistorianQuery(db).buckets(["Filler.Speed"], T0, T0 + 60, 10)["Filler.Speed"]
    assert result.resolution is Resolution.RAW
    np.testing.assert_array_equal(result.times, [T0, T0 + 5, T0 + 9])
    np.testing.assert_array_equal(result.mins, [1.0, np.nan, 3.5])
    np.testing.assert_array_equal(result.maxs, result.mins)
    np.testing.assert_array_equal(result.quality, [GOOD, BAD, UNCERTAIN])
    assert (result.start, result.end) == (T0, T0 + 60)


def test_narrow_buckets_group_raw_samples_in_sql_keeping_spike_and_worst_quality(
    db: Database,
) -> None:
    samples = wave(7200)
    add_tag(db, "Filler.Speed", samples, rollups_until=T0 + 7200)
    start, end, count = T0 + 0.5, T0 + 7000.5, 200  # 35 s buckets: raw, not roll-ups
    result = HistorianQuery(db).buckets(["Filler.Speed"], start, end, count)["Filler.Speed"]
    assert result.resolution is Resolution.RAW
    assert len(result) == count
    np.testing.assert_allclose(result.times, start + 35.0 * np.arange(count))
    assert_matches(result, reference(samples, start, end, count))
    assert np.nanmax(result.maxs) == 500.0
    assert BAD in result.quality
    assert UNCERTAIN in result.quality


def test_wide_buckets_come_from_minute_rollups(db: Database) -> None:
    samples = wave(86400, step=5.0)
    add_tag(db, "Filler.Speed", samples, rollups_until=T0 + 86400)
    result = HistorianQuery(db).buckets(["Filler.Speed"], T0, T0 + 86400, 96)["Filler.Speed"]
    assert result.resolution is Resolution.MINUTE
    assert_matches(result, reference(samples, T0, T0 + 86400, 96))  # 900 s = 15 minutes


def test_lagging_rollups_are_completed_from_raw(db: Database) -> None:
    samples = wave(86400, step=5.0)
    samples[-3] = (samples[-3][0], 999.0, GOOD)  # a spike the roll-ups have not seen yet
    add_tag(db, "Filler.Speed", samples, rollups_until=T0 + 80000)  # ~2 h behind
    result = HistorianQuery(db).buckets(["Filler.Speed"], T0, T0 + 86400, 96)["Filler.Speed"]
    assert result.resolution is Resolution.MINUTE
    assert_matches(result, reference(samples, T0, T0 + 86400, 96))
    assert result.maxs[-1] == 999.0


def test_mid_minute_start_places_rollups_within_a_minute(db: Database) -> None:
    """A minute roll-up lands in the bucket where the minute starts: at most 60 s early;
    the part-minute before the first whole minute comes from raw samples."""
    samples = wave(86400, step=5.0)
    add_tag(db, "Filler.Speed", samples, rollups_until=T0 + 86400)
    start, end, count = T0 + 30.0, T0 + 30.0 + 86400 - 900, 95
    result = HistorianQuery(db).buckets(["Filler.Speed"], start, end, count)["Filler.Speed"]
    assert result.resolution is Resolution.MINUTE
    width = (end - start) / count
    for i in range(count):
        low, high = start + i * width, start + (i + 1) * width
        near = [v for t, v, _ in samples if low - 60 <= t < high + 60 and v is not None]
        assert min(near) <= result.mins[i]
        assert result.maxs[i] <= max(near)
    expected = reference(samples, start, end, count)
    assert np.nanmax(result.maxs) == np.nanmax(expected[1]) == 500.0
    assert set(result.quality) == set(expected[2])


def test_wide_range_without_rollups_groups_raw(db: Database) -> None:
    samples = wave(86400, step=5.0)
    add_tag(db, "Filler.Speed", samples)  # no roll-ups at all (older data, writer lagging)
    result = HistorianQuery(db).buckets(["Filler.Speed"], T0, T0 + 86400, 96)["Filler.Speed"]
    assert result.resolution is Resolution.RAW
    assert_matches(result, reference(samples, T0, T0 + 86400, 96))


def test_ranges_whose_raw_samples_were_purged_come_from_rollups(db: Database) -> None:
    samples = wave(2 * 86400, step=10.0)
    tag_id = add_tag(db, "Filler.Speed", samples, rollups_until=T0 + 2 * 86400)
    with db.engine.begin() as connection:  # raw retention ran; the roll-ups are kept longer
        connection.execute(delete(historian_samples).where(
            historian_samples.c.tag_id == tag_id, historian_samples.c.t < T0 + 86400))
    query = HistorianQuery(db)
    hour = query.buckets(["Filler.Speed"], T0 + 3600, T0 + 7200, 100)["Filler.Speed"]
    assert hour.resolution is Resolution.MINUTE
    assert np.count_nonzero(~np.isnan(hour.maxs)) == 60  # one bucket per minute roll-up
    both = query.buckets(["Filler.Speed"], T0, T0 + 2 * 86400, 96)["Filler.Speed"]
    assert both.resolution is Resolution.MINUTE
    assert_matches(both, reference(samples, T0, T0 + 2 * 86400, 96))
    recent = query.buckets(["Filler.Speed"], T0 + 86400, T0 + 86400 + 600, 100)["Filler.Speed"]
    assert recent.resolution is Resolution.RAW  # raw still there: the points themselves
    assert len(recent) == 60


def test_several_tags_once_each_in_order(db: Database) -> None:
    add_tag(db, "A", [(T0 + n, float(n), GOOD) for n in range(100)])
    add_tag(db, "B", [])
    result = HistorianQuery(db).buckets(["B", "A", "B"], T0, T0 + 1000, 25)
    assert list(result) == ["B", "A"]
    assert len(result["B"]) == 0
    assert len(result["A"]) == 100  # 100 <= 4 * 25: the points themselves
    assert len(HistorianQuery(db).buckets(["A"], T0, T0 + 1000, 24)["A"]) == 24


def test_gaps_in_grouped_buckets_are_nan_and_good(db: Database) -> None:
    samples = [(T0 + n, 1.0, GOOD) for n in range(1000)] + [
        (T0 + 3000 + n, 2.0, GOOD) for n in range(1000)]
    add_tag(db, "A", samples)
    result = HistorianQuery(db).buckets(["A"], T0, T0 + 4000, 40)["A"]  # 100 s buckets
    assert len(result) == 40
    assert np.isnan(result.mins[10:30]).all()
    assert (result.quality[10:30] == GOOD).all()
    assert result.mins[0] == 1.0
    assert result.maxs[39] == 2.0


# -- raw samples -------------------------------------------------------------------------


def test_raw_returns_values_texts_and_optionally_the_sample_before(db: Database) -> None:
    samples: list[Sample] = [(T0 - 10, 7.0, GOOD), (T0, 1.0, GOOD), (T0 + 1, None, BAD),
                             (T0 + 2, None, GOOD), (T0 + 100, 9.0, GOOD)]
    add_tag(db, "A", samples, texts={T0 + 2: "recipe 7"})
    query = HistorianQuery(db)
    series = query.raw(["A"], T0, T0 + 100)["A"]
    np.testing.assert_array_equal(series.times, [T0, T0 + 1, T0 + 2])
    np.testing.assert_array_equal(series.values, [1.0, np.nan, np.nan])
    np.testing.assert_array_equal(series.quality, [GOOD, BAD, GOOD])
    assert series.texts == (None, None, "recipe 7")
    with_prior = query.raw(["A"], T0, T0 + 100, with_prior=True)["A"]
    assert with_prior.times[0] == T0 - 10
    assert len(with_prior) == 4


# -- bad requests ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (T0 + 10, T0, "reversed: it ends at .* swap the start and the end"),
        (T0, T0, "empty: it starts and ends at .* choose an end after the start"),
        (math.nan, T0, "two finite POSIX times"),
        (T0, math.inf, "two finite POSIX times"),
    ],
)
def test_bad_ranges_say_what_to_do(db: Database, start: float, end: float, message: str) -> None:
    add_tag(db, "A", [(T0, 1.0, GOOD)])
    with pytest.raises(HistoryError, match=message):
        HistorianQuery(db).buckets(["A"], start, end, 10)
    with pytest.raises(HistoryError, match=message):
        HistorianQuery(db).raw(["A"], start, end)


@pytest.mark.parametrize("count", [0, -5, 2.5, True])
def test_bad_bucket_count(db: Database, count: object) -> None:
    with pytest.raises(HistoryError, match="positive whole number"):
        HistorianQuery(db).buckets(["A"], T0, T0 + 1, count)  # type: ignore[arg-type]


def test_unknown_tag_lists_the_known_ones(db: Database) -> None:
    add_tag(db, "Filler.Speed", [])
    add_tag(db, "Filler.TankLevel", [])
    with pytest.raises(HistoryError) as caught:
        HistorianQuery(db).buckets(["Filler.Speed", "filler.speed"], T0, T0 + 60, 10)
    message = str(caught.value)
    assert "no history for tag 'filler.speed'" in message
    assert "Filler.Speed, Filler.TankLevel" in message
    assert "case-sensitive" in message


def test_unknown_tag_in_an_empty_historian(db: Database) -> None:
    with pytest.raises(HistoryError, match="has stored no tags yet; is the historian recording"):
        HistorianQuery(db).raw(["A"], T0, T0 + 60)


def test_a_string_instead_of_a_tag_list_is_refused(db: Database) -> None:
    with pytest.raises(HistoryError, match="list of names"):
        HistorianQuery(db).buckets("Filler.Speed", T0, T0 + 60, 10)


def test_range_older_than_retention_says_what_is_kept(db: Database) -> None:
    add_tag(db, "A", [(T0 + 86400 * 40, 1.0, GOOD)])
    now = T0 + 86400 * 40
    query = HistorianQuery(db, retention_seconds=30 * 86400, clock=lambda: now)
    with pytest.raises(HistoryError, match=r"kept for 30 days, so nothing before .* remains"):
        query.buckets(["A"], T0, T0 + 3600, 10)
    result = query.buckets(["A"], T0, now + 1, 10)["A"]  # reaches into what is kept
    assert result.start == now - 30 * 86400
    assert list(result.times) == [now]
    assert "kept for 30 days" in query.retention_note(T0, now + 1)
    assert query.retention_note(now - 60, now) == ""
    assert HistorianQuery(db).retention_note(T0, now) == ""  # retention unknown


def test_tag_names_sorted(db: Database) -> None:
    add_tag(db, "b", [])
    add_tag(db, "a", [])
    assert HistorianQuery(db).tag_names() == ["a", "b"]


# -- unreadable databases (SQLite files) ---------------------------------------------------


def test_damaged_file_is_a_history_error(tmp_path: Path) -> None:
    path = tmp_path / "hmi.sqlite"
    db = open_database(path)
    try:
        db.engine.dispose()  # no pooled connection keeps the old file open
        path.write_bytes(b"this is not a database" * 200)
        for sidecar in ("-wal", "-shm"):
            Path(f"{path}{sidecar}").unlink(missing_ok=True)
        with pytest.raises(HistoryError, match="damaged or is not an HMI database; restore"):
            HistorianQuery(db).buckets(["A"], T0, T0 + 60, 10)
    finally:
        db.close()


def test_locked_database_is_a_history_error_and_the_next_read_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_module, "BUSY_TIMEOUT_MS", 50)  # fail fast, not in 5 s
    path = tmp_path / "hmi.sqlite"
    db = open_database(path)
    try:
        add_tag(db, "A", [(T0, 1.0, GOOD)])
        db.engine.dispose()
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        query = HistorianQuery(db)
        try:
            with pytest.raises(HistoryError, match=r"locked .* try again in a moment"):
                query.buckets(["A"], T0, T0 + 60, 10)
        finally:
            holder.execute("COMMIT")
            holder.close()
        assert len(query.buckets(["A"], T0, T0 + 60, 10)["A"]) == 1
    finally:
        db.close()
