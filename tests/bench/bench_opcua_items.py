"""Benchmark: 5,000 OPC UA items at 100 ms, OpcUaWorker subscription vs naive polling.

Run: python tests/bench/bench_opcua_items.py [--items 5000 --seconds 10 --baselines per-node,batch]

An asyncua server in a CHILD process (spawn) holds ``--items`` Double variables and
rewrites every one of them each 100 ms with Server.write_attribute_value (the direct
path that still fires the data-change callbacks of monitored items); it records when
each full pass ends, so the rate the server really achieved in each measured window is
printed next to what the HMI received. In the HMI process:

- ours: OpcUaWorker, Device(poll_interval=0.1), Tags with scan_interval=0.1: one
  subscription, 100 ms sampling and publishing, every item monitored;
- naive "per-node": what a quick integration does: ``await node.read_data_value()`` for
  each node in turn, a pass every 100 ms (or back to back when a pass takes longer),
  publishing each value to the TagBus as a Sample;
- "batch": the better quick integration: one Read service call for all nodes
  (Client.read_attributes) every 100 ms.

Printed per run: data-change updates/s delivered to the TagBus, passes/s, the HMI
process's share of one core and its CPU per delivered update; then the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.server.server import Server

from hmi.core.datatypes import DataType
from hmi.core.samples import Quality, Sample
from hmi.core.site import Device, DeviceKind, OpcUaAddress, Tag
from hmi.devices.opcua import OpcUaWorker
from hmi.sim.opcua_server import free_port, quiet_asyncua_server_logs

PERIOD = 0.1  # seconds: the server's change rate and the HMI's sampling/publishing rate
NAMESPACE = "urn:hmi:bench"
FIRST_ID = 1000  # numeric node ids FIRST_ID.. in the bench namespace
YIELD_EVERY = 250  # server writes between two yields to its event loop
WARMUP = 3.0  # seconds: connect, create 5,000 monitored items, first full publish


def _server_process(items: int, ready: Any, stop: Any, results: Any) -> None:
    """The OPC UA server; rewrites every variable each PERIOD, logging each pass's end."""

    async def serve() -> None:
        quiet_asyncua_server_logs()
        server = Server()
        await server.init()
        endpoint = f"opc.tcp://127.0.0.1:{free_port()}/bench/"
        server.set_endpoint(endpoint)
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        idx = await server.register_namespace(NAMESPACE)
        folder = await server.nodes.objects.add_folder(f"ns={idx};s=Bench", "Bench")
        node_ids = []
        for i in range(items):
            node = await folder.add_variable(
                f"ns={idx};i={FIRST_ID + i}", f"V{i}", ua.Variant(0.0, ua.VariantType.Double)
            )
            node_ids.append(node.nodeid)
        await server.start()
        ready.send((endpoint, idx))
        passes: list[float] = []  # wall time at the end of each full pass
        next_pass = time.perf_counter()
        n = 0
        try:
            while not stop.is_set():
                n += 1
                now = ua.DateTime.now(dt.UTC)
                for k, node_id in enumerate(node_ids):
                    value = ua.DataValue(
                        ua.Variant(float(n * 10_000 + k), ua.VariantType.Double),
                        SourceTimestamp=now,
                        ServerTimestamp=now,
                    )
                    await server.write_attribute_value(node_id, value)
                    if k % YIELD_EVERY == YIELD_EVERY - 1:
                        # write_attribute_value never suspends: let the server answer
                        # requests and publish while a pass is under way
                        await asyncio.sleep(0)
                passes.append(time.time())
                next_pass += PERIOD
                delay = next_pass - time.perf_counter()
                if delay < 0:
                    next_pass = time.perf_counter()  # behind: do not try to catch up
                await asyncio.sleep(max(0.0, delay))
        finally:
            results.send((passes, time.process_time()))
            await server.stop()

    asyncio.run(serve())


@dataclass
class RunResult:
    name: str
    updates: int
    bad: int
    passes: int  # HMI-side passes (polling) or -1 for the subscription
    wall: float
    cpu: float
    window: tuple[float, float]  # wall-clock start, end
    server_passes: float = 0.0  # full server passes per second within the window

    @property
    def rate(self) -> float:
        return self.updates / self.wall

    @property
    def cpu_share(self) -> float:
        return self.cpu / self.wall

    @property
    def cpu_per_update_us(self) -> float:
        return self.cpu / self.updates * 1e6 if self.updates else float("nan")


def _tags(items: int, idx: int) -> list[Tag]:
    return [
        Tag(
            f"V{i}",
            "bench-ua",
            OpcUaAddress(f"ns={idx};i={FIRST_ID + i}"),
            DataType.FLOAT64,
            scan_interval=PERIOD,
        )
        for i in range(items)
    ]


class _Counter:
    """The sink the samples are handed to (hmi.core.bus.SampleSink): counts the GOOD (and
    not GOOD) ones while measuring."""

    def __init__(self) -> None:
        self.measuring = False
        self.updates = 0
        self.bad = 0

    def put(self, batch: Sequence[Sample], /) -> None:
        if self.measuring:
            for sample in batch:
                if sample.quality is Quality.GOOD:
                    self.updates += 1
                else:
                    self.bad += 1


async def _measure(
    name: str, seconds: float, counter: _Counter, passes: Callable[[], int]
) -> RunResult:
    await asyncio.sleep(WARMUP)
    passes0 = passes()
    cpu0, wall0, start = time.process_time(), time.perf_counter(), time.time()
    counter.measuring = True
    await asyncio.sleep(seconds)
    counter.measuring = False
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    done = passes() - passes0 if passes0 >= 0 else -1
    return RunResult(name, counter.updates, counter.bad, done, wall, cpu, (start, time.time()))


