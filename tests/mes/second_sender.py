"""A second outbox sender in a process of its own, on the same store as the test's:
`python tests/mes/second_sender.py DB_URL MES_URL API_KEY SECONDS [OWNER]`. Sends until the
store has nothing pending for half a second (or SECONDS pass); prints how many it sent."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hmi.core.site import MesLink
from hmi.mes.sender import OutboxSender
from hmi.store.database import open_database
from hmi.store.outbox import OutboxRepository


async def main(db_url: str, mes_url: str, key: str, seconds: float, owner: str = "") -> int:
    db = open_database(db_url)
    outbox = OutboxRepository(db)
    link = MesLink(url=mes_url, api_key_secret="mes", timeout=2.0, retry_interval=0.05)
    sender = OutboxSender(outbox, link, lambda: key, batch_size=5, owner=owner)
    sent, quiet_since, deadline = 0, None, time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            sent += await sender.send_due_once()
            if outbox.counts()["pending"] == 0:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 0.5:
                    break
            else:
                quiet_since = None
            await asyncio.sleep(0.001)
    finally:
        db.close()
    return sent


if __name__ == "__main__":
    owner = sys.argv[5] if len(sys.argv) > 5 else ""
    print(asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), owner)))
