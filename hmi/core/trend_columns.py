"""Decimated columns on a time-aligned grid, kept between frames.

A trend's plot is ``columns`` pixels over [t0, t1]. Decimating every pen's points to
those pixel columns on every frame costs the whole range each time (a live 24 h window
of 1 s data: 86,400 points a pen, 32 pens, for a picture that moved one pixel). Here
the columns are aligned to absolute time instead (column k is [k*w, (k+1)*w) for the
width w = (t1 - t0) / columns), so a column's summary (its min and max, at the times
they occurred and in that order, its worst quality) stays true while the view scrolls
or pans at the same zoom: a live frame summarizes only the columns new data reached,
and a pan only the columns it uncovered. A zoom (another width), a new history fill or
samples that fall off a full ring and were drawn start it again.

Every point drawn is an input point (as hmi.core.decimate), so what the cursor reads is
what is drawn; the grid is the screen's to within a fraction of a pixel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hmi.core.decimate import NO_DATA

FloatArray = npt.NDArray[np.float64]
QualityArray = npt.NDArray[np.int8]
BoolArray = npt.NDArray[np.bool_]
IndexArray = npt.NDArray[np.intp]

Points = tuple[FloatArray, FloatArray, FloatArray, QualityArray]  # times, lows, highs, quality
Source = Callable[[float, float], Points]  # the points covering [start, end]

SAME_WIDTH = 1e-9  # relative: a live view's (now - span, now) varies in the last bits


@dataclass(frozen=True, slots=True)
class Columns:
    """Summaries of the aligned columns ``first .. first + len - 1``: the first and
    second point to draw (the column's min and max in time order; NaN time where the
    column is empty), whether the line breaks after it (it mixes values and gaps), its
    worst quality and the quality of its last sample (NO_DATA where empty)."""

    first: int
    t_a: FloatArray
    v_a: FloatArray
    t_b: FloatArray
    v_b: FloatArray
    gap: BoolArray
    worst: QualityArray
    tail: QualityArray

    def __len__(self) -> int:
        return len(self.t_a)

    @property
    def end(self) -> int:
        """One past the last column."""
        return self.first + len(self)

    def cut(self, start: int, end: int) -> Columns:
        """Only the columns in [start, end) (clipped to those held)."""
        i, j = max(start - self.first, 0), max(min(end, self.end) - self.first, 0)
        i = min(i, j)
        return Columns(self.first + i, self.t_a[i:j], self.v_a[i:j], self.t_b[i:j],
                       self.v_b[i:j], self.gap[i:j], self.worst[i:j], self.tail[i:j])

    @staticmethod
    def join(parts: list[Columns]) -> Columns:
        """Consecutive parts as one."""
        parts = [p for p in parts if len(p)]
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return empty_columns(0)
        return Columns(parts[0].first, *(np.concatenate(field) for field in zip(
            *((p.t_a, p.v_a, p.t_b, p.v_b, p.gap, p.worst, p.tail) for p in parts),
            strict=True)))

    def points(self) -> tuple[FloatArray, FloatArray]:
        """The curve through the columns: two points per non-empty column, a NaN after a
        column that holds a gap (so a BAD spell shorter than a pixel still breaks)."""
        full = np.flatnonzero(~np.isnan(self.t_a))
        out_t = np.empty(2 * len(full))
        out_v = np.empty(2 * len(full))
        out_t[0::2], out_t[1::2] = self.t_a[full], self.t_b[full]
        out_v[0::2], out_v[1::2] = self.v_a[full], self.v_b[full]
        breaks = np.flatnonzero(self.gap[full])
        if len(breaks):
            where = 2 * breaks + 2
            out_t = np.insert(out_t, where, out_t[where - 1])
            out_v = np.insert(out_v, where, np.nan)
        return out_t, out_v

    def levels(self, before: int = NO_DATA) -> QualityArray:
        """Worst quality per column; an empty column holds the last sample's quality
        (``before``: the quality in force before the first column)."""
        full = self.worst != NO_DATA
        filled = np.where(full, np.arange(len(self)), -1)
        np.maximum.accumulate(filled, out=filled)
        held = np.where(filled >= 0, self.tail[np.maximum(filled, 0)], np.int8(before))
        return np.where(full, self.worst, held).astype(np.int8)


def empty_columns(count: int, first: int = 0) -> Columns:
    def nan() -> FloatArray:
        return np.full(count, np.nan)

    no_data = np.full(count, NO_DATA, dtype=np.int8)
    return Columns(first, nan(), nan(), nan(), nan(), np.zeros(count, dtype=bool), no_data,
                   no_data.copy())


def _first_match(values: FloatArray, targets: FloatArray, starts: IndexArray,
                 ends: IndexArray) -> IndexArray:
    """Index of the first value equal to its column's target in [start, end) (a column
    without one, all NaN: its start)."""
    first, last = int(starts[0]), int(ends[-1])
    hits = np.flatnonzero(values[first:last] == np.repeat(targets, ends - starts)) + first
    if not len(hits):
        return starts.copy()
    found = hits[np.minimum(np.searchsorted(hits, starts, side="left"), len(hits) - 1)]
    return np.where((found >= starts) & (found < ends), found, starts)


def summarize(times: FloatArray, lows: FloatArray, highs: FloatArray,
              quality: QualityArray, first: int, count: int, width: float) -> Columns:
    """Columns ``first .. first + count - 1`` of ``width`` seconds from time-sorted points
    (``lows`` = ``highs`` for plain samples; history buckets' mins and maxs)."""
    edges = np.arange(first, first + count + 1, dtype=np.float64) * width
    starts = np.searchsorted(times, edges[:-1], side="left")
    ends = np.searchsorted(times, edges[1:], side="left")
    made = empty_columns(count, first)
    full = np.flatnonzero(ends > starts)
    if not len(full):
        return made
    s, e = starts[full], ends[full]
    last = int(e[-1])
    with np.errstate(invalid="ignore"):
        col_low = np.fmin.reduceat(lows[:last], s)
        col_high = np.fmax.reduceat(highs[:last], s)
    low_at = _first_match(lows, col_low, s, e)
    high_at = _first_match(highs, col_high, s, e)
    # a flat column reaches its last point (a steady live signal up to its newest sample)
    high_at = np.where(col_low == col_high, np.maximum(e - 1, high_at), high_at)
    low_first = low_at <= high_at
    made.t_a[full] = times[np.where(low_first, low_at, high_at)]
    made.t_b[full] = times[np.where(low_first, high_at, low_at)]
    made.v_a[full] = np.where(low_first, col_low, col_high)
    made.v_b[full] = np.where(low_first, col_high, col_low)
    nans = np.add.reduceat(np.isnan(lows[:last]).astype(np.int32), s)
    made.gap[full] = (nans > 0) & np.isfinite(col_low)
    made.worst[full] = np.maximum.reduceat(quality[:last], s)
    made.tail[full] = quality[e - 1]
    return made


class ColumnCache:
    """One pen's summaries at one column width, and from which column on they are
    stale (``invalidate_from``). ``get`` hands back the columns asked for, summarizing
    only what it does not hold."""

    def __init__(self) -> None:
        self.width = math.nan
        self.held = empty_columns(0)
        self.summarized = 0  # columns summarized since made (for tests and benchmarks)

    def reset(self) -> None:
        self.width = math.nan
        self.held = empty_columns(0)

    def invalidate_from(self, t: float) -> None:
        """Data at or after ``t`` changed: the columns from t's on are stale."""
        if not math.isnan(self.width) and t < math.inf:
            self.held = self.held.cut(self.held.first, math.floor(t / self.width))

    def invalidate_to(self, t: float) -> None:
        """Data at or before ``t`` changed (dropped): the columns up to t's are stale."""
        if not math.isnan(self.width) and t > -math.inf:
            self.held = self.held.cut(math.floor(t / self.width) + 1, self.held.end)

    def aligned(self, width: float) -> float:
        """The width to use for ``width`` (the held one if they differ only by rounding;
        else the cache starts again at the new width)."""
        if not abs(width - self.width) <= SAME_WIDTH * width:
            self.reset()
            self.width = width
        return self.width

    def get(self, first: int, end: int, source: Source) -> Columns:
        """Columns [first, end); ``source(a, b)`` gives the points covering [a, b]."""
        held = self.held.cut(first, end)
        if not len(held):
            parts = [self._summarize(first, end, source)]
        else:
            parts = [self._summarize(first, held.first, source), held,
                     self._summarize(held.end, end, source)]
        self.held = Columns.join(parts)
        return self.held

    def _summarize(self, first: int, end: int, source: Source) -> Columns:
        if end <= first:
            return empty_columns(0, first)
        times, lows, highs, quality = source(first * self.width, end * self.width)
        self.summarized += end - first
        return summarize(times, lows, highs, quality, first, end - first, self.width)

