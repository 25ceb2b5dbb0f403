"""Decimated columns on a time-aligned grid (hmi.core.trend_columns) and a pen's
drawing through them (hmi.core.trend_data.PenSeries.draw): what a scrolling live view
gets from the kept columns is what it would get from scratch, and only new columns are
summarized."""

from __future__ import annotations

import math

import numpy as np

from hmi.core.decimate import NO_DATA
from hmi.core.history import BAD, GOOD, Buckets, Resolution
from hmi.core.samples import Quality, Sample
from hmi.core.trend_columns import ColumnCache, summarize
from hmi.core.trend_data import PenSeries

T0 = 1_700_000_000.0


def walk(count: int, start: float = T0, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return start + np.arange(count, dtype=np.float64), np.cumsum(rng.normal(0, 1, count))


def filled(times: np.ndarray, values: np.ndarray, bad: slice = slice(0, 0),
           capacity: int = 100_000) -> PenSeries:
    series = PenSeries(capacity)
    for i, (t, v) in enumerate(zip(times, values, strict=True)):
        is_bad = bad.start <= i < bad.stop
        series.add(Sample("P", None if is_bad else float(v),
                          Quality.BAD if is_bad else Quality.GOOD, float(t), float(t)))
    return series


def same(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> bool:
    return all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b, strict=True))


def test_a_column_keeps_its_min_and_max_in_time_order_and_breaks_after_a_gap():
    times = np.array([0.0, 1, 2, 3, 10, 11, 12, 13, 25])
    values = np.array([5.0, 9, 1, 5, 7, np.nan, 3, 3, 4])
    quality = np.array([0, 0, 0, 1, 0, 2, 0, 0, 0], dtype=np.int8)
    cols = summarize(times, values, values, quality, 0, 3, 10.0)
    assert list(cols.t_a) == [1.0, 10.0, 25.0]  # the max first where it came first
    assert list(cols.v_a) == [9.0, 7.0, 4.0]
    assert list(cols.t_b) == [2.0, 12.0, 25.0]
    assert list(cols.v_b) == [1.0, 3.0, 4.0]
    assert list(cols.gap) == [False, True, False]
    assert list(cols.worst) == [1, 2, 0]
    assert list(cols.tail) == [1, 0, 0]
    t, v = cols.points()
    assert list(t[:6]) == [1.0, 2.0, 10.0, 12.0, 12.0, 25.0]
    assert math.isnan(v[4])  # the break after the column with the gap
    empty = summarize(times, values, values, quality, 5, 2, 10.0)
    assert np.isnan(empty.t_a).all()
    assert list(empty.levels(before=BAD)) == [BAD, BAD]  # held from before


def test_scrolling_summarizes_only_new_columns_and_matches_a_fresh_summary():
    times, values = walk(20_000)
    quality = np.zeros(len(times), dtype=np.int8)
    cache = ColumnCache()
    width = cache.aligned(10.0)

    def source(a: float, b: float):
        i, j = np.searchsorted(times, [a, b])
        return times[i:j + 1], values[i:j + 1], values[i:j + 1], quality[i:j + 1]

    first = math.floor(T0 / width)
    cache.get(first, first + 1000, source)
    assert cache.summarized == 1000
    cache.get(first + 3, first + 1003, source)  # scrolled three columns
    assert cache.summarized == 1003
    cache.invalidate_from(T0 + 10_020.0)  # new data in column first + 1002
    got = cache.get(first + 3, first + 1003, source)
    assert cache.summarized == 1004
    fresh = summarize(times, values, values, quality, first + 3, 1000, width)
    assert same((got.t_a, got.v_a, got.t_b, got.v_b, got.worst),
                (fresh.t_a, fresh.v_a, fresh.t_b, fresh.v_b, fresh.worst))
    assert cache.aligned(10.0 * (1 + 1e-12)) == width  # rounding: same grid
    cache.aligned(20.0)  # a zoom: starts again
    assert len(cache.held) == 0


def test_a_live_pen_drawn_frame_after_frame_equals_a_pen_drawn_once():
    times, values = walk(30_000)
    live = filled(times[:20_000], values[:20_000], bad=slice(5000, 5300))
    span, columns = 12_000.0, 1500
    for step in range(0, 10_001, 2500):  # live frames as samples arrive
        for t, v in zip(times[20_000 + step - 2500 if step else 20_000:20_000 + step],
                        values[20_000 + step - 2500 if step else 20_000:20_000 + step],
                        strict=True):
            live.add(Sample("P", float(v), Quality.GOOD, float(t), float(t)))
        now = float(times[20_000 + step - 1]) if step else float(times[19_999])
        drawn = live.draw(now - span, now, columns)
    once = filled(times, values, bad=slice(5000, 5300))
    fresh = once.draw(now - span, now, columns)
    assert same(drawn, fresh)
    assert live.columns.summarized < 2 * columns  # not every column on every frame
    x, _, levels = drawn
    assert x[-1] >= times[-1] - span / columns  # up to the newest column
    assert len(x) <= 2 * columns + 6
    assert (levels == GOOD).all()  # the BAD spell is out of view by now


