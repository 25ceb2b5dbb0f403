"""TagBus: latest-value cache, bounded subscriptions with overflow policy, listeners."""

from __future__ import annotations

import asyncio

from hmi.core.bus import OverflowPolicy, TagBus
from hmi.core.samples import Quality, Sample


def _s(tag: str, value: int) -> Sample:
    return Sample(tag, value, Quality.GOOD, float(value), float(value))


def test_publish_updates_latest_and_snapshot() -> None:
    bus = TagBus()
    assert bus.latest("a") is None
    bus.publish(_s("a", 1))
    bus.publish_many([_s("a", 2), _s("b", 3)])
    assert bus.latest("a") == _s("a", 2)
    assert set(bus.snapshot()) == {"a", "b"}
    assert bus.published == 3
    bus.publish_many([])
    assert bus.published == 3


def test_subscription_gets_batches() -> None:
    async def scenario() -> None:
        bus = TagBus()
        sub = bus.subscribe()
        waiter = asyncio.create_task(sub.get_batch())
        await asyncio.sleep(0)
        assert not waiter.done()
        bus.publish_many([_s("a", 1), _s("b", 2)])
        bus.publish(_s("a", 3))
        assert [s.value for s in await waiter] == [1, 2, 3]
        bus.publish(_s("c", 4))
        assert [s.value for s in await sub.get_batch()] == [4]

    asyncio.run(scenario())


def test_overflow_drop_oldest_counts_dropped() -> None:
    async def scenario() -> None:
        bus = TagBus()
        sub = bus.subscribe(maxsize=3)
        bus.publish_many([_s("a", i) for i in range(5)])
        assert sub.dropped == 2
        assert [s.value for s in await sub.get_batch()] == [2, 3, 4]

    asyncio.run(scenario())


def test_overflow_drop_newest_keeps_queued() -> None:
    async def scenario() -> None:
        bus = TagBus()
        sub = bus.subscribe(maxsize=2, overflow=OverflowPolicy.DROP_NEWEST)
        bus.publish_many([_s("a", i) for i in range(4)])
        assert sub.dropped == 2
        assert [s.value for s in await sub.get_batch()] == [0, 1]

    asyncio.run(scenario())


def test_closed_subscription_gets_nothing() -> None:
    async def scenario() -> None:
        bus = TagBus()
        sub = bus.subscribe()
        sub.close()
        bus.publish(_s("a", 1))
        assert sub.dropped == 0
        assert not sub._queue

    asyncio.run(scenario())


def test_listener_receives_batches_until_removed() -> None:
    bus = TagBus()
    batches: list[list[Sample]] = []
    remove = bus.add_listener(batches.append)
    bus.publish_many([_s("a", 1), _s("b", 2)])
    assert [[s.value for s in b] for b in batches] == [[1, 2]]
    remove()
    bus.publish(_s("a", 3))
    assert len(batches) == 1


def test_a_failing_listener_does_not_reach_the_publisher_or_other_consumers(caplog):
    from hmi.core.bus import TagBus
    from hmi.core.samples import Quality, Sample

    bus = TagBus()
    seen: list[str] = []

    def broken(_samples):
        raise RuntimeError("boom")

    remove = bus.add_listener(broken)
    bus.add_listener(lambda samples: seen.extend(s.tag for s in samples))
    bus.publish(Sample("A", 1, Quality.GOOD, 0.0, 0.0))
    assert seen == ["A"]
    assert "listener" in caplog.text
    remove()
    remove()  # removing twice is harmless
