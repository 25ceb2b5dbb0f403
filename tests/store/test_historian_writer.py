"""HistorianWriter: the exception filter, minute roll-ups and batched writes, on SQLite
and PostgreSQL alike."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from hmi.core.deadband import DeadbandFilter, moved
from hmi.core.history import BAD, GOOD, UNCERTAIN
from hmi.core.samples import Quality, Sample
from hmi.store.database import INGEST_WAL_AUTOCHECKPOINT_PAGES, Database, sqlite_pragma
from hmi.store.historian_retention import count_rows, read_minutes, read_samples
from hmi.store.historian_writer import ExceptionFilter, HistorianWriter, sample_row
from tests.store.test_historian_fixtures import (
    BACKENDS,
    POSTGRES_SKIP_REASON,
    POSTGRES_URL,
    fresh_database,
)

T0 = 1_700_000_040.0  # the start of a minute


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with fresh_database(request.param, tmp_path) as database:
        yield database


def good(tag: str, value: float | str | bool, t: float) -> Sample:
    return Sample(tag, value, Quality.GOOD, t, t)


def kept(flt: ExceptionFilter, samples: list[Sample]) -> list[float]:
    return [row[1] for row in flt.select(sample_row(s) for s in samples)]


# -- the filter (no database) ------------------------------------------------------------


def test_deadband_stores_moves_past_it_and_the_value_held_before_a_step() -> None:
    flt = ExceptionFilter({"level": 0.5}, heartbeat=60)
    samples = [good("level", v, T0 + i) for i, v in enumerate([10, 10.2, 10.4, 10.4, 12, 12.3])]
    # 10 first; 10.2 and 10.4 within 0.5 are held; 12 moves 2: the held 10.4 (t+3) is
    # stored before it so the step stays a step; 12.3 is within the band again
    assert kept(flt, samples) == [T0, T0 + 3, T0 + 4]


def test_the_historian_and_the_devices_share_one_deadband_boundary() -> None:
    """A move exactly equal to the deadband is neither published at the source nor
    stored (hmi.core.deadband.moved); a move just past it is both."""
    for second, expected in ((10.5, [T0]), (10.5001, [T0, T0 + 1]), (9.5, [T0])):
        samples = [good("level", 10.0, T0), good("level", second, T0 + 1)]
        source = DeadbandFilter({"level": 0.5})
        published = [s.source_time for s in samples if source.passes(s)]
        stored = kept(ExceptionFilter({"level": 0.5}, heartbeat=60), samples)
        assert published == stored == expected, second
        assert moved(10.0, second, 0.5) is (len(expected) == 2)


def test_zero_deadband_stores_every_change_but_no_repeat() -> None:
    flt = ExceptionFilter(heartbeat=60)
    samples = [good("count", v, T0 + i) for i, v in enumerate([1, 1, 2, 2, 2, 3])]
    assert kept(flt, samples) == [T0, T0 + 1, T0 + 2, T0 + 4, T0 + 5]


def test_heartbeat_stores_an_unchanging_value_at_least_that_often() -> None:
    flt = ExceptionFilter({"temp": 1.0}, heartbeat=10)
    samples = [good("temp", 20.0, T0 + i) for i in range(0, 31, 2)]
    assert kept(flt, samples) == [T0, T0 + 10, T0 + 20, T0 + 30]


def test_quality_changes_are_always_stored_and_bad_is_a_gap() -> None:
    flt = ExceptionFilter({"speed": 100.0}, heartbeat=60)
    samples = [
        good("speed", 50.0, T0),
        Sample("speed", 50.0, Quality.UNCERTAIN, T0 + 1, T0 + 1, "stale"),
        Sample.bad("speed", "comm: connection refused", T0 + 2),
        Sample.bad("speed", "comm: connection refused", T0 + 3),
        good("speed", 50.0, T0 + 4),
    ]
    rows = flt.select(sample_row(s) for s in samples)
    assert [(r[1], r[2], r[4]) for r in rows] == [
        (T0, 50.0, GOOD),
        (T0 + 1, 50.0, UNCERTAIN),
        (T0 + 2, None, BAD),  # BAD stores no value: a gap, never a line through it
        (T0 + 3, None, BAD),  # held back, stored before the change: where the gap ends
        (T0 + 4, 50.0, GOOD),
    ]
    assert rows[2][5] == "comm: connection refused"


def test_a_bad_sample_carrying_a_value_still_stores_null() -> None:
    row = sample_row(Sample("x", 42.0, Quality.BAD, T0, T0, "config: out of range"))
    assert row[2] is None
    assert row[3] is None
    assert row[4] == BAD


def test_text_booleans_nan_and_nul_characters() -> None:
    assert sample_row(good("recipe", "IPA\x00 batch", T0))[2:4] == (None, "IPA batch")
    assert sample_row(good("running", True, T0))[2] == 1.0
    nan = sample_row(good("flow", math.nan, T0))
    assert nan[2] is None
    assert nan[5] == "NaN"
    huge = sample_row(good("counter", 10**400, T0))
    assert huge[2] is None
    assert huge[5] is not None
    assert "not a number" in huge[5]
    flt = ExceptionFilter(heartbeat=60)
    texts = [good("recipe", v, T0 + i) for i, v in enumerate(["A", "A", "B"])]
    assert kept(flt, texts) == [T0, T0 + 1, T0 + 2]  # the held "A" marks where it changed


def test_a_clock_stepping_back_is_stored_not_lost() -> None:
    flt = ExceptionFilter(heartbeat=60)
    samples = [good("x", 1.0, T0 + 100), good("x", 2.0, T0), good("x", 2.0, T0)]
    assert kept(flt, samples) == [T0 + 100, T0]


# -- writes and roll-ups -----------------------------------------------------------------


def test_rows_values_text_and_gaps_are_stored(db: Database) -> None:
    writer = HistorianWriter(db, {"level": 0.5}, heartbeat=60)
    samples = [good("level", v, T0 + i) for i, v in enumerate([10, 10.2, 12])]
    samples += [Sample.bad("level", "comm: timeout", T0 + 3), good("level", 12, T0 + 4)]
    samples += [good("recipe", "IPA", T0), good("running", True, T0)]
    assert writer.write(samples)
    assert writer.status.healthy
    assert writer.status.pending_rows == 0
    rows = read_samples(db, "level")
    assert [(r.t, r.value, r.quality) for r in rows] == [
        (T0, 10.0, GOOD),
        (T0 + 1, 10.2, GOOD),
        (T0 + 2, 12.0, GOOD),
        (T0 + 3, None, BAD),
        (T0 + 4, 12.0, GOOD),
    ]
    assert rows[3].detail == "comm: timeout"
    assert [(r.value, r.text) for r in read_samples(db, "recipe")] == [(None, "IPA")]
    assert [r.value for r in read_samples(db, "running")] == [1.0]
    assert writer.status.stored == count_rows(db, "historian_samples") == 7
    assert count_rows(db, "historian_tags") == 3


def test_minute_rollups_cover_every_sample_and_merge_across_batches(db: Database) -> None:
    writer = HistorianWriter(db, {"p": 100.0}, heartbeat=3600)
    first = [good("p", v, T0 + 10 * i) for i, v in enumerate([5.0, 1.0, 9.0])]
    assert writer.write(first)
    second = [
        good("p", 3.0, T0 + 35),
        Sample.bad("p", "comm", T0 + 40),
        good("p", 4.0, T0 + 55),
        good("p", 7.0, T0 + 65),  # next minute
    ]
    assert writer.write(second)
    minutes = read_minutes(db, "p")
    assert [m.minute for m in minutes] == [T0, T0 + 60]
    current = minutes[0]
    assert (current.min, current.max, current.count) == (1.0, 9.0, 5)
    assert current.sum == pytest.approx(22.0)
    assert (current.first, current.last) == (5.0, 4.0)
    assert current.quality == BAD  # the worst quality in the minute
    assert (minutes[1].first, minutes[1].count, minutes[1].quality) == (7.0, 1, GOOD)
    # the deadband kept most raw rows out, the roll-up still saw the 1.0 and the 9.0
    assert len(read_samples(db, "p")) < 7


def test_a_minute_of_only_bad_or_text_has_no_numbers(db: Database) -> None:
    writer = HistorianWriter(db)
    assert writer.write([Sample.bad("p", "comm", T0), good("recipe", "IPA", T0)])
    bad, text = read_minutes(db, "p")[0], read_minutes(db, "recipe")[0]
    assert (bad.min, bad.max, bad.count, bad.first, bad.quality) == (None, None, 0, None, BAD)
    assert (text.count, text.quality) == (0, GOOD)


def test_a_sample_sent_again_after_a_restart_does_not_fail_the_batch(db: Database) -> None:
    """OPC UA resends a tag's last value with its old source time on subscribing."""
    assert HistorianWriter(db).write([good("x", 1.0, T0), good("x", 2.0, T0 + 1)])
    again = HistorianWriter(db)  # a new process: no memory of what was stored
    assert again.write([good("x", 2.0, T0 + 1), good("x", 3.0, T0 + 2), good("x", 4.0, T0 + 2)])
    assert [(r.t, r.value) for r in read_samples(db, "x")] == [
        (T0, 1.0), (T0 + 1, 2.0), (T0 + 2, 4.0),  # the last received at one time wins
    ]


