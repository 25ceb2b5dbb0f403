"""ConsumerRunner: every consumer of Samples subscribes the same way and is kept running.

A consumer (historian writer, production recorder, alarm engine, the screens' feed) is
an object with a ``name`` and ``async run(queue)``: it reads batches from its own
``SampleQueue`` until ``get`` returns ``[]`` on a closed queue. The runner gives each
one its queue (a name, a size, a named overflow policy), runs it as a task, restarts it
with backoff when it raises (logged with its name; the others are unaffected), logs
what its queue drops (rate-limited), and at stop lets each finish what was handed over
within a deadline, counting what it could not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from hmi.core.bus import OverflowPolicy, SampleQueue, TagBus
from hmi.core.listeners import Listeners

log = logging.getLogger(__name__)

DROP_LOG_INTERVAL = 10.0  # seconds between two warnings about one queue's drops
RESTART_DELAYS = (0.1, 0.5, 2.0, 5.0)  # seconds before each restart; the last repeats


class SampleConsumer(Protocol):
    """Reads its queue until it is closed and drained; may raise (it is restarted)."""

    @property
    def name(self) -> str: ...

    async def run(self, queue: SampleQueue, /) -> None: ...

    def unfinished(self) -> int:
        """Samples it took from its queue but has not finished with (a stop counts them
        as lost if they are still there when it ends)."""
        ...


@dataclass(frozen=True, slots=True)
class ConsumerStats:
    """One consumer as diagnostics show it."""

    name: str
    overflow: OverflowPolicy
    queued: int  # waiting in its queue now
    offered: int  # handed to its queue since start
    dropped: int  # given up by the overflow policy (each also logged, rate-limited)
    restarts: int  # times it raised and was started again
    lost_at_stop: int  # samples still queued when it had to be stopped
    last_error: str  # why it last failed; "" if it never did

    @property
    def healthy(self) -> bool:
        return not self.dropped and not self.lost_at_stop and not self.last_error


class _Entry:
    def __init__(self, consumer: SampleConsumer, queue: SampleQueue) -> None:
        self.consumer = consumer
        self.queue = queue
        self.task: asyncio.Task[None] | None = None
        self.restarts = 0
        self.last_error = ""
        self.lost_at_stop = 0
        self.drops_logged = 0
        self.drops_notified = 0
        self.drop_logged_at = -DROP_LOG_INTERVAL


class ConsumerRunner:
    """Runs the consumers of one bus on the bus's loop."""

    def __init__(self, bus: TagBus, *, stop_timeout: float = 10.0) -> None:
        self._bus = bus
        self._entries: dict[str, _Entry] = {}
        self._stop_timeout = stop_timeout
        self._watch: asyncio.Task[None] | None = None
        self._listeners: Listeners[[list[ConsumerStats]]] = Listeners("consumer stats")

    def add_listener(self, listener: Callable[[list[ConsumerStats]], None]) -> Callable[[], None]:
        """``listener(stats)`` whenever a consumer drops samples or fails (on the loop,
        at most once a second): trouble on the data path is pushed, never polled for."""
        return self._listeners.add(listener)

    def _notify(self) -> None:
        self._listeners.fire(self.stats())

    def add(
        self,
        consumer: SampleConsumer,
        *,
        overflow: OverflowPolicy,
        maxsize: int,
        tags: Collection[str] | None = None,
    ) -> SampleQueue:
        """Subscribe ``consumer`` now (nothing published from here on is missed, even
        before ``start``); returns its queue."""
        name = consumer.name
        if name in self._entries:
            raise ValueError(f"a consumer named {name!r} is already running")
        queue = self._bus.subscribe(name, maxsize=maxsize, overflow=overflow, tags=tags)
        entry = self._entries[name] = _Entry(consumer, queue)
        if self._watch is not None:  # added to a running runner: it runs at once
            self._run(entry)
        return queue

    async def remove(self, name: str) -> None:
        """Stop one consumer (a screen that closed): its queue closes, it finishes what
        it was handed within the stop timeout, and leaves the bus."""
        entry = self._entries.pop(name, None)
        if entry is not None:
            await self._stop_entries({name: entry})

    def start(self) -> None:
        for entry in self._entries.values():
            self._run(entry)
        if self._watch is None:
            self._watch = asyncio.create_task(self._watch_drops(), name="consumer-drops")

    def _run(self, entry: _Entry) -> None:
        if entry.task is None:
            entry.task = asyncio.create_task(self._keep_running(entry),
                                             name=f"consumer-{entry.consumer.name}")

    def stats(self) -> list[ConsumerStats]:
        return [
            ConsumerStats(name, e.queue.overflow, len(e.queue), e.queue.offered,
                          e.queue.dropped, e.restarts, e.lost_at_stop, e.last_error)
            for name, e in self._entries.items()
        ]

    async def _keep_running(self, entry: _Entry) -> None:
        name = entry.consumer.name
        failures_in_a_row = 0
        while True:
            started = time.monotonic()
            try:
                await entry.consumer.run(entry.queue)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if time.monotonic() - started > 60.0:
                    failures_in_a_row = 0  # it ran a good while: back to a short delay
                delay = RESTART_DELAYS[min(failures_in_a_row, len(RESTART_DELAYS) - 1)]
                failures_in_a_row += 1
                entry.restarts += 1
                entry.last_error = f"{type(exc).__name__}: {exc}"
                self._notify()
                log.exception("consumer %s failed (%s); the batch it held may be lost; "
                              "restarting it in %.1f s", name, entry.last_error, delay)
                await asyncio.sleep(delay)
                continue
            if entry.queue.closed:
                return
            # run() returned while samples still come: a bug, but never a silent stop
            entry.restarts += 1
            entry.last_error = "stopped reading its queue"
            log.error("consumer %s returned before the end; restarting it", name)
            await asyncio.sleep(RESTART_DELAYS[0])

    async def _watch_drops(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.report_drops()

    def report_drops(self) -> None:
        """Log each queue's new drops, at most every DROP_LOG_INTERVAL seconds, and tell
        the listeners of any new drop."""
        now = time.monotonic()
        changed = False
        for name, entry in self._entries.items():
            dropped = entry.queue.dropped
            if dropped != entry.drops_notified:
                entry.drops_notified = dropped
                changed = True
            if dropped > entry.drops_logged and now - entry.drop_logged_at >= DROP_LOG_INTERVAL:
                log.warning(
                    "consumer %s is not keeping up: its queue (%d samples, policy %s) dropped "
                    "%d samples since the last warning, %d in all",
                    name, entry.queue.maxsize, entry.queue.overflow.value,
                    dropped - entry.drops_logged, dropped,
                )
                entry.drops_logged = dropped
                entry.drop_logged_at = now
        if changed:
            self._notify()

    async def stop(self) -> None:
        """Close every queue, let each consumer finish what it was handed (bounded by
        ``stop_timeout`` in all), then cancel the rest; what was left is counted and
        logged."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        await self._stop_entries(dict(self._entries))  # a remove() meanwhile is harmless
        self.report_drops()

    async def _stop_entries(self, entries: dict[str, _Entry]) -> None:
        for entry in entries.values():
            entry.queue.close()
        tasks = [e.task for e in entries.values() if e.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=self._stop_timeout)
        for name, entry in entries.items():
            task, entry.task = entry.task, None
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            left = len(entry.queue) + entry.consumer.unfinished()
            if left:
                entry.lost_at_stop += left
                log.error("consumer %s did not finish within %.0f s of the stop; %d samples "
                          "it was handed are lost", name, self._stop_timeout, left)
            self._bus.unsubscribe(entry.queue)