async def run_subscription(endpoint: str, idx: int, items: int, seconds: float) -> RunResult:
    counter = _Counter()
    device = Device(
        "bench-ua", DeviceKind.OPCUA, endpoint=endpoint, poll_interval=PERIOD, timeout=10.0
    )
    worker = OpcUaWorker(device, _tags(items, idx), counter)
    task = asyncio.create_task(worker.run())
    try:
        return await _measure("subscription (ours: OpcUaWorker)", seconds, counter, lambda: -1)
    finally:
        await worker.stop()
        await asyncio.gather(task, return_exceptions=True)


async def _poll_loop(
    client: Client,
    nodes: list[Node],
    read_pass: Callable[[], Awaitable[None]],
    count: list[int],
) -> None:
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await read_pass()
        count[0] += 1
        await asyncio.sleep(max(0.0, started + PERIOD - loop.time()))


def _sample(tag: str, value: ua.DataValue, now: float) -> Sample:
    status = value.StatusCode
    if status is not None and not status.is_good():
        return Sample(tag, None, Quality.BAD, now, now, f"opcua: {status.name}")
    raw = value.Value.Value if value.Value is not None else None
    return Sample(tag, raw, Quality.GOOD, now, now)


async def run_polling(
    endpoint: str, idx: int, items: int, seconds: float, batch: bool
) -> RunResult:
    counter = _Counter()
    client = Client(url=endpoint, timeout=10.0)
    await client.connect()
    nodes = [client.get_node(f"ns={idx};i={FIRST_ID + i}") for i in range(items)]
    names = [f"V{i}" for i in range(items)]
    count = [0]

    async def per_node() -> None:
        for name, node in zip(names, nodes, strict=True):
            value = await node.read_data_value()
            counter.put([_sample(name, value, time.time())])

    async def one_read() -> None:
        values = await client.read_attributes(nodes)
        now = time.time()
        counter.put([_sample(n, v, now) for n, v in zip(names, values, strict=True)])

    task = asyncio.create_task(
        _poll_loop(client, nodes, one_read if batch else per_node, count)
    )
    name = (
        "batch: one Read of all nodes per 100 ms"
        if batch
        else "naive: one Read per node, passes every 100 ms"
    )
    try:
        return await _measure(name, seconds, counter, lambda: count[0])
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.wait_for(client.disconnect(), timeout=5.0)


def report(result: RunResult, items: int) -> None:
    print(f"[{result.name}]")
    print(
        f"  server passes/s in window:   {result.server_passes:8.2f}   (target {1 / PERIOD:g};"
        f" {result.server_passes * items:,.0f} value changes/s)"
    )
    print(f"  updates/s to the TagBus:     {result.rate:10,.0f}   (not GOOD: {result.bad})")
    if result.passes >= 0:
        print(f"  HMI read passes/s:           {result.passes / result.wall:8.2f}")
    print(f"  updates per item per s:      {result.rate / items:8.2f}")
    print(f"  HMI CPU share of a core:     {result.cpu_share * 100:7.1f} %")
    print(f"  HMI CPU per update:          {result.cpu_per_update_us:8.1f} us")


async def main_async(items: int, seconds: float, baselines: list[str]) -> None:
    context = multiprocessing.get_context("spawn")
    ready_recv, ready_send = context.Pipe(duplex=False)
    results_recv, results_send = context.Pipe(duplex=False)
    stop = context.Event()
    server = context.Process(target=_server_process, args=(items, ready_send, stop, results_send))
    server.start()
    results: list[RunResult] = []
    try:
        endpoint, idx = await asyncio.wait_for(asyncio.to_thread(ready_recv.recv), 120)
        print(f"server ready at {endpoint} with {items} Double variables")
        results.append(await run_subscription(endpoint, idx, items, seconds))
        for baseline in baselines:
            batch = baseline == "batch"
            results.append(await run_polling(endpoint, idx, items, seconds, batch))
    finally:
        stop.set()
        passes, _server_cpu = await asyncio.wait_for(asyncio.to_thread(results_recv.recv), 30)
        await asyncio.to_thread(server.join, 10)
        if server.is_alive():
            server.terminate()
    for result in results:
        start, end = result.window
        result.server_passes = sum(1 for t in passes if start <= t <= end) / (end - start)
        report(result, items)
    ours = results[0]
    print("[ratios baseline/ours]")
    for other in results[1:]:
        print(
            f"  {other.name.split(':')[0]:8s} updates/s {other.rate / ours.rate:7.3f}x   "
            f"CPU share {other.cpu_share / ours.cpu_share:6.2f}x   "
            f"CPU per update {other.cpu_per_update_us / ours.cpu_per_update_us:7.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--baselines", default="per-node,batch", help="comma-separated: per-node, batch (or empty)"
    )
    args = parser.parse_args()
    baselines = [b for b in args.baselines.split(",") if b]
    for baseline in baselines:
        if baseline not in ("per-node", "batch"):
            parser.error(f"unknown baseline {baseline!r}")
    print(
        f"{args.items} Double items changing every {PERIOD * 1000:g} ms, {args.seconds:g} s per run"
    )
    asyncio.run(main_async(args.items, args.seconds, baselines))


if __name__ == "__main__":
    main()
