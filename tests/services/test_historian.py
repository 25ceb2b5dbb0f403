"""HistorianService: bus samples reach the historian tables through a worker thread, in
batches; failures are retried, overflow is counted and logged, retention runs."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from hmi.core.bus import TagBus
from hmi.core.consumers import ConsumerRunner
from hmi.core.datatypes import DataType
from hmi.core.samples import Quality, Sample
from hmi.core.site import ModbusAddress, RegisterTable, Tag
from hmi.services.historian import HistorianService, RetentionPolicy
from hmi.store.database import Database
from hmi.store.historian_retention import count_rows, read_samples
from tests.conftest import wait_for
from tests.store.test_historian_fixtures import BACKENDS, fresh_database

T0 = 1_700_000_040.0


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with fresh_database(request.param, tmp_path) as database:
        yield database


def tag(name: str, deadband: float = 0.0) -> Tag:
    address = ModbusAddress(RegisterTable.HOLDING_REGISTER, 0)
    return Tag(name, "plc1", address, DataType.FLOAT32, deadband=deadband)


def samples(name: str, count: int, first: int = 0) -> list[Sample]:
    values = range(first, first + count)
    return [Sample(name, float(i), Quality.GOOD, T0 + i, T0 + i) for i in values]


class Running:
    """The service as the runtime runs it: a consumer of a bus, under the runner."""

    def __init__(self, service: HistorianService) -> None:
        self.bus = TagBus()
        self.runner = ConsumerRunner(self.bus)
        self.runner.add(service, overflow=service.overflow, maxsize=service.queue_size)

    def start(self) -> None:
        self.runner.start()

    async def stop(self) -> None:
        await self.runner.stop()


def test_samples_are_stored_in_batches_off_the_loop(db: Database) -> None:
    service = HistorianService(db, [tag("level", deadband=5.0)], flush_interval=0.05)
    running = Running(service)
    bus = running.bus
    threads: list[str] = []
    ingest = service._ingest

    def spy(batch: list[Sample], flush: bool) -> bool:
        threads.append(threading.current_thread().name)
        return ingest(batch, flush)

    service._ingest = spy  # type: ignore[method-assign]

    async def scenario() -> None:
        running.start()
        bus.put(samples("level", 20))  # deadband 5: moves of 6 and the value before each
        bus.put(samples("speed", 3))
        await wait_for(lambda: service.status().writer.stored >= 10, what="rows stored")
        await running.stop()

    asyncio.run(scenario())
    assert [r.value for r in read_samples(db, "speed")] == [0.0, 1.0, 2.0]
    assert [r.value for r in read_samples(db, "level")] == [0, 5, 6, 11, 12, 17, 18]
    assert threads
    assert threading.main_thread().name not in threads
    status = service.status()
    assert status.healthy
    assert status.pending_rows == 0
    assert status.queue_dropped == 0


def test_stop_writes_what_is_buffered(db: Database) -> None:
    service = HistorianService(db, flush_interval=60.0)
    running = Running(service)
    bus = running.bus

    async def scenario() -> None:
        running.start()
        await asyncio.sleep(0.05)
        bus.put(samples("x", 50))
        await running.stop()

    asyncio.run(scenario())
    assert count_rows(db, "historian_samples") == 50


def test_a_full_batch_is_written_before_the_interval(db: Database) -> None:
    service = HistorianService(db, flush_interval=30.0, batch_rows=100)
    running = Running(service)
    bus = running.bus

    async def scenario() -> float:
        running.start()
        bus.put(samples("x", 150))
        took = await wait_for(lambda: service.status().writer.stored == 150, timeout=5)
        await running.stop()
        return took

    assert asyncio.run(scenario()) < 2.0


def test_a_failing_database_is_retried_and_shown(sqlite_tmp: Database) -> None:
    service = HistorianService(sqlite_tmp, flush_interval=0.02, retry_interval=0.05,
                               max_retry_interval=0.1)
    running = Running(service)
    bus = running.bus
    engine = service.writer.engine

    def read_only(dbapi: Any, _record: Any) -> None:
        dbapi.execute("PRAGMA query_only=ON")

    async def scenario() -> None:
        event.listen(engine, "connect", read_only)
        engine.dispose()
        running.start()
        bus.put(samples("x", 30))
        await wait_for(lambda: not service.status().healthy, what="the failure shown")
        status = service.status()
        assert "read-only" in status.last_error or "readonly" in status.last_error
        assert status.pending_rows == 30
        bus.put(samples("x", 10, first=30))
        await wait_for(lambda: service.status().pending_rows == 40, what="kept in memory")
        event.remove(engine, "connect", read_only)
        engine.dispose()
        await wait_for(lambda: service.status().healthy, what="the retry")
        await running.stop()

    asyncio.run(scenario())
    assert [r.value for r in read_samples(sqlite_tmp, "x")] == [float(i) for i in range(40)]


@pytest.fixture
def sqlite_tmp(tmp_path: Path) -> Iterator[Database]:
    with fresh_database("sqlite", tmp_path) as database:
        yield database


def test_queue_overflow_is_counted_logged_and_stored_as_a_gap(
    sqlite_tmp: Database, caplog: pytest.LogCaptureFixture
) -> None:
    service = HistorianService(sqlite_tmp, queue_size=10, flush_interval=0.02)
    running = Running(service)
    bus = running.bus

    async def scenario() -> None:
        bus.put(samples("x", 100))  # before the service drains anything
        with caplog.at_level(logging.WARNING, logger="hmi.core.consumers"):
            running.start()
            await wait_for(lambda: service.status().writer.stored == 11, what="rows stored")
            await running.stop()

    asyncio.run(scenario())
    assert service.status().queue_dropped == 90
    assert "dropped 90 samples" in caplog.text
    assert "policy drop_oldest" in caplog.text
    stored = read_samples(sqlite_tmp, "x")
    # the lost span is a BAD gap from its first sample on: never a line from 0 to 90
    gap = stored[0]
    assert (gap.t, gap.value, gap.quality) == (T0, None, Quality.BAD.value) or \
        (gap.t, gap.value) == (T0, None)
    assert "90 samples not stored" in gap.detail
    assert [r.value for r in stored[1:]] == [float(i) for i in range(90, 100)]


def test_retention_runs_in_the_background(sqlite_tmp: Database) -> None:
    old = [Sample("x", float(i), Quality.GOOD, 1_000.0 + i, 0.0) for i in range(20)]
    policy = RetentionPolicy(raw_seconds=86_400, minutes_seconds=86_400)
    service = HistorianService(sqlite_tmp, retention=policy, retention_interval=0.05,
                               flush_interval=0.02)
    running = Running(service)
    bus = running.bus

    async def scenario() -> None:
        running.start()
        bus.put(old)
        await wait_for(lambda: service.status().writer.stored == 20, what="rows stored")
        await wait_for(lambda: count_rows(sqlite_tmp, "historian_samples") == 0,
                       what="old rows purged")
        await running.stop()

    asyncio.run(scenario())
    assert count_rows(sqlite_tmp, "historian_minutes") == 0
    assert service.status().retention_error == ""


def test_a_stop_past_its_deadline_lets_the_batch_in_the_writer_finish(
        sqlite_tmp: Database) -> None:
    """The runner's deadline passes while a batch is in the writer thread (a slow disk):
    the stop waits for that batch before the database may close, and counts nothing
    lost that was in fact written."""
    service = HistorianService(sqlite_tmp, flush_interval=0.02)
    real_ingest = service._ingest

    def slow_ingest(batch: list[Sample], flush: bool) -> bool:
        time.sleep(0.8)
        return real_ingest(batch, flush)

    service._ingest = slow_ingest  # type: ignore[method-assign]
    bus = TagBus()
    runner = ConsumerRunner(bus, stop_timeout=0.2)
    runner.add(service, overflow=service.overflow, maxsize=service.queue_size)

    async def scenario() -> int:
        runner.start()
        bus.put(samples("x", 500))
        await asyncio.sleep(0.1)  # the batch is in the writer thread now
        await runner.stop()
        return runner.stats()[0].lost_at_stop

    lost = asyncio.run(scenario())
    assert count_rows(sqlite_tmp, "historian_samples") == 500  # when stop() returned
    assert lost == 0
    assert service.unwritten_at_stop == 0
