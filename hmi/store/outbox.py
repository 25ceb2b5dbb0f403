"""The MES outbox: rows written with their business change, sent later by hmi.mes.

Rows are never deleted here: SENT keeps the proof, REJECTED keeps the server's message
for the operator.
"""

from __future__ import annotations

import builtins
import time
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import RowMapping

from hmi.core.audit import AuditEntry
from hmi.core.outbox import OutboxItem, OutboxStatus
from hmi.store import audit
from hmi.store.audit import Clock
from hmi.store.database import Database, StoreError
from hmi.store.schema.production import outbox

MAX_ERROR_CHARS = 4000  # a server's HTML error page should not bloat the database


def _item_from_row(row: RowMapping) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        kind=row["kind"],
        payload=row["payload"],
        created_at=row["created_at"],
        status=OutboxStatus(row["status"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
        last_attempt_at=row["last_attempt_at"],
        next_attempt_at=row["next_attempt_at"],
        sent_at=row["sent_at"],
        http_status=row["http_status"],
    )


class _TakenMeanwhileError(Exception):
    """Another sender claimed one of the items between the read and the claim."""


class OutboxRepository:
    """Synchronous; callers on the loop use asyncio.to_thread."""

    def __init__(self, db: Database, audit_clock: Clock = time.time) -> None:
        self._db = db
        self._audit_clock = audit_clock

    def due(self, now: float, limit: int = 50) -> builtins.list[OutboxItem]:
        """The oldest pending items, in the order they were queued, up to the first one
        not due yet: a transaction is never posted before one queued earlier (a
        correction before the confirmation it corrects)."""
        query = (
            select(outbox)
            .where(outbox.c.status == OutboxStatus.PENDING.value)
            .order_by(outbox.c.created_at, outbox.c.id)
            .limit(limit)
        )
        with self._db.engine.connect() as connection:
            items = [_item_from_row(row) for row in connection.execute(query).mappings()]
        for index, item in enumerate(items):
            if item.next_attempt_at > now:
                return items[:index]
        return items

    def claim(self, owner: str, now: float, lease: float,
              limit: int = 10) -> builtins.list[OutboxItem]:
        """The items ``owner`` may post now, claimed until ``now + lease``: the oldest
        pending ones, in order, up to the first not due or claimed by another sender
        whose lease runs. [] when the head is another's: order is kept across senders
        too, and no item is posted by two at once. The claim is one conditional UPDATE:
        if another sender took one of these meanwhile, nothing is claimed."""
        query = (
            select(outbox)
            .where(outbox.c.status == OutboxStatus.PENDING.value)
            .order_by(outbox.c.created_at, outbox.c.id)
            .limit(limit)
        )
        free = or_(outbox.c.claimed_by.is_(None), outbox.c.claimed_until < now,
                   outbox.c.claimed_by == owner)
        try:
            return self._claim(query, free, owner, now, lease)
        except _TakenMeanwhileError:
            return []

    def _claim(self, query: Any, free: Any, owner: str, now: float,
               lease: float) -> builtins.list[OutboxItem]:
        with self._db.engine.begin() as connection:
            rows = connection.execute(query).mappings().all()
            take = []
            for row in rows:
                mine = (row["claimed_by"] is None or row["claimed_by"] == owner
                        or (row["claimed_until"] or 0.0) < now)
                if row["next_attempt_at"] > now or not mine:
                    break
                take.append(row["id"])
            if not take:
                return []
            result = connection.execute(
                update(outbox)
                .where(outbox.c.id.in_(take))
                .where(outbox.c.status == OutboxStatus.PENDING.value)
                .where(outbox.c.next_attempt_at <= now)  # (a stale read: due no more)
                .where(free)
                .values(claimed_by=owner, claimed_until=now + lease)
            )
            if result.rowcount != len(take):  # another sender was quicker: none of it
                raise _TakenMeanwhileError  # (rolls the transaction back)
            claimed = connection.execute(
                select(outbox).where(outbox.c.id.in_(take))
                .order_by(outbox.c.created_at, outbox.c.id)).mappings().all()
        return [_item_from_row(row) for row in claimed]

    def extend_claims(self, owner: str, item_ids: builtins.list[str], until: float) -> int:
        """Keep ``owner``'s claims on these pending items until ``until``; returns how
        many it still held (fewer: a lapsed one was taken by another sender)."""
        if not item_ids:
            return 0
        with self._db.engine.begin() as connection:
            result = connection.execute(
                update(outbox)
                .where(outbox.c.id.in_(item_ids))
                .where(outbox.c.status == OutboxStatus.PENDING.value)
                .where(outbox.c.claimed_by == owner)
                .values(claimed_until=until)
            )
        return int(result.rowcount)

    def get(self, item_id: str) -> OutboxItem | None:
        with self._db.engine.connect() as connection:
            row = (
                connection.execute(select(outbox).where(outbox.c.id == item_id)).mappings().first()
            )
        return None if row is None else _item_from_row(row)

    def mark_sent(self, item_id: str, http_status: int, now: float,
                  owner: str | None = None) -> None:
        self._update_pending(
            item_id, owner,
            status=OutboxStatus.SENT.value,
            attempts=outbox.c.attempts + 1,
            last_attempt_at=now,
            sent_at=now,
            http_status=http_status,
            last_error="",
        )

    def mark_retry(
        self,
        item_id: str,
        error: str,
        next_attempt_at: float,
        now: float,
        count_attempt: bool = True,
        http_status: int | None = None,
        owner: str | None = None,
    ) -> None:
        """Keep the item pending; ``count_attempt=False`` when nothing was sent at all."""
        values: dict[str, Any] = {
            "last_error": error[:MAX_ERROR_CHARS],
            "next_attempt_at": next_attempt_at,
            "http_status": http_status,
        }
        if count_attempt:
            values["attempts"] = outbox.c.attempts + 1
            values["last_attempt_at"] = now
        self._update_pending(item_id, owner, **values)

    def mark_rejected(self, item_id: str, http_status: int, message: str, now: float,
                      owner: str | None = None) -> None:
        self._update_pending(
            item_id, owner,
            status=OutboxStatus.REJECTED.value,
            attempts=outbox.c.attempts + 1,
            last_attempt_at=now,
            http_status=http_status,
            last_error=message[:MAX_ERROR_CHARS],
        )

    def requeue(self, item_id: str, now: float = 0.0,
                audit_entry: AuditEntry | None = None) -> None:
        """Send a REJECTED (or pending) item again at ``now``; a SENT item is refused.
        ``audit_entry`` is appended in the same transaction."""
        with self._db.engine.begin() as connection:
            result = connection.execute(
                update(outbox)
                .where(outbox.c.id == item_id)
                .where(outbox.c.status != OutboxStatus.SENT.value)
                .values(status=OutboxStatus.PENDING.value, next_attempt_at=now)
            )
            if result.rowcount != 1:
                status = connection.execute(
                    select(outbox.c.status).where(outbox.c.id == item_id)
                ).scalar()
                if status is None:
                    raise StoreError(f"there is no outbox item {item_id}")
                raise StoreError(f"outbox item {item_id} was already sent; it is not resent")
            if audit_entry is not None:
                audit.append(connection, audit_entry, self._audit_clock)

    def counts(self) -> dict[str, int]:
        """Number of items per status; every status is present."""
        counts = {status.value: 0 for status in OutboxStatus}
        query = select(outbox.c.status, func.count()).group_by(outbox.c.status)
        with self._db.engine.connect() as connection:
            for status, count in connection.execute(query):
                counts[status] = int(count)
        return counts

    def oldest_pending(self) -> float | None:
        """When the oldest item still waiting to be sent was queued (None: none waits)."""
        query = select(func.min(outbox.c.created_at)).where(
            outbox.c.status == OutboxStatus.PENDING.value)
        with self._db.engine.connect() as connection:
            value = connection.execute(query).scalar()
        return None if value is None else float(value)

    def list(self, status: OutboxStatus | None = None) -> builtins.list[OutboxItem]:
        """All items (or those with ``status``), newest first."""
        query = select(outbox).order_by(outbox.c.created_at.desc(), outbox.c.id)
        if status is not None:
            query = query.where(outbox.c.status == status.value)
        with self._db.engine.connect() as connection:
            return [_item_from_row(row) for row in connection.execute(query).mappings()]

    def _update_pending(self, item_id: str, owner: str | None, **values: Any) -> None:
        # Only a PENDING row changes: a late answer must not flip a row the operator
        # already requeued or that another sender finished. With ``owner``, only while
        # that sender holds its claim (a lapsed lease may be another's now); the claim
        # ends with the answer.
        query = (update(outbox).where(outbox.c.id == item_id)
                 .where(outbox.c.status == OutboxStatus.PENDING.value))
        if owner is not None:
            query = query.where(outbox.c.claimed_by == owner)
            values |= {"claimed_by": None, "claimed_until": None}
        with self._db.engine.begin() as connection:
            result = connection.execute(query.values(**values))
        if result.rowcount != 1:
            raise StoreError(f"outbox item {item_id} is unknown, no longer pending, or "
                             "claimed by another sender")
