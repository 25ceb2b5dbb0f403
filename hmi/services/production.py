"""Production use cases: record counter periods as events; an operator confirms them.

Confirming writes the confirmation, the event's new state and the MES outbox row in one
transaction (hmi.store.events), then wakes the outbox sender. The GUI imports the
exceptions it shows from here, never from hmi.store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
import uuid
from collections.abc import Callable, Sequence

from hmi.core.audit import AuditEntry
from hmi.core.bus import OverflowPolicy, SampleQueue
from hmi.core.events import EventState, OpenPeriod, ProductionCounter, ProductionEvent
from hmi.core.listeners import Listeners
from hmi.core.outbox import OutboxItem, OutboxStatus
from hmi.core.samples import Sample
from hmi.core.security import Action, Actor, InputRejectedError, Signature, clean_text
from hmi.core.site import ProductionCountRule
from hmi.mes.payloads import PRODUCTION_PERFORMANCE, iso_utc, production_performance
from hmi.services.guard import Guard
from hmi.store.database import StoreError
from hmi.store.events import (
    EventAlreadyConfirmedError,
    EventChangedError,
    EventNotConfirmedError,
    EventRepository,
    UnknownEventError,
)
from hmi.store.outbox import OutboxRepository

__all__ = [
    "EventAlreadyConfirmedError",
    "EventChangedError",
    "EventNotConfirmedError",
    "OutboxQueue",
    "ProductionRecorder",
    "ProductionService",
    "StoreError",
    "UnknownEventError",
    "validate_comment",
]

log = logging.getLogger(__name__)
CHECKPOINT_S = 5.0  # the open periods are stored at least this often while counting


Listener = Callable[[], None]


def validate_comment(comment: str) -> str:
    """The comment cleaned (hmi.core.security.clean_text); ValueError saying what is
    wrong with it otherwise."""
    return clean_text(comment, "comment")


class ProductionService:
    """What people do with production events: list, confirm and correct them.

    Every change checks the actor's permission (and signature, where the site asks for
    one) first, and writes its audit row in the same transaction as the change."""

    def __init__(
        self,
        events: EventRepository,
        outbox_sender_notify: Callable[[], None],
        guard: Guard,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._events = events
        self._notify_sender = outbox_sender_notify
        self._guard = guard
        self._clock = clock
        self._listeners: Listeners[[]] = Listeners("production queue")

    def add_listener(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback()`` on the loop when events change; returns its remover."""
        return self._listeners.add(callback)

    def on_new_event(self, _event: ProductionEvent) -> None:
        """Hand this to ProductionRecorder: a stored new event refreshes the queue."""
        self._listeners.fire()

    async def pending(self) -> list[ProductionEvent]:
        return await asyncio.to_thread(self._events.pending)

    async def get(self, event_id: str) -> ProductionEvent | None:
        return await asyncio.to_thread(self._events.get, event_id)

    async def between(self, start: float, end: float) -> list[ProductionEvent]:
        """Events (pending or confirmed) whose period overlaps [start, end)."""
        return await asyncio.to_thread(self._events.between, start, end)

    async def confirm(self, event_id: str, actor: Actor | None, comment: str = "",
                      signature: Signature | None = None) -> str:
        """Confirm an event and queue its MES transaction; returns the outbox id.

        Raises PermissionDeniedError (not logged in, role, missing signature),
        ValueError (bad comment), UnknownEventError, EventAlreadyConfirmedError or
        StoreError; in every case nothing was written. When this returns, the
        confirmation and its audit row are durably on disk.
        """
        # in a thread: a refusal writes its audit row (a durable commit, not on the loop)
        who = await asyncio.to_thread(self._guard.require, actor, Action.CONFIRM_EVENT,
                                      f"production event {event_id}")
        meaning = self._guard.signed(who, Action.CONFIRM_EVENT, signature)
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
        payload = production_performance(event, outbox_id, who.name, comment, now)
        _add_signature(payload, signature if meaning else None)
        entry = AuditEntry(who.name, who.role, Action.CONFIRM_EVENT.value,
                           f"production event {event_id}", old_value="pending",
                           new_value=_quantity(event.good_count, event.reject_count, event.unit),
                           reason=comment, meaning=meaning)
        await asyncio.to_thread(
            self._events.confirm, event_id, who.name, comment, payload, now, outbox_id,
            PRODUCTION_PERFORMANCE, entry)
        self._notify_sender()
        self._listeners.fire()
        return outbox_id

    async def correct(self, event_id: str, actor: Actor | None, good_count: int,
                      reject_count: int, reason: str,
                      signature: Signature | None = None) -> str:
        """Change a confirmed event's quantities and send the corrected transaction to
        the MES (same period, new transaction id, ``correction`` with the reason and
        the quantities it replaces); returns the new outbox id. Needs a reason."""
        who = await asyncio.to_thread(self._guard.require, actor, Action.EDIT_CONFIRMED_EVENT,
                                      f"production event {event_id}")
        meaning = self._guard.signed(who, Action.EDIT_CONFIRMED_EVENT, signature)
        reason = clean_text(reason, "reason", required=True)
        for name, count in (("good", good_count), ("reject", reject_count)):
            if isinstance(count, bool) or not isinstance(count, int) or not \
                    0 <= count <= MAX_COUNT:
                raise InputRejectedError(f"the {name} count must be a whole number from 0 to "
                                         f"{MAX_COUNT:,}, not {count!r}")
        event = await asyncio.to_thread(self._events.get, event_id)
        if event is None:
            raise UnknownEventError(f"there is no production event {event_id}")
        if (good_count, reject_count) == (event.good_count, event.reject_count):
            raise InputRejectedError("the quantities are the ones already confirmed: "
                                     "nothing to correct")
        outbox_id = str(uuid.uuid4())
        now = self._clock()
        corrected = dataclasses.replace(event, good_count=good_count, reject_count=reject_count)
        payload = production_performance(corrected, outbox_id, who.name, reason, now)
        payload["correction"] = {"reason": reason, "replaces": {
            "good": event.good_count, "reject": event.reject_count, "unit": event.unit}}
        _add_signature(payload, signature if meaning else None)
        entry = AuditEntry(who.name, who.role, Action.EDIT_CONFIRMED_EVENT.value,
                           f"production event {event_id}",
                           old_value=_quantity(event.good_count, event.reject_count, event.unit),
                           new_value=_quantity(good_count, reject_count, event.unit),
                           reason=reason, meaning=meaning)
        await asyncio.to_thread(self._events.amend, event, good_count, reject_count, payload,
                                now, outbox_id, entry)
        self._notify_sender()
        self._listeners.fire()
        return outbox_id


