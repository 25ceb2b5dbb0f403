"""`hmi outbox list` and `hmi outbox retry`: the MES outbox on the station's store.

``list`` shows what waits, what was sent and what the MES rejected (with its reason),
newest first; ``--status`` narrows it, ``--json`` for scripts. ``retry ID --as USER``
sends a rejected transaction again once its cause is put right at the MES, through the
service the screens use (permission ``retry_mes``, audited with the reason); a running
station's sender picks it up at its next pass (the outbox is shared through the store).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from hmi.commands.login import EXIT_OK, CommandError, Passwords, Station, existing_database, guarded
from hmi.core.outbox import OutboxItem, OutboxStatus
from hmi.core.security import Action, InputRejectedError, PermissionDeniedError
from hmi.services.production import OutboxQueue
from hmi.store.database import StoreError
from hmi.store.outbox import OutboxRepository


@guarded("outbox list")
def cmd_list(args: argparse.Namespace) -> int:
    database = existing_database(args)
    try:
        status = OutboxStatus(args.status) if args.status else None
        items = OutboxRepository(database).list(status)
    finally:
        database.close()
    if args.json:
        print(json.dumps([_as_json(item) for item in items], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not items:
        print("the outbox is empty" + (f" ({args.status})" if args.status else ""))
        return EXIT_OK
    print(f"{'STATUS':<9} {'QUEUED':<19} {'TRIES':>5} {'ID':<36} REASON")
    for item in items:
        print(f"{item.status.value:<9} {_local(item.created_at):<19} {item.attempts:>5} "
              f"{item.id:<36} {item.last_error[:120]}")
    return EXIT_OK


@guarded("outbox retry")
def cmd_retry(args: argparse.Namespace) -> int:
    passwords = Passwords(args.password_stdin)
    station = Station.open(args, create=False)
    try:
        actor, _ = station.log_in(args.as_user, passwords, "outbox retry", Action.RETRY_MES)
        queue = OutboxQueue(OutboxRepository(station.database), lambda: None, station.guard)
        try:
            asyncio.run(queue.retry(args.id, actor, args.reason))
        except (InputRejectedError, PermissionDeniedError, StoreError) as exc:
            raise CommandError(str(exc)) from None
    finally:
        station.close()
    print(f"{args.id}: queued to be sent again")
    return EXIT_OK


def _local(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def _as_json(item: OutboxItem) -> dict[str, object]:
    return {"id": item.id, "kind": item.kind, "status": item.status.value,
            "created_at": item.created_at, "attempts": item.attempts,
            "last_error": item.last_error, "http_status": item.http_status,
            "sent_at": item.sent_at, "payload": json.loads(item.payload)}
