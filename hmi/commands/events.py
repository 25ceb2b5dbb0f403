"""`hmi events list` and `hmi events confirm`: production events on the station's store.

``list`` shows the events waiting for an operator (``--all``: confirmed ones too), with
their periods and counts; ``--json`` for scripts. ``confirm ID --as USER`` confirms one
through the service the screens use (permission confirm_event, the comment checked,
signed with the --as password where the site asks, the confirmation, its MES
transaction and the audit row in one transaction); a running station's sender posts it
at its next pass (the outbox is shared through the store).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from hmi.commands.login import EXIT_OK, CommandError, Passwords, Station, existing_database, guarded
from hmi.config import load_site
from hmi.core.events import EventState, ProductionEvent
from hmi.core.security import Action, InputRejectedError, PermissionDeniedError
from hmi.security.session import Session
from hmi.services.production import (
    EventAlreadyConfirmedError,
    ProductionService,
    UnknownEventError,
)
from hmi.store.database import StoreError
from hmi.store.events import EventRepository


@guarded("events list")
def cmd_list(args: argparse.Namespace) -> int:
    database = existing_database(args)
    try:
        events = EventRepository(database)
        found = events.between(float("-inf"), float("inf")) if args.all else events.pending()
    finally:
        database.close()
    if args.json:
        print(json.dumps([_as_json(e) for e in found], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not found:
        print("no production events" + ("" if args.all else " waiting for an operator"))
        return EXIT_OK
    print(f"{'STATE':<9} {'FROM':<16} {'TO':<5} {'GOOD':>8} {'REJECT':>7} {'UNIT':<8} "
          f"{'ID':<36} LINE")
    for event in found:
        note = "" if event.complete else "  (counter offline part of the period)"
        print(f"{event.state.value:<9} {_local(event.period_start):<16} "
              f"{time.strftime('%H:%M', time.localtime(event.period_end)):<5} "
              f"{event.good_count:>8,} {event.reject_count:>7,} {event.unit:<8} "
              f"{event.event_id:<36} {event.line}{note}")
    return EXIT_OK


@guarded("events confirm")
def cmd_confirm(args: argparse.Namespace) -> int:
    site = load_site(args.config)
    station = Station.open(args, create=False, settings=site.security)
    try:
        session = Session(station.auth)
        actor, password = station.log_in(args.as_user, Passwords(args.password_stdin),
                                         "events confirm", Action.CONFIRM_EVENT,
                                         session=session)
        meaning = site.security.meaning(Action.CONFIRM_EVENT)
        signature = (session.sign(Action.CONFIRM_EVENT, meaning, password, actor.name)
                     if meaning else None)
        service = ProductionService(EventRepository(station.database), lambda: None,
                                    station.guard)
        try:
            outbox_id = asyncio.run(service.confirm(args.id, actor, args.comment,
                                                    signature))
        except (InputRejectedError, PermissionDeniedError, UnknownEventError,
                EventAlreadyConfirmedError, StoreError, ValueError) as exc:
            raise CommandError(str(exc)) from None
    finally:
        station.close()
    print(f"{args.id}: confirmed; MES transaction {outbox_id} queued")
    return EXIT_OK


def _local(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def _as_json(event: ProductionEvent) -> dict[str, object]:
    return {"id": event.event_id, "rule": event.rule, "line": event.line,
            "state": event.state.value, "period_start": event.period_start,
            "period_end": event.period_end, "good": event.good_count,
            "reject": event.reject_count, "unit": event.unit, "complete": event.complete,
            "confirmed": event.state is EventState.CONFIRMED}