def test_many_rows_a_statement_keep_order_and_the_last_of_a_time_wins(db: Database) -> None:
    """More rows than one multi-row INSERT carries (SQLite), duplicates of one time on
    both sides of a statement boundary and in the remainder."""
    samples = [good("a", float(i), T0 + i) for i in range(250)]
    samples[150:150] = [good("a", -1.0, T0 + 5), good("a", -2.0, T0 + 249)]
    assert HistorianWriter(db, heartbeat=0).write(samples)
    stored = {r.t: r.value for r in read_samples(db, "a")}
    assert len(stored) == 250
    assert stored[T0 + 5] == -1.0  # received after the 5.0 of that time
    assert stored[T0 + 249] == 249.0  # received before it
    assert stored[T0 + 100] == 100.0
    minutes = read_minutes(db, "a")
    assert (minutes[0].count, minutes[0].first, minutes[0].min) == (61, 0.0, -1.0)
    assert (minutes[4].count, minutes[4].last, minutes[4].min) == (11, 249.0, -2.0)


def test_plain_and_mixed_statements_keep_quality_text_detail_and_order(db: Database) -> None:
    """On SQLite a statement of only GOOD rows without text or detail binds fewer
    parameters than one holding any other row: both kinds in one batch, in row order,
    duplicates of one time across their boundaries."""
    samples = [good("a", float(i), T0 + i) for i in range(450)]
    samples[150] = Sample.bad("a", "comm: timeout", T0 + 150)  # rows 100-199: mixed
    samples[160] = Sample("a", 1.5, Quality.UNCERTAIN, T0 + 160, T0 + 160, "stale")
    samples[170] = good("a", "text", T0 + 170)
    samples[260] = Sample("a", 2.5, Quality.UNCERTAIN, T0 + 260, T0 + 260)  # 200-299 too
    samples[350:350] = [good("a", -2.0, T0 + 190)]  # rows 300-399 plain, after the 190.0
    samples[180:180] = [good("a", -1.0, T0 + 50)]  # after the plain statement's 50.0
    assert HistorianWriter(db, heartbeat=0).write(samples)
    stored = {r.t: r for r in read_samples(db, "a")}
    assert len(stored) == 450
    assert (stored[T0 + 50].value, stored[T0 + 190].value) == (-1.0, -2.0)
    assert (stored[T0 + 150].value, stored[T0 + 150].quality) == (None, BAD)
    assert stored[T0 + 150].detail == "comm: timeout"
    uncertain = stored[T0 + 160]
    assert (uncertain.value, uncertain.quality, uncertain.detail) == (1.5, UNCERTAIN, "stale")
    assert (stored[T0 + 260].value, stored[T0 + 260].quality) == (2.5, UNCERTAIN)
    assert (stored[T0 + 170].value, stored[T0 + 170].text) == (None, "text")
    plain = stored[T0 + 300]
    assert (plain.value, plain.text, plain.quality, plain.detail) == (300.0, None, GOOD, None)


