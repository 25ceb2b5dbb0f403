"""The per-tag feed for the screens: samples are offered as they come, kept per tag, and
delivered once per display tick to whoever subscribed to those tags.

Modelled on taurus' buffered events (``fireBufferedEvents``: keep, then fire once) and
PyDM's per-address connections (``add_connection``/``remove_connection``, reference
counted per tag), without PyDM's global queue: the feed is one object the composition
root builds and hands to the window. A burst never costs a repaint per sample: ``offer``
only appends to a bounded per-tag backlog and marks the tag dirty.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, QTimer

from hmi.core.samples import Sample

log = logging.getLogger(__name__)

DISPLAY_INTERVAL_MS = 100  # 10 Hz: smooth for an operator, cheap for the loop
BACKLOG = 64  # samples per tag kept between ticks: every point of a 4 Hz tag, and more

SampleCallback = Callable[[list[Sample]], None]


class Subscription:
    """One subscriber's interest in some tags; ``close()`` ends it (idempotent)."""

    def __init__(self, feed: TagFeed, tags: tuple[str, ...], callback: SampleCallback,
                 name: str) -> None:
        self.tags = tags
        self.name = name
        self.failures = 0  # deliveries that raised
        self._feed: TagFeed | None = feed
        self._callback = callback
        # Tags that were already dirty when this subscriber joined: it got their latest
        # at once, so the next tick gives it only what came after that sample.
        self._given: dict[str, Sample] = {}

    @property
    def active(self) -> bool:
        return self._feed is not None

    def close(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            feed._remove(self)

    def _deliver(self, samples: list[Sample]) -> None:
        try:
            self._callback(samples)
        except Exception:
            self.failures += 1
            # A broken view must not flood the log at 10 Hz: the first failure with its
            # traceback, then every tenth, hundredth, ... with the count.
            if _is_power_of_ten(self.failures):
                log.exception("feed subscriber %s failed (%d times); other subscribers "
                              "unaffected", self.name, self.failures)


class TagFeed(QObject):
    """Latest sample per tag, and the samples since the last tick for subscribed tags."""

    def __init__(self, interval_ms: int = DISPLAY_INTERVAL_MS, backlog: int = BACKLOG,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        if backlog < 1:
            raise ValueError("the per-tag backlog must keep at least one sample")
        self._backlog_size = backlog
        self._latest: dict[str, Sample] = {}
        self._backlogs: dict[str, deque[Sample]] = {}  # one per subscribed tag
        self._subscribers: dict[str, list[Subscription]] = {}  # its length is the count
        self._dirty: set[str] = set()
        self.coalesced = 0  # samples dropped from a full backlog before a tick took them
        self.ticks = 0  # ticks that delivered something
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_tick)
        self._timer.start()

    # -- the source side: cheap, no Qt --------------------------------------------------

    def offer(self, samples: list[Sample]) -> None:
        """Take a batch on the GUI thread: dict and deque appends, and a dirty mark."""
        latest, backlogs, dirty = self._latest, self._backlogs, self._dirty
        limit = self._backlog_size
        for sample in samples:
            tag = sample.tag
            latest[tag] = sample
            backlog = backlogs.get(tag)
            if backlog is not None:
                if len(backlog) == limit:
                    self.coalesced += 1
                backlog.append(sample)
                dirty.add(tag)

    def latest(self, tag: str) -> Sample | None:
        return self._latest.get(tag)

    # -- the screen side ----------------------------------------------------------------

    def subscribe(self, tags: Iterable[str], callback: SampleCallback,
                  name: str = "") -> Subscription:
        """Deliver ``tags``' new samples to ``callback`` once per tick; it gets their
        current latest at once, so a new view never starts blank."""
        if self._closed:
            raise RuntimeError("the tag feed is closed")
        wanted = tuple(dict.fromkeys(tags))
        subscription = Subscription(self, wanted, callback, name or _name_of(callback))
        for tag in wanted:
            subscribers = self._subscribers.get(tag)
            if subscribers is None:  # the first subscriber connects the tag
                self._subscribers[tag] = subscribers = []
                self._backlogs[tag] = deque(maxlen=self._backlog_size)
            subscribers.append(subscription)
        current = [s for tag in wanted if (s := self._latest.get(tag)) is not None]
        for sample in current:
            if sample.tag in self._dirty:
                subscription._given[sample.tag] = sample
        if current:
            subscription._deliver(current)
        return subscription

    def subscriber_count(self, tag: str) -> int:
        return len(self._subscribers.get(tag, ()))

    def close(self) -> None:
        """Stop the tick and end every subscription; later offers only keep the latest."""
        self._closed = True
        self._timer.stop()
        for subscription in {s for subs in self._subscribers.values() for s in subs}:
            subscription.close()

    def _remove(self, subscription: Subscription) -> None:
        for tag in subscription.tags:
            subscribers = self._subscribers.get(tag)
            if subscribers is None:
                continue
            if subscription in subscribers:
                subscribers.remove(subscription)
            if not subscribers:  # the last one gone: the tag is no longer fed
                del self._subscribers[tag]
                del self._backlogs[tag]
                self._dirty.discard(tag)

    def _on_tick(self) -> None:
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        batches: dict[Subscription, list[Sample]] = {}
        for tag in dirty:
            backlog = self._backlogs[tag]
            samples = list(backlog)
            backlog.clear()
            for subscription in self._subscribers[tag]:
                given = subscription._given.pop(tag, None)
                batch = batches.get(subscription)
                if batch is None:
                    batches[subscription] = batch = []
                batch.extend(_after(samples, given) if given is not None else samples)
        self.ticks += 1
        for subscription, batch in batches.items():
            if batch and subscription.active:  # an earlier callback may have closed it
                subscription._deliver(batch)


def _after(samples: list[Sample], given: Sample) -> list[Sample]:
    """The samples that came after ``given`` (all of them if it left the backlog)."""
    for index in range(len(samples) - 1, -1, -1):
        if samples[index] is given:
            return samples[index + 1 :]
    return samples


def _name_of(callback: SampleCallback) -> str:
    owner = getattr(callback, "__self__", None)
    qualname = getattr(callback, "__qualname__", "")
    if owner is not None and qualname:
        return f"{type(owner).__name__}.{qualname.rsplit('.', 1)[-1]}"
    return qualname or repr(callback)


def _is_power_of_ten(count: int) -> bool:
    while count >= 10 and count % 10 == 0:
        count //= 10
    return count == 1
