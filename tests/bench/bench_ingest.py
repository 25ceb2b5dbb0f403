"""Benchmark: historian ingest into SQLite, batched (the product's path) vs naive.

Run: python tests/bench/bench_ingest.py [--tags 1000 --ticks 500 --naive-seconds 3
     --steady-rate 55000 --scan-period 0.1 --publish-chunk 0 --steady-only]

The plant (55,000 tags, each changing once a second, published per device of 1,000,
the app's garbage collector settings):
     --tags 55000 --ticks 20 --scan-period 1 --publish-chunk 1000 --steady-only --settle-gc

Every sample changes its value, so the exception filter stores all of them: this is the
worst case for the database. Same process, fresh database file each, every figure with
its ratio to the naive one:

- naive: one INSERT and one commit per sample, same engine and pragmas;
- service, steady: TagBus -> HistorianService under the ConsumerRunner, as the runtime
  runs it (filter, roll-ups and commits in a worker thread; a batch every 0.5 s or 5,000
  samples), one scan of ``--tags`` samples put on the bus at a time at ``--steady-rate``
  samples/s, paced against absolute deadlines: the batches the writer then gets (their
  size is the service's, as in the runtime), the writer thread's busy time and the
  samples per second of it (its capacity at that batch size: the steady-state figure),
  how late a 5 ms timer on the loop ran meanwhile (the GUI loop's stall), and the GC;
- service, catch-up: the same with everything published before the first drain (after
  an outage: the writer gets one huge batch);
- writer: HistorianWriter.write in 5,000- and 20,000-sample batches, no loop (filter,
  roll-ups, one transaction per batch);
- executemany: the raw historian_samples upsert alone, as the writer runs it (on SQLite
  100 rows an INSERT), 5,000 prepared rows a transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import insert

from hmi.core.bus import TagBus
from hmi.core.consumers import ConsumerRunner
from hmi.core.samples import Quality, Sample
from hmi.services.historian import HistorianService
from hmi.store.database import Database, open_database
from hmi.store.historian_writer import HistorianWriter
from hmi.store.schema.historian import historian_samples, historian_tags
from tests.bench.gc_timing import GcTiming

T0 = 1_700_000_040.0


def make_samples(
    tags: int, ticks: int, start_tick: int = 0, scan_period: float = 0.1
) -> list[Sample]:
    """``ticks`` scans of ``tags`` tags, one every ``scan_period`` seconds of source time,
    every value different. Tag names are shared between scans, as a device worker's are."""
    names = [f"Line1.Tag{k:05d}" for k in range(tags)]
    out = []
    for tick in range(start_tick, start_tick + ticks):
        t = T0 + tick * scan_period
        out.extend(
            Sample(name, tick + k * 0.001, Quality.GOOD, t, t) for k, name in enumerate(names)
        )
    return out


def fresh(folder: Path, name: str) -> Database:
    return open_database(folder / f"{name}.sqlite")


class _TimedIngest:
    """Wraps the service's worker-thread step to see the batches the writer gets and how
    long it is busy with them (wall time in the thread, GIL waits included)."""

    def __init__(self, service: HistorianService) -> None:
        self._ingest = service._ingest
        self.batches: list[int] = []
        self.busy = 0.0
        self.cpu = 0.0  # the worker thread's CPU time: less disturbed by other processes
        service._ingest = self  # type: ignore[method-assign]

    def __call__(self, samples: list[Sample], flush: bool) -> bool:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return self._ingest(samples, flush)
        finally:
            self.busy += time.perf_counter() - started
            self.cpu += time.thread_time() - cpu
            if samples:
                self.batches.append(len(samples))


def _ratio(rate: float, naive_rate: float) -> str:
    """``, Nx naive``, or nothing when the naive run was skipped."""
    return "" if math.isnan(naive_rate) else f", {rate / naive_rate:,.0f}x naive"


@dataclass
class ServiceRun:
    elapsed: float  # first publish to last commit
    busy: float  # the writer thread's time on the batches
    cpu: float  # the writer thread's CPU time on them
    batches: list[int]  # samples per batch the writer got
    lateness: list[float]  # how late each 5 ms loop timer ran, seconds
    lag: float  # last publish to last commit
    gc_pauses: list[list[float]]  # ms, per generation

    def report(self, name: str, total: int, naive_rate: float) -> float:
        rate = total / self.elapsed
        capacity = total / self.busy
        late = sorted(self.lateness)
        print(f"{name}: {rate:10,.0f} samples/s stored ({self.elapsed:.2f} s"
              f"{_ratio(rate, naive_rate)})")
        median = statistics.median(self.batches)
        print(f"    writer: {len(self.batches)} batches, median {median:,.0f} samples "
              f"(max {max(self.batches):,}); busy {self.busy:.2f} s ({self.cpu:.2f} s CPU) = "
              f"{capacity:,.0f} samples/s of writer time{_ratio(capacity, naive_rate)}, "
              f"{total / self.cpu:,.0f} per CPU second; done {self.lag * 1000:.0f} ms after the "
              f"last publish")
        print(f"    writer thread CPU per 100,000 samples: {self.cpu / total * 100_000:.3f} s "
              f"(wall {self.busy / total * 100_000:.3f} s)")
        print(f"    loop lateness p50 / p99 / max: {statistics.median(late) * 1000:.1f} / "
              f"{late[int(len(late) * 0.99)] * 1000:.1f} / {late[-1] * 1000:.1f} ms")
        print(f"    GC: {GcTiming.describe(self.gc_pauses)}")
        return capacity


