"""Benchmark: change-to-bus latency and cost of block-coalesced Modbus polling.

Run: python tests/bench/bench_modbus_latency.py --tags 1000 --seconds 10

A ModbusRegisterServer serves N holding registers; a changer task changes every
register once a second at a random phase; a ModbusTcpWorker polls N uint16 tags at
1 Hz. For each change we record the time from the server-side change to the moment
the matching Sample reaches the TagBus. Then the same run with a naive worker (one
request per tag). The simulated PLC runs in a child process, so the CPU share printed
is the HMI side's alone. A change that is overwritten before the next poll is never
seen (as on a real PLC); those are counted, not timed.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hmi.core.datatypes import DataType
from hmi.core.samples import Sample
from hmi.core.site import Device, DeviceKind, ModbusAddress, RegisterTable, Tag
from hmi.devices.modbus import ModbusTcpWorker
from hmi.sim.modbus_server import ModbusRegisterServer


@dataclass
class RunResult:
    name: str
    latencies: list[float]
    samples: int
    scans: int
    requests: int
    wall: float
    cpu: float
    changes: int

    @property
    def requests_per_scan(self) -> float:
        return self.requests / self.scans if self.scans else float("nan")

    @property
    def scan_rate(self) -> float:
        return self.scans / self.wall

    @property
    def cpu_share(self) -> float:
        return self.cpu / self.wall

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _plc_process(tag_count: int, seed: int, ready: Any, stop: Any, results: Any) -> None:
    """The simulated PLC, in its own process so the HMI's CPU share is the HMI's alone.

    Every register changes once a second at its own random phase; each change is
    logged as (register, value, wall time) and sent back when told to stop.
    """

    async def serve() -> None:
        server = ModbusRegisterServer(holding_count=tag_count)
        await server.start()
        ready.send(server.port)
        rng = random.Random(seed)
        phases = sorted((rng.random(), i) for i in range(tag_count))
        values = [0] * tag_count
        changes: list[tuple[int, int, float]] = []
        start, second = time.time(), 0
        while not stop.is_set():
            for phase, i in phases:
                delay = start + second + phase - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                values[i] = (values[i] + 1) & 0xFFFF
                server.set_holding(i, [values[i]])
                changes.append((i, values[i], time.time()))
            second += 1
        results.send((changes, time.process_time()))
        await server.stop()

    asyncio.run(serve())



class _Sink:
    """Where the worker hands its Samples (hmi.core.bus.SampleSink): straight to the
    benchmark's clock, no bus in between."""

    def __init__(self, on_batch: Callable[[list[Sample]], None]) -> None:
        self.put = lambda samples: on_batch(list(samples))

async def _run(name: str, tag_count: int, seconds: float, naive: bool, seed: int) -> RunResult:
    context = multiprocessing.get_context("spawn")
    ready_recv, ready_send = context.Pipe(duplex=False)
    results_recv, results_send = context.Pipe(duplex=False)
    stop = context.Event()
    plc = context.Process(
        target=_plc_process, args=(tag_count, seed, ready_send, stop, results_send)
    )
    plc.start()
    port = await asyncio.to_thread(ready_recv.recv)
    device = Device("bench", DeviceKind.MODBUS_TCP, port=port, poll_interval=1.0, timeout=5.0)
    tags = [
        Tag(f"R{i}", "bench", ModbusAddress(RegisterTable.HOLDING_REGISTER, i), DataType.UINT16)
        for i in range(tag_count)
    ]
    index = {tag.name: i for i, tag in enumerate(tags)}
    limits = {"max_registers": 1, "max_bits": 1, "max_gap": -1} if naive else {}

    seen: dict[tuple[int, int], float] = {}  # (register, value) -> first time on the bus
    counts = {"samples": 0, "scans": 0}
    window = [0.0, 0.0]  # wall-clock start and end of the measured interval
    measuring = False

    def on_batch(batch: list[Sample]) -> None:
        now = time.time()
        if not measuring:
            return
        counts["samples"] += len(batch)
        counts["scans"] += 1
        for sample in batch:
            seen.setdefault((index[sample.tag], int(sample.value or 0)), now)

    worker = ModbusTcpWorker(device, tags, _Sink(on_batch), **limits)  # type: ignore[arg-type]
    poller = asyncio.create_task(worker.run())
    await asyncio.sleep(1.5)  # connect and warm up
    requests0 = worker.requests
    cpu0, wall0 = time.process_time(), time.perf_counter()
    window[0] = time.time()
    measuring = True
    await asyncio.sleep(seconds)
    measuring = False
    window[1] = time.time()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    requests = worker.requests - requests0
    await worker.stop()
    await asyncio.gather(poller, return_exceptions=True)
    stop.set()
    changes, _plc_cpu = await asyncio.to_thread(results_recv.recv)
    await asyncio.to_thread(plc.join, 10)
    # A change counts if it was made inside the window and a full poll period before
    # its end (later ones could not have been read yet).
    measured = [c for c in changes if window[0] <= c[2] <= window[1] - 1.0]
    latencies = [seen[(i, v)] - t for i, v, t in measured if (i, v) in seen]
    return RunResult(name, latencies, counts["samples"], counts["scans"], requests, wall, cpu,
                     len(measured))


def _report(result: RunResult) -> None:
    print(f"[{result.name}]")
    print(f"  changes made / seen:   {result.changes} / {len(result.latencies)}")
    print(f"  latency p50 / p99:     {result.percentile(0.5) * 1000:8.1f} ms / "
          f"{result.percentile(0.99) * 1000:8.1f} ms"
          + (f"  (mean {statistics.fmean(result.latencies) * 1000:.1f} ms)"
             if result.latencies else ""))
    print(f"  samples/s:             {result.samples / result.wall:10.1f}")
    print(f"  scans/s:               {result.scan_rate:10.2f}")
    print(f"  requests per scan:     {result.requests_per_scan:10.1f}")
    print(f"  CPU share of one core: {result.cpu_share * 100:9.1f} %")


async def main_async(tags: int, seconds: float, seed: int) -> None:
    ours = await _run("block-coalesced (ours)", tags, seconds, naive=False, seed=seed)
    _report(ours)
    naive = await _run("naive: one request per tag", tags, seconds, naive=True, seed=seed)
    _report(naive)
    print("[ratios naive/ours]")
    print(f"  requests per scan:     {naive.requests_per_scan / ours.requests_per_scan:10.1f}x")
    print(f"  CPU share:             {naive.cpu_share / ours.cpu_share:10.1f}x")
    print(f"  CPU per scan:          "
          f"{(naive.cpu / max(naive.scans, 1)) / (ours.cpu / max(ours.scans, 1)):10.1f}x")
    print(f"  scan rate:             {naive.scan_rate / ours.scan_rate:10.2f}x")
    print(f"  latency p50:           {naive.percentile(0.5) / ours.percentile(0.5):10.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"{args.tags} uint16 holding-register tags, poll 1 Hz, {args.seconds:g} s per run")
    asyncio.run(main_async(args.tags, args.seconds, args.seed))


if __name__ == "__main__":
    main()
