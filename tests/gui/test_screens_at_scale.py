"""At plant scale the screens cost what they show: the tag table watches the rows on
screen, and the feed's queue on the bus carries only the tags some view subscribed to."""

from __future__ import annotations

import asyncio

from hmi.core.bus import OverflowPolicy, TagBus
from hmi.core.consumers import ConsumerRunner
from hmi.core.datatypes import DataType
from hmi.core.samples import Quality, Sample
from hmi.core.site import ModbusAddress, RegisterTable, Tag
from hmi.gui.feed import TagFeed
from hmi.gui.tag_table import TagTableModel, TagTableView

T0 = 1_714_543_200.0
TAGS = [Tag(f"PLC.R{i:04d}", "plc", ModbusAddress(RegisterTable.HOLDING_REGISTER, i),
            DataType.UINT16) for i in range(5_000)]


def sample(tag: str, value: float, at: float = T0) -> Sample:
    return Sample(tag, value, Quality.GOOD, at, at)


def test_the_table_subscribes_to_the_rows_on_screen_and_follows_the_scroll(qtbot) -> None:
    current = {tag.name: sample(tag.name, 1.0) for tag in TAGS}  # the bus's latest values
    feed = TagFeed(interval_ms=20, current=current.get)
    model = TagTableModel(TAGS, feed)
    view = TagTableView(model)
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.show()
    qtbot.waitExposed(view)
    first, last = TAGS[0].name, TAGS[-1].name
    assert len(model.watched) < 100, "about a screenful, not 5,000 rows"
    assert feed.subscriber_count(first) == 1
    assert feed.subscriber_count(last) == 0
    assert model.sample(first) == current[first], "on screen: its value at once"

    view.scrollToBottom()
    qtbot.waitUntil(lambda: feed.subscriber_count(last) == 1, timeout=2000)
    assert feed.subscriber_count(first) == 0, "scrolled away: no longer fed"
    assert model.sample(last) == current[last], "scrolled into view: its latest at once"
    feed.offer([sample(last, 7.0, T0 + 1), sample(first, 9.0, T0 + 1)])
    qtbot.waitUntil(lambda: model.sample(last).value == 7.0, timeout=2000)  # type: ignore[union-attr]
    assert model.sample(first).value == 1.0  # type: ignore[union-attr]
    model.close()
    feed.close()


def test_the_feeds_queue_carries_only_the_tags_views_subscribed_to(qloop) -> None:
    async def scenario() -> None:
        bus = TagBus()
        runner = ConsumerRunner(bus)
        feed = TagFeed(interval_ms=20, current=bus.latest)
        queue = runner.add(feed, overflow=OverflowPolicy.DROP_OLDEST, maxsize=10_000)
        runner.start()
        got: list[Sample] = []
        subscription = feed.subscribe(["A"], got.extend)
        await asyncio.sleep(0.05)
        bus.put([sample("A", 1.0), sample("B", 2.0), sample("C", 3.0)])
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.02)
        assert [s.tag for s in got] == ["A"]
        assert queue.offered == 1, "B and C never entered the screens' queue"
        assert feed.latest("B") == sample("B", 2.0), "a new view still gets B's latest"

        subscription.close()
        bus.put([sample("A", 4.0)])
        assert queue.offered == 1, "nobody watches A any more"
        await runner.stop()
        feed.close()

    qloop.run_until_complete(scenario())


def test_a_tag_watched_again_never_shows_an_older_value_after_a_newer_one(qtbot) -> None:
    """A row scrolled out and back in before the next tick (or a pen removed and added
    again): what was on its way for the tag while nobody watched it is forgotten, so
    the view starts from the bus's latest and never gets an older sample after it."""
    bus = TagBus()  # no loop: put delivers at once
    feed = TagFeed(interval_ms=10_000, current=bus.latest)  # ticks by hand below
    queue = bus.subscribe("screens", maxsize=1_000)
    feed._queue = queue  # as run() does
    queue.watch([])
    before: list[Sample] = []
    first = feed.subscribe(["X"], before.extend)
    bus.put([sample("X", 1.0, T0 + 1)])  # on its way in the feed's queue
    feed.offer(queue.drain())  # now waiting in the feed for the tick
    bus.put([sample("X", 2.0, T0 + 2)])  # still in the queue
    first.close()  # scrolled out: X no longer watched
    bus.put([sample("X", 3.0, T0 + 3)])  # only the bus keeps it
    seen: list[Sample] = []
    feed.subscribe(["X"], seen.extend)  # scrolled back in
    feed.offer(queue.drain())
    feed._on_tick()
    assert [s.value for s in seen] == [3.0]
    bus.put([sample("X", 4.0, T0 + 4)])
    feed.offer(queue.drain())
    feed._on_tick()
    assert [s.value for s in seen] == [3.0, 4.0]
    feed.close()