def test_bad_spells_and_out_of_order_samples_are_drawn_true_through_the_columns():
    times, values = walk(10_000)
    series = filled(times[:9000], values[:9000], bad=slice(4000, 4600))
    t0, t1 = float(times[0]), float(times[8999])
    _, _, levels = series.draw(t0, t1, 1000)
    bad = np.flatnonzero(levels == BAD)
    assert len(bad)
    edges = np.linspace(t0, t1, 1001)
    assert edges[bad[0]] <= times[4000] <= edges[bad[0] + 1]
    assert abs(edges[bad[-1] + 1] - times[4599]) <= 2 * (t1 - t0) / 1000
    x, y, _ = series.draw(t0, t1, 1000)
    inside = (x > times[4010]) & (x < times[4590])
    assert not np.isfinite(y[inside]).any()  # a gap, not a line across

    # a late sample inside the drawn range changes its column
    series.add(Sample("P", 1e6, Quality.GOOD, float(times[100]) + 0.5,
                      float(times[100]) + 0.5))
    x, y, _ = series.draw(t0, t1, 1000)
    assert 1e6 in y


def test_a_full_ring_dropping_drawn_samples_redraws_the_columns_it_dropped_from():
    times, values = walk(6000)
    series = filled(times[:5000], values[:5000], capacity=5000)
    t0, t1 = float(times[0]), float(times[4999])
    series.draw(t0, t1, 500)
    for t, v in zip(times[5000:], values[5000:], strict=True):
        series.add(Sample("P", float(v), Quality.GOOD, float(t), float(t)))
    x, _, levels = series.draw(t0, t1, 500)
    assert x.min() >= times[1000] - 10  # the dropped thousand are no longer drawn
    assert (levels[:95] == NO_DATA).all()
    fresh = filled(times[1000:], values[1000:], capacity=5000).draw(t0, t1, 500)
    assert same(series.draw(t0, t1, 500), fresh)


def test_history_buckets_and_live_samples_join_in_the_columns():
    times, values = walk(7200, start=T0 - 7200)
    mins, maxs = values - 1.0, values + 1.0
    history = Buckets("P", T0 - 7200, T0, times, mins, maxs,
                      np.zeros(len(times), dtype=np.int8), Resolution.MINUTE)
    series = PenSeries(1000)
    series.set_history(history)
    for i in range(1, 301):
        series.add(Sample("P", 500.0, Quality.GOOD, T0 + i, T0 + i))
    x, y, _ = series.draw(T0 - 7000, T0 + 300, 1000)
    assert y.max() == 500.0
    assert x[-1] == T0 + 300
    assert mins.min() <= np.nanmin(y) <= mins[times >= T0 - 7000].min()  # the buckets' mins
    series.set_history(None)  # a new fill: nothing kept from the old one
    x, y, _ = series.draw(T0 - 7000, T0 + 300, 1000)
    assert np.nanmin(y) == 500.0


def test_the_short_way_for_all_good_columns_gives_what_column_quality_gives():
    from hmi.core.decimate import column_quality
    from hmi.core.trend_data import _levels

    rng = np.random.default_rng(11)
    for _ in range(300):
        columns = int(rng.integers(1, 50))
        t0, t1 = 100.0, 100.0 + float(rng.uniform(1, 100))
        count = int(rng.integers(1, 80))
        times = np.sort(rng.uniform(t0, t1 + 20, count))
        if rng.random() < 0.2:
            times[0] = t1 if rng.random() < 0.5 else t0  # on the grid's edges
            times.sort()
        quality = np.zeros(count, dtype=np.int8)
        if rng.random() < 0.3:
            quality[rng.integers(0, count)] = BAD
        for before in (NO_DATA, GOOD, BAD):
            assert np.array_equal(_levels(times, quality, t0, t1, columns, before),
                                  column_quality(times, quality, t0, t1, columns, before))


