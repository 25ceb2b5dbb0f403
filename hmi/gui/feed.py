"""The per-tag feed for the screens: samples are offered as they come, kept per tag, and
delivered once per display tick to whoever subscribed to those tags.

Modelled on taurus' buffered events (``fireBufferedEvents``: keep, then fire once) and
PyDM's per-address connections (``add_connection``/``remove_connection``, reference
counted per tag), without PyDM's global queue: the feed is one object the composition
root builds and hands to the window, and a consumer of the bus like any other (``run``,
under the runtime's ConsumerRunner). A burst never costs a repaint per sample: ``offer``
only appends to a list and counts per tag; the tick hands each subscriber its share.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, QTimer

from hmi.core.bus import SampleQueue
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
        self._tagset = frozenset(tags)
        self._feed: TagFeed | None = feed
        self._callback = callback
        # Tags with samples waiting for the tick when this subscriber joined: it got
        # their latest at once, so that tick gives it only what came after that sample.
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
            # traceback, then the tenth, hundredth, ... with the count.
            if _is_power_of_ten(self.failures):
                log.exception("feed subscriber %s failed (%d times); other subscribers "
                              "unaffected", self.name, self.failures)


class TagFeed(QObject):
    """Latest sample per tag, and up to ``backlog`` samples per subscribed tag since the
    last tick (older ones are dropped and counted in ``coalesced``)."""

    def __init__(self, interval_ms: int = DISPLAY_INTERVAL_MS, backlog: int = BACKLOG,
                 parent: QObject | None = None, *,
                 current: Callable[[str], Sample | None] | None = None) -> None:
        """``current(tag)``: the latest value of a tag the feed was not fed (the bus's),
        so a view subscribing to a new tag never starts blank."""
        super().__init__(parent)
        if backlog < 1:
            raise ValueError("the per-tag backlog must keep at least one sample")
        self._limit = backlog
        self._current = current
        self._queue: SampleQueue | None = None
        self._latest: dict[str, Sample] = {}
        self._subscribers: dict[str, list[Subscription]] = {}  # its length is the count
        self._subscriptions: dict[Subscription, None] = {}  # in the order they came
        # Since the last tick, for subscribed tags only: the samples in arrival order and
        # how many per tag. One list, not a queue per tag: the tick then hands a
        # subscriber of every dirty tag (the table, the trend) the list as it is.
        self._pending: list[Sample] = []
        self._counts: dict[str, int] = {}
        self._trim_at = 4 * backlog  # trim the list when it grows past this
        self.coalesced = 0  # samples dropped from a full backlog before a tick took them
        self.ticks = 0  # ticks that delivered something
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_tick)
        self._timer.start()

    # -- the source side: cheap, no Qt --------------------------------------------------

    name = "screens"  # as a consumer of the bus (hmi.core.consumers.ConsumerRunner)

    def unfinished(self) -> int:
        """Nothing a stop could lose: what waits for a tick is only for the screens."""
        return 0

    async def run(self, queue: SampleQueue) -> None:
        """Consume the bus: its queue brings only the tags some view subscribed to (at
        55,000 tags a screen shows a few hundred), each batch offered, until it closes."""
        self._queue = queue
        queue.watch(self._subscribers.keys())
        try:
            while batch := await queue.get():
                self.offer(batch)
        finally:
            self._queue = None

    def offer(self, samples: list[Sample]) -> None:
        """Take a batch on the GUI thread: a dict store per sample, and for a subscribed
        tag an append and a count."""
        latest, subscribers = self._latest, self._subscribers
        pending, counts = self._pending, self._counts
        keep_all = self._current is None  # else the source keeps what nobody watches
        for sample in samples:
            tag = sample.tag
            if tag in subscribers:
                latest[tag] = sample
                pending.append(sample)
                counts[tag] = counts.get(tag, 0) + 1
            elif keep_all:
                latest[tag] = sample
        if len(pending) > self._trim_at:  # bounded between ticks, at O(1) a sample
            self._trim()
            self._trim_at = max(2 * len(self._pending), 4 * self._limit)

    def latest(self, tag: str) -> Sample | None:
        found = self._latest.get(tag)
        if found is None and self._current is not None:
            return self._current(tag)
        return found

    @property
    def waiting(self) -> int:
        """Samples held for the next tick."""
        return len(self._pending)

    # -- the screen side ----------------------------------------------------------------

    def subscribe(self, tags: Iterable[str], callback: SampleCallback,
                  name: str = "") -> Subscription:
        """Deliver ``tags``' new samples to ``callback`` once per tick; it gets their
        current latest at once, so a new view never starts blank. The list handed to
        ``callback`` may be shared with other subscribers: read it, do not change it."""
        if self._closed:
            raise RuntimeError("the tag feed is closed")
        wanted = tuple(dict.fromkeys(tags))
        subscription = Subscription(self, wanted, callback, name or _name_of(callback))
        new = [tag for tag in wanted if tag not in self._subscribers]
        for tag in wanted:
            self._subscribers.setdefault(tag, []).append(subscription)
        self._subscriptions[subscription] = None
        if new and self._queue is not None:
            self._queue.watch(self._subscribers.keys())
        current = [s for tag in wanted if (s := self.latest(tag)) is not None]
        for sample in current:
            if sample.tag in self._counts:
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
        for subscription in list(self._subscriptions):
            subscription.close()

    def _remove(self, subscription: Subscription) -> None:
        self._subscriptions.pop(subscription, None)
        dropped = False
        for tag in subscription.tags:
            subscribers = self._subscribers.get(tag)
            if subscribers is None:
                continue
            if subscription in subscribers:
                subscribers.remove(subscription)
            if not subscribers:  # the last one gone: the tag is no longer fed
                del self._subscribers[tag]
                dropped = True
                if self._current is not None:  # the bus keeps its latest, not the feed
                    self._latest.pop(tag, None)
                self._counts.pop(tag, None)
        if dropped:
            # what was on its way for a tag nobody watches goes now: a view subscribing
            # to it again starts from the bus's latest, and must never get older after it
            fed = self._subscribers
            self._pending = [s for s in self._pending if s.tag in fed]
            if self._queue is not None:
                self._queue.watch(fed.keys())

    # -- the tick -----------------------------------------------------------------------

    def _trim(self) -> None:
        """Keep the newest ``backlog`` samples of each tag; count what goes."""
        limit, subscribers = self._limit, self._subscribers
        kept: list[Sample] = []
        counts: dict[str, int] = {}
        for sample in reversed(self._pending):
            tag = sample.tag
            count = counts.get(tag, 0)
            if count < limit and tag in subscribers:
                counts[tag] = count + 1
                kept.append(sample)
        self.coalesced += sum(self._counts.values()) - len(kept)
        kept.reverse()
        self._pending, self._counts = kept, counts

    def _on_tick(self) -> None:
        if not self._pending:
            return
        if max(self._counts.values()) > self._limit:
            self._trim()  # every pending sample is a watched tag's: some are left
        samples, counts = self._pending, self._counts
        self._pending, self._counts = [], {}
        self._trim_at = max(2 * len(samples), 4 * self._limit)
        self.ticks += 1
        by_tag: dict[str, list[Sample]] | None = None
        for subscription in list(self._subscriptions):
            if not subscription.active:  # an earlier callback closed it
                continue
            if not subscription._given and counts.keys() <= subscription._tagset:
                subscription._deliver(samples)  # every dirty tag is its: the list as is
                continue
            if by_tag is None:
                by_tag = _grouped(samples)
            batch = _share(subscription, by_tag, counts)
            subscription._given.clear()
            if batch:
                subscription._deliver(batch)


def _grouped(samples: list[Sample]) -> dict[str, list[Sample]]:
    by_tag: dict[str, list[Sample]] = {}
    for sample in samples:
        found = by_tag.get(sample.tag)
        if found is None:
            by_tag[sample.tag] = [sample]
        else:
            found.append(sample)
    return by_tag


def _share(subscription: Subscription, by_tag: dict[str, list[Sample]],
           counts: dict[str, int]) -> list[Sample]:
    """A subscriber's samples of this tick: walks the smaller of its tags and the dirty
    ones, so a one-tag widget costs one lookup, not a pass over every sample."""
    tags: Iterable[str] = subscription.tags
    if len(counts) < len(subscription.tags):
        tags = [tag for tag in counts if tag in subscription._tagset]
    batch: list[Sample] = []
    given = subscription._given
    for tag in tags:
        found = by_tag.get(tag)
        if found is None:
            continue
        first = given.get(tag)
        batch.extend(found if first is None else _after(found, first))
    return batch


def _after(samples: list[Sample], given: Sample) -> list[Sample]:
    """The samples that came after ``given`` (all of them if it was trimmed away)."""
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
