"""ConsumerRunner: one way to consume the bus, named queues, a failing consumer restarted
without touching the others, drops counted and logged, a bounded stop that counts."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hmi.core.bus import OverflowPolicy, SampleQueue, TagBus
from hmi.core.consumers import ConsumerRunner
from hmi.core.samples import Quality, Sample


def _s(tag: str, value: int) -> Sample:
    return Sample(tag, value, Quality.GOOD, float(value), float(value))


class Collector:
    """Keeps every sample; optionally slow, or failing on one batch."""

    def __init__(self, name: str, *, fail_on: int | None = None, delay: float = 0.0) -> None:
        self.name = name
        self.kept: list[Sample] = []
        self.fail_on = fail_on
        self.delay = delay
        self.runs = 0

    def unfinished(self) -> int:
        return 0

    async def run(self, queue: SampleQueue) -> None:
        self.runs += 1
        while batch := await queue.get():
            if self.fail_on is not None and any(s.value == self.fail_on for s in batch):
                self.fail_on = None
                raise RuntimeError("bad batch")
            if self.delay:
                await asyncio.sleep(self.delay)
            self.kept += batch


def test_a_consumer_that_raises_is_logged_by_name_and_restarted_others_unaffected(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        bus = TagBus()
        runner = ConsumerRunner(bus)
        faulty, healthy = Collector("faulty", fail_on=5), Collector("healthy")
        runner.add(faulty, overflow=OverflowPolicy.DROP_OLDEST, maxsize=1_000)
        runner.add(healthy, overflow=OverflowPolicy.DROP_OLDEST, maxsize=1_000)
        runner.start()
        for i in range(10):
            bus.put([_s("a", i)])
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # past the first restart delay
        for i in range(10, 20):
            bus.put([_s("a", i)])
        await runner.stop()
        assert [s.value for s in healthy.kept] == list(range(20))
        assert faulty.runs == 2
        assert 19 in [s.value for s in faulty.kept]  # it consumes again after the restart
        stats = {s.name: s for s in runner.stats()}
        assert stats["faulty"].restarts == 1
        assert "bad batch" in stats["faulty"].last_error
        assert stats["healthy"].restarts == 0

    with caplog.at_level(logging.ERROR):
        asyncio.run(scenario())
    assert any("consumer faulty failed" in r.getMessage() for r in caplog.records)


def test_a_flooded_consumer_keeps_the_newest_and_reports_what_it_dropped(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        bus = TagBus()
        runner = ConsumerRunner(bus)
        slow = Collector("slow", delay=0.05)
        runner.add(slow, overflow=OverflowPolicy.DROP_OLDEST, maxsize=100)
        told: list[int] = []
        runner.add_listener(lambda stats: told.append(stats[0].dropped))
        runner.start()
        for i in range(1_000):
            bus.put([_s("a", i)])
        await runner.stop()
        stats = runner.stats()[0]
        assert stats.dropped == 900
        assert stats.offered == 1_000
        assert len(slow.kept) == 100
        assert [s.value for s in slow.kept] == list(range(900, 1_000))  # the newest
        assert not stats.healthy
        assert told == [900]  # pushed to whoever shows it

    with caplog.at_level(logging.WARNING):
        asyncio.run(scenario())
    assert any("consumer slow is not keeping up" in r.getMessage() and "900" in r.getMessage()
               for r in caplog.records)


def test_stop_lets_consumers_finish_and_counts_what_they_could_not(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        bus = TagBus()
        runner = ConsumerRunner(bus, stop_timeout=0.2)
        quick, stuck = Collector("quick"), Collector("stuck", delay=60.0)
        runner.add(quick, overflow=OverflowPolicy.DROP_OLDEST, maxsize=1_000)
        runner.add(stuck, overflow=OverflowPolicy.DROP_OLDEST, maxsize=1_000)
        runner.start()
        bus.put([_s("a", 1)])
        await asyncio.sleep(0.05)  # stuck is now inside its first batch
        bus.put([_s("a", i) for i in range(2, 12)])
        await runner.stop()
        assert [s.value for s in quick.kept] == list(range(1, 12))
        stats = {s.name: s for s in runner.stats()}
        assert stats["stuck"].lost_at_stop == 10
        assert stats["quick"].lost_at_stop == 0

    with caplog.at_level(logging.ERROR):
        asyncio.run(scenario())
    assert any("consumer stuck did not finish" in r.getMessage() for r in caplog.records)


def test_two_consumers_with_one_name_are_refused() -> None:
    runner = ConsumerRunner(TagBus())
    runner.add(Collector("x"), overflow=OverflowPolicy.DROP_OLDEST, maxsize=10)
    with pytest.raises(ValueError, match="already"):
        runner.add(Collector("x"), overflow=OverflowPolicy.DROP_OLDEST, maxsize=10)
