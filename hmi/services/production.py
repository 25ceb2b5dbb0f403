"""Production use cases: record counter periods as events; an operator confirms them.

Confirming writes the confirmation, the event's new state and the MES outbox row in one
transaction (hmi.store.events), then wakes the outbox sender. The GUI imports the
exceptions it shows from here, never from hmi.store.
"""

from __future__ import annotations

import asyncio
import logging
import time
import unicodedata
import uuid
from collections.abc import Callable, Sequence

from hmi.core.bus import OverflowPolicy, TagBus
from hmi.core.events import EventState, ProductionCounter, ProductionEvent
from hmi.core.outbox import OutboxItem, OutboxStatus
from hmi.core.samples import Sample
from hmi.core.site import ProductionCountRule
from hmi.mes.payloads import PRODUCTION_PERFORMANCE, production_performance
from hmi.store.database import StoreError
from hmi.store.events import EventAlreadyConfirmedError, EventRepository, UnknownEventError
from hmi.store.outbox import OutboxRepository

__all__ = [
    "EventAlreadyConfirmedError",
    "OutboxQueue",
    "ProductionRecorder",
    "ProductionService",
    "StoreError",
    "UnknownEventError",
    "validate_comment",
]

log = logging.getLogger(__name__)

MAX_COMMENT_CHARS = 2000
MAX_USER_CHARS = 200

Listener = Callable[[], None]


def validate_comment(comment: str) -> str:
    """The comment stripped; ValueError saying what is wrong with it otherwise."""
    cleaned = comment.strip()
    if len(cleaned) > MAX_COMMENT_CHARS:
        raise ValueError(
            f"the comment is {len(cleaned)} characters long; at most {MAX_COMMENT_CHARS} "
            "are allowed"
        )
    for position, char in enumerate(cleaned, start=1):
        if char != "\n" and unicodedata.category(char) == "Cc":
            raise ValueError(
                f"the comment contains a control character (U+{ord(char):04X}) at "
                f"position {position}; only line breaks are allowed"
            )
    return cleaned


class _Listeners:
    """A plain list of no-argument callbacks; one failing does not stop the others."""

    def __init__(self) -> None:
        self._callbacks: list[Listener] = []

    def add(self, callback: Listener) -> Callable[[], None]:
        self._callbacks.append(callback)

        def remove() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return remove

    def fire(self) -> None:
        for callback in list(self._callbacks):
            try:
                callback()
            except Exception:
                log.exception("listener %r failed", callback)


