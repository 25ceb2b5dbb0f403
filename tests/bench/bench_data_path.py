"""Benchmark: the whole data path at plant scale, with the main window open.

Run: python tests/bench/bench_data_path.py [--devices 50 --tags 1000 --ua-items 5000
     --seconds 30]

The plant (tests/bench/bench_plant.py, child processes) serves ``--devices`` Modbus TCP
banks of ``--tags`` registers and ``--ua-items`` OPC UA variables, every value changing
once a second (55,000 tags by default). This process runs the app's own Runtime (device
thread, TagBus, consumer runner with the historian on a real SQLite file, production
recorder) and the main window from hmi.app.build_main_window, offscreen at 1920x1080.

Four phases on the same window and load:
- ours: the device workers on their own loop and thread (hmi.devices.host);
- one loop (the baseline): the same workers on the GUI's loop, as before issue 9;
- devices out of this process (emulated): no device work here, a thread puts the same
  samples at the same rate; what the GUI process would carry if the devices ran in a
  process of their own (the historian and the window stay). The "device thread" column
  is then the feeder's, and the latency is not measured (the values are not the PLC's);
- data path in its own process (a measurement for the design, not product code:
  tests/bench/split_data_path.py): the device workers and the historian in a child
  process, this one the window, fed only the tags it watches.

Printed per phase: CPU share of each thread (GUI, device loop, the rest), the GUI loop's
stall (a 5 ms call_at probe scheduled on absolute deadlines: lateness p50/p99/max, with
early firings counted apart), the latency from a value's change in the PLC to its
delivery on the screens' side (p50/p99; goal < 1.5 poll periods), and the historian's
queue over the phase (max length, drops; goal: flat, zero drops).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hmi.core.bus import OverflowPolicy, SampleQueue
from hmi.core.samples import Quality, Sample
from hmi.core.site import Tag
from tests.bench.bench_plant import Plant, change_time, plant_site
from tests.bench.gc_timing import GcTiming
from tests.bench.stall_probe import (
    BUDGET_MAX_MS,
    BUDGET_P99_MS,
    PROBE_S,
    StallProbe,
    percentile,
)

POLL_PERIOD = 1.0
TICKS = os.sysconf("SC_CLK_TCK")


def thread_cpu(native_id: int) -> float:
    """CPU seconds (user + system) a thread of this process has used."""
    with open(f"/proc/self/task/{native_id}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def all_threads_cpu() -> float:
    return sum(thread_cpu(int(tid)) for tid in os.listdir("/proc/self/task"))


class LatencyWatch:
    """Latency from the PLC's change to the screens' side, for a sample of tags."""

    def __init__(self, tags: list[Tag]) -> None:
        self.tags = {tag.name: tag for tag in tags}
        self.latencies: list[float] = []
        self.on = False

    def __call__(self, samples: list[Sample]) -> None:
        if not self.on:
            return
        now = time.time()
        for sample in samples:
            tag = self.tags.get(sample.tag)
            if tag is None or not sample.quality.is_good or sample.value is None:
                continue
            changed = change_time(tag, float(sample.value), now)
            if changed is not None:
                self.latencies.append(now - changed)


def watch_screens(window: Any, watch: LatencyWatch) -> Callable[[], None]:
    """Deliveries to the screens: a subscriber of the window's per-tag feed, as a widget."""
    from hmi.gui.feed import TagFeed

    feed = window.findChild(TagFeed)
    subscription = feed.subscribe(list(watch.tags), watch, name="latency watch")
    return subscription.close  # type: ignore[no-any-return]


