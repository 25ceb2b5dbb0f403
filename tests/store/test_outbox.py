"""OutboxRepository: due selection and the pending -> sent / retry / rejected moves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hmi.core.events import ProductionEvent
from hmi.core.outbox import OutboxStatus
from hmi.store.database import Database, StoreError, open_database
from hmi.store.events import EventRepository
from hmi.store.outbox import OutboxRepository


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "hmi.sqlite")
    yield database
    database.close()


def queue_item(db: Database, now: float) -> str:
    events = EventRepository(db)
    event = ProductionEvent(str(uuid.uuid4()), "r", "L1", 0.0, 1.0, 5, 0, "pcs", True)
    events.add(event)
    return events.confirm(event.event_id, "alice", "", {"n": 1}, now=now)


def test_due_respects_next_attempt_and_status(db: Database) -> None:
    outbox = OutboxRepository(db)
    first, second = queue_item(db, 10.0), queue_item(db, 20.0)
    assert [i.id for i in outbox.due(now=15.0)] == [first]
    assert [i.id for i in outbox.due(now=25.0)] == [first, second]
    assert [i.id for i in outbox.due(now=25.0, limit=1)] == [first]

    outbox.mark_retry(first, "refused", next_attempt_at=40.0, now=25.0)
    outbox.mark_sent(second, 200, now=25.0)
    assert outbox.due(now=30.0) == []
    retried = outbox.get(first)
    assert retried is not None
    assert (retried.attempts, retried.last_error, retried.last_attempt_at) == (1, "refused", 25.0)
    assert [i.id for i in outbox.due(now=40.0)] == [first]
    assert outbox.counts() == {"pending": 1, "sent": 1, "rejected": 0}


def test_retry_without_an_attempt_keeps_the_count(db: Database) -> None:
    outbox = OutboxRepository(db)
    item_id = queue_item(db, 1.0)
    outbox.mark_retry(item_id, "no secret", 5.0, 1.0, count_attempt=False)
    item = outbox.get(item_id)
    assert item is not None
    assert (item.attempts, item.last_error, item.last_attempt_at) == (0, "no secret", None)


def test_rejected_is_kept_listed_and_can_be_requeued(db: Database) -> None:
    outbox = OutboxRepository(db)
    item_id = queue_item(db, 1.0)
    outbox.mark_rejected(item_id, 422, "HTTP 422: unknown line", now=2.0)
    assert outbox.due(now=100.0) == []
    [rejected] = outbox.list(OutboxStatus.REJECTED)
    assert (rejected.http_status, rejected.last_error) == (422, "HTTP 422: unknown line")
    assert outbox.list(OutboxStatus.SENT) == []
    assert len(outbox.list()) == 1

    outbox.requeue(item_id, now=3.0)
    assert [i.id for i in outbox.due(now=3.0)] == [item_id]
    outbox.mark_sent(item_id, 200, now=4.0)
    with pytest.raises(StoreError, match="already sent"):
        outbox.requeue(item_id)
    with pytest.raises(StoreError, match="no outbox item"):
        outbox.requeue("nope")


def test_marking_a_row_that_is_not_pending_is_refused(db: Database) -> None:
    outbox = OutboxRepository(db)
    item_id = queue_item(db, 1.0)
    outbox.mark_sent(item_id, 201, now=2.0)
    with pytest.raises(StoreError, match="no longer pending"):
        outbox.mark_rejected(item_id, 400, "late", now=3.0)
    item = outbox.get(item_id)
    assert item is not None
    assert (item.status, item.http_status, item.sent_at) == (OutboxStatus.SENT, 201, 2.0)