async def run_service(db: Database, samples: list[Sample], chunk: int, rate: float) -> ServiceRun:
    """The runtime's path: ``chunk`` samples (one scan) put on the bus at a time; ``rate``
    samples/s paced against absolute deadlines, or 0 for everything at once (catch-up)."""
    bus = TagBus()
    runner = ConsumerRunner(bus)
    service = HistorianService(db, queue_size=len(samples) + 1)
    runner.add(service, overflow=service.overflow, maxsize=service.queue_size)
    timed = _TimedIngest(service)
    lateness: list[float] = []
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def tick(due: float) -> None:
        lateness.append(loop.time() - due)
        if not done.is_set():
            loop.call_at(due + 0.005, tick, due + 0.005)

    with GcTiming() as gc_timing:
        loop.call_at(loop.time() + 0.005, tick, loop.time() + 0.005)
        runner.start()
        started = time.perf_counter()
        start = loop.time()
        for index in range(0, len(samples), chunk):  # the device workers' publish batches
            if rate:  # catch-up: no yield, all of it is queued before the service runs
                await asyncio.sleep(max(0.0, start + index / rate - loop.time()))
            bus.put(samples[index : index + chunk])
        published = time.perf_counter()
        while True:  # until every sample is committed
            if service.status().writer.stored >= len(samples):
                break
            await asyncio.sleep(0.002)
        finished = time.perf_counter()
        done.set()
        await runner.stop()
    return ServiceRun(finished - started, timed.busy, timed.cpu, timed.batches, lateness,
                      finished - published, gc_timing.take())


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
    writer = HistorianWriter(db)  # for its compiled upserts and the tag ids
    assert writer.write(make_samples(tags, 1))
    prepared = [
        (f"Line1.Tag{k:05d}", T0 + 1 + tick * 0.1, float(tick), None, 0, None)
        for tick in range(rows // tags)
        for k in range(tags)
    ]
    started = time.perf_counter()
    for index in range(0, len(prepared), batch):
        with writer.engine.begin() as connection:
            writer._statements.execute_samples(
                connection, prepared[index : index + batch], writer._tag_ids
            )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=500, help="scans of every tag")
    parser.add_argument("--naive-seconds", type=float, default=3.0)
    parser.add_argument("--steady-rate", type=float, default=55_000.0,
                        help="samples/s offered in the steady run (55,000: the issue's "
                        "50 x 1,000 Modbus + 5,000 OPC UA tags at 1 Hz)")
    parser.add_argument("--scan-period", type=float, default=0.1,
                        help="seconds of source time between two scans of every tag (the "
                        "plant: 1, so a tag's minute roll-up gets 60 samples)")
    parser.add_argument("--publish-chunk", type=int, default=0,
                        help="samples put on the bus at a time (a device's poll; the "
                        "plant: 1,000); 0 for one scan of every tag at a time")
    parser.add_argument("--settle-gc", action="store_true",
                        help="the app's garbage collector settings (hmi.app.settle_gc: a "
                        "full collection every 100 middle ones), as the runtime runs")
    parser.add_argument("--steady-only", action="store_true",
                        help="only the steady service run (no naive, catch-up, writer or "
                        "executemany figures; ratios are then not printed)")
    args = parser.parse_args()
    samples = make_samples(args.tags, args.ticks, scan_period=args.scan_period)
    chunk = args.publish_chunk or args.tags
    # The prepared samples are the benchmark's input, alive all run long; the runtime has
    # no such heap (samples arrive and go). Unfrozen, every full collection scans them
    # (~130 ms at 300,000) and the steady run measures the benchmark's garbage collector.
    gc.freeze()
    if args.settle_gc:
        from hmi.app import settle_gc  # Qt is imported only then

        settle_gc()
    total = len(samples)
    print(f"{total:,} samples: {args.tags:,} tags x {args.ticks} scans, every value changing")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        naive_rate = math.nan
        if not args.steady_only:
            db = fresh(folder, "naive")
            done, elapsed = run_naive(db, samples, args.naive_seconds)
            db.close()
            naive_rate = done / elapsed
            print(f"naive, one commit per sample:      {naive_rate:12,.0f} samples/s "
                  f"({done:,} in {elapsed:.2f} s)")

        db = fresh(folder, "steady")
        steady = asyncio.run(run_service(db, samples, chunk, args.steady_rate))
        db.close()
        steady_capacity = steady.report(
            f"service, steady {args.steady_rate:,.0f} samples/s offered", total, naive_rate
        )
        if args.steady_only:
            print_goal(steady_capacity)
            return
        db = fresh(folder, "catch-up")
        catch_up = asyncio.run(run_service(db, samples, chunk, 0.0))
        db.close()
        catch_up.report("service, catch-up (all published first)", total, naive_rate)

        db = fresh(folder, "writer")
        elapsed = run_writer(db, samples, batch=5_000)
        db.close()
        writer_rate = total / elapsed
        print(f"writer, 5,000-sample batches:      {writer_rate:12,.0f} samples/s "
              f"({elapsed:.2f} s, {writer_rate / naive_rate:,.0f}x naive)")
        db = fresh(folder, "writer20k")
        elapsed = run_writer(db, samples, batch=20_000)
        db.close()
        print(f"writer, 20,000-sample batches:     {total / elapsed:12,.0f} samples/s "
              f"({elapsed:.2f} s, {total / elapsed / naive_rate:,.0f}x naive)")

        db = fresh(folder, "executemany")
        elapsed = run_executemany(db, args.tags, total, batch=5_000)
        db.close()
        print(f"raw executemany, 5,000 rows/txn:   {total / elapsed:12,.0f} rows/s "
              f"({elapsed:.2f} s)")
    print_goal(steady_capacity)


def print_goal(steady_capacity: float) -> None:
    print(f"steady-state writer capacity: {steady_capacity:,.0f} samples/s, goal 200,000: "
          f"{'met' if steady_capacity >= 200_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
