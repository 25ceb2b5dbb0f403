"""Fills the trend from the historian without blocking the GUI.

Requests are debounced (a pan or zoom gesture is many range changes; only where it stops
is asked for), run as an asyncio task, and a newer request cancels the one in flight so
a stale answer never lands on the screen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from hmi.core.history import Buckets, HistoryError, HistoryReader, UnknownTagError

log = logging.getLogger(__name__)

DEBOUNCE_MS = 150


@dataclass(frozen=True, slots=True)
class FillRequest:
    tags: tuple[str, ...]
    start: float
    end: float
    count: int

    @property
    def bucket_width(self) -> float:
        return (self.end - self.start) / max(self.count, 1)


Apply = Callable[[FillRequest, dict[str, Buckets]], None]


class HistoryFiller(QObject):
    """Asks ``reader.buckets`` for the latest wanted range, once the range stops moving."""

    failed = Signal(str)
    busyChanged = Signal(bool)  # noqa: N815 (Qt signal naming)

    def __init__(self, reader: HistoryReader, apply: Apply,
                 debounce_ms: int = DEBOUNCE_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._reader = reader
        self._apply = apply
        self._wanted: FillRequest | None = None
        self._task: asyncio.Task[None] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._on_timer)
        self.covered: FillRequest | None = None  # what the pens' history now holds
        self.pending: FillRequest | None = None  # what is being fetched
        self.started = 0
        self.cancelled = 0

    @property
    def busy(self) -> bool:
        return self._timer.isActive() or (self._task is not None and not self._task.done())

    def request(self, tags: Sequence[str], start: float, end: float, count: int,
                immediately: bool = False, restart: bool = True) -> None:
        """Want [start, end) for ``tags``; fetched once the range has not changed for the
        debounce interval (or at once). ``restart=False`` (the live view scrolling on
        its own) updates what is wanted without putting the fetch off again."""
        wanted = FillRequest(tuple(tags), start, end, max(count, 1))
        if wanted == self.pending or (wanted == self._wanted and not immediately):
            return
        self._wanted = wanted
        if immediately:
            self._timer.stop()
            self._on_timer()
        elif restart or not self._timer.isActive():
            self._timer.start()
            self.busyChanged.emit(True)

    def cancel(self) -> None:
        """Forget what is wanted and stop what is in flight (closing, no reader)."""
        self._timer.stop()
        self._wanted = None
        self._cancel_task()

    def _cancel_task(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            self.cancelled += 1
        self._task = None
        self.pending = None

    def _on_timer(self) -> None:
        wanted, self._wanted = self._wanted, None
        if wanted is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.info("no running asyncio loop: trend history not filled")
            return
        self._cancel_task()  # a newer range makes the one in flight stale
        self.pending = wanted
        self.started += 1
        self._task = loop.create_task(self._fetch(wanted), name="trend-history-fill")
        self.busyChanged.emit(True)

    async def _fetch(self, wanted: FillRequest) -> None:
        try:
            result = await self._buckets(wanted)
        except asyncio.CancelledError:
            raise
        except HistoryError as exc:
            self._finish(wanted)
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # a broken reader must not take the trend down
            log.exception("trend history fill failed")
            self._finish(wanted)
            self.failed.emit(f"history unavailable: {exc}")
            return
        if self.pending != wanted:
            return
        self._finish(wanted)
        self.covered = wanted
        self._apply(wanted, result)

    async def _buckets(self, wanted: FillRequest) -> dict[str, Buckets]:
        """History for the pens that have some: a tag the historian has not stored yet
        (a fresh site, a new pen) shows live data only, it does not fail the others."""
        tags = list(wanted.tags)
        try:
            return await self._reader.buckets(tags, wanted.start, wanted.end, wanted.count)
        except UnknownTagError as exc:
            known = [tag for tag in tags if tag not in exc.unknown]
            if not known:
                return {}
            return await self._reader.buckets(known, wanted.start, wanted.end, wanted.count)

    def _finish(self, wanted: FillRequest) -> None:
        if self.pending == wanted:
            self.pending = None
            self._task = None
        self.busyChanged.emit(self.busy)
