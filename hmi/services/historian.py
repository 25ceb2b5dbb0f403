"""The historian service: a consumer of the bus that stores samples, off the GUI loop.

On the loop it only moves samples: it gathers its queue's batches and, once
``flush_interval`` has passed or ``batch_rows`` samples are waiting, hands them to one
worker thread (asyncio.to_thread) where the writer filters, rolls up and commits
(hmi.store.historian_writer). A failed write is retried with backoff from the writer's
bounded pending buffer. When its queue overflows (QUEUE_POLICY), the span each tag lost
is stored as a BAD sample at its start, so the trend shows a gap, never a straight line
across what was not kept. Retention runs as a second task in the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from hmi.core.bus import OverflowPolicy, SampleQueue
from hmi.core.samples import Quality, Sample
from hmi.core.site import Tag
from hmi.store.database import Database, StoreError
from hmi.store.historian_retention import HistorianRetention, RetentionPolicy
from hmi.store.historian_writer import DEFAULT_HEARTBEAT, HistorianWriter, WriterStatus

__all__ = ["HistorianService", "HistorianStatus", "RetentionPolicy"]

log = logging.getLogger(__name__)

# The newest samples are what the operator looks at and what the next deadband and
# heartbeat decisions are measured against: when the writer falls this far behind, the
# oldest queued samples go (counted in ``queue_dropped`` and logged).
QUEUE_POLICY = OverflowPolicy.DROP_OLDEST
IN_FLIGHT_WAIT = 5.0  # seconds a stop waits for the batch already in the writer thread
QUEUE_SIZE = 200_000  # samples: ~4 s of the 55,000-tag benchmark load at 1 Hz


@dataclass(frozen=True, slots=True)
class HistorianStatus:
    """The historian as the GUI shows it."""

    writer: WriterStatus
    queue_dropped: int  # samples its queue dropped (QUEUE_POLICY), each span stored as a gap
    retention_error: str  # why the last purge failed; "" when it worked

    @property
    def healthy(self) -> bool:
        return self.writer.healthy and not self.retention_error

    @property
    def last_error(self) -> str:
        return self.writer.last_error or self.retention_error

    @property
    def pending_rows(self) -> int:
        return self.writer.pending_rows


class HistorianService:
    """Consumer ``historian``: run it with hmi.core.consumers.ConsumerRunner, with a
    queue of ``queue_size`` samples and QUEUE_POLICY."""

    name = "historian"
    overflow = QUEUE_POLICY

    def __init__(
        self,
        db: Database,
        tags: Iterable[Tag] = (),
        *,
        heartbeat: float = DEFAULT_HEARTBEAT,
        flush_interval: float = 0.5,
        # one writer transaction (its cap is 20,000 rows): a commit costs about a page per
        # tag whatever the rows, so at plant scale (55,000 samples/s) fewer, fuller
        # batches halve the writer's CPU (tests/bench/bench_ingest.py: 5,000 vs 20,000)
        batch_rows: int = 20_000,
        queue_size: int = QUEUE_SIZE,
        max_pending_rows: int = 500_000,
        retention: RetentionPolicy | None = None,
        retention_interval: float = 3_600.0,
        retry_interval: float = 1.0,
        max_retry_interval: float = 30.0,
    ) -> None:
        deadbands = {tag.name: tag.deadband for tag in tags if tag.deadband > 0}
        self.writer = HistorianWriter(
            db, deadbands, heartbeat=heartbeat, max_pending_rows=max_pending_rows
        )
        self.retention = HistorianRetention(db, retention) if retention is not None else None
        self.flush_interval = flush_interval
        self.batch_rows = batch_rows
        self.queue_size = queue_size
        self.retention_interval = retention_interval
        self.retry_interval = retry_interval
        self.max_retry_interval = max_retry_interval
        self._queue: SampleQueue | None = None
        self._buffer: list[Sample] = []
        self._retry_at = -math.inf
        self._retry_delay = retry_interval
        self.retention_error = ""
        self.gaps_stored = 0  # BAD samples stored for spans the queue dropped
        self.unwritten_at_stop = 0  # samples it had taken but could not write by the stop
        self._in_flight: asyncio.Future[bool] | None = None  # the batch in the writer thread
        self._in_flight_count = 0

    def status(self) -> HistorianStatus:
        dropped = self._queue.dropped if self._queue is not None else 0
        return HistorianStatus(self.writer.status, dropped, self.retention_error)

    def unfinished(self) -> int:
        """Samples taken from the queue and not yet committed (buffered, in the writer
        thread, or held for a retry)."""
        in_flight = self._in_flight
        busy = self._in_flight_count if in_flight is not None and not in_flight.done() else 0
        return len(self._buffer) + busy + self.writer.pending_rows

    async def run(self, queue: SampleQueue) -> None:
        """Store what the queue brings until it is closed and drained; then write what
        is buffered (the runner bounds how long that may take)."""
        self._queue = queue
        retention = None
        if self.retention is not None:
            retention = asyncio.create_task(self._purge_periodically(), name="historian-retention")
        try:
            while await self._collect(queue):
                await self._write(final=False)
            await self._write(final=True)
        except asyncio.CancelledError:
            # stopped past its deadline: the batch in the writer thread cannot be called
            # back, so let it end (bounded) before the database closes, then count
            in_flight = self._in_flight
            if in_flight is not None and not in_flight.done():
                await asyncio.wait([in_flight], timeout=IN_FLIGHT_WAIT)
            unwritten = self.writer.pending_rows + len(self._buffer)
            if in_flight is not None and not in_flight.done():
                unwritten += self._in_flight_count
            self.unwritten_at_stop = unwritten
            if unwritten:
                log.error("historian: stopped before writing %d samples (%s)", unwritten,
                          self.writer.last_error or "the database is slow")
            raise
        finally:
            if retention is not None:
                retention.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await retention

    async def _collect(self, queue: SampleQueue) -> bool:
        """Gather until a batch is due (flush_interval passed or batch_rows samples);
        False once the queue is closed and empty."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.flush_interval
        while len(self._buffer) < self.batch_rows:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            batch = await queue.get(remaining)
            self._add(queue, batch)
            if not batch and queue.closed:
                return False
        return True

    def _add(self, queue: SampleQueue, batch: list[Sample]) -> None:
        lost = queue.take_lost()
        if lost:  # older than what survived in the queue: their gaps go first
            now = time.time()
            self._buffer.extend(
                Sample(tag, None, Quality.BAD, span.first, now,
                       f"lost: {span.count} samples not stored (the historian fell behind)")
                for tag, span in lost.items())
            self.gaps_stored += len(lost)
        self._buffer.extend(batch)

    async def _write(self, final: bool) -> None:
        try:
            await self._write_buffer(final)
        except Exception:
            # a bug, not a database problem (the writer reports those): keep running
            log.exception("historian: unexpected error writing a batch; it is lost")

    async def _write_buffer(self, final: bool) -> None:
        samples, self._buffer = self._buffer, []
        loop = asyncio.get_running_loop()
        flush = final or loop.time() >= self._retry_at
        if not samples and not (flush and self.writer.has_pending):
            return
        self._in_flight_count = len(samples)
        self._in_flight = asyncio.ensure_future(asyncio.to_thread(self._ingest, samples, flush))
        ok = await asyncio.shield(self._in_flight)
        if flush:
            if ok:
                self._retry_at, self._retry_delay = -math.inf, self.retry_interval
            else:
                self._retry_at = loop.time() + self._retry_delay
                self._retry_delay = min(self._retry_delay * 2, self.max_retry_interval)

    def _ingest(self, samples: list[Sample], flush: bool) -> bool:
        """In the worker thread: filter and roll up always, write when a retry is due."""
        self.writer.add(samples)
        return self.writer.flush() if flush else False

    async def _purge_periodically(self) -> None:
        assert self.retention is not None
        while True:
            try:
                await asyncio.to_thread(self.retention.purge)
            except StoreError as exc:
                if str(exc) != self.retention_error:
                    log.error("historian retention: %s", exc)
                self.retention_error = str(exc)
            else:
                self.retention_error = ""
            await asyncio.sleep(self.retention_interval)
