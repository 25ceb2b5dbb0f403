import math

import pytest

from hmi.core.diagnostics import RequestStats


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_percentiles_rates_and_bytes_over_the_last_minute():
    clock = Clock()
    stats = RequestStats(clock)
    assert math.isnan(stats.latency_percentile(0.5))
    for i in range(100):
        clock.now += 0.1
        stats.record(0.001 * (i + 1), sent=12, received=9)
    stats.record(5.0, ok=False)
    assert stats.latency_percentile(0.5) == pytest.approx(0.051)
    assert stats.latency_percentile(0.99) == pytest.approx(0.1)
    assert stats.requests == 101
    assert stats.errors == 1
    assert (stats.bytes_sent, stats.bytes_received) == (1200, 900)
    assert 9.0 < stats.requests_per_second() <= 10.1
    clock.now += 120  # a quiet minute later nothing is recent
    assert stats.requests_per_second() == 0.0


def test_a_burst_after_connecting_is_not_a_rate():
    clock = Clock()
    stats = RequestStats(clock)
    for _ in range(5):
        clock.now += 0.001
        stats.record(0.001)
    assert stats.requests_per_second() <= 4.0