def _copy_of(series: PenSeries) -> PenSeries:
    """The same samples and history in a pen that has drawn nothing yet."""
    copy = PenSeries(series.ring.values.capacity)
    copy.set_history(series.history)
    times, values, quality = series.ring.view()
    for t, v, q in zip(times, values, quality, strict=True):
        copy.ring.append(float(t), float(v), int(q))
    return copy


def test_a_live_view_between_moves_extends_its_draw_and_equals_a_draw_from_scratch():
    """A 24 h window moves once in 45 s while new samples come every second: the draw
    keeps what it had and looks again only at the new samples' columns; at every frame,
    with history envelopes or without, BAD and UNCERTAIN samples arriving, a point
    before the window and samples on the columns' edges, it is what a fresh draw is."""
    rng = np.random.default_rng(5)
    for case in range(40):
        with_history = case % 2 == 0
        columns = int(rng.integers(20, 400))
        width = float(rng.choice([1.0, 2.5, 45.0]))
        t0 = T0 - columns * width
        t1 = T0 + 5 * width  # now is inside the window; samples reach it frame by frame
        series = PenSeries(100_000)
        if with_history:
            count = int(rng.integers(5, columns))
            times = np.sort(rng.uniform(t0 - 3 * width, T0 - width, count))
            mins = rng.normal(0, 1, count)
            quality = rng.choice([GOOD, GOOD, GOOD, BAD], count).astype(np.int8)
            series.set_history(Buckets("P", t0 - 3 * width, T0, times, mins, mins + 1.0,
                                       quality, Resolution.MINUTE))
        else:
            for t in np.sort(rng.uniform(t0 - 2 * width, T0, int(rng.integers(1, columns)))):
                series.add(Sample("P", float(rng.normal()), Quality.GOOD, float(t), float(t)))
        now = T0
        for _frame in range(12):
            for _ in range(int(rng.integers(0, 4))):
                now += float(rng.choice([width, width / 3, 0.0])) or width  # on edges too
                kind = rng.random()
                quality_now = (Quality.BAD if kind < 0.15 else
                               Quality.UNCERTAIN if kind < 0.3 else Quality.GOOD)
                value = None if quality_now is Quality.BAD else float(rng.normal())
                series.add(Sample("P", value, quality_now, now, now))
            drawn = series.draw(t0, t1, columns)
            assert same(drawn, _copy_of(series).draw(t0, t1, columns)), (case, _frame)
    assert series._drawn is not None  # the last case was drawn by extending


def test_an_extended_draw_starts_again_when_the_range_or_the_history_changes():
    times, values = walk(600)
    series = filled(times, values)
    t0, t1 = T0 - 100.0, T0 + 700.0
    first = series.draw(t0, t1, 600)
    series.add(Sample("P", 1.0, Quality.GOOD, T0 + 600, T0 + 600))
    assert len(series.draw(t0, t1, 600)[0]) == len(first[0]) + 1
    moved = series.draw(t0 + 1, t1 + 1, 600)  # a pixel on: from scratch
    assert same(moved, _copy_of(series).draw(t0 + 1, t1 + 1, 600))
    series.set_history(None)
    assert series._drawn is None


def test_an_extended_draw_of_a_full_ring_keeps_its_own_copy_of_the_points():
    """A full ring writes its next sample over its oldest: a draw kept to be extended
    must not be a view of that memory (a review found the curve then began at the newest
    sample)."""
    series = PenSeries(1000)
    for i in range(1000):
        series.add(Sample("P", float(i), Quality.GOOD, T0 + i, T0 + i))
    t0, t1 = T0 - 10, T0 + 100
    series.draw(t0, t1, 200)
    for k in range(1, 4):
        series.add(Sample("P", 0.0, Quality.GOOD, T0 + 999 + k, T0 + 999 + k))
        drawn = series.draw(t0, t1, 200)
        assert same(drawn, _copy_of(series).draw(t0, t1, 200)), k
        assert drawn[0][0] == T0 + k  # the oldest kept sample, not the newest


def test_a_sample_older_than_the_window_is_drawn_from_scratch():
    """A lagging device stamps a sample before the window's start: it becomes the
    neighbour the line comes in from, replacing the old one."""
    series = PenSeries(100)
    series.add(Sample("P", 1.0, Quality.GOOD, T0, T0))
    series.draw(T0 + 10, T0 + 20, 10)
    series.add(Sample("P", 2.0, Quality.GOOD, T0 + 5, T0 + 5))
    drawn = series.draw(T0 + 10, T0 + 20, 10)
    assert same(drawn, _copy_of(series).draw(T0 + 10, T0 + 20, 10))
    assert list(drawn[0]) == [T0 + 5]
