"""TagBus: the one door Samples come through, and the queues its consumers read.

The device side hands Samples over with ``put`` (the ``SampleSink`` port) from its own
thread; the bus moves them onto its home loop in batches (one wake-up per burst, not
per sample), keeps the latest value per tag, and offers each batch to every consumer's
``SampleQueue``. A queue is bounded and names its overflow policy; what it drops is
counted per tag with the time span lost, so a consumer can say so (the historian stores
the span as a gap) instead of losing data silently. Consumers run under
``hmi.core.consumers.ConsumerRunner``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import threading
from collections import deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from hmi.core.samples import Sample

log = logging.getLogger(__name__)


class OverflowPolicy(enum.Enum):
    """What a full queue gives up. Either way the loss is counted and reported."""

    DROP_OLDEST = "drop_oldest"  # keep the newest: right for displays, history, detectors
    DROP_NEWEST = "drop_newest"  # keep what is queued: right when order matters more


class SampleSink(Protocol):
    """Where Samples are handed over. Thread-safe; never blocks, never raises."""

    def put(self, samples: Sequence[Sample], /) -> None: ...


@dataclass(slots=True)
class LostSpan:
    """Samples of one tag a queue dropped: how many, and their source-time span."""

    count: int
    first: float
    last: float


class SampleQueue:
    """A bounded queue of Samples for one named consumer, read on the bus's loop."""

    def __init__(
        self,
        name: str,
        maxsize: int,
        overflow: OverflowPolicy,
        tags: Collection[str] | None = None,
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"queue {name!r}: maxsize must be at least 1, not {maxsize}")
        self.name = name
        self.maxsize = maxsize
        self.overflow = overflow
        self._tags = frozenset(tags) if tags is not None else None
        self._queue: deque[Sample] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self.offered = 0  # samples that reached the queue (after the tag filter)
        self.dropped = 0  # samples the overflow policy gave up
        self._lost: dict[str, LostSpan] = {}

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._queue)

    def watch(self, tags: Collection[str] | None) -> None:
        """From now on queue only ``tags`` (None: every tag), and forget what is queued
        for the others: nobody wants it (not a drop). A consumer whose interest changes
        (the screens, as views open and scroll) filters at the door."""
        self._tags = frozenset(tags) if tags is not None else None
        wanted = self._tags
        if wanted is not None and self._queue:
            kept = [s for s in self._queue if s.tag in wanted]
            if len(kept) != len(self._queue):
                self._queue = deque(kept)

    def offer(self, samples: Sequence[Sample]) -> None:
        """Queue a batch (on the bus's loop); a full queue drops by its policy."""
        if self._closed:
            return
        if self._tags is not None:
            samples = [s for s in samples if s.tag in self._tags]
            if not samples:
                return
        self.offered += len(samples)
        queue = self._queue
        room = self.maxsize - len(queue)
        if len(samples) <= room:
            queue.extend(samples)
        elif self.overflow is OverflowPolicy.DROP_NEWEST:
            queue.extend(samples[:room] if room > 0 else ())
            for sample in samples[max(room, 0):]:
                self._lose(sample)
        else:
            for sample in samples:
                if len(queue) >= self.maxsize:
                    self._lose(queue.popleft())
                queue.append(sample)
        self._ready.set()

    def _lose(self, sample: Sample) -> None:
        self.dropped += 1
        span = self._lost.get(sample.tag)
        if span is None:
            self._lost[sample.tag] = LostSpan(1, sample.source_time, sample.source_time)
        else:
            span.count += 1
            span.first = min(span.first, sample.source_time)
            span.last = max(span.last, sample.source_time)

    def take_lost(self) -> dict[str, LostSpan]:
        """What was dropped since the last call, per tag (and forget it)."""
        lost, self._lost = self._lost, {}
        return lost

    async def get(self, timeout: float | None = None) -> list[Sample]:  # noqa: ASYNC109
        """Everything queued, once there is at least one sample. Returns ``[]`` when the
        timeout passes first, or when the queue is closed and empty (the end)."""
        if not self._queue and not self._closed:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        return self.drain()

    def drain(self) -> list[Sample]:
        """Everything queued now, without waiting (may be empty)."""
        batch = list(self._queue)
        self._queue.clear()
        return batch

    def close(self) -> None:
        """No more samples will come; ``get`` returns what is left, then ``[]``."""
        self._closed = True
        self._ready.set()


DELIVERY_CHUNK = 5_000  # samples delivered in one callback of the bus's loop (~2 ms)


