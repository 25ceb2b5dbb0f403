"""Per-pixel-column decimation for trends: hand the plot only what the screen can show.

Given time-sorted points (or min/max envelopes such as history ``Buckets``) and a visible
``[t0, t1]`` cut into ``columns`` equal pixel columns, keep each column's minimum and
maximum in the order they occurred, at the times they occurred. A one-sample spike
survives at any zoom, and every output point is an input point, so what the cursor
reads is what is drawn.

NaN is a gap (a BAD sample): a column with only NaN draws nothing, and a column holding
both values and NaN gets a NaN after its two points so the line breaks there: a BAD
period shorter than a pixel stays visible as a break instead of being bridged.
Quality arrays use hmi.core.history's codes (higher is worse), decimated to each
column's worst.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hmi.core.history import UNCERTAIN

FloatArray = npt.NDArray[np.float64]
QualityArray = npt.NDArray[np.int8]
IndexArray = npt.NDArray[np.intp]

NO_DATA = -1  # column_quality for a column before the first sample


def column_edges(t0: float, t1: float, columns: int) -> FloatArray:
    """The ``columns + 1`` boundaries of equal pixel columns over [t0, t1]."""
    if columns < 1:
        raise ValueError("columns must be at least 1")
    if not t1 > t0:
        raise ValueError(f"empty or reversed range [{t0}, {t1}]")
    return np.linspace(t0, t1, columns + 1)


def _column_bounds(times: FloatArray, edges: FloatArray) -> tuple[IndexArray, IndexArray]:
    """First and end index of each column's points; the last column includes t1."""
    starts = np.searchsorted(times, edges[:-1], side="left")
    ends = np.searchsorted(times, edges[1:], side="left")
    ends[-1] = np.searchsorted(times, edges[-1], side="right")
    return starts, ends


def _first_match(values: FloatArray, targets: FloatArray, starts: IndexArray,
                 lengths: IndexArray) -> IndexArray:
    """Index of the first value equal to its column's target (NaN target: the start)."""
    first, last = int(starts[0]), int(starts[-1] + lengths[-1])
    hits = np.flatnonzero(values[first:last] == np.repeat(targets, lengths)) + first
    found = np.searchsorted(hits, starts, side="left")
    found = np.minimum(found, max(len(hits) - 1, 0))
    index = hits[found] if len(hits) else starts.copy()
    # A column without a match (all NaN) falls back to its own first index.
    return np.where((index >= starts) & (index < starts + lengths), index, starts)


def decimate(
    times: FloatArray,
    lows: FloatArray,
    t0: float,
    t1: float,
    columns: int,
    highs: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Min and max of each non-empty column over [t0, t1], in time order.

    ``times`` must be sorted. Plain points pass their values as ``lows`` (``highs``
    None); envelopes (history buckets) pass their mins and maxs. Returns (times, values)
    with 2 points per non-empty column (plus a NaN where a column holds a gap), ready for
    ``setData(connect="finite")``.
    """
    highs = lows if highs is None else highs
    edges = column_edges(t0, t1, columns)
    starts, ends = _column_bounds(times, edges)
    full = ends > starts
    if not full.any():
        return np.empty(0), np.empty(0)
    starts, ends = starts[full], ends[full]
    last = int(ends[-1])
    lengths = ends - starts
    with np.errstate(invalid="ignore"):
        col_low = np.fmin.reduceat(lows[:last], starts)
        col_high = np.fmax.reduceat(highs[:last], starts)
    low_at = _first_match(lows, col_low, starts, lengths)
    high_at = _first_match(highs, col_high, starts, lengths)
    # A flat column (one value throughout) spans from its first to its last point, so
    # a steady live signal is drawn up to its newest sample.
    flat = col_low == col_high
    high_at = np.where(flat, np.maximum(ends - 1, high_at), high_at)
    low_first = low_at <= high_at
    out_t = np.empty(2 * len(starts))
    out_v = np.empty(2 * len(starts))
    out_t[0::2] = times[np.where(low_first, low_at, high_at)]
    out_t[1::2] = times[np.where(low_first, high_at, low_at)]
    out_v[0::2] = np.where(low_first, col_low, col_high)
    out_v[1::2] = np.where(low_first, col_high, col_low)
    # A column mixing values and NaN: break the line after it (all-NaN columns are
    # already NaN, hence a gap).
    gaps = np.flatnonzero(np.isnan(lows[starts[0]:last])) + starts[0]
    gap_columns = np.unique(np.searchsorted(starts, gaps, side="right") - 1)
    mixed = gap_columns[np.isfinite(col_low[gap_columns])]
    if len(mixed):
        where = 2 * mixed + 2
        out_t = np.insert(out_t, where, out_t[where - 1])
        out_v = np.insert(out_v, where, np.nan)
    return out_t, out_v


def column_quality(
    times: FloatArray, quality: QualityArray, t0: float, t1: float, columns: int,
    before: int = NO_DATA,
) -> QualityArray:
    """Worst quality per column; a column with no sample keeps the previous column's
    quality (a sample's quality holds until the next sample). ``before`` is the quality
    in force at t0 (the last sample before it), NO_DATA if unknown."""
    return column_quality_at(times, quality, column_edges(t0, t1, columns), before)


def column_quality_at(times: FloatArray, quality: QualityArray, edges: FloatArray,
                      before: int = NO_DATA) -> QualityArray:
    """column_quality for the columns between ``edges`` (a run of column_edges: a run of
    the same columns gives the same answer whichever run of them is asked)."""
    columns = len(edges) - 1
    starts, ends = _column_bounds(times, edges)
    full = ends > starts
    worst = np.full(columns, NO_DATA, dtype=np.int8)
    if full.any():
        last = int(ends[full][-1])
        worst[full] = np.maximum.reduceat(quality[:last], starts[full])
        # the quality at each column's end: the last sample in or before it
        tail = np.full(columns, NO_DATA, dtype=np.int8)
        tail[full] = quality[ends[full] - 1]
        # hold forward: an empty column takes the tail of the last non-empty one
        filled = np.where(full, np.arange(columns), -1)
        np.maximum.accumulate(filled, out=filled)
        held = np.where(filled >= 0, tail[np.maximum(filled, 0)], np.int8(before))
        worst = np.where(full, worst, held).astype(np.int8)
    else:
        worst[:] = before
    return worst


def quality_spans(
    levels: QualityArray, t0: float, t1: float, minimum: int = UNCERTAIN
) -> list[tuple[float, float, int]]:
    """Runs of equal column quality >= ``minimum`` as (start, end, quality) spans."""
    if len(levels) == 0:
        return []
    edges = column_edges(t0, t1, len(levels))
    change = np.flatnonzero(np.diff(levels)) + 1
    run_starts = np.concatenate(([0], change))
    run_ends = np.concatenate((change, [len(levels)]))
    return [
        (float(edges[s]), float(edges[e]), int(levels[s]))
        for s, e in zip(run_starts, run_ends, strict=True)
        if levels[s] >= minimum
    ]
