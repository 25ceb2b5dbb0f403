"""The per-tag feed: each subscriber gets its own tags once per tick, coalesced and bounded."""

from __future__ import annotations

import logging

import pytest

from hmi.core.samples import Quality, Sample
from hmi.gui.feed import TagFeed

T0 = 1_714_543_200.0


def sample(tag: str, value: float, at: float = T0) -> Sample:
    return Sample(tag, value, Quality.GOOD, at, at)


class Recorder:
    """A subscriber that keeps every batch it was handed."""

    def __init__(self) -> None:
        self.batches: list[list[Sample]] = []

    def __call__(self, samples: list[Sample]) -> None:
        self.batches.append(list(samples))

    @property
    def samples(self) -> list[Sample]:
        return [s for batch in self.batches for s in batch]

    def values(self, tag: str) -> list[object]:
        return [s.value for s in self.samples if s.tag == tag]


@pytest.fixture
def feed(qtbot):
    feed = TagFeed(interval_ms=20)
    yield feed
    feed.close()


def test_a_subscriber_gets_only_its_tags(feed: TagFeed, qtbot) -> None:
    speed, level = Recorder(), Recorder()
    feed.subscribe(["A.Speed"], speed)
    feed.subscribe(["B.Level", "A.Speed"], level)
    feed.offer([sample("A.Speed", 1.0), sample("B.Level", 2.0), sample("C.Other", 3.0)])
    qtbot.waitUntil(lambda: bool(speed.batches) and bool(level.batches), timeout=2000)
    assert [s.tag for s in speed.samples] == ["A.Speed"]
    assert sorted(s.tag for s in level.samples) == ["A.Speed", "B.Level"]
    assert len(level.batches) == 1, "one batch per tick, not one per tag"
    assert feed.latest("C.Other") == sample("C.Other", 3.0)  # kept, delivered to no one


def test_a_new_subscriber_gets_the_latest_at_once_and_never_twice(feed: TagFeed, qtbot) -> None:
    feed.offer([sample("A.Speed", 1.0)])
    first = Recorder()
    feed.subscribe(["A.Speed"], first)
    assert first.values("A.Speed") == [1.0], "given at subscribe time, not at the next tick"
    feed.offer([sample("A.Speed", 2.0, T0 + 1)])
    late = Recorder()
    feed.subscribe(["A.Speed"], late)  # joins while 2.0 waits for the tick
    assert late.values("A.Speed") == [2.0]
    feed.offer([sample("A.Speed", 3.0, T0 + 2)])
    qtbot.waitUntil(lambda: 3.0 in late.values("A.Speed"), timeout=2000)
    assert late.values("A.Speed") == [2.0, 3.0], "2.0 is not handed to it a second time"
    assert first.values("A.Speed") == [1.0, 2.0, 3.0]


def test_coalescing_keeps_the_latest_and_bounds_the_backlog(qtbot) -> None:
    feed = TagFeed(interval_ms=20, backlog=8)
    try:
        trend, other = Recorder(), Recorder()
        feed.subscribe(["A.Speed"], trend)
        feed.subscribe(["B.Level"], other)
        feed._timer.stop()  # a slow GUI: many offers before the next tick
        for i in range(100):
            feed.offer([sample("A.Speed", float(i), T0 + i)])
        feed.offer([sample("B.Level", 5.0)])
        assert feed.waiting <= 4 * 8, "bounded before the tick, not only at it"
        assert feed.latest("A.Speed").value == 99.0
        feed._timer.start()
        qtbot.waitUntil(lambda: bool(trend.batches), timeout=2000)
        assert feed.coalesced == 92, "what coalescing dropped is counted"
        assert trend.values("A.Speed") == [float(i) for i in range(92, 100)], \
            "the newest 8 in order, the latest last"
        assert other.values("B.Level") == [5.0], "a busy tag does not crowd out another"
    finally:
        feed.close()


def test_every_point_of_a_slow_tag_reaches_the_subscriber(feed: TagFeed, qtbot) -> None:
    trend = Recorder()
    feed.subscribe(["A.Speed"], trend)
    feed._timer.stop()
    feed.offer([sample("A.Speed", float(i), T0 + i / 4) for i in range(4)])  # 4 Hz, 1 s
    feed._timer.start()
    qtbot.waitUntil(lambda: bool(trend.batches), timeout=2000)
    assert trend.values("A.Speed") == [0.0, 1.0, 2.0, 3.0]
    assert feed.coalesced == 0