def test_rollups_of_one_sample_and_of_several_merge_alike_in_order(db: Database) -> None:
    """On SQLite a statement of roll-ups of one numeric sample each (the plant: a tag's
    one sample a batch) binds fewer parameters than one holding any other: both kinds and
    the remainder in one batch, merged with either kind by the next batch."""
    names = [f"t{i:03d}" for i in range(250)]
    first = [good(name, float(i), T0 + 1) for i, name in enumerate(names)]
    first += [good(names[i], float(-i), T0 + 3) for i in range(120, 130)]  # 100-199: mixed
    first[205] = Sample.bad(names[205], "comm", T0 + 1)  # the remainder: no number
    second = [good(name, 1000.0 + i, T0 + 2) for i, name in enumerate(names)]
    writer = HistorianWriter(db)
    assert writer.write(first)
    assert writer.write(second)
    for i, name in enumerate(names):
        (minute,) = read_minutes(db, name)
        got = (minute.min, minute.max, minute.count, minute.first, minute.last, minute.quality)
        if i == 205:
            assert got == (1205.0, 1205.0, 1, 1205.0, 1205.0, BAD)
        elif 120 <= i < 130:
            assert got == (-i, 1000.0 + i, 3, i, -i, GOOD), name
            assert minute.sum == pytest.approx(1000.0 + i)
        else:
            assert got == (i, 1000.0 + i, 2, i, 1000.0 + i, GOOD), name
            assert minute.sum == pytest.approx(1000.0 + 2 * i)


def test_large_batches_are_split_into_transactions(db: Database) -> None:
    writer = HistorianWriter(db, transaction_rows=1000)
    samples = [good(f"tag{i % 50}", float(i), T0 + i // 50) for i in range(12_000)]
    assert writer.write(samples)
    assert count_rows(db, "historian_samples") == 12_000
    assert count_rows(db, "historian_minutes") == 50 * 4  # 240 s of samples per tag
    assert writer.status.received == writer.status.stored == 12_000


def test_the_historian_engine_relaxes_sync_but_events_stay_full(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path) as db:
        writer = HistorianWriter(db)
        with writer.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            checkpoint = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
            assert checkpoint == INGEST_WAL_AUTOCHECKPOINT_PAGES
        assert sqlite_pragma(db, "synchronous") == 2  # FULL for events and the outbox
        assert sqlite_pragma(db, "wal_autocheckpoint") == 1000  # SQLite's default


@pytest.mark.skipif(not POSTGRES_URL, reason=POSTGRES_SKIP_REASON)
def test_postgresql_historian_commits_without_waiting_for_the_flush(tmp_path: Path) -> None:
    with fresh_database("postgresql", tmp_path) as db:
        writer = HistorianWriter(db)
        with writer.engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
