"""TagBus: asyncio publish/subscribe of Samples with a latest-value cache.

Publishing never blocks and never awaits: device workers call ``publish`` from the loop.
Each subscriber owns a bounded queue with a named overflow policy, so a slow consumer
(a database writer, say) loses its oldest samples rather than stalling the PLCs, and
counts what it lost.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol

from hmi.core.samples import Sample

log = logging.getLogger(__name__)


class OverflowPolicy(enum.Enum):
    DROP_OLDEST = "drop_oldest"  # keep the newest: right for displays and detectors
    DROP_NEWEST = "drop_newest"  # keep what is queued: right when order matters more


class SampleListener(Protocol):
    """Called synchronously on the loop for each published batch. Must not block."""

    def __call__(self, samples: list[Sample], /) -> None: ...


class Subscription:
    """A bounded queue of samples for one consumer."""

    def __init__(self, bus: TagBus, maxsize: int, overflow: OverflowPolicy) -> None:
        self._bus = bus
        self._queue: deque[Sample] = deque()
        self._maxsize = maxsize
        self._overflow = overflow
        self._ready = asyncio.Event()
        self.dropped = 0

    def _offer(self, samples: list[Sample]) -> None:
        for sample in samples:
            if len(self._queue) >= self._maxsize:
                self.dropped += 1
                if self._overflow is OverflowPolicy.DROP_NEWEST:
                    continue
                self._queue.popleft()
            self._queue.append(sample)
        if self._queue:
            self._ready.set()

    async def get_batch(self) -> list[Sample]:
        """Wait for at least one sample, then return everything queued."""
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        batch = list(self._queue)
        self._queue.clear()
        return batch

    def drain(self) -> list[Sample]:
        """Everything queued now, without waiting (may be empty)."""
        batch = list(self._queue)
        self._queue.clear()
        return batch

    def close(self) -> None:
        self._bus._unsubscribe(self)


class TagBus:
    def __init__(self) -> None:
        self._latest: dict[str, Sample] = {}
        self._subscriptions: list[Subscription] = []
        self._listeners: list[SampleListener] = []
        self.published = 0

    def publish(self, sample: Sample) -> None:
        self.publish_many([sample])

    def publish_many(self, samples: Iterable[Sample]) -> None:
        batch = list(samples)
        if not batch:
            return
        for sample in batch:
            self._latest[sample.tag] = sample
        self.published += len(batch)
        for subscription in self._subscriptions:
            subscription._offer(batch)
        for listener in list(self._listeners):
            try:
                listener(batch)
            except Exception:
                # A broken consumer must not make a healthy PLC look broken to its worker.
                log.exception("tag bus listener %r failed; other consumers unaffected", listener)

    def latest(self, tag: str) -> Sample | None:
        return self._latest.get(tag)

    def snapshot(self) -> dict[str, Sample]:
        return dict(self._latest)

    def subscribe(
        self, maxsize: int = 100_000, overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST
    ) -> Subscription:
        subscription = Subscription(self, maxsize, overflow)
        self._subscriptions.append(subscription)
        return subscription

    def add_listener(self, listener: SampleListener) -> Callable[[], None]:
        """Register a synchronous listener; returns the function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def _unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
