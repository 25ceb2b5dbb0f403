"""What one trend pen holds: live samples in ring buffers and the last history fill,
joined and decimated to the plot's pixel columns. The trend's tools draw from it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hmi.core.decimate import (
    NO_DATA,
    column_edges,
    column_quality,
    column_quality_at,
    decimate,
)
from hmi.core.history import BAD, GOOD, UNCERTAIN, Buckets
from hmi.core.ring import TrendRing
from hmi.core.samples import Quality, Sample
from hmi.core.trend_columns import ColumnCache

FloatArray = npt.NDArray[np.float64]
QualityArray = npt.NDArray[np.int8]

QUALITY_CODE = {Quality.GOOD: GOOD, Quality.UNCERTAIN: UNCERTAIN, Quality.BAD: BAD}
QUALITY_NAME = {GOOD: "GOOD", UNCERTAIN: "UNCERTAIN", BAD: "BAD", NO_DATA: "NO DATA"}


class PenRing:
    """A TrendRing of times/values with the samples' quality codes kept alongside."""

    def __init__(self, capacity: int) -> None:
        self.values = TrendRing(capacity)
        self._quality = np.zeros(2 * capacity, dtype=np.int8)
        self._next = 0
        self.changed_from = math.inf  # oldest time appended since take_changes
        self.dropped_to = -math.inf  # newest time a full ring dropped since then

    def __len__(self) -> int:
        return len(self.values)

    def append(self, time: float, value: float, quality: int) -> None:
        capacity = self.values.capacity
        if len(self.values) == capacity:
            self.dropped_to = max(self.dropped_to, float(self.values.view()[0][0]))
        self.changed_from = min(self.changed_from, time)
        self._quality[self._next] = self._quality[self._next + capacity] = quality
        self._next = (self._next + 1) % capacity
        self.values.append(time, value)

    def take_changes(self) -> tuple[float, float]:
        """(oldest time appended, newest time dropped) since the last call."""
        changes = self.changed_from, self.dropped_to
        self.changed_from, self.dropped_to = math.inf, -math.inf
        return changes

    def view(self) -> tuple[FloatArray, FloatArray, QualityArray]:
        times, values = self.values.view()
        capacity = self.values.capacity
        end = self._next + capacity if len(self) == capacity else self._next
        return times, values, self._quality[end - len(self):end]


@dataclass(frozen=True, slots=True)
class Reading:
    """A pen's reading at one time: a value (or a bucket's min..max) and its quality."""

    low: float
    high: float
    quality: int  # GOOD, UNCERTAIN, BAD or NO_DATA

    @property
    def has_value(self) -> bool:
        return self.quality in (GOOD, UNCERTAIN) and not math.isnan(self.low)


NO_READING = Reading(math.nan, math.nan, NO_DATA)


def sample_value(sample: Sample) -> float:
    """The number a sample draws as; BAD and non-numeric values are a gap (NaN)."""
    value = sample.value
    if sample.quality is Quality.BAD or value is None or isinstance(value, str):
        return math.nan
    return float(value)


SPARSE_POINTS = 2.0  # up to this many points per pixel column are drawn as they are
SPARSE_ENVELOPES = 1.25  # history buckets likewise (each is two points, min and max)
CACHED_ABOVE = SPARSE_ENVELOPES  # more points per column: summarized columns, kept
# (at about a point or a bucket per column, drawing them as they are costs less)


def _interleave(times: FloatArray, lows: FloatArray, highs: FloatArray,
                ) -> tuple[FloatArray, FloatArray]:
    """Each bucket as its min then its max at the bucket's time (a vertical stroke)."""
    values = np.empty(2 * len(times))
    values[0::2], values[1::2] = lows, highs
    return np.repeat(times, 2), values


def _levels(times: FloatArray, quality: QualityArray, t0: float, t1: float, columns: int,
            before: int) -> QualityArray:
    """column_quality, with a short way for the usual case: every sample GOOD (then each
    column from the first sample's on is GOOD, those before hold ``before``)."""
    if not (len(quality) and not quality.any() and before in (GOOD, NO_DATA)):
        return column_quality(times, quality, t0, t1, columns, before)
    levels = np.full(columns, GOOD, dtype=np.int8)
    if before == NO_DATA:
        first = float(times[0])
        column = (columns - 1 if first == t1 else  # the last column holds t1 too
                  int(np.searchsorted(column_edges(t0, t1, columns), first, side="right")) - 1)
        levels[:max(0, min(column, columns))] = NO_DATA
    return levels


