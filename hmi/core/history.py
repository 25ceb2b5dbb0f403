"""History as the trend and exports read it: min/max buckets that keep spikes, with the
worst quality of each bucket so a BAD period stays visible after decimation."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
QualityArray = npt.NDArray[np.int8]

# Quality codes in arrays and in the historian's tables: higher is worse, so max() of a
# bucket is its worst quality.
GOOD, UNCERTAIN, BAD = 0, 1, 2


class Resolution(enum.Enum):
    RAW = "raw"  # stored samples
    MINUTE = "minute"  # per-minute roll-ups (min, max, mean, count, first, last)


@dataclass(frozen=True, slots=True)
class Buckets:
    """One tag over [start, end) cut into equal buckets (or raw points when few).

    ``times`` are bucket starts (raw: sample times). A bucket with no data has NaN
    min/max and quality BAD only if a BAD sample fell in it; empty buckets are gaps.
    """

    tag: str
    start: float
    end: float
    times: FloatArray
    mins: FloatArray
    maxs: FloatArray
    quality: QualityArray  # worst quality in the bucket: GOOD, UNCERTAIN or BAD
    resolution: Resolution

    def __len__(self) -> int:
        return len(self.times)


class HistoryError(Exception):
    """A history request cannot be answered; the message says why and what to do."""


class UnknownTagError(HistoryError):
    """Tags the historian has stored nothing for (yet, or ever: a typo)."""

    def __init__(self, message: str, unknown: Sequence[str]) -> None:
        super().__init__(message)
        self.unknown = tuple(unknown)


class HistoryReader(Protocol):
    """The historian as the trend and exports see it (implemented in hmi.store)."""

    async def buckets(
        self, tags: Sequence[str], start: float, end: float, count: int
    ) -> dict[str, Buckets]:
        """Each tag's [start, end) in at most ``count`` min/max buckets, from raw samples
        or roll-ups, whichever the range needs. Raises HistoryError for a reversed or
        empty range, unknown tags, or a database that cannot be read."""
        ...
