"""Benchmark: how fast the outbox drains to the MES (the local simulator).

Run: python tests/bench/bench_outbox_drain.py [--items 2000]

``--items`` confirmed production events with their outbox rows on a SQLite file (the
station's settings: WAL, synchronous=FULL for the outbox), then the OutboxSender posts
them all to the MES simulator on 127.0.0.1 (one HTTP session, claims per batch, one
durable write per answer). Baseline in the same run: a naive sender that opens a new
connection per transaction and reads the queue again for every item.

Goal (issue 11): >= 200 transactions/s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hmi.core.site import MesLink
from hmi.mes.sender import OutboxSender
from hmi.sim.mes import MesSimulator
from hmi.store.database import open_database
from hmi.store.events import EventRepository
from hmi.store.outbox import OutboxRepository
from tests.mes.test_two_senders import queue

GOAL = 200.0
API_KEY = "bench-key"


async def ours(outbox: OutboxRepository, sim: MesSimulator) -> float:
    link = MesLink(url=sim.url, api_key_secret="mes", timeout=5.0, retry_interval=0.05)
    sender = OutboxSender(outbox, link, lambda: API_KEY)
    start = time.perf_counter()
    while outbox.counts()["pending"]:
        await sender.send_due_once()
    return time.perf_counter() - start


async def naive(outbox: OutboxRepository, sim: MesSimulator) -> float:
    """One connection per transaction; the queue read again for each item."""
    start = time.perf_counter()
    while True:
        due = outbox.due(time.time(), 1)
        if not due:
            break
        item = due[0]
        async with aiohttp.ClientSession() as session, session.post(
                sim.url, data=item.payload.encode(), headers={
                    "Content-Type": "application/json", "X-API-Key": API_KEY,
                    "Idempotency-Key": item.id}) as response:
            await response.text()
            outbox.mark_sent(item.id, response.status, time.time())
    return time.perf_counter() - start


async def measure(items: int) -> None:
    sim = MesSimulator(api_key=API_KEY)
    await sim.start()
    try:
        figures = {}
        for name, run in (("ours", ours), ("naive", naive)):
            folder = Path(tempfile.mkdtemp(prefix="hmi-drain-"))
            db = open_database(folder / "hmi.sqlite3")
            try:
                queue(EventRepository(db), items)
                seconds = await run(OutboxRepository(db), sim)
            finally:
                db.close()
            figures[name] = items / seconds
            print(f"{name}: {items:,} transactions in {seconds:.2f} s = "
                  f"{figures[name]:.0f} transactions/s")
        print(f"ratio ours/naive: {figures['ours'] / figures['naive']:.1f}x; goal >= "
              f"{GOAL:g}/s: {'met' if figures['ours'] >= GOAL else 'NOT met'}")
    finally:
        await sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(measure(args.items))


if __name__ == "__main__":
    main()
