"""The historian for the event loop: trend buckets and export samples, read in a worker
thread so a long range never stalls the GUI (DESIGN.md, Concurrency).

Errors arrive as hmi.core.history.HistoryError with a message for the operator; the
facade holds no state that a failed request could leave half-changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from hmi.core.history import Buckets, FloatArray, HistoryError, HistoryReader
from hmi.store.historian_query import HistorianQuery, RawSeries

__all__ = ["History", "HistoryError", "RawSeries", "last_at_or_before", "step_times"]

IndexArray = npt.NDArray[np.int64]

MAX_STEPS = 10_000_000  # rows of a resampled export; more is a mistake in the step


class History(HistoryReader):
    """hmi.core.history.HistoryReader over the store, plus raw samples for exports."""

    def __init__(self, query: HistorianQuery) -> None:
        self._query = query

    async def buckets(
        self, tags: Sequence[str], start: float, end: float, count: int
    ) -> dict[str, Buckets]:
        return await asyncio.to_thread(self._query.buckets, list(tags), start, end, count)

    async def raw(
        self, tags: Sequence[str], start: float, end: float, *, with_prior: bool = False
    ) -> dict[str, RawSeries]:
        """Stored samples in [start, end) per tag; ``with_prior`` adds the last sample
        before ``start`` (the value holding at ``start``) for resampling."""
        return await asyncio.to_thread(
            self._query.raw, list(tags), start, end, with_prior=with_prior
        )

    async def tag_names(self) -> list[str]:
        return await asyncio.to_thread(self._query.tag_names)

    def retention_note(self, start: float, end: float) -> str:
        """What the trend or export should say when the range reaches past retention."""
        return self._query.retention_note(start, end)


def step_times(start: float, end: float, step: float) -> FloatArray:
    """start, start + step, ... before ``end``: the rows of a resampled export."""
    if not step > 0:
        raise HistoryError(f"the step must be a positive number of seconds, not {step!r}")
    if not end > start:
        raise HistoryError("the time range must end after it starts")
    steps = int(np.ceil((end - start) / step))
    if steps > MAX_STEPS:
        raise HistoryError(
            f"a step of {step:g} s over this range makes {steps:,} rows (at most "
            f"{MAX_STEPS:,}); choose a longer step or a shorter range"
        )
    times = start + step * np.arange(steps, dtype=np.float64)
    return times[times < end]


def last_at_or_before(sample_times: FloatArray, times: FloatArray) -> IndexArray:
    """For each of ``times``, the index of the last sample at or before it; -1 where no
    sample came yet. The sample's value and quality are carried until the next one."""
    return np.searchsorted(sample_times, times, side="right").astype(np.int64) - 1
