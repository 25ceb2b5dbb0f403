"""Benchmark: how long the GUI event loop stalls with the main window open under load.

Run: python tests/bench/bench_gui_stall.py [--devices 10 --tags 1000 --ua-items 2000
     --seconds 15 --warmup 6 --no-settle-gc]

A child process (a plain subprocess, tests/bench/plant_process.py) serves ``--devices``
Modbus TCP simulators of ``--tags`` holding registers each (every register changes once
a second) and one OPC UA server with ``--ua-items`` variables (each changes once a
second). This process runs the HMI the way the app does: one qasync loop, the device
supervisor polling at 1 Hz / subscribing at 1 s publishing interval, the main window
(offscreen) with the tag table, trend and device view, and, as the app does once
start-up has built everything, ``hmi.app.settle_gc`` (``--no-settle-gc`` leaves the
start-up heap to the collector: the before figure). A probe due every 5 ms on absolute
deadlines (loop.time()) records how late each firing runs: that lateness is the loop's
stall (p50/p99/max; firings before their deadline and deadlines passed while the loop
was busy are counted apart). gc.callbacks count the collections of each generation and
time each pause (a full collection stops
every thread). Two phases in the same process and window:

- ours: the BusBridge hands the views one batch per 100 ms display tick;
- naive: a bridge that updates the table and trend per sample and redraws per batch,
  as it arrives (what STYLE.md's "never repaint per sample" warns against).

DESIGN.md budget: never more than 50 ms, p99 under 16 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hmi.core.bus import TagBus
from hmi.core.datatypes import DataType
from hmi.core.site import (
    Device,
    DeviceKind,
    ModbusAddress,
    OpcUaAddress,
    RegisterTable,
    Site,
    Tag,
)
from tests.bench.gc_timing import GcTiming
from tests.bench.plant_process import PlantProcess, PlantSide, plant_arguments

BUDGET_MAX_MS, BUDGET_P99_MS = 50.0, 16.0
PROBE_S = 0.005


# -- the simulated plant, in its own process ------------------------------------------------


def _plant_process(devices: int, tags: int, ua_items: int) -> None:
    from asyncua import Server, ua

    from hmi.sim.modbus_server import ModbusRegisterServer
    from hmi.sim.opcua_server import free_port, quiet_asyncua_server_logs

    parent = PlantSide()

    async def serve() -> None:
        banks = [ModbusRegisterServer(holding_count=tags) for _ in range(devices)]
        for bank in banks:
            await bank.start()
        quiet_asyncua_server_logs()
        server = Server()
        await server.init()
        endpoint = f"opc.tcp://127.0.0.1:{free_port()}/bench/"
        server.set_endpoint(endpoint)
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        idx = await server.register_namespace("urn:hmi:bench")
        folder = await server.nodes.objects.add_object(f"ns={idx};s=Bench", "Bench")
        nodes = [await folder.add_variable(f"ns={idx};s=V{i}", f"V{i}", 0.0)
                 for i in range(ua_items)]
        await server.start()
        parent.send([[bank.port for bank in banks], endpoint, idx])
        tick = 0
        while not parent.is_set():
            started = time.monotonic()
            tick += 1
            for bank in banks:
                bank.set_holding(0, [(tick + i) & 0xFFFF for i in range(tags)])
            for i, node in enumerate(nodes):
                value = ua.DataValue(ua.Variant(float(tick + i), ua.VariantType.Double))
                await server.write_attribute_value(node.nodeid, value)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        await server.stop()
        for bank in banks:
            await bank.stop()

    asyncio.run(serve())


def _site(ports: list[int], tags: int, endpoint: str, ns: int, ua_items: int) -> Site:
    hr = RegisterTable.HOLDING_REGISTER
    devices = [Device(f"plc{d:02d}", DeviceKind.MODBUS_TCP, port=port, poll_interval=1.0,
                      timeout=2.0) for d, port in enumerate(ports)]
    all_tags = [Tag(f"PLC{d:02d}.R{i:04d}", f"plc{d:02d}", ModbusAddress(hr, i), DataType.UINT16)
                for d in range(len(ports)) for i in range(tags)]
    if ua_items:
        devices.append(Device("ua", DeviceKind.OPCUA, endpoint=endpoint, poll_interval=1.0,
                              timeout=2.0))
        all_tags += [Tag(f"UA.V{i:04d}", "ua", OpcUaAddress(f"ns={ns};s=V{i}"),
                         DataType.FLOAT64) for i in range(ua_items)]
    pens = tuple(t.name for t in all_tags[:: max(1, len(all_tags) // 8)][:8])
    return Site("GUI stall bench", tuple(devices), tuple(all_tags), trend_pens=pens)


# -- stand-ins for what the window needs besides devices ----------------------------------------


class _NoProduction:
    async def pending(self) -> list[Any]:
        return []

    async def confirm(self, event_id: str, user: str, comment: str) -> str:
        return ""

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        return lambda: None


class _NoOutbox:
    async def counts(self) -> dict[str, int]:
        return {}

    def problem(self) -> str:
        return ""


class _StallProbe:
    """A callback due every PROBE_S on absolute deadlines (start + k x PROBE_S, loop.time());
    records how late each firing ran (ms). One firing per deadline: one that runs before
    its deadline (qasync's QTimer counts whole milliseconds) is counted apart, not as 0
    (re-arming it would spin); deadlines that passed while the loop was busy are counted
    as missed and the probe waits for the first deadline still ahead."""

    def __init__(self) -> None:
        self.lateness: list[float] = []
        self.early: list[float] = []  # how early each early firing ran (ms)
        self.missed = 0
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._due = loop.time() + PROBE_S
        self._handle = loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        late = loop.time() - self._due
        skipped = 0
        if late < 0:
            self.early.append(-late * 1000.0)
        else:
            self.lateness.append(late * 1000.0)
            skipped = int(late / PROBE_S)  # later deadlines that passed meanwhile
            self.missed += skipped
        self._due += (skipped + 1) * PROBE_S
        self._handle = loop.call_at(self._due, self._tick)

    def stop(self) -> ProbeResult:
        if self._handle is not None:
            self._handle.cancel()
        result = ProbeResult(self.lateness, self.early, self.missed)
        self.lateness, self.early, self.missed = [], [], 0
        return result


@dataclass(frozen=True)
class ProbeResult:
    lateness: list[float]  # ms, one per firing at or after its deadline
    early: list[float]  # ms before the deadline, one per early firing
    missed: int  # deadlines that passed while the loop was busy


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _report(
    name: str, probe: ProbeResult, gc_pauses: list[list[float]], samples: int, seconds: float
) -> bool:
    lateness = probe.lateness
    worst, p99 = max(lateness, default=float("nan")), _percentile(lateness, 0.99)
    ok = worst <= BUDGET_MAX_MS and p99 < BUDGET_P99_MS
    print(f"[{name}]")
    print(f"  samples/s on the bus:  {samples / seconds:10.0f}")
    print(f"  probe firings:         {len(lateness) + len(probe.early):10d}  (one per "
          f"{PROBE_S * 1000:g} ms deadline, at most {seconds / PROBE_S:.0f}); early: "
          f"{len(probe.early)} (max {max(probe.early, default=0.0):.2f} ms early); deadlines "
          f"missed while busy: {probe.missed}")
    print(f"  lateness p50/p99/max:  {_percentile(lateness, 0.5):7.2f} / {p99:7.1f} / "
          f"{worst:7.1f} ms   budget p99 < {BUDGET_P99_MS:g}, max <= {BUDGET_MAX_MS:g}: "
          f"{'OK' if ok else 'OVER'}")
    print(f"  GC: {GcTiming.describe(gc_pauses)}")
    return ok


def _time_handlers(window: Any) -> dict[str, list[float]]:
    """Wrap the window's periodic handlers to see which one a stall comes from."""
    timings: dict[str, list[float]] = {}

    def wrap(owner: Any, attribute: str, label: str, signal: Any) -> None:
        original = getattr(owner, attribute)
        took = timings.setdefault(label, [])

        def timed(*a: Any) -> None:
            started = time.perf_counter()
            original(*a)
            took.append((time.perf_counter() - started) * 1000.0)

        signal.disconnect(original)
        signal.connect(timed)

    wrap(window, "_on_samples", "samples to views", window.bridge.samplesArrived)
    wrap(window, "_on_clock", "clock + trend refresh", window._tick.timeout)
    view = window.device_view
    wrap(view, "_on_tick", "device view refresh", view._timer.timeout)
    return timings


async def _measure(args: argparse.Namespace) -> None:
    from hmi.app import settle_gc
    from hmi.devices.supervisor import DeviceSupervisor
    from hmi.gui.main_window import MainWindow

    plant = PlantProcess(__file__, [args.devices, args.tags, args.ua_items])
    try:
        ports, endpoint, ns = await plant.message()
        site = _site(ports, args.tags, endpoint, ns, args.ua_items)
        print(f"{len(ports)} Modbus devices x {args.tags} tags at 1 Hz + OPC UA {args.ua_items} "
              f"monitored items at 1 s = {len(site.tags)} tags; {args.seconds:g} s per phase")
        bus = TagBus()
        supervisor = DeviceSupervisor(site, bus)
        window = MainWindow(site, bus, _NoProduction(), _NoOutbox(), "bench",
                            list(supervisor.statuses().values()),
                            diagnostics=supervisor.diagnostics)
        window.show()
        handlers = _time_handlers(window)
        try:
            await supervisor.start()
            if args.settle_gc:
                settle_gc()  # where the app calls it: devices started, window shown
            await asyncio.sleep(args.warmup)
            good = sum(1 for s in bus.snapshot().values() if s.quality.is_good)
            print(f"after {args.warmup:g} s warm-up: {good} of {len(site.tags)} tags GOOD")
            print(f"GC: thresholds {gc.get_threshold()}, {gc.get_freeze_count()} objects frozen "
                  f"({'hmi.app.settle_gc' if args.settle_gc else '--no-settle-gc'})")
            with GcTiming() as gc_timing:
                ok = await _phase("ours: BusBridge, one batch per 100 ms tick", args.seconds,
                                  bus, gc_timing)
                for name, took in handlers.items():
                    print(f"  {name:<22} p99 / max: {_percentile(took, 0.99):6.1f} / "
                          f"{max(took, default=float('nan')):6.1f} ms ({len(took)} calls)")
                    took.clear()

                window.bridge.close()  # swap in the naive bridge on the same window
                naive = asyncio.create_task(_naive_bridge(window, bus))
                await _phase("naive: per-sample model updates, redraw per batch", args.seconds,
                             bus, gc_timing)
                naive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await naive
            print(f"budget met by ours: {'yes' if ok else 'NO'}")
        finally:
            window.close()
            await supervisor.stop()
    finally:
        await plant.close()


async def _naive_bridge(window: Any, bus: TagBus) -> None:
    """Each batch as it arrives: the table and trend updated per sample, then a redraw."""
    queue = bus.subscribe("naive-screens", maxsize=500_000)
    try:
        while True:
            for sample in await queue.get():
                window.tag_model.update_samples([sample])
                window.trend.add_samples([sample])
            window.trend.refresh()
            window.tag_table.viewport().repaint()
    finally:
        bus.unsubscribe(queue)


async def _phase(name: str, seconds: float, bus: TagBus, gc_timing: GcTiming) -> bool:
    """Probe the loop for ``seconds`` under whatever the bus feeds now; print the figures."""
    probe = _StallProbe()
    published = bus.published
    gc_timing.take()
    probe.start()
    await asyncio.sleep(seconds)
    return _report(name, probe.stop(), gc_timing.take(), bus.published - published, seconds)


def main() -> None:
    plant = plant_arguments(sys.argv)
    if plant is not None:
        _plant_process(*plant)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--tags", type=int, default=1000, help="per Modbus device")
    parser.add_argument("--ua-items", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=15.0, help="per phase")
    parser.add_argument("--warmup", type=float, default=6.0)
    parser.add_argument("--no-settle-gc", dest="settle_gc", action="store_false",
                        help="leave the start-up heap to the collector (the app freezes it)")
    args = parser.parse_args()

    import logging

    import qasync

    logging.getLogger("asyncua").setLevel(logging.CRITICAL)  # shutdown noise, not results
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setQuitOnLastWindowClosed(False)
    qasync.run(_measure(args))


if __name__ == "__main__":
    main()
