"""Production events: store what the recorder detects, and the operator's confirmation.

``confirm`` is the transactional outbox: the confirmation row, the event's state change
and the MES outbox row are committed together or not at all.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import SQLAlchemyError

from hmi.core.audit import AuditEntry
from hmi.core.events import EventState, OpenPeriod, ProductionEvent
from hmi.core.outbox import OutboxStatus
from hmi.store import audit
from hmi.store.audit import Clock
from hmi.store.database import Database, StoreError
from hmi.store.schema.production import (
    event_confirmations,
    outbox,
    production_events,
    production_open,
)

log = logging.getLogger(__name__)

PRODUCTION_PERFORMANCE = "ProductionPerformance"


class UnknownEventError(StoreError, LookupError):
    """No production event has this id."""


class EventAlreadyConfirmedError(StoreError):
    """The event was confirmed before (perhaps at another workstation)."""


class EventNotConfirmedError(StoreError):
    """A correction asked for an event nobody has confirmed yet."""


class EventChangedError(StoreError):
    """The event changed (at another workstation) since it was read."""


def _event_from_row(row: RowMapping) -> ProductionEvent:
    return ProductionEvent(
        event_id=row["event_id"],
        rule=row["rule"],
        line=row["line"],
        period_start=row["period_start"],
        period_end=row["period_end"],
        good_count=row["good_count"],
        reject_count=row["reject_count"],
        unit=row["unit"],
        complete=bool(row["complete"]),
        state=EventState(row["state"]),
    )


class EventRepository:
    """Synchronous; callers on the loop use asyncio.to_thread."""

    def __init__(self, db: Database, audit_clock: Clock = time.time) -> None:
        self._db = db
        self._audit_clock = audit_clock

    def add(self, event: ProductionEvent, now: float | None = None) -> None:
        row = _event_row(event, time.time() if now is None else now)
        try:
            with self._db.engine.begin() as connection:
                connection.execute(insert(production_events), row)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"could not store production event {event.event_id} in {self._db.location}: {exc}"
            ) from exc

    def record_periods(self, closed: Sequence[ProductionEvent],
                       open_periods: Sequence[OpenPeriod], now: float) -> None:
        """The events of closed periods and the rules' open periods after them, in one
        transaction: a crash never stores an event whose parts the open period still
        holds (counted twice), nor loses the parts counted since."""
        try:
            with self._db.engine.begin() as connection:
                # an event the store took already (a commit reported failed that went
                # through) is not inserted twice: the batch is retried whole
                ids = [event.event_id for event in closed]
                have = set(connection.execute(
                    select(production_events.c.event_id)
                    .where(production_events.c.event_id.in_(ids))).scalars()) if ids else set()
                for event in closed:
                    if event.event_id not in have:
                        connection.execute(insert(production_events), _event_row(event, now))
                for period in open_periods:
                    row = _open_row(period, now)
                    done = connection.execute(update(production_open)
                                              .where(production_open.c.rule == period.rule)
                                              .values(row))
                    if done.rowcount == 0:
                        connection.execute(insert(production_open).values(row))
        except SQLAlchemyError as exc:
            raise StoreError(f"could not store {len(closed)} production events and the "
                             f"open periods in {self._db.location}: {exc}") from exc

    def open_periods(self) -> dict[str, OpenPeriod]:
        """The rules' open periods as last stored (by rule name)."""
        with self._db.engine.connect() as connection:
            rows = connection.execute(select(production_open)).mappings().all()
        return {row["rule"]: OpenPeriod(
            row["rule"], row["period_start"], row["good_last"], row["good_total"],
            bool(row["good_gap"]), row["reject_last"], row["reject_total"],
            bool(row["reject_gap"])) for row in rows}

    def get(self, event_id: str) -> ProductionEvent | None:
        with self._db.engine.connect() as connection:
            row = (
                connection.execute(
                    select(production_events).where(production_events.c.event_id == event_id)
                )
                .mappings()
                .first()
            )
        return None if row is None else _event_from_row(row)

    def pending(self) -> list[ProductionEvent]:
        """Events waiting for an operator, oldest period first."""
        query = (
            select(production_events)
            .where(production_events.c.state == EventState.PENDING.value)
            .order_by(production_events.c.period_start, production_events.c.event_id)
        )
        with self._db.engine.connect() as connection:
            return [_event_from_row(row) for row in connection.execute(query).mappings()]

    def between(self, start: float, end: float) -> list[ProductionEvent]:
        """Events whose period overlaps [start, end), pending or confirmed, by start."""
        query = (
            select(production_events)
            .where(production_events.c.period_end > start)
            .where(production_events.c.period_start < end)
            .order_by(production_events.c.period_start, production_events.c.event_id)
        )
        with self._db.engine.connect() as connection:
            return [_event_from_row(row) for row in connection.execute(query).mappings()]

    def confirm(
        self,
        event_id: str,
        user: str,
        comment: str,
        payload: dict[str, Any],
        now: float,
        outbox_id: str | None = None,
        kind: str = PRODUCTION_PERFORMANCE,
        audit_entry: AuditEntry | None = None,
    ) -> str:
        """Confirm a pending event and queue its MES transaction, in one transaction
        (with ``audit_entry``, the audit row that records it, in the same one).

        Returns the outbox id (the Idempotency-Key). ``payload`` should already carry
        ``outbox_id`` as its transaction id; the caller chooses it for that reason.
        Raises UnknownEventError / EventAlreadyConfirmedError, and StoreError when the
        database refuses (in which case nothing at all was written).
        """
        outbox_id = outbox_id or str(uuid.uuid4())
        payload_text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        try:
            with self._db.engine.begin() as connection:
                quantity = self._claim_pending(connection, event_id)
                connection.execute(
                    insert(event_confirmations),
                    {
                        "event_id": event_id,
                        "confirmed_by": user,
                        "comment": comment,
                        "confirmed_at": now,
                        "quantity": quantity,
                    },
                )
                connection.execute(
                    insert(outbox),
                    {
                        "id": outbox_id,
                        "kind": kind,
                        "payload": payload_text,
                        "created_at": now,
                        "status": OutboxStatus.PENDING.value,
                        "attempts": 0,
                        "last_error": "",
                        "next_attempt_at": now,
                    },
                )
                if audit_entry is not None:
                    audit.append(connection, audit_entry, self._audit_clock)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"could not confirm production event {event_id} in {self._db.location}: "
                f"{exc}; nothing was written"
            ) from exc
        log.info("event %s confirmed by %s; outbox %s queued", event_id, user, outbox_id)
        return outbox_id

    def amend(
        self,
        event: ProductionEvent,
        good_count: int,
        reject_count: int,
        payload: dict[str, Any],
        now: float,
        outbox_id: str,
        audit_entry: AuditEntry,
        kind: str = PRODUCTION_PERFORMANCE,
    ) -> None:
        """Correct a confirmed event's counts, queue the corrected MES transaction and
        write the audit row, in one transaction. ``event`` is the event as the caller
        read it: if another workstation changed it since, nothing is written."""
        payload_text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        c = production_events.c
        try:
            with self._db.engine.begin() as connection:
                done = connection.execute(
                    update(production_events)
                    .where(c.event_id == event.event_id)
                    .where(c.state == EventState.CONFIRMED.value)
                    .where(c.good_count == event.good_count)
                    .where(c.reject_count == event.reject_count)
                    .values(good_count=good_count, reject_count=reject_count))
                if done.rowcount != 1:
                    state = connection.execute(
                        select(c.state).where(c.event_id == event.event_id)).scalar()
                    if state is None:
                        raise UnknownEventError(f"there is no production event {event.event_id}")
                    if state != EventState.CONFIRMED.value:
                        raise EventNotConfirmedError(
                            f"production event {event.event_id} is not confirmed yet: "
                            "confirm it with the right quantity instead")
                    raise EventChangedError(
                        f"production event {event.event_id} was changed at another "
                        "workstation meanwhile: look at it again and correct it then")
                connection.execute(insert(outbox), {
                    "id": outbox_id, "kind": kind, "payload": payload_text, "created_at": now,
                    "status": OutboxStatus.PENDING.value, "attempts": 0, "last_error": "",
                    "next_attempt_at": now})
                audit.append(connection, audit_entry, self._audit_clock)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"could not correct production event {event.event_id} in "
                f"{self._db.location}: {exc}; nothing was written") from exc

    @staticmethod
    def _claim_pending(connection: Connection, event_id: str) -> int:
        """Move the event to CONFIRMED if it is PENDING; return its good count."""
        # A conditional UPDATE, not read-then-write: two workstations confirming the
        # same event cannot both succeed.
        result = connection.execute(
            update(production_events)
            .where(production_events.c.event_id == event_id)
            .where(production_events.c.state == EventState.PENDING.value)
            .values(state=EventState.CONFIRMED.value)
        )
        good_count = connection.execute(
            select(production_events.c.good_count).where(production_events.c.event_id == event_id)
        ).scalar()
        if good_count is None:
            raise UnknownEventError(f"there is no production event {event_id}")
        if result.rowcount != 1:
            raise EventAlreadyConfirmedError(
                f"production event {event_id} was already confirmed; it is not sent twice"
            )
        return int(good_count)


def _event_row(event: ProductionEvent, now: float) -> dict[str, object]:
    return {
        "event_id": event.event_id,
        "rule": event.rule,
        "line": event.line,
        "period_start": event.period_start,
        "period_end": event.period_end,
        "good_count": event.good_count,
        "reject_count": event.reject_count,
        "unit": event.unit,
        "complete": event.complete,
        "state": event.state.value,
        "created_at": now,
    }


def _open_row(period: OpenPeriod, now: float) -> dict[str, object]:
    return {
        "rule": period.rule, "period_start": period.period_start,
        "good_last": period.good_last, "good_total": period.good_total,
        "good_gap": period.good_gap, "reject_last": period.reject_last,
        "reject_total": period.reject_total, "reject_gap": period.reject_gap,
        "saved_at": now,
    }
