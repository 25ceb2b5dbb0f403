"""EventRepository: events in, confirmation + state + outbox row in one transaction."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hmi.core.events import EventState, ProductionEvent
from hmi.core.outbox import OutboxStatus
from hmi.store.database import Database, StoreError, open_database
from hmi.store.events import EventAlreadyConfirmedError, EventRepository, UnknownEventError
from hmi.store.outbox import OutboxRepository
from hmi.store.schema.production import event_confirmations, outbox


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "hmi.sqlite")
    yield database
    database.close()


def make_event(start: float = 1_700_000_000.0, good: int = 10) -> ProductionEvent:
    return ProductionEvent(
        event_id=str(uuid.uuid4()),
        rule="filler-count",
        line="L1",
        period_start=start,
        period_end=start + 60,
        good_count=good,
        reject_count=2,
        unit="pcs",
        complete=True,
    )


def count(db: Database, table: object) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_add_get_and_pending_round_trip(db: Database) -> None:
    events = EventRepository(db)
    later, earlier = make_event(2_000.0), make_event(1_000.0)
    events.add(later)
    events.add(earlier)
    assert events.get(earlier.event_id) == earlier
    assert events.get("no-such-event") is None
    assert events.pending() == [earlier, later]


def test_confirm_writes_confirmation_state_and_outbox_together(tmp_path: Path) -> None:
    path = tmp_path / "hmi.sqlite"
    db = open_database(path)
    events = EventRepository(db)
    event = make_event(good=42)
    events.add(event)
    outbox_id = events.confirm(
        event.event_id, "alice", "ok", {"transactionId": "t"}, now=5.0, outbox_id="ob-1"
    )
    db.close()

    reopened = open_database(path)  # durable: visible to a new engine
    try:
        assert outbox_id == "ob-1"
        confirmed = EventRepository(reopened).get(event.event_id)
        assert confirmed is not None
        assert confirmed.state is EventState.CONFIRMED
        assert EventRepository(reopened).pending() == []
        with reopened.engine.connect() as connection:
            row = connection.execute(select(event_confirmations)).mappings().one()
        assert (row["confirmed_by"], row["comment"], row["quantity"]) == ("alice", "ok", 42)
        item = OutboxRepository(reopened).get("ob-1")
        assert item is not None
        assert item.status is OutboxStatus.PENDING
        assert json.loads(item.payload) == {"transactionId": "t"}
        assert item.next_attempt_at == 5.0
    finally:
        reopened.close()


def test_double_confirm_is_refused_and_writes_nothing(db: Database) -> None:
    events = EventRepository(db)
    event = make_event()
    events.add(event)
    events.confirm(event.event_id, "alice", "", {}, now=1.0)
    with pytest.raises(EventAlreadyConfirmedError, match="already confirmed"):
        events.confirm(event.event_id, "bob", "", {}, now=2.0)
    assert count(db, event_confirmations) == 1
    assert count(db, outbox) == 1


def test_unknown_event_is_refused(db: Database) -> None:
    with pytest.raises(UnknownEventError, match="no production event"):
        EventRepository(db).confirm("missing", "alice", "", {}, now=1.0)
    assert count(db, outbox) == 0


def test_failing_outbox_insert_leaves_nothing_written(db: Database) -> None:
    events = EventRepository(db)
    first, second = make_event(1.0), make_event(2.0)
    events.add(first)
    events.add(second)
    events.confirm(first.event_id, "alice", "", {}, now=1.0, outbox_id="same-id")

    # The outbox insert is the last statement; a duplicate primary key makes it fail
    # after the confirmation row and the state change were already executed.
    with pytest.raises(StoreError, match="nothing was written"):
        events.confirm(second.event_id, "alice", "note", {}, now=2.0, outbox_id="same-id")

    still = events.get(second.event_id)
    assert still is not None
    assert still.state is EventState.PENDING
    assert count(db, event_confirmations) == 1
    assert count(db, outbox) == 1
    # and it can still be confirmed properly afterwards
    events.confirm(second.event_id, "alice", "note", {}, now=3.0)
    assert count(db, outbox) == 2
