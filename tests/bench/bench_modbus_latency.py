"""Benchmark: change-to-bus latency and cost of block-coalesced Modbus polling.

Run: python tests/bench/bench_modbus_latency.py --tags 1000 --seconds 10

A ModbusRegisterServer serves N holding registers; a changer task changes every
register once a second at a random phase; a ModbusTcpWorker polls N uint16 tags at
1 Hz. For each change we record the time from the server-side change to the moment
the matching Sample reaches the TagBus. Then the same run with a naive worker (one
request per tag). Server, changer and worker share this process, so the CPU share
covers all three.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from dataclasses import dataclass

from hmi.core.bus import TagBus
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


async def _run(name: str, tag_count: int, seconds: float, naive: bool, seed: int) -> RunResult:
    server = ModbusRegisterServer(holding_count=tag_count)
    await server.start()
    device = Device("bench", DeviceKind.MODBUS_TCP, port=server.port, poll_interval=1.0,
                    timeout=5.0)
    tags = [
        Tag(f"R{i}", "bench", ModbusAddress(RegisterTable.HOLDING_REGISTER, i), DataType.UINT16)
        for i in range(tag_count)
    ]
    index = {tag.name: i for i, tag in enumerate(tags)}
    bus = TagBus()
    limits = {"max_registers": 1, "max_bits": 1, "max_gap": -1} if naive else {}
    worker = ModbusTcpWorker(device, tags, bus, **limits)  # type: ignore[arg-type]

    pending: dict[int, tuple[int, float]] = {}  # register -> (new value, change time)
    latencies: list[float] = []
    counts = {"samples": 0, "scans": 0, "changes": 0}
    measuring = False

    def on_batch(batch: list[Sample]) -> None:
        now = time.perf_counter()
        if not measuring:
            return
        counts["samples"] += len(batch)
        counts["scans"] += 1
        for sample in batch:
            i = index[sample.tag]
            change = pending.get(i)
            if change is not None and sample.value == change[0]:
                latencies.append(now - change[1])
                del pending[i]

    bus.add_listener(on_batch)
    rng = random.Random(seed)
    phases = sorted((rng.random(), i) for i in range(tag_count))
    values = [0] * tag_count

    async def changer() -> None:
        start = time.perf_counter()
        second = 0
        while True:
            for phase, i in phases:
                due = start + second + phase
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                values[i] = (values[i] + 1) & 0xFFFF
                server.set_holding(i, [values[i]])
                if measuring:
                    pending[i] = (values[i], time.perf_counter())
                    counts["changes"] += 1
            second += 1

    poller = asyncio.create_task(worker.run())
    changing = asyncio.create_task(changer())
    await asyncio.sleep(1.5)  # connect and warm up
    requests0 = worker.requests
    cpu0, wall0 = time.process_time(), time.perf_counter()
    measuring = True
    await asyncio.sleep(seconds)
    measuring = False
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    requests = worker.requests - requests0
    changing.cancel()
    await worker.stop()
    await asyncio.gather(poller, changing, return_exceptions=True)
    await server.stop()
    return RunResult(name, latencies, counts["samples"], counts["scans"], requests, wall, cpu,
                     counts["changes"])


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
