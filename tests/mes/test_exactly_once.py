"""The exactly-once proof: 1,000 transactions while the MES simulator loses 20 % of its
answers after processing the request, and the sending station is killed with SIGKILL
twice and started again. At the end the MES holds each transaction exactly once, in the
order they were queued, and the outbox is empty. The sender runs as a process of its
own (tests/mes/second_sender.py) with the station's identity, as a restarted station
has; the MES in this process; one SQLite file."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

import pytest

from hmi.core.outbox import OutboxStatus
from hmi.sim.mes import MesSimulator
from hmi.store.database import open_database
from hmi.store.events import EventRepository
from hmi.store.outbox import OutboxRepository
from tests.mes.test_two_senders import queue

API_KEY = "exactly-once-key"
ITEMS = 1000
SENDER = Path(__file__).with_name("second_sender.py")
STATION = "station-a:/data"  # the same identity across restarts


@pytest.mark.slow
def test_each_transaction_reaches_the_mes_once_through_lost_answers_and_two_kills(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hmi.sqlite'}"
    db = open_database(url)
    try:
        keys = queue(EventRepository(db), ITEMS)
        outbox = OutboxRepository(db)

        async def scenario() -> MesSimulator:
            sim = MesSimulator(api_key=API_KEY)
            sim.drop_answers = 0.2
            await sim.start()
            try:
                for kill_after in (150, 500, None):  # two SIGKILLs, then to the end
                    station = await asyncio.create_subprocess_exec(
                        sys.executable, str(SENDER), url, sim.url, API_KEY, "120", STATION,
                        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
                    if kill_after is None:
                        _out, err = await asyncio.wait_for(station.communicate(), 150)
                        assert station.returncode == 0, err.decode()[-2000:]
                        break
                    deadline = time.monotonic() + 60
                    while len(sim.received) < kill_after:
                        assert time.monotonic() < deadline, "the sender does not send"
                        await asyncio.sleep(0.005)
                    station.send_signal(signal.SIGKILL)  # mid-pass: claims, posts in flight
                    await station.wait()
                return sim
            finally:
                await sim.stop()

        sim = asyncio.run(scenario())
        counts = outbox.counts()
    finally:
        db.close()
    assert sim.dropped > 100  # answers were lost, a fifth of them
    assert max(sim.posts_per_key.values()) >= 2  # retried after a lost answer...
    assert [r["idempotency_key"] for r in sim.received] == keys  # ...recorded once, in order
    assert counts[OutboxStatus.PENDING.value] == 0
    assert counts[OutboxStatus.SENT.value] == ITEMS