async def phase(name: str, runtime: Any, watch: LatencyWatch, seconds: float,
                device_thread: int | None, gc_timing: GcTiming) -> dict[str, float]:
    gui = threading.main_thread().native_id
    assert gui is not None
    historian = runtime.historian
    queue = next((q for q in runtime.bus.queues if q.name == "historian"), None)
    if queue is None:  # the historian is in another process (the split phase)
        queue = SampleQueue("historian (elsewhere)", 1, OverflowPolicy.DROP_OLDEST)
    dropped0 = queue.dropped
    queue_max = 0
    probe = StallProbe()
    wall0, gui0, all0 = time.monotonic(), thread_cpu(gui), all_threads_cpu()
    dev0 = thread_cpu(device_thread) if device_thread else 0.0
    published0 = runtime.bus.published
    gc_timing.take()
    watch.on = True
    probe.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        await asyncio.sleep(0.25)
        queue_max = max(queue_max, len(queue))
    result = probe.stop()
    watch.on = False
    pauses = gc_timing.take()
    wall = time.monotonic() - wall0
    gui_cpu = (thread_cpu(gui) - gui0) / wall * 100
    dev_cpu = ((thread_cpu(device_thread) - dev0) / wall * 100) if device_thread else 0.0
    rest_cpu = max(0.0, (all_threads_cpu() - all0) / wall * 100 - gui_cpu - dev_cpu)
    latencies, watch.latencies = watch.latencies, []
    lateness = result.lateness
    p99, worst = percentile(lateness, 0.99), max(lateness, default=float("nan"))
    status = historian.status()
    lat_p99 = percentile(latencies, 0.99)
    print(f"[{name}]")
    print(f"  samples/s on the bus:   {(runtime.bus.published - published0) / wall:10.0f}")
    print(f"  CPU % of a core:        GUI thread {gui_cpu:5.1f}   device thread "
          f"{dev_cpu:5.1f}   others (historian, executor) {rest_cpu:5.1f}")
    print(f"  GUI stall p50/p99/max:  {percentile(lateness, 0.5):6.2f} / {p99:6.1f} / "
          f"{worst:6.1f} ms  budget p99 < {BUDGET_P99_MS:g}, max <= {BUDGET_MAX_MS:g}: "
          f"{'OK' if p99 < BUDGET_P99_MS and worst <= BUDGET_MAX_MS else 'OVER'}")
    print(f"  probe:                  {len(lateness) + len(result.early)} firings on "
          f"{PROBE_S * 1000:g} ms deadlines (at most {wall / PROBE_S:.0f}), "
          f"{len(result.early)} early, {result.missed} deadlines missed while busy")
    print(f"  GC: {GcTiming.describe(pauses)}")
    if latencies:
        print(f"  change -> screens:      p50 {percentile(latencies, 0.5):5.2f} s  p99 "
              f"{lat_p99:5.2f} s  ({len(latencies)} values)  goal p99 < "
              f"{1.5 * POLL_PERIOD:g} s: {'OK' if lat_p99 < 1.5 * POLL_PERIOD else 'OVER'}")
    else:
        print("  change -> screens:      not measured (no values from the PLCs)")
    print(f"  historian queue:        max {queue_max} samples, dropped "
          f"{queue.dropped - dropped0}, pending rows {status.pending_rows}, stored "
          f"{status.writer.stored}")
    return {"gui_cpu": gui_cpu, "p99": p99, "max": worst, "lat_p99": lat_p99,
            "dropped": queue.dropped - dropped0}


async def emulated_elsewhere(runtime: Any, site: Any, watch: LatencyWatch,
                             args: argparse.Namespace, gc_timing: GcTiming
                             ) -> dict[str, float]:
    """A third phase: what the GUI process carries when no device work runs in it
    (the devices in a process of their own): a feeder thread puts the same samples
    at the same rate (1,000-sample batches, each a device's scan, spread over the
    second: about what unpickling them would cost), the historian and the window as
    before."""
    names = [tag.name for tag in site.tags]
    groups = [names[i:i + 1000] for i in range(0, len(names), 1000)]
    stop = threading.Event()

    def feeder() -> None:
        tick = 0
        while not stop.is_set():
            tick += 1
            for group in groups:
                now = time.time()
                runtime.bus.put([Sample(name, float(tick % 100) + k * 0.01, Quality.GOOD,
                                        now, now) for k, name in enumerate(group)])
                if stop.wait(POLL_PERIOD / len(groups)):
                    return

    thread = threading.Thread(target=feeder, name="feeder")
    thread.start()
    watched, watch.tags = watch.tags, {}  # made-up values: no PLC change to time them by
    try:
        await asyncio.sleep(args.warmup)  # and the historian catches up with the last phase
        return await phase("devices out of this process (emulated): samples put at the "
                           "same rate, no protocol work", runtime, watch, args.seconds,
                           thread.native_id, gc_timing)
    finally:
        watch.tags = watched
        stop.set()
        thread.join()