class ProductionService:
    """What the operator does with production events: list and confirm them."""

    def __init__(
        self,
        events: EventRepository,
        outbox_sender_notify: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._events = events
        self._notify_sender = outbox_sender_notify
        self._clock = clock
        self._listeners = _Listeners()

    def add_listener(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback()`` on the loop when events change; returns its remover."""
        return self._listeners.add(callback)

    def on_new_event(self, _event: ProductionEvent) -> None:
        """Hand this to ProductionRecorder: a stored new event refreshes the queue."""
        self._listeners.fire()

    async def pending(self) -> list[ProductionEvent]:
        return await asyncio.to_thread(self._events.pending)

    async def confirm(self, event_id: str, user: str, comment: str = "") -> str:
        """Confirm an event and queue its MES transaction; returns the outbox id.

        Raises ValueError (bad comment or user), UnknownEventError,
        EventAlreadyConfirmedError or StoreError; in every case nothing was written.
        When this returns, the confirmation is durably on disk.
        """
        user = user.strip()
        if not user or len(user) > MAX_USER_CHARS:
            raise ValueError("confirming needs the operator's user name")
        comment = validate_comment(comment)
        event = await asyncio.to_thread(self._events.get, event_id)
        if event is None:
            raise UnknownEventError(f"there is no production event {event_id}")
        if event.state is not EventState.PENDING:
            raise EventAlreadyConfirmedError(
                f"production event {event_id} was already confirmed; it is not sent twice"
            )
        outbox_id = str(uuid.uuid4())
        now = self._clock()
        payload = production_performance(event, outbox_id, user, comment, now)
        await asyncio.to_thread(
            self._events.confirm,
            event_id,
            user,
            comment,
            payload,
            now,
            outbox_id,
            PRODUCTION_PERFORMANCE,
        )
        self._notify_sender()
        self._listeners.fire()
        return outbox_id


class OutboxQueue:
    """The MES outbox as the operator sees it: counts, items, and 'send again'."""

    def __init__(
        self,
        outbox: OutboxRepository,
        outbox_sender_notify: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._outbox = outbox
        self._notify_sender = outbox_sender_notify
        self._clock = clock

    async def counts(self) -> dict[str, int]:
        return await asyncio.to_thread(self._outbox.counts)

    async def items(self, status: OutboxStatus | None = None) -> list[OutboxItem]:
        return await asyncio.to_thread(self._outbox.list, status)

    async def retry(self, item_id: str) -> None:
        """Send a rejected item again (after the cause was fixed at the MES)."""
        await asyncio.to_thread(self._outbox.requeue, item_id, self._clock())
        self._notify_sender()


class ProductionRecorder:
    """Cuts counter samples into one ProductionEvent per rule period and stores them."""

    def __init__(
        self,
        bus: TagBus,
        rules: Sequence[ProductionCountRule],
        events: EventRepository,
        on_new_event: Callable[[ProductionEvent], None],
        clock: Callable[[], float] = time.time,
        tick: float = 0.5,
    ) -> None:
        for rule in rules:
            if rule.period <= 0:
                raise ValueError(f"production rule {rule.name!r}: the period must be > 0 s")
        self._bus = bus
        self._rules = tuple(rules)
        self._events = events
        self._on_new_event = on_new_event
        self._clock = clock
        self._tick = tick
        self._counters: list[ProductionCounter] = []
        self._unstored: list[ProductionEvent] = []  # kept until the store takes them

    async def run(self) -> None:
        """Consume the bus until cancelled; periods close on samples and on a tick."""
        tags = {rule.counter_tag for rule in self._rules} | {
            rule.reject_tag for rule in self._rules if rule.reject_tag
        }
        subscription = self._bus.subscribe(maxsize=100_000, overflow=OverflowPolicy.DROP_OLDEST)
        start = self._clock()
        self._counters = [ProductionCounter(rule, start) for rule in self._rules]
        batch_task: asyncio.Task[list[Sample]] | None = None
        try:
            while True:
                if batch_task is None:
                    batch_task = asyncio.ensure_future(subscription.get_batch())
                done, _ = await asyncio.wait({batch_task}, timeout=self._tick)
                closed: list[ProductionEvent] = []
                batch: list[Sample] = []
                if done:
                    batch = batch_task.result()
                    batch_task = None
                # Samples already queued belong to periods before 'now': take them before
                # a tick closes those periods.
                batch += subscription.drain()
                for sample in batch:
                    if sample.tag in tags:
                        closed += self._feed(sample)
                closed += self._close_due(self._clock())
                await self._store(closed)
        finally:
            if batch_task is not None:
                batch_task.cancel()
            subscription.close()

    def _feed(self, sample: Sample) -> list[ProductionEvent]:
        # A sample received after a period's end belongs to the next period.
        closed = self._close_due(sample.receive_time)
        for counter in self._counters:
            counter.feed(sample)
        return closed

    def _close_due(self, now: float) -> list[ProductionEvent]:
        closed = []
        for counter in self._counters:
            while counter.due(now):
                # Close at the boundary, not at 'now': periods stay contiguous and equal.
                event = counter.close_period(counter.period_start + counter.rule.period)
                # A stopped line leaves nothing to confirm; a counter that was offline
                # does: the operator must see that the count is unknown.
                if event.good_count or event.reject_count or not event.complete:
                    closed.append(event)
        return closed

    async def _store(self, closed: list[ProductionEvent]) -> None:
        self._unstored += closed
        while self._unstored:
            event = self._unstored[0]
            try:
                await asyncio.to_thread(self._events.add, event)
            except StoreError:
                log.exception("production event %s not stored yet; retrying", event.event_id)
                return
            self._unstored.pop(0)
            log.info(
                "production event %s: %s good, %s reject (%s)",
                event.event_id,
                event.good_count,
                event.reject_count,
                event.rule,
            )
            try:
                self._on_new_event(event)
            except Exception:
                log.exception("new-event listener failed")
