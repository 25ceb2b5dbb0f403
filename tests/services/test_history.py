"""History: the async HistoryReader over the store; reads run off the event loop and a
failed request leaves the facade usable. Plus the resampling helpers exports use."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import insert

from hmi.core.history import BAD, GOOD, HistoryError, HistoryReader, Resolution
from hmi.services.history import History, last_at_or_before, step_times
from hmi.store.database import Database, open_database
from hmi.store.historian_query import HistorianQuery
from hmi.store.schema.historian import historian_samples, historian_tags

T0 = 1_700_000_040.0


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "hmi.sqlite")
    with database.engine.begin() as connection:
        connection.execute(insert(historian_tags), [{"id": 1, "name": "Filler.Speed"}])
        connection.execute(insert(historian_samples), [
            {"tag_id": 1, "t": T0 + n, "value": None if n == 5 else float(n),
             "quality": BAD if n == 5 else GOOD}
            for n in range(-3, 20)
        ])
    yield database
    database.close()


def test_history_is_a_history_reader(db: Database) -> None:
    reader: HistoryReader = History(HistorianQuery(db))  # mypy checks the Protocol
    result = asyncio.run(reader.buckets(["Filler.Speed"], T0, T0 + 10, 100))
    buckets = result["Filler.Speed"]
    assert buckets.resolution is Resolution.RAW
    np.testing.assert_array_equal(buckets.times, T0 + np.arange(10))
    assert buckets.quality[5] == BAD
    assert np.isnan(buckets.mins[5])


def test_reads_run_in_a_worker_thread(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    query = HistorianQuery(db)
    threads: list[int] = []
    real_buckets, real_raw = query.buckets, query.raw

    def buckets(*args: object, **kwargs: object) -> object:
        threads.append(threading.get_ident())
        return real_buckets(*args, **kwargs)  # type: ignore[arg-type]

    def raw(*args: object, **kwargs: object) -> object:
        threads.append(threading.get_ident())
        return real_raw(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(query, "buckets", buckets)
    monkeypatch.setattr(query, "raw", raw)
    history = History(query)

    async def both() -> int:
        await history.buckets(("Filler.Speed",), T0, T0 + 10, 10)
        await history.raw(["Filler.Speed"], T0, T0 + 10)
        return threading.get_ident()

    loop_thread = asyncio.run(both())
    assert len(threads) == 2
    assert loop_thread not in threads


def test_raw_with_and_without_the_prior_sample(db: Database) -> None:
    history = History(HistorianQuery(db))
    plain = asyncio.run(history.raw(["Filler.Speed"], T0, T0 + 3))["Filler.Speed"]
    prior = asyncio.run(history.raw(["Filler.Speed"], T0, T0 + 3, with_prior=True))
    np.testing.assert_array_equal(plain.times, [T0, T0 + 1, T0 + 2])
    np.testing.assert_array_equal(prior["Filler.Speed"].times, [T0 - 1, T0, T0 + 1, T0 + 2])


def test_a_failed_request_raises_history_error_and_the_next_one_works(db: Database) -> None:
    history = History(HistorianQuery(db))

    async def session() -> tuple[str, str, int]:
        with pytest.raises(HistoryError) as unknown:
            await history.buckets(["Filler.Sped"], T0, T0 + 10, 10)
        with pytest.raises(HistoryError) as reversed_range:
            await history.raw(["Filler.Speed"], T0 + 10, T0)
        result = await history.buckets(["Filler.Speed"], T0, T0 + 10, 10)
        return str(unknown.value), str(reversed_range.value), len(result["Filler.Speed"])

    unknown, reversed_range, points = asyncio.run(session())
    assert "'Filler.Sped'" in unknown
    assert "Filler.Speed" in unknown
    assert "reversed" in reversed_range
    assert points == 10


def test_tag_names_and_retention_note(db: Database) -> None:
    history = History(HistorianQuery(db, retention_seconds=3600, clock=lambda: T0 + 3600))
    assert asyncio.run(history.tag_names()) == ["Filler.Speed"]
    assert "kept for 1 hour" in history.retention_note(T0 - 60, T0 + 60)
    assert history.retention_note(T0 + 60, T0 + 120) == ""


# -- resampling helpers ------------------------------------------------------------------


def test_step_times_are_half_open() -> None:
    np.testing.assert_array_equal(step_times(0.0, 3.0, 1.0), [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(step_times(0.0, 3.5, 1.0), [0.0, 1.0, 2.0, 3.0])


@pytest.mark.parametrize(("start", "end", "step", "message"), [
    (0.0, 10.0, 0.0, "positive number of seconds"),
    (10.0, 0.0, 1.0, "end after it starts"),
    (0.0, 1e9, 1.0, "choose a longer step"),
])
def test_step_times_refuse_nonsense(start: float, end: float, step: float, message: str) -> None:
    with pytest.raises(HistoryError, match=message):
        step_times(start, end, step)


def test_last_at_or_before_carries_values_and_marks_before_first() -> None:
    samples = np.array([10.0, 20.0, 30.0])
    times = np.array([5.0, 10.0, 15.0, 30.0, 99.0])
    np.testing.assert_array_equal(last_at_or_before(samples, times), [-1, 0, 0, 2, 2])