async def data_path_process(runtime: Any, site: Any, data: Path, watch: LatencyWatch,
                            args: argparse.Namespace, gc_timing: GcTiming
                            ) -> dict[str, float]:
    """The last phase: the devices and the historian in a child process of their own
    (tests/bench/split_data_path.py); this process gets the watched tags' samples only
    and stores nothing."""
    from tests.bench.split_data_path import DataPathProcess

    await runtime.runner.remove("historian")  # it stores in the child now
    watched = set(watch.tags)
    for queue in runtime.bus.queues:
        watched |= set(queue._tags or ())
    niceness = int(os.environ.get("SPLIT_NICE", "0"))  # the child's, e.g. 10
    child = DataPathProcess(site, data, watched, runtime.bus, niceness=niceness)
    await child.start()
    try:
        await asyncio.sleep(args.warmup)
        child_cpu0, wall0 = process_cpu(child.process.pid), time.monotonic()
        result = await phase("data path in its own process: devices + historian in a "
                             "child, this process the window", runtime, watch,
                             args.seconds, None, gc_timing)
        child_cpu = (process_cpu(child.process.pid) - child_cpu0) / (
            time.monotonic() - wall0) * 100
    finally:
        await child.stop()
    print(f"  the child process:      {child_cpu:5.1f} % of a core; {len(watched):,} tags "
          f"watched here, {child.received:,} samples received; the child's historian "
          f"stored {child.stored:,}")
    return result


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) another process has used."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def measure(args: argparse.Namespace) -> None:
    from hmi.app import build_main_window, settle_gc
    from hmi.devices.supervisor import DeviceSupervisor
    from hmi.runtime import Runtime

    plant = Plant()
    addresses = await plant.start(args.devices, args.tags, args.ua_items)
    site = plant_site(addresses, args.tags, args.ua_items)
    print(f"{len(addresses.modbus_ports)} Modbus devices x {args.tags} tags + OPC UA "
          f"{args.ua_items} items = {len(site.tags):,} tags, all changing at 1 Hz; "
          f"{args.seconds:g} s a phase after {args.warmup:g} s warm-up")
    data = Path(tempfile.mkdtemp(prefix="hmi-bench-"))
    runtime = Runtime(site, data)
    window = None
    watch = LatencyWatch(list(site.tags[:: max(1, len(site.tags) // 500)]))
    try:
        await runtime.start()
        window = build_main_window(runtime, "bench")
        window.resize(1920, 1080)
        window.show()
        if args.settle_gc:
            settle_gc()  # where the app calls it: devices started, window shown
        unwatch = watch_screens(window, watch)
        await asyncio.sleep(args.warmup)
        good = sum(1 for s in runtime.bus.snapshot().values() if s.quality.is_good)
        print(f"after warm-up: {good:,} of {len(site.tags):,} tags GOOD")
        thread = runtime.devices._thread
        with GcTiming() as gc_timing:
            ours = await phase("ours: device loop on its own thread", runtime, watch,
                               args.seconds, thread.native_id if thread else None, gc_timing)

        await runtime.devices.stop()  # the same workers, now on the GUI's loop
        one_loop = DeviceSupervisor(site, runtime.bus)
        await one_loop.start()
        await asyncio.sleep(args.warmup)
        try:
            with GcTiming() as gc_timing:
                base = await phase("one loop (baseline): device workers on the GUI loop",
                                   runtime, watch, args.seconds, None, gc_timing)
        finally:
            await one_loop.stop()
        with GcTiming() as gc_timing:
            elsewhere = await emulated_elsewhere(runtime, site, watch, args, gc_timing)
        with GcTiming() as gc_timing:
            split = await data_path_process(runtime, site, data, watch, args, gc_timing)
        unwatch()
        print("ratios one-loop / ours: GUI thread CPU "
              f"{base['gui_cpu'] / max(ours['gui_cpu'], 0.1):.1f}x, stall p99 "
              f"{base['p99'] / max(ours['p99'], 0.01):.1f}x, stall max "
              f"{base['max'] / max(ours['max'], 0.01):.1f}x")
        print("devices out of this process (emulated) / ours: stall p99 "
              f"{elsewhere['p99'] / max(ours['p99'], 0.01):.2f}x, max "
              f"{elsewhere['max'] / max(ours['max'], 0.01):.2f}x")
        print("data path in its own process / ours: stall p99 "
              f"{split['p99'] / max(ours['p99'], 0.01):.2f}x, max "
              f"{split['max'] / max(ours['max'], 0.01):.2f}x")
    finally:
        if window is not None:
            window.close()
        await runtime.stop()
        await plant.stop()


def main(devices: int = 50, ua_items: int = 5000, doc: str | None = __doc__) -> None:
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--devices", type=int, default=devices)
    parser.add_argument("--tags", type=int, default=1000, help="per Modbus device")
    parser.add_argument("--ua-items", type=int, default=ua_items)
    parser.add_argument("--seconds", type=float, default=30.0, help="per phase")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--no-settle-gc", dest="settle_gc", action="store_false",
                        help="leave the start-up heap in the collector (the before figure)")
    args = parser.parse_args()

    import logging

    import qasync
    from PySide6.QtWidgets import QApplication

    logging.getLogger("asyncua").setLevel(logging.CRITICAL)  # shutdown noise, not results
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setQuitOnLastWindowClosed(False)
    qasync.run(measure(args))


if __name__ == "__main__":
    main()
