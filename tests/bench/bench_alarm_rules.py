"""Benchmark: 10,000 alarm rules evaluated on 1 Hz updates of their tags.

Run: python tests/bench/bench_alarm_rules.py [--rules 10000 --seconds 20 --devices 10]

The engine as the runtime runs it: a TagBus, the consumer runner, the AlarmEngine with
its journal on a real SQLite file. Each second every tag gets a new value, in
``--devices`` batches (one per device scan, spread over the second); 1 % of the tags
cross their limit each second (so about 100 alarms raise or clear a second, all
journalled). The run is paced in real time, so the engine's ticks and journal writes
happen as often as in a station; CPU seconds of this process per second is the share
of a core the alarms need at 1 Hz (goal < 5 %).

Baseline, same process: a naive engine that, for each batch, evaluates every rule
against the latest values (no index from tag to rules), as a scan-all-alarms design does
(run flat out, its CPU per simulated second; it neither ticks nor journals).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hmi.core.alarm_rules import AlarmKind, AlarmRule, Condition, Priority
from hmi.core.bus import TagBus
from hmi.core.consumers import ConsumerRunner
from hmi.core.samples import Quality, Sample
from hmi.core.site import AlarmSettings
from hmi.services.alarms import AlarmEngine
from hmi.store.alarms import AlarmRepository
from hmi.store.database import open_database

GOAL_PERCENT = 5.0


def make_rules(count: int) -> list[AlarmRule]:
    return [AlarmRule(f"A{k:05d}", f"T{k:05d}", AlarmKind.HI, Priority.MEDIUM, "high",
                      limit=80.0, deadband=1.0) for k in range(count)]


def second_of_values(count: int, second: int) -> list[float]:
    """Every tag's value in one second: 50, except 1 % of them at 90 (in alarm), a
    different 1 % each second, so ~1 % raise and ~1 % clear every second."""
    hot = {(second * count // 100 + j) % count for j in range(count // 100)}
    return [90.0 if k in hot else 50.0 for k in range(count)]


def batches(count: int, devices: int, second: int) -> list[list[Sample]]:
    now = 1_700_000_000.0 + second
    values = second_of_values(count, second)
    size = count // devices
    return [[Sample(f"T{k:05d}", values[k], Quality.GOOD, now, now)
             for k in range(start, min(count, start + size))]
            for start in range(0, count, size)]


async def ours(rules: list[AlarmRule], args: argparse.Namespace, folder: Path
               ) -> tuple[float, int]:
    db = open_database(folder / "hmi.db")
    store = AlarmRepository(db)
    bus = TagBus()
    runner = ConsumerRunner(bus)
    engine = AlarmEngine(rules, AlarmSettings(), store, tick=0.5)
    runner.add(engine, overflow=engine.overflow, maxsize=engine.queue_size, tags=engine.tags)
    runner.start()
    for _ in range(500):  # the states loaded from the (empty) store
        if engine._loaded:
            break
        await asyncio.sleep(0.01)
    prepared = [batches(len(rules), args.devices, s) for s in range(args.seconds)]
    cpu0, start = time.process_time(), time.monotonic()
    for second, scans in enumerate(prepared):  # in real time: a scan every 1/devices s
        for k, batch in enumerate(scans):
            bus.put(batch)
            due = start + second + (k + 1) / len(scans)
            await asyncio.sleep(max(0.0, due - time.monotonic()))
    await runner.stop()  # the engine finishes what it was handed and journals it all
    cpu = time.process_time() - cpu0
    journalled = len(store.journal())
    db.close()
    return cpu, journalled


def naive(rules: list[AlarmRule], args: argparse.Namespace) -> tuple[float, int]:
    """Every rule evaluated against the latest values at every batch."""
    conditions = [Condition(rule) for rule in rules]
    latest: dict[str, Sample] = {}
    changes = 0
    prepared = [batches(len(rules), args.devices, s) for s in range(args.seconds)]
    cpu0 = time.process_time()
    for second in prepared:
        for batch in second:
            for sample in batch:
                latest[sample.tag] = sample
            for condition in conditions:
                sample = latest.get(condition.rule.tag)
                if sample is not None and condition.observe(sample) is not None:
                    changes += 1
    return time.process_time() - cpu0, changes


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--devices", type=int, default=10)
    args = parser.parse_args()
    rules = make_rules(args.rules)
    with tempfile.TemporaryDirectory(prefix="hmi-bench-alarms-") as folder:
        cpu, journalled = asyncio.run(ours(rules, args, Path(folder)))
    naive_cpu, naive_changes = naive(rules, args)
    share = cpu / args.seconds * 100
    naive_share = naive_cpu / args.seconds * 100
    print(f"{args.rules:,} rules, {args.rules:,} tags at 1 Hz in {args.devices} batches a "
          f"second, {args.seconds} s in real time")
    print(f"ours:  {cpu:.2f} s CPU = {share:.2f} % of a core at 1 Hz; {journalled:,} "
          f"transitions journalled; goal < {GOAL_PERCENT:g} %: "
          f"{'OK' if share < GOAL_PERCENT else 'OVER'}")
    print(f"naive (every rule at every batch, nothing journalled): {naive_cpu:.2f} s CPU = "
          f"{naive_share:.2f} % of a core; {naive_changes:,} changes")
    print(f"ratio naive / ours: {naive_cpu / max(cpu, 1e-9):.1f}x")


if __name__ == "__main__":
    main()