def _sparse_limit(envelope: bool, columns: int) -> float:
    """Up to this many points are drawn as they are, not decimated."""
    return (SPARSE_ENVELOPES if envelope else SPARSE_POINTS) * columns


@dataclass(frozen=True, slots=True)
class _Drawn:
    """A sparse draw of [t0, t1]: the window's points, the curve and the column levels
    made from them, kept to be extended by newer samples."""

    t0: float
    t1: float
    columns: int
    history: Buckets | None
    times: FloatArray
    lows: FloatArray
    highs: FloatArray
    quality: QualityArray
    envelope: bool
    curve_t: FloatArray
    curve_v: FloatArray
    levels: QualityArray
    edges: FloatArray  # the columns' edges, column_edges(t0, t1, columns)

    def holds(self, t0: float, t1: float, columns: int, history: Buckets | None,
              dropped: float) -> bool:
        """The same range and history, and no point of it dropped by the ring since."""
        return (t0 == self.t0 and t1 == self.t1 and columns == self.columns
                and history is self.history and dropped < self.times[0])

    def extend(self, cut: float, fresh: tuple[FloatArray, FloatArray, FloatArray,
                                              QualityArray]) -> _Drawn | None:
        """This draw with the points from ``cut`` on replaced by the ``fresh`` window
        from ``cut`` (the points before it kept); None where a draw from scratch
        would differ in kind (it would decimate, or become an envelope)."""
        keep = int(np.searchsorted(self.times, cut, side="left"))
        new = fresh[0] >= cut  # the window's neighbour before the cut is kept already
        f_times, f_lows, f_highs = fresh[0][new], fresh[1][new], fresh[2][new]
        f_quality = fresh[3][new]
        envelope = self.envelope or not np.array_equal(f_lows, f_highs, equal_nan=True)
        count = keep + len(f_times)
        if keep == 0 or envelope != self.envelope or count > _sparse_limit(envelope,
                                                                            self.columns):
            return None
        times: FloatArray = np.concatenate((self.times[:keep], f_times))
        lows: FloatArray = np.concatenate((self.lows[:keep], f_lows))
        highs: FloatArray = np.concatenate((self.highs[:keep], f_highs))
        quality = np.concatenate((self.quality[:keep], f_quality)).astype(np.int8)
        per_point = 2 if envelope else 1
        more_t, more_v = (_interleave(f_times, f_lows, f_highs) if envelope
                          else (f_times, f_lows))
        curve_t: FloatArray = np.concatenate((self.curve_t[:per_point * keep], more_t))
        curve_v: FloatArray = np.concatenate((self.curve_v[:per_point * keep], more_v))
        levels = self.levels
        if cut <= self.t1:  # the columns from the cut's on are looked at again
            edges = self.edges
            column = min(max(int(np.searchsorted(edges, cut, side="right")) - 1, 0),
                         self.columns - 1)
            start = int(np.searchsorted(times, edges[column], side="left"))
            before = int(quality[start - 1]) if start else NO_DATA
            levels = np.concatenate((self.levels[:column], column_quality_at(
                times[start:], quality[start:], edges[column:], before)))
        return _Drawn(self.t0, self.t1, self.columns, self.history, times, lows, highs,
                      quality, envelope, curve_t, curve_v, levels, self.edges)