MAX_COUNT = 1_000_000_000


def _quantity(good: int, reject: int, unit: str) -> str:
    return f"{good} good, {reject} reject ({unit})"


def _add_signature(payload: dict[str, object], signature: Signature | None) -> None:
    """The MES learns who signed, when and what it meant (21 CFR Part 11 §11.50)."""
    if signature is not None:
        payload["signature"] = {"signer": signature.signer, "name": signature.full_name,
                                "meaning": signature.meaning,
                                "signedAt": iso_utc(signature.time)}


class OutboxQueue:
    """The MES outbox as the operator sees it: counts, items, and 'send again'."""

    def __init__(
        self,
        outbox: OutboxRepository,
        outbox_sender_notify: Callable[[], None],
        guard: Guard,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._outbox = outbox
        self._notify_sender = outbox_sender_notify
        self._guard = guard
        self._clock = clock

    async def counts(self) -> dict[str, int]:
        return await asyncio.to_thread(self._outbox.counts)

    async def oldest_pending(self) -> float | None:
        return await asyncio.to_thread(self._outbox.oldest_pending)

    async def items(self, status: OutboxStatus | None = None) -> list[OutboxItem]:
        return await asyncio.to_thread(self._outbox.list, status)

    async def retry(self, item_id: str, actor: Actor | None, reason: str = "",
                    signature: Signature | None = None) -> None:
        """Send a rejected item again (after the cause was fixed at the MES); signed
        where the site asks ([security.signatures] retry_mes)."""
        who = await asyncio.to_thread(self._guard.require, actor, Action.RETRY_MES,
                                      f"MES transaction {item_id}")
        meaning = self._guard.signed(who, Action.RETRY_MES, signature)
        reason = clean_text(reason, "reason")
        item = await asyncio.to_thread(self._outbox.get, item_id)
        old = f"{item.status.value}: {item.last_error}" if item is not None else ""
        entry = AuditEntry(who.name, who.role, Action.RETRY_MES.value,
                           f"MES transaction {item_id}", old_value=old, new_value="pending",
                           reason=reason, meaning=meaning)
        await asyncio.to_thread(self._outbox.requeue, item_id, self._clock(), entry)
        self._notify_sender()


class ProductionRecorder:
    """Consumer ``production``: cuts counter samples into one ProductionEvent per rule
    period and stores them. Its queue carries only the counter tags (``tags``)."""

    name = "production"
    overflow = OverflowPolicy.DROP_NEWEST  # counters are cumulative: order matters most

    def __init__(
        self,
        rules: Sequence[ProductionCountRule],
        events: EventRepository,
        on_new_event: Callable[[ProductionEvent], None],
        clock: Callable[[], float] = time.time,
        tick: float = 0.5,
    ) -> None:
        for rule in rules:
            if rule.period <= 0:
                raise ValueError(f"production rule {rule.name!r}: the period must be > 0 s")
        self._rules = tuple(rules)
        self._events = events
        self._on_new_event = on_new_event
        self._clock = clock
        self._tick = tick
        self.tags = frozenset({rule.counter_tag for rule in self._rules} | {
            rule.reject_tag for rule in self._rules if rule.reject_tag})
        self._counters: list[ProductionCounter] = []
        self._unstored: list[ProductionEvent] = []  # kept until the store takes them
        self._saved: list[OpenPeriod] = []  # the open periods as last stored
        self._saved_at = -math.inf

    def unfinished(self) -> int:
        """Nothing: each batch is counted as it comes (closed periods not yet stored are
        events, kept and retried, not samples)."""
        return 0

    async def run(self, queue: SampleQueue) -> None:
        """Consume until the queue is closed and drained; periods close on samples and
        on a tick. The open periods come back from the store at the first start (also
        after a crash) and are stored with the events they close, and at least every
        ``CHECKPOINT_S``; a restart after a failure keeps the periods counted so far."""
        if not self._counters:
            start = self._clock()
            stored = await asyncio.to_thread(self._events.open_periods)
            self._counters = [ProductionCounter(rule, start) for rule in self._rules]
            for counter in self._counters:
                if counter.rule.name in stored:
                    counter.restore(stored[counter.rule.name])
                    log.info("production rule %s goes on from its period opened at %s",
                             counter.rule.name, time.strftime(
                                 "%Y-%m-%d %H:%M:%S", time.localtime(counter.period_start)))
        while True:
            batch = await queue.get(self._tick)
            closed: list[ProductionEvent] = []
            tags = self.tags
            for sample in batch:
                if sample.tag in tags:
                    closed += self._feed(sample)
            closed += self._close_due(self._clock())
            if not batch and queue.closed:  # the station stops: the open period too
                closed += self._close_open(self._clock())
                await self._store(closed, force=True)
                return
            await self._store(closed)

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

    def _close_open(self, now: float) -> list[ProductionEvent]:
        """The periods still open, closed at ``now`` (the station stops): the parts
        counted since the last boundary are an event too, not lost. The next start
        begins a new period."""
        closed = []
        for counter in self._counters:
            if now <= counter.period_start:
                continue
            event = counter.close_period(now)
            if event.good_count or event.reject_count:
                closed.append(event)
        return closed

    async def _store(self, closed: list[ProductionEvent], force: bool = False) -> None:
        """The closed periods' events and the open periods, in one transaction: at once
        when a period closed, else when the counts moved and ``CHECKPOINT_S`` passed.
        Refused by the store: kept and written again at the next pass."""
        self._unstored += closed
        snapshots = [counter.snapshot() for counter in self._counters]
        now = self._clock()
        moved = snapshots != self._saved
        if not self._unstored and not (moved and (force or now - self._saved_at
                                                  >= CHECKPOINT_S)):
            return
        events = list(self._unstored)
        try:
            await asyncio.to_thread(self._events.record_periods, events, snapshots, now)
        except StoreError:
            log.exception("%d production events not stored yet; retrying", len(events))
            return
        del self._unstored[:len(events)]
        self._saved, self._saved_at = snapshots, now
        for event in events:
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
