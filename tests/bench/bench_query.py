"""Benchmark: a week of 1 s history decimated to 2,000 min/max buckets.

Run: python tests/bench/bench_query.py [--runs 7] [--buckets 2000] [--days 7]

Builds one SQLite file in a temporary folder (executemany): tag "Rolled" has 7 days of
1 s samples (604,800 rows) plus its per-minute roll-ups (10,080 rows); tag "RawOnly"
has the same samples and no roll-ups. Times, as the median of several runs:
  rollups  HistorianQuery.buckets on "Rolled": 302 s buckets come from the roll-ups
  sql-raw  HistorianQuery.buckets on "RawOnly": GROUP BY over the 604,800 raw rows
  naive    SELECT every raw row into Python, decimate with numpy
Goal: the request the trend makes (rollups) within 50 ms.
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlalchemy import select

from hmi.core.history import BAD, GOOD, Buckets, Resolution
from hmi.store.database import Database, open_database
from hmi.store.historian_query import HistorianQuery
from hmi.store.schema.historian import historian_samples

T0 = 1_700_000_040.0  # a whole minute
GOAL_MS = 50.0


def build(path: Path, days: float) -> tuple[Database, int]:
    db = open_database(path)
    rows = int(days * 86400)
    n = np.arange(rows)
    values = 50 + 10 * np.sin(n / 3000) + np.random.default_rng(1).normal(0, 0.5, rows)
    values[rows // 3] = 500.0  # one spike
    quality = np.zeros(rows, dtype=np.int64)
    quality[rows // 2: rows // 2 + 30] = BAD
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    with connection:
        connection.executemany(
            "INSERT INTO historian_tags (id, name) VALUES (?, ?)", [(1, "Rolled"), (2, "RawOnly")]
        )
        for tag_id in (1, 2):
            connection.executemany(
                "INSERT INTO historian_samples (tag_id, t, value, text, quality, detail) "
                "VALUES (?, ?, ?, NULL, ?, NULL)",
                (
                    (tag_id, T0 + i, None if q == BAD else v, q)
                    for i, v, q in zip(n.tolist(), values.tolist(), quality.tolist(), strict=True)
                ),
            )
        connection.executemany(
            "INSERT INTO historian_minutes (tag_id, minute, min, max, sum, count, first, last, "
            "first_t, last_t, quality) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            minute_rows(values, quality),
        )
    connection.close()
    return db, rows


def minute_rows(values: np.ndarray, quality: np.ndarray) -> list[tuple[object, ...]]:
    rows = []
    for m in range(math.ceil(len(values) / 60)):
        v, q = values[m * 60: m * 60 + 60], quality[m * 60: m * 60 + 60]
        good = v[q < BAD]
        rows.append((
            T0 + m * 60, float(good.min()) if good.size else None,
            float(good.max()) if good.size else None, float(good.sum()), int(good.size),
            float(good[0]) if good.size else None, float(good[-1]) if good.size else None,
            T0 + m * 60, T0 + m * 60 + 59, int(q.max()),
        ))
    return rows


def naive(db: Database, start: float, end: float, count: int) -> Buckets:
    """Every row to Python, then numpy: what the SQL bucketing saves."""
    c = historian_samples.c
    with db.engine.connect() as connection:
        rows = connection.execute(
            select(c.t, c.value, c.quality)
            .where(c.tag_id == 2, c.t >= start, c.t < end)
            .order_by(c.t)
        ).all()
    t = np.array([r[0] for r in rows])
    v = np.array([np.nan if r[1] is None else r[1] for r in rows])
    q = np.array([r[2] for r in rows], dtype=np.int8)
    width = (end - start) / count
    index = np.minimum(((t - start) / width).astype(np.int64), count - 1)
    mins, maxs = np.full(count, np.nan), np.full(count, np.nan)
    quality = np.full(count, GOOD, dtype=np.int8)
    np.fmin.at(mins, index, v)
    np.fmax.at(maxs, index, v)
    np.maximum.at(quality, index, q)
    times = start + width * np.arange(count)
    return Buckets("RawOnly", start, end, times, mins, maxs, quality, Resolution.RAW)


def median_ms(action: Callable[[], Buckets], runs: int) -> tuple[float, Buckets]:
    result = action()  # warm the page cache and the connection pool
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        result = action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--buckets", type=int, default=2000)
    parser.add_argument("--days", type=float, default=7.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hmi-bench-query-") as folder:
        began = time.perf_counter()
        db, rows = build(Path(folder) / "hmi.sqlite3", args.days)
        print(f"built {rows:,} rows x 2 tags + {math.ceil(rows / 60):,} roll-ups in "
              f"{time.perf_counter() - began:.1f} s")
        try:
            query = HistorianQuery(db)
            start, end, count = T0, T0 + rows, args.buckets
            print(f"range {rows:,} s into {count} buckets of {(end - start) / count:.0f} s; "
                  f"median of {args.runs} runs")
            rolled_ms, rolled = median_ms(
                lambda: query.buckets(["Rolled"], start, end, count)["Rolled"], args.runs)
            sql_ms, grouped = median_ms(
                lambda: query.buckets(["RawOnly"], start, end, count)["RawOnly"], args.runs)
            naive_ms, reference = median_ms(lambda: naive(db, start, end, count), args.runs)
        finally:
            db.close()
    np.testing.assert_allclose(grouped.maxs, reference.maxs, equal_nan=True)
    np.testing.assert_array_equal(grouped.quality, reference.quality)
    assert np.nanmax(rolled.maxs) == 500.0
    assert rolled.quality.max() == BAD
    print(f"  rollups  {rolled_ms:8.1f} ms  ({rolled.resolution.value}, {len(rolled)} buckets)"
          f"  goal <= {GOAL_MS:.0f} ms: {'met' if rolled_ms <= GOAL_MS else 'MISSED'}")
    print(f"  sql-raw  {sql_ms:8.1f} ms  ({grouped.resolution.value}, GROUP BY in SQLite)")
    print(f"  naive    {naive_ms:8.1f} ms  (rows to Python, numpy decimation)")
    print(f"  naive / sql-raw = {naive_ms / sql_ms:.1f}x; naive / rollups = "
          f"{naive_ms / rolled_ms:.0f}x; sql-raw / rollups = {sql_ms / rolled_ms:.0f}x")


if __name__ == "__main__":
    main()
