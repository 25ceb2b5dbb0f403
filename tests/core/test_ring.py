import numpy as np

from hmi.core.ring import TrendRing


def test_view_is_oldest_first_and_wraps():
    ring = TrendRing(4)
    for i in range(6):
        ring.append(float(i), float(i * 10))
    times, values = ring.view()
    assert times.tolist() == [2.0, 3.0, 4.0, 5.0]
    assert values.tolist() == [20.0, 30.0, 40.0, 50.0]
    assert len(ring) == 4


def test_partial_fill_and_since():
    ring = TrendRing(10)
    for i in range(3):
        ring.append(float(i), 1.0)
    assert ring.view()[0].tolist() == [0.0, 1.0, 2.0]
    assert ring.since(1.0)[0].tolist() == [1.0, 2.0]


def test_nan_marks_a_gap_and_views_are_read_only():
    ring = TrendRing(3)
    ring.append(1.0, np.nan)
    _, values = ring.view()
    assert np.isnan(values[0])
    assert not values.flags.writeable
