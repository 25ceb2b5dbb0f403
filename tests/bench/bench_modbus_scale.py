"""Benchmark: many Modbus TCP devices at 1 Hz, block-coalesced workers vs one request per tag.

Run: python tests/bench/bench_modbus_scale.py [--devices 10 --tags 1000 --seconds 10]

Each device is a ModbusRegisterServer whose holding registers carry ``--tags`` tags in
contiguous blocks of one type (uint16 counters and states, int32 totals, float32
measurements; 50 tags a block, a few spare registers between blocks, as PLC memory
maps are laid out). All servers run in one CHILD process (spawn) and change every value
once a second, so the CPU share printed is the HMI process's alone. In the HMI process
one ModbusTcpWorker per device polls at 1 Hz onto one TagBus: first ours
(block-coalesced), then the naive baseline (max_registers=1, max_bits=1, max_gap=-1:
one request per tag), each against a fresh child (a plain subprocess this benchmark
reaps itself, tests/bench/plant_process.py). The naive run cannot keep 1 Hz; its
achieved scan rate is reported as measured, and CPU is compared per scan as well as as
a share of a core. Goal: >= 20x fewer requests per scan, >= 10x less CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hmi.core.bus import TagBus
from hmi.core.datatypes import DataType, encode_value
from hmi.core.samples import Quality
from hmi.core.site import Device, DeviceKind, ModbusAddress, RegisterTable, Tag
from hmi.devices.modbus import ModbusTcpWorker
from hmi.sim.modbus_server import ModbusRegisterServer
from tests.bench.plant_process import PlantProcess, PlantSide, plant_arguments

BLOCK_TAGS = 50  # tags of one type in a row
SPARE = 4  # unused registers after each block (room the PLC programmer left)
TYPE_CYCLE = (DataType.UINT16, DataType.INT32, DataType.FLOAT32, DataType.FLOAT32)
WARMUP = 2.0  # seconds to connect and settle before measuring


def tag_layout(count: int) -> list[tuple[int, DataType]]:
    """(register offset, type) of each tag of one device."""
    layout: list[tuple[int, DataType]] = []
    offset = 0
    for block in range(-(-count // BLOCK_TAGS)):
        data_type = TYPE_CYCLE[block % len(TYPE_CYCLE)]
        for _ in range(min(BLOCK_TAGS, count - len(layout))):
            layout.append((offset, data_type))
            offset += data_type.register_count
        offset += SPARE
    return layout


def register_count(layout: list[tuple[int, DataType]]) -> int:
    offset, data_type = layout[-1]
    return offset + data_type.register_count


def _value(data_type: DataType, i: int, second: int) -> int | float:
    if data_type is DataType.UINT16:
        return (i + second) & 0xFFFF
    if data_type is DataType.INT32:
        return 100_000 * i - second
    return 0.25 * i + 0.5 * second


def _image(layout: list[tuple[int, DataType]], second: int) -> list[int]:
    registers = [0] * register_count(layout)
    for i, (offset, data_type) in enumerate(layout):
        words = encode_value(_value(data_type, i, second), data_type)
        registers[offset : offset + len(words)] = words
    return registers


def _plc_process(devices: int, tags: int) -> None:
    """All simulated PLCs, in one child process; every value changes once a second."""
    parent = PlantSide()

    async def serve() -> None:
        layout = tag_layout(tags)
        size = register_count(layout)
        servers = [ModbusRegisterServer(holding_count=size) for _ in range(devices)]
        for server in servers:
            await server.start()
        images = [_image(layout, s) for s in range(2)]  # alternate: every value changes
        for server in servers:
            server.set_holding(0, images[0])
        parent.send([server.port for server in servers])
        cpu0, wall0 = time.process_time(), time.perf_counter()
        second = 0
        while not parent.is_set():
            await asyncio.sleep(1.0 - (time.perf_counter() - wall0) % 1.0)
            second += 1
            for server in servers:
                server.set_holding(0, images[second % 2])
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        parent.send([cpu / wall, [server.requests for server in servers]])
        for server in servers:
            await server.stop()

    asyncio.run(serve())


@dataclass
class RunResult:
    name: str
    devices: int
    wall: float
    cpu: float
    requests: list[int]  # per device, in the window
    blocks: list[int]  # requests one scan of each device takes
    samples: int
    bad: int
    plc_cpu_share: float

    @property
    def scans(self) -> list[float]:
        return [r / b for r, b in zip(self.requests, self.blocks, strict=True)]

    @property
    def scan_rates(self) -> list[float]:
        return [s / self.wall for s in self.scans]

    @property
    def total_scans(self) -> float:
        return sum(self.scans)

    @property
    def requests_per_scan(self) -> float:
        return sum(self.requests) / self.total_scans if self.total_scans else float("nan")

    @property
    def cpu_share(self) -> float:
        return self.cpu / self.wall

    @property
    def cpu_per_scan(self) -> float:
        return self.cpu / self.total_scans if self.total_scans else float("nan")


def make_tags(device: str, layout: list[tuple[int, DataType]]) -> list[Tag]:
    return [
        Tag(
            f"{device}.T{i}",
            device,
            ModbusAddress(RegisterTable.HOLDING_REGISTER, offset),
            data_type,
        )
        for i, (offset, data_type) in enumerate(layout)
    ]


async def run(name: str, devices: int, tags: int, seconds: float, naive: bool) -> RunResult:
    plc = PlantProcess(__file__, [devices, tags])
    try:
        ports: list[int] = await plc.message()
        layout = tag_layout(tags)
        bus = TagBus()
        # one request per tag: no two tags in a request, no hole read through
        per_tag = 1 if naive else None
        gap = -1 if naive else None
        workers = []
        for d, port in enumerate(ports):
            device = Device(
                f"PLC{d}", DeviceKind.MODBUS_TCP, port=port, poll_interval=1.0, timeout=5.0
            )
            tags_of_device = make_tags(device.name, layout)
            workers.append(
                ModbusTcpWorker(
                    device,
                    tags_of_device,
                    bus,
                    max_registers=per_tag,
                    max_bits=per_tag,
                    max_gap=gap,
                )
            )
        counts = {"samples": 0, "bad": 0}
        measuring = False

        queue = bus.subscribe("bench", maxsize=1_000_000)

        async def count() -> None:  # a consumer of the bus, as the runtime's are
            while batch := await queue.get():
                if measuring:
                    counts["samples"] += len(batch)
                    counts["bad"] += sum(1 for s in batch if s.quality is not Quality.GOOD)

        counter = asyncio.create_task(count(), name="count samples")
        tasks = [asyncio.create_task(w.run(), name=f"run {w.device.name}") for w in workers]
        await asyncio.sleep(WARMUP)
        requests0 = [w.requests for w in workers]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        measuring = True
        await asyncio.sleep(seconds)
        measuring = False
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        requests = [w.requests - r0 for w, r0 in zip(workers, requests0, strict=True)]
        for worker in workers:
            await worker.stop()
        _done, pending = await asyncio.wait(tasks, timeout=5.0)
        for task in pending:  # stop() returned but run() did not end: a worker bug
            print(f"  WARNING: {task.get_name()} still running 5 s after stop():", file=sys.stderr)
            task.print_stack(file=sys.stderr)
        bus.unsubscribe(queue)
        await counter
        blocks = [len(w.blocks) for w in workers]
        plc.stop()
        plc_share, _served = await plc.message(timeout=30)
    finally:
        await plc.close()
    return RunResult(
        name, devices, wall, cpu, requests, blocks, counts["samples"], counts["bad"], plc_share
    )


def report(result: RunResult) -> None:
    rates = result.scan_rates
    print(f"[{result.name}]")
    print(
        f"  scans/s per device:      min {min(rates):6.3f}  mean {statistics.fmean(rates):6.3f}"
        f"  max {max(rates):6.3f}   (target 1.000)"
    )
    print(
        f"  samples/s on the bus:    {result.samples / result.wall:10.1f}"
        f"   (not GOOD: {result.bad})"
    )
    print(f"  requests per scan:       {result.requests_per_scan:10.1f}   per device")
    print(f"  requests/s, all devices: {sum(result.requests) / result.wall:10.1f}")
    print(f"  HMI CPU share of a core: {result.cpu_share * 100:9.1f} %")
    print(f"  HMI CPU per device scan: {result.cpu_per_scan * 1000:10.2f} ms")
    print(f"  PLC child CPU share:     {result.plc_cpu_share * 100:9.1f} %   (whole child life)")


async def main_async(devices: int, tags: int, seconds: float) -> None:
    ours = await run("block-coalesced (ours)", devices, tags, seconds, naive=False)
    report(ours)
    naive = await run("naive: one request per tag", devices, tags, seconds, naive=True)
    report(naive)
    fewer = naive.requests_per_scan / ours.requests_per_scan
    share = naive.cpu_share / ours.cpu_share
    per_scan = naive.cpu_per_scan / ours.cpu_per_scan
    rate = statistics.fmean(naive.scan_rates) / statistics.fmean(ours.scan_rates)
    print("[ratios naive/ours]")
    print(
        f"  requests per scan:       {fewer:10.1f}x   goal >= 20x: "
        f"{'met' if fewer >= 20 else 'NOT met'}"
    )
    print(
        f"  CPU per device scan:     {per_scan:10.1f}x   goal >= 10x: "
        f"{'met' if per_scan >= 10 else 'NOT met'}"
    )
    print(f"  CPU share of a core:     {share:10.1f}x   (naive is capped by saturation)")
    print(f"  scan rate:               {rate:10.3f}x")


def main() -> None:
    plant = plant_arguments(sys.argv)
    if plant is not None:
        _plc_process(*plant)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    layout = tag_layout(args.tags)
    kinds = {t.value: sum(1 for _, dt in layout if dt is t) for t in set(TYPE_CYCLE)}
    print(
        f"{args.devices} devices x {args.tags} holding-register tags "
        f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}; "
        f"{register_count(layout)} registers), poll 1 Hz, {args.seconds:g} s per run"
    )
    asyncio.run(main_async(args.devices, args.tags, args.seconds))


if __name__ == "__main__":
    main()
