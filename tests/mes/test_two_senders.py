"""Two senders on one store, in two processes (a second station, or a service and a
window started by mistake): no transaction is posted twice, and the MES gets them in the
order they were queued. SQLite file here; PostgreSQL too in .ci/run."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from hmi.core.events import ProductionEvent
from hmi.core.site import MesLink
from hmi.mes.payloads import production_performance
from hmi.mes.sender import OutboxSender
from hmi.sim.mes import MesSimulator
from hmi.store.database import open_database
from hmi.store.events import EventRepository
from hmi.store.outbox import OutboxRepository
from tests.store.test_historian_fixtures import BACKENDS, database_url

API_KEY = "two-senders-key"
ITEMS = 200
SECOND = Path(__file__).with_name("second_sender.py")


def queue(events: EventRepository, count: int) -> list[str]:
    """``count`` confirmed events, each with its outbox row; their keys in queue order."""
    keys = []
    start = time.time()
    for k in range(count):
        event = ProductionEvent(str(uuid.uuid4()), "count", "L1", start + k, start + k + 1,
                                10, 0, "pcs", True)
        events.add(event)
        key = str(uuid.uuid4())
        body = production_performance(event, key, "alice", "", start + k)
        events.confirm(event.event_id, "alice", "", body, start + k * 0.001, key)
        keys.append(key)
    return keys


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_two_senders_in_two_processes_never_post_one_transaction_twice(
        backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        db = open_database(url)
        try:
            keys = queue(EventRepository(db), ITEMS)
            outbox = OutboxRepository(db)

            async def scenario() -> tuple[int, int, MesSimulator]:
                sim = MesSimulator(api_key=API_KEY)
                sim.latency = 0.02  # 200 posts take seconds: both senders get to work
                await sim.start()
                try:
                    other = await asyncio.create_subprocess_exec(
                        sys.executable, str(SECOND), url, sim.url, API_KEY, "60",
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                    sender = OutboxSender(outbox, MesLink(
                        url=sim.url, api_key_secret="mes", timeout=2.0, retry_interval=0.05),
                        lambda: API_KEY, batch_size=5)
                    mine = 0
                    deadline = time.monotonic() + 60
                    while outbox.counts()["pending"] and time.monotonic() < deadline:
                        mine += await sender.send_due_once()
                        await asyncio.sleep(0.001)
                    out, err = await asyncio.wait_for(other.communicate(), 90)
                    assert other.returncode == 0, err.decode()
                    return mine, int(out.decode().split()[-1]), sim
                finally:
                    await sim.stop()

            mine, theirs, sim = asyncio.run(scenario())
        finally:
            db.close()
    assert outbox is not None
    assert mine + theirs == ITEMS
    assert mine > 0 and theirs > 0, "both senders took part"
    assert max(sim.posts_per_key.values()) == 1  # no transaction posted twice
    assert sorted(sim.posts_per_key) == sorted(keys)
    assert [r["idempotency_key"] for r in sim.received] == keys  # in queue order
