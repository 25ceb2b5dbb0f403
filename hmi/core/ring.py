"""Preallocated time/value ring buffer for live trends.

Each sample is written twice, at ``i`` and ``i + capacity``, so the newest ``n`` samples
are always one contiguous slice: appending is O(1) and reading is a zero-copy view,
never an ``np.roll`` per sample.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class TrendRing:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._times = np.full(2 * capacity, np.nan)
        self._values = np.full(2 * capacity, np.nan)
        self._next = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, time: float, value: float) -> None:
        """Add one point; NaN is a gap (a BAD period), drawn as a break in the line."""
        i = self._next
        self._times[i] = self._times[i + self.capacity] = time
        self._values[i] = self._values[i + self.capacity] = value
        self._next = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def view(self) -> tuple[FloatArray, FloatArray]:
        """Times and values, oldest first, as read-only views (valid until next append)."""
        end = self._next + self.capacity if self._size == self.capacity else self._next
        start = end - self._size
        times = self._times[start:end]
        values = self._values[start:end]
        times.flags.writeable = False
        values.flags.writeable = False
        return times, values

    def since(self, t0: float) -> tuple[FloatArray, FloatArray]:
        """The points with time >= t0 (times are appended in order)."""
        times, values = self.view()
        first = int(np.searchsorted(times, t0, side="left"))
        return times[first:], values[first:]
