"""The historian service: bus samples into the historian tables, off the GUI loop.

On the loop it only moves samples: every ``poll`` seconds it drains its bus subscription
into a buffer and, once ``flush_interval`` has passed or ``batch_rows`` samples are
waiting, hands the buffer to one worker thread (asyncio.to_thread) where the writer
filters, rolls up and commits (hmi.store.historian_writer). A failed write is retried
with backoff from the writer's bounded pending buffer; nothing is dropped without being
counted and logged. Retention runs as a second task in the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from hmi.core.bus import OverflowPolicy, TagBus
from hmi.core.samples import Sample
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
DROP_LOG_INTERVAL = 10.0


@dataclass(frozen=True, slots=True)
class HistorianStatus:
    """The historian as the GUI shows it."""

    writer: WriterStatus
    queue_dropped: int  # samples the bus subscription dropped (QUEUE_POLICY)
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
    def __init__(
        self,
        bus: TagBus,
        db: Database,
        tags: Iterable[Tag] = (),
        *,
        heartbeat: float = DEFAULT_HEARTBEAT,
        flush_interval: float = 0.5,
        batch_rows: int = 5_000,
        queue_size: int = 200_000,
        max_pending_rows: int = 500_000,
        retention: RetentionPolicy | None = None,
        retention_interval: float = 3_600.0,
        retry_interval: float = 1.0,
        max_retry_interval: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        deadbands = {tag.name: tag.deadband for tag in tags if tag.deadband > 0}
        self.writer = HistorianWriter(
            db, deadbands, heartbeat=heartbeat, max_pending_rows=max_pending_rows
        )
        self.retention = HistorianRetention(db, retention) if retention is not None else None
        self.flush_interval = flush_interval
        self.batch_rows = batch_rows
        self.retention_interval = retention_interval
        self.retry_interval = retry_interval
        self.max_retry_interval = max_retry_interval
        self.stop_timeout = stop_timeout
        # subscribed now, not when run() starts: nothing published in between is missed
        self._subscription = bus.subscribe(maxsize=queue_size, overflow=QUEUE_POLICY)
        self._buffer: list[Sample] = []
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._retry_at = -math.inf
        self._retry_delay = retry_interval
        self._drops_logged = 0
        self._drop_logged_at = -math.inf
        self.retention_error = ""

    def status(self) -> HistorianStatus:
        return HistorianStatus(
            self.writer.status, self._subscription.dropped, self.retention_error
        )

    def start(self) -> None:
        """Run the service as a task of the running loop (``stop`` ends it)."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="historian")

    async def stop(self) -> None:
        """Write what is buffered and end; bounded in time (whatever could not be
        written by then is logged with its count)."""
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self.stop_timeout)
        except TimeoutError:
            log.error(
                "historian: stopping timed out after %.0f s; %d samples were not written "
                "(%s)", self.stop_timeout, self.writer.pending_rows + len(self._buffer),
                self.writer.last_error or "the database is slow",
            )
            self._task.cancel()
        self._task = None

    async def run(self) -> None:
        retention = None
        if self.retention is not None:
            retention = asyncio.create_task(self._purge_periodically(), name="historian-retention")
        try:
            while not self._stopping.is_set():
                await self._collect()
                await self._cycle(final=False)
            await self._cycle(final=True)
        finally:
            if retention is not None:
                retention.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await retention
            self._subscription.close()

    async def _collect(self) -> None:
        """Wait until a batch is due: flush_interval passed or batch_rows samples queued."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.flush_interval
        poll = min(0.05, self.flush_interval)
        while len(self._buffer) < self.batch_rows and not self._stopping.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), min(poll, remaining))
            self._buffer.extend(self._subscription.drain())

    async def _cycle(self, final: bool) -> None:
        try:
            await self._write(final)
        except Exception:
            # a bug, not a database problem (the writer reports those): keep running
            log.exception("historian: unexpected error writing a batch; it is lost")

    async def _write(self, final: bool) -> None:
        self._buffer.extend(self._subscription.drain())
        samples, self._buffer = self._buffer, []
        loop = asyncio.get_running_loop()
        flush = final or loop.time() >= self._retry_at
        if not samples and not (flush and self.writer.has_pending):
            self._report_drops()
            return
        ok = await asyncio.to_thread(self._ingest, samples, flush)
        if flush:
            if ok:
                self._retry_at, self._retry_delay = -math.inf, self.retry_interval
            else:
                self._retry_at = loop.time() + self._retry_delay
                self._retry_delay = min(self._retry_delay * 2, self.max_retry_interval)
        self._report_drops()

    def _ingest(self, samples: list[Sample], flush: bool) -> bool:
        """In the worker thread: filter and roll up always, write when a retry is due."""
        self.writer.add(samples)
        return self.writer.flush() if flush else False

    def _report_drops(self) -> None:
        dropped = self._subscription.dropped
        now = time.monotonic()
        if dropped > self._drops_logged and now - self._drop_logged_at >= DROP_LOG_INTERVAL:
            log.warning(
                "historian: the bus queue overflowed (policy %s): %d samples dropped since "
                "the last warning, %d in all; the writer is not keeping up (%s)",
                QUEUE_POLICY.value, dropped - self._drops_logged, dropped,
                self.writer.last_error or "the database is too slow for this load",
            )
            self._drops_logged = dropped
            self._drop_logged_at = now

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