def test_unsubscribe_stops_delivery_and_the_last_one_drops_the_tag(feed: TagFeed, qtbot) -> None:
    table, trend, probe = Recorder(), Recorder(), Recorder()
    table_sub = feed.subscribe(["A.Speed"], table)
    trend_sub = feed.subscribe(["A.Speed"], trend)
    feed.subscribe(["B.Level"], probe)
    assert feed.subscriber_count("A.Speed") == 2
    table_sub.close()
    table_sub.close()  # twice is harmless: the count is not decremented again
    assert feed.subscriber_count("A.Speed") == 1
    feed.offer([sample("A.Speed", 1.0)])
    qtbot.waitUntil(lambda: bool(trend.batches), timeout=2000)
    assert table.batches == [], "a closed subscription gets nothing"

    trend_sub.close()
    assert feed.subscriber_count("A.Speed") == 0
    delivered = len(trend.batches)
    feed.offer([sample("A.Speed", 2.0)])
    assert feed.waiting == 0, "the last unsubscribe drops the tag: nothing kept for it"
    feed.offer([sample("B.Level", 1.0)])
    qtbot.waitUntil(lambda: bool(probe.batches), timeout=2000)  # a tick went by
    assert len(trend.batches) == delivered
    assert probe.values("B.Level") == [1.0]
    assert feed.latest("A.Speed").value == 2.0  # still there for the next subscriber


def test_a_failing_subscriber_does_not_starve_the_others(feed: TagFeed, qtbot, caplog) -> None:
    def broken(samples: list[Sample]) -> None:
        raise ValueError("a broken view")

    healthy = Recorder()
    failing = feed.subscribe(["A.Speed"], broken, name="broken-view")
    feed.subscribe(["A.Speed"], healthy)
    with caplog.at_level(logging.ERROR, logger="hmi.gui.feed"):
        for i in range(3):
            feed.offer([sample("A.Speed", float(i), T0 + i)])
            qtbot.waitUntil(lambda i=i: float(i) in healthy.values("A.Speed"), timeout=2000)
    assert healthy.values("A.Speed") == [0.0, 1.0, 2.0]
    assert failing.failures == 3
    logged = [r for r in caplog.records if "broken-view" in r.getMessage()]
    assert len(logged) == 1, "named, and logged once rather than at every tick"
    assert logged[0].exc_info is not None


def test_nothing_is_delivered_when_nothing_changed(feed: TagFeed, qtbot) -> None:
    table = Recorder()
    feed.subscribe(["A.Speed"], table)
    feed.offer([sample("A.Speed", 1.0)])
    qtbot.waitUntil(lambda: bool(table.batches), timeout=2000)
    ticks = feed.ticks
    feed.offer([sample("Unwatched", 1.0)])  # no subscriber: nothing dirty
    qtbot.wait(200)  # ten ticks of the 20 ms timer
    assert table.batches == [[sample("A.Speed", 1.0)]]
    assert feed.ticks == ticks, "an idle tick does no work"


def test_a_closed_feed_delivers_nothing(qtbot) -> None:
    feed = TagFeed(interval_ms=20)
    table = Recorder()
    subscription = feed.subscribe(["A.Speed"], table)
    feed.close()
    assert not subscription.active
    feed.offer([sample("A.Speed", 1.0)])  # a source still attached: harmless
    qtbot.wait(100)
    assert table.batches == []
    with pytest.raises(RuntimeError, match="closed"):
        feed.subscribe(["A.Speed"], table)


def test_a_tag_dropped_while_samples_wait_is_not_delivered(feed: TagFeed, qtbot) -> None:
    trend, probe = Recorder(), Recorder()
    subscription = feed.subscribe(["A.Speed"], trend)
    feed.subscribe(["B.Level"], probe)
    feed._timer.stop()
    feed.offer([sample("A.Speed", 1.0), sample("B.Level", 1.0)])
    subscription.close()  # before the tick
    feed._timer.start()
    qtbot.waitUntil(lambda: bool(probe.batches), timeout=2000)
    assert trend.batches == []
    assert probe.values("B.Level") == [1.0], "only what is still watched"
    assert feed.coalesced == 0, "an unsubscribed tag's samples are not coalescing drops"


def test_many_one_tag_widgets_each_get_their_own(feed: TagFeed, qtbot) -> None:
    widgets = {f"T{i}": Recorder() for i in range(50)}
    for tag, widget in widgets.items():
        feed.subscribe([tag], widget)
    table = Recorder()
    feed.subscribe(list(widgets), table)
    feed.offer([sample(tag, float(i)) for i, tag in enumerate(widgets)])
    feed.offer([sample("T7", 70.0, T0 + 1)])
    qtbot.waitUntil(lambda: bool(table.batches), timeout=2000)
    assert widgets["T3"].values("T3") == [3.0]
    assert widgets["T7"].values("T7") == [7.0, 70.0]
    assert all(len(w.samples) in (1, 2) and {s.tag for s in w.samples} == {tag}
               for tag, w in widgets.items())
    assert len(table.samples) == 51
