"""Benchmark: historian ingest into SQLite, batched (the product's path) vs naive.

Run: python tests/bench/bench_ingest.py [--tags 1000 --ticks 500 --naive-seconds 3]

Every sample changes its value, so the exception filter stores all of them: this is the
worst case for the database. Four numbers, same process, fresh database file each:

- service: TagBus -> HistorianService (one asyncio loop; filter, roll-ups and commits in
  a worker thread, 0.5 s / 5,000-sample batches) until every sample is committed; also
  how late a 5 ms timer on the loop ran meanwhile (the GUI loop's stall);
- writer: HistorianWriter.write in 5,000- and 20,000-sample batches, no loop (filter,
  roll-ups, one transaction per batch);
- naive: one INSERT and one commit per sample, same engine and pragmas;
- executemany: the raw historian_samples upsert alone, as the writer runs it (on SQLite
  100 rows an INSERT), 5,000 prepared rows a transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import insert

from hmi.core.bus import TagBus
from hmi.core.samples import Quality, Sample
from hmi.services.historian import HistorianService
from hmi.store.database import Database, open_database
from hmi.store.historian_writer import HistorianWriter
from hmi.store.schema.historian import historian_samples, historian_tags

T0 = 1_700_000_040.0


def make_samples(tags: int, ticks: int, start_tick: int = 0) -> list[Sample]:
    """``ticks`` scans of ``tags`` tags, 10 scans a second, every value different."""
    out = []
    for tick in range(start_tick, start_tick + ticks):
        t = T0 + tick * 0.1
        out.extend(
            Sample(f"Line1.Tag{k:05d}", tick + k * 0.001, Quality.GOOD, t, t) for k in range(tags)
        )
    return out


def fresh(folder: Path, name: str) -> Database:
    return open_database(folder / f"{name}.sqlite")


async def run_service(db: Database, samples: list[Sample], chunk: int) -> tuple[float, list[float]]:
    bus = TagBus()
    service = HistorianService(bus, db, queue_size=len(samples) + 1)
    lateness: list[float] = []
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def tick(expected: float) -> None:
        now = loop.time()
        lateness.append(max(0.0, now - expected))
        if not done.is_set():
            loop.call_later(0.005, tick, now + 0.005)

    loop.call_later(0.005, tick, loop.time() + 0.005)
    service.start()
    started = time.perf_counter()
    for index in range(0, len(samples), chunk):  # the device workers' publish batches
        bus.publish_many(samples[index : index + chunk])
        await asyncio.sleep(0)
    while True:  # until every sample is committed
        if service.status().writer.stored >= len(samples):
            break
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    done.set()
    await service.stop()
    return elapsed, lateness


def run_writer(db: Database, samples: list[Sample], batch: int) -> float:
    writer = HistorianWriter(db)
    started = time.perf_counter()
    for index in range(0, len(samples), batch):
        assert writer.write(samples[index : index + batch]), writer.last_error
    return time.perf_counter() - started


def run_naive(db: Database, samples: list[Sample], seconds: float) -> tuple[int, float]:
    """What a first attempt does: insert each sample in its own transaction."""
    engine = db.ingest_engine()
    with engine.begin() as connection:
        connection.execute(insert(historian_tags), [{"name": "naive"}])
    started = time.perf_counter()
    done = 0
    for sample in samples:
        with engine.begin() as connection:
            connection.execute(
                insert(historian_samples),
                {"tag_id": 1, "t": sample.source_time + done, "value": sample.value,
                 "text": None, "quality": 0, "detail": None},
            )
        done += 1
        if done % 200 == 0 and time.perf_counter() - started >= seconds:
            break
    return done, time.perf_counter() - started


def run_executemany(db: Database, tags: int, rows: int, batch: int) -> float:
    writer = HistorianWriter(db)  # for its compiled upsert and the tag ids
    assert writer.write(make_samples(tags, 1))
    params = [
        (1 + k, T0 + 1 + tick * 0.1, float(tick), None, 0, None)
        for tick in range(rows // tags)
        for k in range(tags)
    ]
    started = time.perf_counter()
    for index in range(0, len(params), batch):
        chunk = sorted(params[index : index + batch])
        with writer.engine.begin() as connection:
            writer._statements.execute_samples(connection, chunk)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=500, help="scans of every tag")
    parser.add_argument("--naive-seconds", type=float, default=3.0)
    args = parser.parse_args()
    samples = make_samples(args.tags, args.ticks)
    total = len(samples)
    print(f"{total:,} samples: {args.tags:,} tags x {args.ticks} scans, every value changing")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        db = fresh(folder, "service")
        elapsed, lateness = asyncio.run(run_service(db, samples, chunk=args.tags))
        db.close()
        service_rate = total / elapsed
        lateness.sort()
        p99 = lateness[int(len(lateness) * 0.99)] * 1000
        print(f"service (bus -> thread -> SQLite): {service_rate:12,.0f} samples/s "
              f"({elapsed:.2f} s); loop lateness p50 "
              f"{statistics.median(lateness) * 1000:.1f} ms, p99 {p99:.1f} ms, "
              f"max {lateness[-1] * 1000:.1f} ms")

        db = fresh(folder, "writer")
        elapsed = run_writer(db, samples, batch=5_000)
        db.close()
        writer_rate = total / elapsed
        print(f"writer, 5,000-sample batches:      {writer_rate:12,.0f} samples/s "
              f"({elapsed:.2f} s)")
        db = fresh(folder, "writer20k")
        elapsed = run_writer(db, samples, batch=20_000)
        db.close()
        print(f"writer, 20,000-sample batches:     {total / elapsed:12,.0f} samples/s "
              f"({elapsed:.2f} s)")

        db = fresh(folder, "naive")
        done, elapsed = run_naive(db, samples, args.naive_seconds)
        db.close()
        naive_rate = done / elapsed
        print(f"naive, one commit per sample:      {naive_rate:12,.0f} samples/s "
              f"({done:,} in {elapsed:.2f} s)")

        db = fresh(folder, "executemany")
        elapsed = run_executemany(db, args.tags, total, batch=5_000)
        db.close()
        print(f"raw executemany, 5,000 rows/txn:   {total / elapsed:12,.0f} rows/s "
              f"({elapsed:.2f} s)")
    print(f"ratio service / naive: {service_rate / naive_rate:,.0f}x; "
          f"writer / naive: {writer_rate / naive_rate:,.0f}x")


if __name__ == "__main__":
    main()
