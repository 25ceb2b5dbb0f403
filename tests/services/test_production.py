"""ProductionService (confirm) and ProductionRecorder (bus samples -> stored events)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hmi.core.bus import TagBus
from hmi.core.events import EventState, ProductionEvent
from hmi.core.samples import Quality, Sample
from hmi.core.security import PermissionDeniedError
from hmi.core.site import ProductionCountRule
from hmi.services.production import (
    EventAlreadyConfirmedError,
    ProductionRecorder,
    ProductionService,
    UnknownEventError,
    validate_comment,
)
from hmi.store.database import Database, open_database
from hmi.store.events import EventRepository
from hmi.store.outbox import OutboxRepository
from tests.security_helpers import GUARD, operator

RULE = ProductionCountRule(
    name="filler-count",
    counter_tag="Filler.Good",
    period=0.3,
    reject_tag="Filler.Reject",
    line="L1",
)


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "hmi.sqlite")
    yield database
    database.close()


def test_comment_is_stripped_and_validated() -> None:
    assert validate_comment("  jam cleared\nrestarted  ") == "jam cleared\nrestarted"
    assert validate_comment("") == ""
    with pytest.raises(ValueError, match="at most 2,000"):
        validate_comment("x" * 2001)
    with pytest.raises(ValueError, match=r"control character \(U\+0007\) at position 3"):
        validate_comment("ab\x07c")
    assert validate_comment("a\tb") == "a\tb"  # a tab is harmless
    with pytest.raises(ValueError, match="U\\+202E"):  # right-to-left override hides text
        validate_comment("total\u202e 001")


def test_confirm_stores_notifies_sender_and_listeners(db: Database) -> None:
    events = EventRepository(db)
    event = ProductionEvent(str(uuid.uuid4()), "r", "L1", 0.0, 60.0, 7, 0, "pcs", True)
    events.add(event)
    notified: list[str] = []
    service = ProductionService(events, lambda: notified.append("sender"), GUARD, FakeClock())
    service.add_listener(lambda: notified.append("queue"))

    async def scenario() -> str:
        assert [e.event_id for e in await service.pending()] == [event.event_id]
        with pytest.raises(ValueError, match="control character"):
            await service.confirm(event.event_id, operator("alice"), "bad\x00")
        with pytest.raises(PermissionDeniedError, match="Log in to confirm production"):
            await service.confirm(event.event_id, None, "")
        assert notified == []
        outbox_id = await service.confirm(event.event_id, operator("alice"), " fine ")
        with pytest.raises(EventAlreadyConfirmedError):
            await service.confirm(event.event_id, operator("bob"), "")
        with pytest.raises(UnknownEventError):
            await service.confirm("nope", operator("bob"), "")
        assert await service.pending() == []
        return outbox_id

    outbox_id = asyncio.run(scenario())
    assert notified == ["sender", "queue"]
    stored = events.get(event.event_id)
    assert stored is not None
    assert stored.state is EventState.CONFIRMED
    item = OutboxRepository(db).get(outbox_id)
    assert item is not None
    assert '"comment":"fine"' in item.payload


def counter(tag: str, value: int | None, at: float, quality: Quality = Quality.GOOD) -> Sample:
    return Sample(tag, value, quality, at, at)


def test_recorder_cuts_periods_with_the_right_counts(db: Database) -> None:
    """Fake clock: the recorder's 0.3 s periods are exact and independent of timing."""
    events = EventRepository(db)
    bus = TagBus()
    clock = FakeClock()
    new: list[ProductionEvent] = []
    stored = asyncio.Queue[ProductionEvent]()

    def on_new_event(event: ProductionEvent) -> None:
        new.append(event)
        stored.put_nowait(event)

    recorder = ProductionRecorder([RULE], events, on_new_event, clock=clock, tick=0.01)

    async def scenario() -> None:
        task = asyncio.create_task(recorder.run(bus.subscribe("production", tags=recorder.tags)))
        await asyncio.sleep(0.05)  # subscribed, first period starts at 1000.0
        t = clock.now
        bus.put(
            [counter("Filler.Good", 100, t + 0.01), counter("Filler.Reject", 5, t + 0.01)]
        )
        bus.put([counter("Filler.Good", 112, t + 0.1), counter("Other", 1, t + 0.1)])
        bus.put(
            [counter("Filler.Good", 130, t + 0.2), counter("Filler.Reject", 7, t + 0.2)]
        )
        await asyncio.sleep(0.05)
        assert new == []  # period not over yet
        clock.now = t + 0.31  # the tick closes it, no sample needed
        await asyncio.wait_for(stored.get(), 5)
        # a sample received after the boundary belongs to the next period
        bus.put([counter("Filler.Good", 140, t + 0.35)])
        clock.now = t + 0.61
        await asyncio.wait_for(stored.get(), 5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    first, second = new
    assert (first.good_count, first.reject_count, first.complete) == (30, 2, True)
    assert first.period_start == 1000.0
    assert first.period_end == pytest.approx(1000.3)
    assert (first.rule, first.line, first.unit) == ("filler-count", "L1", "pcs")
    assert (second.good_count, second.reject_count) == (10, 0)
    assert second.period_start == first.period_end
    assert events.pending() == [first, second]


def test_recorder_on_the_real_clock_marks_a_bad_counter_incomplete(db: Database) -> None:
    events = EventRepository(db)
    bus = TagBus()
    new: list[ProductionEvent] = []
    stored = asyncio.Queue[ProductionEvent]()

    def on_new_event(event: ProductionEvent) -> None:
        new.append(event)
        stored.put_nowait(event)

    recorder = ProductionRecorder([RULE], events, on_new_event, tick=0.05)

    async def scenario() -> None:
        task = asyncio.create_task(recorder.run(bus.subscribe("production", tags=recorder.tags)))
        await asyncio.sleep(0)
        now = time.time()
        bus.put([counter("Filler.Good", 10, now)])
        bus.put([counter("Filler.Good", None, now, Quality.BAD)])
        bus.put([counter("Filler.Good", 14, now)])
        await asyncio.wait_for(stored.get(), 5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    event = new[0]
    assert (event.good_count, event.complete) == (4, False)
    assert event.period_end - event.period_start == pytest.approx(0.3)
    assert events.get(event.event_id) == event


def test_recorder_refuses_a_zero_period(db: Database) -> None:
    rule = ProductionCountRule(name="r", counter_tag="t", period=0)
    with pytest.raises(ValueError, match="period must be > 0"):
        ProductionRecorder([rule], EventRepository(db), lambda _e: None)


def test_recorder_skips_periods_of_a_stopped_line(db: Database) -> None:
    """No parts and a healthy counter: nothing to confirm, so no event clutters the queue."""
    events = EventRepository(db)
    bus = TagBus()
    clock = FakeClock()
    new: list[ProductionEvent] = []
    recorder = ProductionRecorder([RULE], events, new.append, clock=clock, tick=0.01)

    async def scenario() -> None:
        task = asyncio.create_task(recorder.run(bus.subscribe("production", tags=recorder.tags)))
        await asyncio.sleep(0.05)
        t = clock.now
        bus.put([counter("Filler.Good", 500, t + 0.01)])
        bus.put([counter("Filler.Good", 500, t + 0.2)])  # the line is stopped
        clock.now = t + 0.31
        await asyncio.sleep(0.1)
        bus.put([counter("Filler.Good", 503, t + 0.4)])  # running again
        clock.now = t + 0.61
        for _ in range(100):
            if new:
                break
            await asyncio.sleep(0.02)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert [(e.good_count, e.period_start) for e in new] == [(3, pytest.approx(1000.3))], new
    assert events.pending() == new


def test_the_open_period_is_closed_and_stored_when_the_station_stops(db: Database) -> None:
    """Parts counted since the last boundary are not lost at a stop (issue 11)."""
    events = EventRepository(db)
    bus = TagBus()
    clock = FakeClock()
    rule = ProductionCountRule(name="filler-count", counter_tag="Filler.Good",
                               period=3600, reject_tag="Filler.Reject", line="L1")
    recorder = ProductionRecorder([rule], events, lambda _e: None, clock=clock, tick=0.01)

    async def scenario() -> None:
        queue = bus.subscribe("production", tags=recorder.tags)
        task = asyncio.create_task(recorder.run(queue))
        await asyncio.sleep(0.05)
        t = clock.now
        bus.put([counter("Filler.Good", 500, t + 1), counter("Filler.Reject", 2, t + 1)])
        bus.put([counter("Filler.Good", 617, t + 900), counter("Filler.Reject", 5, t + 900)])
        await asyncio.sleep(0.05)
        assert events.pending() == []  # an hour's period, a quarter of it gone
        clock.now = t + 1200
        queue.close()  # the station stops
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    [event] = events.pending()
    assert (event.good_count, event.reject_count) == (117, 3)
    assert (event.period_start, event.period_end) == (1000.0, 2200.0)


def _hour_rule() -> ProductionCountRule:
    return ProductionCountRule(name="filler-count", counter_tag="Filler.Good", period=3600,
                               reject_tag="Filler.Reject", line="L1")


async def _count(recorder: ProductionRecorder, bus: TagBus, readings, clock: FakeClock,
                 then: float | None = None, stop: bool = False) -> None:
    """Run ``recorder`` over ``readings`` [(tag, value, at)]; move the clock to ``then``;
    then stop it cleanly (``stop``) or kill it (a crash: no goodbye)."""
    queue = bus.subscribe("production", tags=recorder.tags)
    task = asyncio.create_task(recorder.run(queue))
    await asyncio.sleep(0.05)
    for tag, value, at in readings:
        bus.put([counter(tag, value, at)])
    await asyncio.sleep(0.05)
    if then is not None:
        clock.now = then
        await asyncio.sleep(0.05)
    if stop:
        queue.close()
        await asyncio.wait_for(task, 5)
    else:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    bus.unsubscribe(queue)


def test_after_a_crash_the_open_period_goes_on_and_no_part_is_lost(db: Database) -> None:
    events = EventRepository(db)
    bus, clock = TagBus(), FakeClock()

    async def scenario() -> None:
        first = ProductionRecorder([_hour_rule()], events, lambda _e: None, clock=clock,
                                   tick=0.01)
        t = clock.now
        # counting; 6 s later the open period is stored (CHECKPOINT_S); then the crash
        await _count(first, bus, [("Filler.Good", 500, t + 1), ("Filler.Good", 617, t + 5)],
                     clock, then=t + 6)
        assert events.pending() == []
        # restarted: it goes on from the stored period; the PLC counted on meanwhile
        second = ProductionRecorder([_hour_rule()], events, lambda _e: None, clock=clock,
                                    tick=0.01)
        await _count(second, bus, [("Filler.Good", 650, t + 60)], clock, then=t + 3601)

    asyncio.run(scenario())
    [event] = events.pending()
    assert event.good_count == 150  # 500 -> 650, across the crash
    assert (event.period_start, event.period_end) == (1000.0, 4600.0)


def test_after_a_clean_stop_the_parts_made_while_stopped_count_in_the_next_period(
        db: Database) -> None:
    events = EventRepository(db)
    bus, clock = TagBus(), FakeClock()

    async def scenario() -> None:
        t = clock.now
        first = ProductionRecorder([_hour_rule()], events, lambda _e: None, clock=clock,
                                   tick=0.01)
        await _count(first, bus, [("Filler.Good", 500, t + 1), ("Filler.Good", 617, t + 5)],
                     clock, then=t + 600, stop=True)
        second = ProductionRecorder([_hour_rule()], events, lambda _e: None, clock=clock,
                                    tick=0.01)
        await _count(second, bus, [("Filler.Good", 650, t + 900)], clock, then=t + 4201)

    asyncio.run(scenario())
    first, second = sorted(events.pending(), key=lambda e: e.period_start)
    assert (first.good_count, first.period_start, first.period_end) == (117, 1000.0, 1600.0)
    assert (second.good_count, second.period_start) == (33, 1600.0)  # 617 -> 650


def test_a_batch_the_store_took_already_is_not_inserted_twice(db: Database) -> None:
    """A commit reported failed that went through: the retried batch does not fail on
    the events it holds already (the recorder would stop storing for good)."""
    from hmi.core.events import OpenPeriod

    events = EventRepository(db)
    event = ProductionEvent(str(uuid.uuid4()), "filler-count", "L1", 0.0, 60.0, 5, 0, "pcs",
                            True)
    period = OpenPeriod("filler-count", 60.0, 105, 0, False, None, 0, False)
    events.record_periods([event], [period], 61.0)
    events.record_periods([event], [period], 62.0)  # the retry of the same batch
    assert events.pending() == [event]
    assert events.open_periods() == {"filler-count": period}