class TagBus:
    """The sample hub of one loop: thread-safe ``put``, latest values, consumer queues.

    ``known_tags`` (the site's tags): a Sample for any other tag is dropped, counted in
    ``unknown`` and logged once per tag name, never per sample.
    """

    def __init__(self, known_tags: Iterable[str] | None = None) -> None:
        self._latest: dict[str, Sample] = {}
        self._queues: list[SampleQueue] = []
        self._known = frozenset(known_tags) if known_tags is not None else None
        self._unknown_logged: set[str] = set()
        self.unknown = 0
        self.published = 0
        self._lock = threading.Lock()
        self._pending: list[Sample] = []
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        with contextlib.suppress(RuntimeError):
            self.attach(asyncio.get_running_loop())

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on ``loop`` (the thread that runs it). Without a loop, ``put``
        delivers at once on the caller's thread."""
        self._loop = loop
        self._thread = threading.get_ident() if loop.is_running() else None

    # -- the port ---------------------------------------------------------------------

    def put(self, samples: Sequence[Sample], /) -> None:
        """Hand Samples over from any thread. On the bus's own thread they are delivered
        now; from another thread they are delivered on the bus's loop, in order, with
        one wake-up for whatever arrived meanwhile."""
        if not samples:
            return
        loop = self._loop
        if loop is None or self._on_home_thread(loop):
            if self._pending:
                self._deliver_pending(limit=None)  # all of it first: order is kept
            self._deliver(samples)
            return
        with self._lock:
            self._pending.extend(samples)
            if self._scheduled:
                return
            self._scheduled = True
        try:
            loop.call_soon_threadsafe(self._deliver_pending)
        except RuntimeError:  # the loop is closed: nobody is left to deliver to
            with self._lock:
                lost, self._pending, self._scheduled = len(self._pending), [], False
            log.warning("tag bus: its loop is closed; %d samples not delivered", lost)

    def flush(self) -> None:
        """Deliver what other threads handed over, now (on the bus's own thread)."""
        self._deliver_pending(limit=None)

    def _on_home_thread(self, loop: asyncio.AbstractEventLoop) -> bool:
        if self._thread is None:
            if _running_loop() is not loop:
                return False
            self._thread = threading.get_ident()
        return threading.get_ident() == self._thread

    def _deliver_pending(self, limit: int | None = DELIVERY_CHUNK) -> None:
        """Deliver what is pending, at most ``limit`` samples in one go: the rest in a
        callback of its own, so a burst from many devices at once (50,000 samples)
        does not hold the loop in one piece."""
        with self._lock:
            batch = self._pending
            more = limit is not None and len(batch) > limit
            if more:
                batch, self._pending = batch[:limit], batch[limit:]
            else:
                self._pending, self._scheduled = [], False
        if batch:
            self._deliver(batch)
        if more and self._loop is not None:
            try:
                self._loop.call_soon(self._deliver_pending)
            except RuntimeError:  # closed meanwhile: the next put says so, flush delivers
                with self._lock:
                    self._scheduled = False

    def _deliver(self, samples: Sequence[Sample]) -> None:
        known = self._known
        if known is not None:
            unknown = [s for s in samples if s.tag not in known]
            if unknown:
                self._count_unknown(unknown)
                samples = [s for s in samples if s.tag in known]
        latest = self._latest
        for sample in samples:
            latest[sample.tag] = sample
        self.published += len(samples)
        for queue in self._queues:
            try:
                queue.offer(samples)
            except Exception:
                # one broken queue must not make a healthy PLC look broken to the others
                log.exception("tag bus: offering to %s failed; other consumers unaffected",
                              queue.name)

    def _count_unknown(self, samples: Sequence[Sample]) -> None:
        self.unknown += len(samples)
        for sample in samples:
            if sample.tag not in self._unknown_logged:
                self._unknown_logged.add(sample.tag)
                log.warning("a sample for tag %r, which is not in the site config, was "
                            "dropped (further ones are counted, not logged)", sample.tag)

    # -- readers ----------------------------------------------------------------------

    def latest(self, tag: str) -> Sample | None:
        return self._latest.get(tag)

    def snapshot(self) -> dict[str, Sample]:
        return dict(self._latest)

    def subscribe(
        self,
        name: str,
        *,
        maxsize: int = 100_000,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
        tags: Collection[str] | None = None,
    ) -> SampleQueue:
        """A named queue of every Sample from now on (or of ``tags`` only)."""
        queue = SampleQueue(name, maxsize, overflow, tags)
        self._queues.append(queue)
        return queue

    def unsubscribe(self, queue: SampleQueue) -> None:
        queue.close()
        if queue in self._queues:
            self._queues.remove(queue)

    @property
    def queues(self) -> tuple[SampleQueue, ...]:
        return tuple(self._queues)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
