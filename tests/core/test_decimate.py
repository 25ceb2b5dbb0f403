"""Per-pixel-column decimation: spikes survive, gaps stay gaps, time order holds."""

from __future__ import annotations

import numpy as np
import pytest

from hmi.core.decimate import NO_DATA, column_quality, decimate, quality_spans
from hmi.core.history import BAD, GOOD, UNCERTAIN


def ramp(n: int) -> tuple[np.ndarray, np.ndarray]:
    times = np.arange(n, dtype=np.float64)
    return times, np.sin(times / 50.0)


def test_two_points_per_column_at_most_and_in_time_order():
    times, values = ramp(86_400)
    out_t, out_v = decimate(times, values, 0.0, 86_400.0, 1920)
    assert len(out_t) == 2 * 1920
    assert np.all(np.diff(out_t) >= 0)
    # every output point is an input point (what is drawn is what was measured)
    assert np.array_equal(values[out_t.astype(int)], out_v)


def test_a_one_sample_spike_survives_any_zoom():
    times, values = ramp(86_400)
    values[43_210] = 1e6
    values[60_001] = -1e6
    for columns in (10, 300, 1920):
        out_t, out_v = decimate(times, values, 0.0, 86_400.0, columns)
        assert out_v.max() == 1e6
        assert out_t[out_v.argmax()] == 43_210.0
        assert out_v.min() == -1e6
        assert out_t[out_v.argmin()] == 60_001.0


def test_min_and_max_keep_their_order_within_a_column():
    times = np.arange(10.0)
    values = np.array([0, 5, 9, 1, 0, 0, -3, 2, 8, 0], dtype=np.float64)
    out_t, out_v = decimate(times, values, 0.0, 10.0, 2)
    # first column: min 0 at t=0 comes before max 9 at t=2
    assert out_t.tolist() == [0.0, 2.0, 6.0, 8.0]
    assert out_v.tolist() == [0.0, 9.0, -3.0, 8.0]
    # max before min within a column comes out max first
    values = np.array([9, 1, 0, 0, 0, 0, 0, 0, 0, -4], dtype=np.float64)
    out_t, out_v = decimate(times, values, 0.0, 10.0, 1)
    assert out_t.tolist() == [0.0, 9.0]
    assert out_v.tolist() == [9.0, -4.0]


def test_empty_columns_give_no_points():
    times = np.array([0.5, 1.5, 8.5])
    values = np.array([1.0, 2.0, 3.0])
    out_t, _out_v = decimate(times, values, 0.0, 10.0, 10)
    assert set(out_t.tolist()) == {0.5, 1.5, 8.5}
    assert len(out_t) == 6  # three non-empty columns, two points each
    empty_t, empty_v = decimate(times, values, 20.0, 30.0, 10)
    assert len(empty_t) == len(empty_v) == 0


def test_a_nan_gap_stays_a_gap():
    times, values = ramp(10_000)
    values[4000:5000] = np.nan  # a BAD period spanning many columns
    out_t, out_v = decimate(times, values, 0.0, 10_000.0, 100)
    inside = (out_t >= 4000) & (out_t < 5000)
    assert np.all(np.isnan(out_v[inside]))
    assert np.isfinite(out_v[out_t < 3990]).all()


def test_a_gap_shorter_than_a_column_still_breaks_the_line():
    times, values = ramp(10_000)
    values[4321] = np.nan  # one BAD sample inside a 100-sample column
    out_t, out_v = decimate(times, values, 0.0, 10_000.0, 100)
    assert np.isnan(out_v).sum() == 1
    assert np.isfinite(out_v[~np.isnan(out_v)]).all()
    assert np.all(np.diff(out_t) >= 0)


def test_envelopes_use_lows_for_min_and_highs_for_max():
    times = np.arange(0.0, 100.0, 10.0)
    lows = np.full(10, 1.0)
    highs = np.full(10, 2.0)
    lows[3], highs[7] = -5.0, 9.0
    _, out_v = decimate(times, lows, 0.0, 100.0, 1, highs=highs)
    assert out_v.tolist() == [-5.0, 9.0]


def test_view_edges_and_bad_arguments():
    times, values = ramp(100)
    out_t, _ = decimate(times, values, 10.0, 20.0, 5)
    assert out_t.min() >= 10.0
    assert out_t.max() <= 20.0
    with pytest.raises(ValueError, match="reversed"):
        decimate(times, values, 20.0, 10.0, 5)
    with pytest.raises(ValueError, match="columns"):
        decimate(times, values, 0.0, 10.0, 0)


def test_column_quality_is_the_worst_and_holds_across_empty_columns():
    times = np.array([0.5, 1.5, 1.7, 5.5])
    quality = np.array([GOOD, GOOD, BAD, UNCERTAIN], dtype=np.int8)
    levels = column_quality(times, quality, 0.0, 8.0, 8)
    # column 1 holds a BAD sample; 2..4 have none and keep the BAD in force
    assert levels.tolist() == [GOOD, BAD, BAD, BAD, BAD, UNCERTAIN, UNCERTAIN, UNCERTAIN]
    assert column_quality(times, quality, 0.0, 0.4, 2).tolist() == [NO_DATA, NO_DATA]
    held = column_quality(times[3:], quality[3:], 2.0, 4.0, 2, before=BAD)
    assert held.tolist() == [BAD, BAD]


def test_quality_spans_merge_runs():
    levels = np.array([GOOD, BAD, BAD, GOOD, UNCERTAIN, NO_DATA], dtype=np.int8)
    assert quality_spans(levels, 0.0, 60.0) == [(10.0, 30.0, BAD), (40.0, 50.0, UNCERTAIN)]
    assert quality_spans(levels, 0.0, 60.0, minimum=BAD) == [(10.0, 30.0, BAD)]
