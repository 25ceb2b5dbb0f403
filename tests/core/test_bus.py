"""TagBus: the thread-safe port, latest values, named bounded queues with an overflow
policy that counts (and spans) what it drops, unknown tags counted once."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from hmi.core.bus import OverflowPolicy, TagBus
from hmi.core.samples import Quality, Sample


def _s(tag: str, value: int) -> Sample:
    return Sample(tag, value, Quality.GOOD, float(value), float(value))


def test_put_updates_latest_and_snapshot() -> None:
    bus = TagBus()
    assert bus.latest("a") is None
    bus.put([_s("a", 1)])
    bus.put([_s("a", 2), _s("b", 3)])
    assert bus.latest("a") == _s("a", 2)
    assert set(bus.snapshot()) == {"a", "b"}
    assert bus.published == 3
    bus.put([])
    assert bus.published == 3


def test_queue_gets_batches() -> None:
    async def scenario() -> None:
        bus = TagBus()
        queue = bus.subscribe("test")
        waiter = asyncio.create_task(queue.get())
        await asyncio.sleep(0)
        assert not waiter.done()
        bus.put([_s("a", 1), _s("b", 2)])
        bus.put([_s("a", 3)])
        assert [s.value for s in await waiter] == [1, 2, 3]
        bus.put([_s("c", 4)])
        assert [s.value for s in await queue.get()] == [4]
        assert await queue.get(0.01) == []  # a timeout is an empty batch

    asyncio.run(scenario())


def test_samples_put_from_other_threads_arrive_in_order_on_the_bus_loop() -> None:
    async def scenario() -> None:
        bus = TagBus()
        queue = bus.subscribe("test")
        loop_thread = threading.get_ident()
        seen_on: set[int] = set()
        original = bus._deliver

        def deliver(samples: list[Sample]) -> None:
            seen_on.add(threading.get_ident())
            original(samples)

        bus._deliver = deliver  # type: ignore[method-assign]

        def producer(tag: str) -> None:
            for i in range(2_000):
                bus.put([_s(tag, i)])

        threads = [threading.Thread(target=producer, args=(t,)) for t in ("x", "y")]
        for thread in threads:
            thread.start()
        got: list[Sample] = []
        while len(got) < 4_000:
            got += await queue.get(5.0)
        for thread in threads:
            thread.join()
        assert seen_on == {loop_thread}  # delivered on the loop, never on a producer
        for tag in ("x", "y"):
            assert [s.value for s in got if s.tag == tag] == list(range(2_000))
        assert bus.latest("x") == _s("x", 1_999)

    asyncio.run(scenario())


def test_a_burst_from_another_thread_is_delivered_in_chunks_in_order() -> None:
    """50 devices answering at once hand over 50,000 samples: the loop delivers them
    DELIVERY_CHUNK at a time, other callbacks running in between, in order; a sample
    put on the loop's own thread meanwhile comes after all of them; flush delivers all."""
    from hmi.core.bus import DELIVERY_CHUNK

    async def scenario() -> None:
        bus = TagBus()
        queue = bus.subscribe("test", maxsize=100_000)
        sizes: list[int] = []
        turns: list[int] = []
        original = bus._deliver

        def deliver(samples: list[Sample]) -> None:
            sizes.append(len(samples))
            original(samples)

        bus._deliver = deliver  # type: ignore[method-assign]
        loop = asyncio.get_running_loop()

        def ticker() -> None:  # another callback of the loop, e.g. the screen's
            turns.append(len(sizes))
            if len(turns) < 500:
                loop.call_soon(ticker)

        burst = [_s("a", i) for i in range(3 * DELIVERY_CHUNK + 7)]
        loop.call_soon(ticker)
        await asyncio.to_thread(bus.put, burst)
        for _ in range(100):  # loop turns, each a chance for the next chunk
            if sum(sizes) >= len(burst):
                break
            await asyncio.sleep(0)
        assert sizes == [DELIVERY_CHUNK] * 3 + [7]
        assert sorted(set(turns) & {1, 2, 3}) == [1, 2, 3]  # the loop ran between chunks
        assert [s.value for s in await queue.get()] == list(range(len(burst)))

        sizes.clear()
        await asyncio.to_thread(bus.put, burst)
        bus.put([_s("a", -1)])  # on the loop's thread: after what was handed over before
        assert sizes[-1] == 1  # the rest first, then it
        assert sum(sizes) == len(burst) + 1
        assert [s.value for s in await queue.get()] == [*range(len(burst)), -1]
        await asyncio.to_thread(bus.put, burst)
        bus.flush()
        assert sum(sizes) == 2 * len(burst) + 1
        assert len(queue) == len(burst)

    asyncio.run(scenario())


def test_overflow_drop_oldest_counts_dropped_and_their_span_per_tag() -> None:
    async def scenario() -> None:
        bus = TagBus()
        queue = bus.subscribe("test", maxsize=3)
        bus.put([_s("a", i) for i in range(5)] + [_s("b", 9)])
        assert queue.dropped == 3
        assert [s.value for s in await queue.get()] == [3, 4, 9]
        lost = queue.take_lost()
        assert {tag: (s.count, s.first, s.last) for tag, s in lost.items()} == {
            "a": (3, 0.0, 2.0)}
        assert queue.take_lost() == {}

    asyncio.run(scenario())


def test_overflow_drop_newest_keeps_queued() -> None:
    async def scenario() -> None:
        bus = TagBus()
        queue = bus.subscribe("test", maxsize=2, overflow=OverflowPolicy.DROP_NEWEST)
        bus.put([_s("a", i) for i in range(4)])
        assert queue.dropped == 2
        assert [s.value for s in await queue.get()] == [0, 1]
        assert queue.take_lost()["a"].count == 2

    asyncio.run(scenario())


def test_a_queue_for_some_tags_sees_only_those() -> None:
    async def scenario() -> None:
        bus = TagBus()
        queue = bus.subscribe("counters", tags={"good"})
        bus.put([_s("speed", 1), _s("good", 2), _s("speed", 3)])
        assert [s.tag for s in await queue.get()] == ["good"]
        assert queue.offered == 1

    asyncio.run(scenario())


def test_a_closed_queue_returns_what_is_left_then_the_end() -> None:
    async def scenario() -> None:
        bus = TagBus()
        queue = bus.subscribe("test")
        bus.put([_s("a", 1)])
        bus.unsubscribe(queue)
        bus.put([_s("a", 2)])
        assert [s.value for s in await queue.get()] == [1]
        assert await queue.get() == []  # no wait: the end
        assert queue.closed

    asyncio.run(scenario())


def test_a_sample_for_an_unknown_tag_is_counted_and_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    bus = TagBus(known_tags=["a"])
    queue = bus.subscribe("test")
    with caplog.at_level(logging.WARNING, logger="hmi.core.bus"):
        for i in range(50):
            bus.put([_s("a", i), _s("ghost", i)])
    assert bus.unknown == 50
    assert bus.latest("ghost") is None
    assert len(queue) == 50  # the known ones all arrived
    warnings = [r for r in caplog.records if "ghost" in r.getMessage()]
    assert len(warnings) == 1