class PenSeries:
    """One tag's live ring and history fill; history covers [start, end), the ring the
    rest, so live data joins where the history ends."""

    def __init__(self, capacity: int) -> None:
        self.ring = PenRing(capacity)
        self.history: Buckets | None = None
        self.latest: Sample | None = None
        self.columns = ColumnCache()
        self._drawn: _Drawn | None = None  # what _draw_points drew last, to extend

    def add(self, sample: Sample) -> None:
        if sample == self.latest:  # given again (a feed hands the latest on subscribing)
            return
        self.ring.append(sample.source_time, sample_value(sample),
                         QUALITY_CODE[sample.quality])
        self.latest = sample

    def set_history(self, buckets: Buckets | None) -> None:
        self.history = buckets
        self.columns.reset()
        self._drawn = None

    def _ring_slice(self, a: float, b: float, before: bool = True, after: bool = True,
                    ) -> tuple[FloatArray, FloatArray, FloatArray, QualityArray] | None:
        """Ring points in [a, b], with the neighbour before and after unless the history
        is the neighbour there."""
        times, values, quality = self.ring.view()
        if b <= a or not len(times):
            return None
        i = max(int(np.searchsorted(times, a, side="left")) - int(before), 0)
        j = int(np.searchsorted(times, b, side="right")) + int(after)
        return (times[i:j], values[i:j], values[i:j], quality[i:j]) if j > i else None

    def window(self, t0: float, t1: float) -> tuple[
            FloatArray, FloatArray, FloatArray, QualityArray]:
        """Times, lows, highs and quality covering [t0, t1] (one point either side so the
        line reaches the edges): history where it has answered, ring points elsewhere."""
        history = self.history
        if history is None:
            parts = [self._ring_slice(t0, t1)]
        else:
            i = max(int(np.searchsorted(history.times, t0, side="left")) - 1, 0)
            j = int(np.searchsorted(history.times, t1, side="right")) + 1
            parts = [
                self._ring_slice(t0, min(t1, history.start), after=False),
                (history.times[i:j], history.mins[i:j], history.maxs[i:j],
                 history.quality[i:j]),
                self._ring_slice(max(t0, history.end), t1, before=False),
            ]
        found = [part for part in parts if part is not None and len(part[0])]
        if not found:
            empty = np.empty(0)
            return empty, empty, empty, np.empty(0, dtype=np.int8)
        if len(found) == 1:
            return found[0]
        times, lows, highs, quality = (np.concatenate(c) for c in zip(*found, strict=True))
        quality = quality.astype(np.int8, copy=False)
        if not (times[1:] < times[:-1]).any():  # the usual case: the parts follow on
            return times, lows, highs, quality
        # the neighbours taken at a join can overlap the other source: keep time order
        order = np.argsort(times, kind="stable")
        return times[order], lows[order], highs[order], quality[order]

    def count(self, t0: float, t1: float) -> int:
        """About how many points (samples or buckets) [t0, t1] holds."""
        ring_times = self.ring.values.view()[0]

        def ring_count(a: float, b: float) -> int:
            return int(np.searchsorted(ring_times, b, side="right")
                       - np.searchsorted(ring_times, a, side="left")) if b > a else 0

        history = self.history
        if history is None:
            return ring_count(t0, t1)
        a, b = max(t0, history.start), min(t1, history.end)
        buckets = int(np.searchsorted(history.times, b) - np.searchsorted(history.times, a)
                      ) if b > a else 0
        return buckets + ring_count(t0, min(t1, history.start)) + ring_count(
            max(t0, history.end), t1)

    def draw(self, t0: float, t1: float, columns: int) -> tuple[
            FloatArray, FloatArray, QualityArray]:
        """What to draw for [t0, t1] at ``columns`` pixels: the curve's points (min/max
        per column, plus the neighbours outside so the line reaches the plot's edges)
        and each column's worst quality. Dense data is summarized on a time-aligned
        grid of columns kept between frames (hmi.core.trend_columns); sparse data is
        drawn as it is."""
        appended, dropped = self.ring.take_changes()
        self.columns.invalidate_from(appended)
        if self.history is None or dropped >= self.history.end:  # the ring was drawn there
            self.columns.invalidate_to(dropped)
        if self.count(t0, t1) > CACHED_ABOVE * columns:
            self._drawn = None
            return self._draw_columns(t0, t1, columns)
        return self._draw_points(t0, t1, columns, appended, dropped)

    def _draw_columns(self, t0: float, t1: float, columns: int) -> tuple[
            FloatArray, FloatArray, QualityArray]:
        width = self.columns.aligned((t1 - t0) / columns)
        first, end = math.floor(t0 / width), math.floor(t1 / width) + 1
        held = self.columns.get(first, end, self.window)
        curve_t, curve_v = held.points()
        # the neighbours outside, so the line reaches the plot's edges
        a, b = first * width, end * width
        times, lows, _, quality = self.window(a - width, a)
        before = np.flatnonzero(times < a)[-1:]
        parts_t, parts_v = [times[before], curve_t], [lows[before], curve_v]
        if self._last_time() >= b:  # (a live view has nothing after it: skip the look)
            after_t, after_v, _, _ = self.window(b, b + width)
            after = np.flatnonzero(after_t >= b)[:1]
            parts_t.append(after_t[after])
            parts_v.append(after_v[after])
        levels = held.levels(int(quality[before[0]]) if len(before) else NO_DATA)
        # each screen column: the worse of the (at most two) grid columns it overlaps
        offset = t0 / width - first  # where the screen's columns start in the grid's
        if len(levels) == columns + 1:
            shown = levels[:-1] if offset < 0.001 else np.maximum(levels[:-1], levels[1:])
        else:  # the rounding of the width put one column more or less in view
            step = (t1 - t0) / columns / width
            left = offset + np.arange(columns) * step
            k1 = np.clip(left.astype(np.intp), 0, len(levels) - 1)
            k2 = np.clip((left + 0.999 * step).astype(np.intp), 0, len(levels) - 1)
            shown = np.maximum(levels[k1], levels[k2])
        return np.concatenate(parts_t), np.concatenate(parts_v), shown

    def _last_time(self) -> float:
        """The newest time the pen holds (a sample or a history bucket)."""
        times = self.ring.values.view()[0]
        last = float(times[-1]) if len(times) else -math.inf
        history = self.history
        if history is not None and len(history.times):
            last = max(last, float(history.times[-1]))
        return last

    def _draw_points(self, t0: float, t1: float, columns: int, appended: float,
                     dropped: float) -> tuple[FloatArray, FloatArray, QualityArray]:
        """Sparse data drawn as it is (decimated past SPARSE_POINTS a column). Drawn again
        for the same range with only newer samples appended (a live view between two
        pixel moves: a 24 h window moves once in 45 s, new data comes every second),
        what it drew up to the new samples is kept and only their columns are looked at
        again (``_Drawn.extend``: the same arrays a draw from scratch makes)."""
        drawn = self._drawn
        if drawn is not None and drawn.holds(t0, t1, columns, self.history, dropped):
            if appended == math.inf:
                return drawn.curve_t, drawn.curve_v, drawn.levels
            history_end = self.history.end if self.history is not None else -math.inf
            # samples from the window's start on, after the history: a sample before t0
            # would replace the neighbour the line comes in from (drawn from scratch)
            if appended >= max(history_end, t0):
                # (from just before t1 when the new samples are past it: the first of them
                # is the neighbour that takes the line to the plot's right edge)
                start = min(appended, float(np.nextafter(t1, -math.inf)))
                extended = drawn.extend(appended, self.window(start, t1))
                if extended is not None:
                    self._drawn = extended
                    return extended.curve_t, extended.curve_v, extended.levels
        self._drawn = None
        times, lows, highs, quality = self.window(t0, t1)
        if not len(times):
            return times, lows, np.full(columns, NO_DATA, dtype=np.int8)
        head = times[:1] < t0
        envelope = not np.array_equal(lows, highs, equal_nan=True)
        inside = int(head[0])  # window() keeps at most one point before t0
        before = int(quality[0]) if inside else NO_DATA
        if len(times) > _sparse_limit(envelope, columns):
            inner_t, inner_v = decimate(times, lows, t0, t1, columns, highs)
            tail = times[-1:] > t1
            curve_t = np.concatenate((times[:1][head], inner_t, times[-1:][tail]))
            curve_v = np.concatenate((lows[:1][head], inner_v, lows[-1:][tail]))
            return curve_t, curve_v, _levels(times[inside:], quality[inside:], t0, t1,
                                             columns, before)
        # about a point (or a bucket) per column: nothing to decimate, draw them all;
        # kept to be extended, so copied: the window can be a view of the ring's memory,
        # which a full ring overwrites with the next sample
        times, lows, highs, quality = times.copy(), lows.copy(), highs.copy(), quality.copy()
        curve_t, curve_v = (_interleave(times, lows, highs) if envelope else (times, lows))
        levels = _levels(times[inside:], quality[inside:], t0, t1, columns, before)
        self._drawn = _Drawn(t0, t1, columns, self.history, times, lows, highs, quality,
                             envelope, curve_t, curve_v, levels,
                             column_edges(t0, t1, columns))
        return curve_t, curve_v, levels

    def curve(self, t0: float, t1: float, columns: int) -> tuple[FloatArray, FloatArray]:
        times, values, _ = self.draw(t0, t1, columns)
        return times, values

    def quality_columns(self, t0: float, t1: float, columns: int) -> QualityArray:
        return self.draw(t0, t1, columns)[2]

    def at(self, t: float) -> Reading:
        """The reading in force at ``t``: the history bucket holding it, else the last
        live sample at or before it (a sample holds until the next one)."""
        history = self.history
        if history is not None and history.start <= t < history.end and len(history):
            i = int(np.searchsorted(history.times, t, side="right")) - 1
            if i >= 0:
                return Reading(float(history.mins[i]), float(history.maxs[i]),
                               int(history.quality[i]))
            return NO_READING
        times, values, quality = self.ring.view()
        i = int(np.searchsorted(times, t, side="right")) - 1
        if i < 0:
            return NO_READING
        value = float(values[i])
        return Reading(value, value, int(quality[i]))

    def wrapped_since(self, t: float) -> bool:
        """Whether the full ring has dropped samples newer than ``t``."""
        if len(self.ring) < self.ring.values.capacity:
            return False
        times, _, _ = self.ring.view()
        return bool(times[0] > t)
