"""The alarm engine: a consumer of the data path that raises, clears and journals alarms.

Consumer ``alarms`` of the runner (hmi.core.consumers): its queue carries only the tags
its rules and their suppression conditions read. Each sample goes to the rules of its
tag (hmi.core.alarm_rules.Condition: limits, deadband, delays); a change of condition is
an ACTIVATE or CLEAR event for the ISA-18.2 state machine (hmi.core.alarm_states); a
suppression condition that begins or ends to hold is SUPPRESS or UNSUPPRESS. A tick
(``tick`` seconds) ends delays without samples and expires shelves.

Every transition is journalled with the state it leaves (hmi.store.alarms), in batches
off the loop; a batch the store refuses is kept, in order, and written again at the
next pass: none is lost. At start the states come back from the store: an alarm active
before the restart is not raised again for the same occurrence, and a shelve that
expired meanwhile ends at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from hmi.core.alarm_expr import Expression, parse_expression
from hmi.core.alarm_rules import AlarmRule, Condition
from hmi.core.alarm_states import (
    SYSTEM_USER,
    Alarm,
    AlarmEvent,
    AlarmRecord,
    AlarmTransition,
    Step,
    step,
)
from hmi.core.audit import AuditEntry
from hmi.core.bus import OverflowPolicy, SampleQueue
from hmi.core.listeners import Listeners
from hmi.core.samples import Quality, Sample, Value
from hmi.core.site import AlarmSettings
from hmi.core.status import ConnectionState, DeviceStatus
from hmi.store.alarm_requests import RequestAnswer, RequestStatus
from hmi.store.alarms import AlarmRepository
from hmi.store.database import StoreError

log = logging.getLogger(__name__)

QUEUE_SIZE = 1_000_000  # samples: a flood must not make the queue drop a transition
RETRY_S = 2.0
WRITE_EVERY_S = 0.2  # the journal is at most this far behind (a crash loses no more)


def _device_key(device: str) -> str:
    return f"@device:{device}"  # not a tag name (tags start with a letter)


class AlarmEngine:
    name = "alarms"
    overflow = OverflowPolicy.DROP_NEWEST  # never reached at QUEUE_SIZE; order kept if so
    queue_size = QUEUE_SIZE

    def __init__(self, rules: Sequence[AlarmRule], settings: AlarmSettings,
                 store: AlarmRepository, *, clock: Callable[[], float] = time.time,
                 tick: float = 0.5) -> None:
        self.rules = {rule.name: rule for rule in rules}
        self.settings = settings
        self._store = store
        self._clock = clock
        self._tick = tick
        self._conditions: dict[str, list[Condition]] = {}
        self._suppressions: dict[str, list[tuple[AlarmRule, Expression]]] = {}
        self._every_condition: list[Condition] = []
        self._waiting: set[Condition] = set()  # conditions a tick may change
        self._shelved: set[str] = set()  # alarms with a shelve to expire
        for rule in rules:
            watched = replace(rule, tag=_device_key(rule.device)) if rule.device else rule
            condition = Condition(watched)  # one per rule, under each tag it reads
            self._every_condition.append(condition)
            for tag in watched.tags:
                self._conditions.setdefault(tag, []).append(condition)
            if rule.suppress_when:
                expression = parse_expression(rule.suppress_when)
                for tag in expression.tags:
                    self._suppressions.setdefault(tag, []).append((rule, expression))
        self.tags = frozenset(tag for tag in (*self._conditions, *self._suppressions)
                              if not tag.startswith("@"))
        self._values: dict[str, Value] = {}  # the watched tags' last known values
        self._records: dict[str, AlarmRecord] = {}
        self._unstored: list[AlarmTransition] = []
        self._retry_at = -math.inf
        self._written_at = -math.inf  # when the last batch went to the store
        self._loaded = False
        self._ready = asyncio.Event()  # set once the states are back from the store
        self._early: dict[str, DeviceStatus] = {}  # statuses that came before that
        # one writer of the states at a time: a batch of the data path's or an operator's
        self._lock = asyncio.Lock()
        self._status_tasks: set[asyncio.Future[None]] = set()
        self.changes: Listeners[[Sequence[AlarmTransition]]] = Listeners("alarm changes")

    # -- what the screens and services read ------------------------------------------

    def records(self) -> dict[str, AlarmRecord]:
        return dict(self._records)

    def record(self, name: str) -> AlarmRecord:
        return self._records[name]

    def unfinished(self) -> int:
        """Samples: none (each batch is evaluated as it comes; transitions not yet
        stored are kept and written again, see ``pending``)."""
        return 0

    @property
    def pending(self) -> int:
        """Transitions the store has not taken yet."""
        return len(self._unstored)

    # -- the consumer ----------------------------------------------------------------

    async def run(self, queue: SampleQueue) -> None:
        if not self._loaded:
            await self._load()
        next_tick = -math.inf
        while True:
            batch = await queue.get(self._tick)
            async with self._lock:
                now = self._clock()
                made: list[AlarmTransition] = []
                for sample in batch:
                    made += self._observe(sample)
                if now >= next_tick:  # every rule and shelve once a tick, not per batch
                    made += self._on_tick(now)
                    next_tick = now + self._tick
                await self._commit(made)
                if not batch and queue.closed:
                    await self._commit([], final=True)
                    return

    async def open(self) -> None:
        """The states back from the store, without running the data path: for a process
        that only acts on alarms (`hmi alarms ack` while no station runs). Shelves that
        expired meanwhile end, as at a station's start."""
        if not self._loaded:
            await self._load()

    async def _load(self) -> None:
        latching = {name: rule.latching for name, rule in self.rules.items()}
        stored = await asyncio.to_thread(self._store.load, latching)
        now = self._clock()
        for name, rule in self.rules.items():
            self._set(stored.get(name) or AlarmRecord(name, Alarm(latching=rule.latching),
                                                       now))
        for condition in self._every_condition:
            # active before the restart: not raised twice for one occurrence
            condition.restore(self._records[condition.rule.name].alarm.active)
            if condition.waiting:
                self._waiting.add(condition)
        async with self._lock:  # before any operator's action: the one writer
            self._loaded = True
            made = self._on_tick(now)  # shelves that expired meanwhile
            for status in self._early.values():  # connections reported before the states
                made += self._status_transitions(status)
            self._early.clear()
            await self._commit(made)
        self._ready.set()

    def _observe(self, sample: Sample, value: str | None = None) -> list[AlarmTransition]:
        made: list[AlarmTransition] = []
        tag = sample.tag
        for condition in self._conditions.get(tag, ()):
            change = condition.observe(sample)
            if condition.waiting:
                self._waiting.add(condition)
            if change is not None:
                event = AlarmEvent.ACTIVATE if change else AlarmEvent.CLEAR
                made += self._apply(condition.rule.name, event, sample.source_time,
                                    value=_text(sample) if value is None else value)
        if tag in self._suppressions:
            first = tag not in self._values
            before = self._values.get(tag)
            self._values[tag] = sample.value if sample.quality is not Quality.BAD else None
            if first or self._values[tag] != before:  # (the first: a restored state)
                made += self._suppression(tag, sample.source_time)
        return made

    def _suppression(self, tag: str, now: float) -> list[AlarmTransition]:
        made: list[AlarmTransition] = []
        for rule, expression in self._suppressions[tag]:
            holds = expression.holds(self._values.get)
            alarm = self._records[rule.name].alarm
            if holds != alarm.suppressed:
                event = AlarmEvent.SUPPRESS if holds else AlarmEvent.UNSUPPRESS
                made += self._apply(rule.name, event, now, comment=rule.suppress_when)
        return made

    def _on_tick(self, now: float) -> list[AlarmTransition]:
        """Delays that ended and shelves that expired: only the conditions waiting on
        the clock and the shelved alarms are looked at (10,000 rules, a few waiting)."""
        made: list[AlarmTransition] = []
        for condition in list(self._waiting):
            change = condition.tick(now)
            if not condition.waiting:
                self._waiting.discard(condition)
            if change is not None:
                event = AlarmEvent.ACTIVATE if change else AlarmEvent.CLEAR
                made += self._apply(condition.rule.name, event, now)
        for name in list(self._shelved):
            until = self._records[name].alarm.shelved_until
            if until is not None and until <= now:
                made += self._apply(name, AlarmEvent.SHELVE_EXPIRED, now)
        return made

    def on_device_status(self, status: DeviceStatus) -> None:
        """A device's connection: its bad_quality alarms. Called on the loop the engine
        runs on; applied in turn with the other writers of the states."""
        if _device_key(status.device) in self._conditions and status.state in (
                ConnectionState.DISCONNECTED, ConnectionState.CONNECTED):
            task = asyncio.ensure_future(self._device_status(status))
            self._status_tasks.add(task)
            task.add_done_callback(self._status_tasks.discard)

    async def _device_status(self, status: DeviceStatus) -> None:
        async with self._lock:
            if not self._loaded:  # applied once the states are back (the latest only)
                self._early[status.device] = status
                return
            self._queue(self._status_transitions(status))

    def _status_transitions(self, status: DeviceStatus) -> list[AlarmTransition]:
        lost = status.state is ConnectionState.DISCONNECTED
        key = _device_key(status.device)
        sample = Sample(key, None if lost else True, Quality.BAD if lost else Quality.GOOD,
                        status.since, status.since, status.last_error)
        said = status.state.value + (f": {status.last_error}" if status.last_error else "")
        return self._observe(sample, said)

    # -- operator actions (through hmi.services.alarm_actions: permission, audit) -------

    async def act(self, names: Sequence[str], event: AlarmEvent, *, user: str,
                  comment: str = "", until: float | None = None,
                  audit_for: Callable[[AlarmTransition], AuditEntry] | None = None,
                  request: int | None = None) -> dict[str, Step]:
        """An operator's ``event`` on each alarm of ``names``: each Step says whether it
        was refused and why. The transitions of those not refused, their state rows and
        their audit rows (``audit_for``) commit in one transaction before this returns;
        if the store refuses, StoreError and nothing changed. ``request``: the command
        line's request (hmi.store.alarm_requests) this performs, answered in that same
        transaction (RequestWithdrawnError, nothing changed, if it is no longer pending).
        Waits for the states to be back from the store when the station is just
        starting."""
        await self._ready.wait()
        async with self._lock:
            now = self._clock()
            steps: dict[str, Step] = {}
            made: list[tuple[AlarmTransition, AlarmRecord]] = []
            for name in dict.fromkeys(names):
                record = self._records[name]
                result = step(record.alarm, event, now=now, until=until,
                              max_shelve_s=self.settings.max_shelve_minutes * 60)
                steps[name] = result
                if result.ok:
                    made.append(self._transition(record, event, now, result, user=user,
                                                 comment=comment))
            transitions = [transition for transition, _ in made]
            entries = [audit_for(t) for t in transitions] if audit_for else []
            # what the data path made before and the store has not taken yet goes first,
            # in the same transaction: the journal stays in order, and the state rows
            # are left by the newest transition, never rewound by an older one
            pending = list(self._unstored)
            answers = [] if request is None else [_answer(request, steps)]
            await asyncio.to_thread(self._store.record, pending + transitions, entries,
                                    answers)
            del self._unstored[:len(pending)]
            self._retry_at = -math.inf
            for _, record in made:
                self._set(record)
        if transitions:
            self.changes.fire(transitions)
        return steps

    def _transition(self, record: AlarmRecord, event: AlarmEvent, now: float, result: Step,
                    *, user: str = SYSTEM_USER, comment: str = "", value: str = "",
                    ) -> tuple[AlarmTransition, AlarmRecord]:
        """The journal row of ``result`` and the record it leaves (nothing changed yet)."""
        occurrence = record.occurrence
        if event is AlarmEvent.ACTIVATE:  # the condition's activations, handled or not
            occurrence += 1
        since = now if result.changed else record.since
        return (AlarmTransition(record.name, now, event, result.before.state, result.after,
                                occurrence, user, comment, value),
                AlarmRecord(record.name, result.after, since, occurrence))

    def _apply(self, name: str, event: AlarmEvent, now: float, *, value: str = "",
               comment: str = "") -> list[AlarmTransition]:
        """A transition of the data path's (or the clock's), applied now and journalled
        with the batch."""
        record = self._records[name]
        result = step(record.alarm, event, now=now)
        if not result.ok or not result.recorded:
            return []
        transition, after = self._transition(record, event, now, result, comment=comment,
                                             value=value)
        self._set(after)
        return [transition]

    def _set(self, record: AlarmRecord) -> None:
        self._records[record.name] = record
        if record.alarm.shelved_until is None:
            self._shelved.discard(record.name)
        else:
            self._shelved.add(record.name)

    def _queue(self, made: list[AlarmTransition]) -> None:
        """Applied already: to be journalled with the next batch, and said now."""
        self._unstored += made
        if made:
            self.changes.fire(made)

    async def _commit(self, made: list[AlarmTransition], final: bool = False) -> None:
        """Journal what is queued: at most every WRITE_EVERY_S (a flood is a few
        transactions, not one per burst of samples), at once when stopping."""
        self._queue(made)
        now = self._clock()
        if not self._unstored or (not final and (
                now < self._retry_at or now - self._written_at < WRITE_EVERY_S)):
            return
        self._written_at = now
        batch = list(self._unstored)
        try:
            await asyncio.to_thread(self._store.record, batch)
        except StoreError as exc:
            self._retry_at = self._clock() + RETRY_S
            then = ("the station is stopping: they are not journalled" if final else
                    f"kept, retried in {RETRY_S:g} s")
            log.error("alarms: %d transitions the store refused (%s): %s", len(batch),
                      then, exc)
            return
        del self._unstored[:len(batch)]
        self._retry_at = -math.inf


def _answer(request: int, steps: dict[str, Step]) -> RequestAnswer:
    """Done, with the state it left, if no alarm was refused; else why."""
    refused = [f"{name}: {result.refused}" if len(steps) > 1 else result.refused
               for name, result in steps.items() if not result.ok]
    if refused:
        return RequestAnswer(request, RequestStatus.REFUSED, "; ".join(refused))
    return RequestAnswer(request, RequestStatus.DONE,
                         ", ".join(result.after.state.value for result in steps.values()))


def _text(sample: Sample) -> str:
    value = sample.value
    if sample.quality is Quality.BAD:
        return f"BAD: {sample.detail}" if sample.detail else "BAD"
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
