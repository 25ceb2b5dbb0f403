"""The one deadband rule: a change must be MORE than the deadband to pass (OPC UA Part 4's
absolute deadband), at the source and in the historian alike."""

from __future__ import annotations

import math

from hmi.core.deadband import DeadbandFilter, moved, value_moved
from hmi.core.samples import Quality, Sample


def _good(tag: str, value: float | bool | str) -> Sample:
    return Sample(tag, value, Quality.GOOD, 0.0, 0.0)


def test_a_change_equal_to_the_deadband_does_not_pass() -> None:
    assert not moved(10.0, 10.5, 0.5)
    assert not moved(10.5, 10.0, 0.5)
    assert moved(10.0, 10.5001, 0.5)
    assert moved(10.0, 9.4, 0.5)
    assert not moved(3.0, 3.0, 0.0)  # deadband 0: any change, and only a change
    assert moved(3.0, 3.0000001, 0.0)


def test_values_other_than_numbers_pass_on_any_difference() -> None:
    assert value_moved(True, False, 10.0)
    assert not value_moved(True, True, 10.0)
    assert value_moved("RUN", "STOP", 10.0)
    assert value_moved(None, 1.0, 10.0)
    assert value_moved(1.0, math.nan, 10.0)
    assert not value_moved(math.nan, math.nan, 10.0)
    assert not value_moved(1, 2, 1.0)  # ints by the same rule


def test_filter_publishes_moves_past_the_deadband_and_every_quality_change() -> None:
    passes = DeadbandFilter({"Flow": 0.5}).passes
    assert passes(_good("Flow", 10.0))
    assert not passes(_good("Flow", 10.4))  # 0.4: within
    assert not passes(_good("Flow", 10.5))  # exactly the deadband: within
    assert passes(_good("Flow", 10.6))  # 0.6 over it
    assert not passes(_good("Flow", 10.2))  # measured from the last published, 10.6
    assert passes(Sample.bad("Flow", "comm: lost", 0.0))  # quality change: always
    assert not passes(Sample.bad("Flow", "comm: lost", 1.0))  # same BAD again
    assert passes(Sample.bad("Flow", "comm: timeout", 1.0))  # BAD for another reason
    assert passes(_good("Flow", 10.6))  # GOOD again, same value: a quality change
    assert passes(Sample("Flow", 10.6, Quality.UNCERTAIN, 0.0, 0.0))


def test_without_a_deadband_every_good_sample_is_published() -> None:
    passes = DeadbandFilter({"T0": 0.0}).passes
    assert passes(_good("T0", 1))
    assert passes(_good("T0", 1))  # the regular update is what proves it fresh
    assert passes(Sample.bad("T0", "comm: lost", 0.0))
    assert not passes(Sample.bad("T0", "comm: lost", 0.5))


def test_forget_publishes_the_next_value_whatever_it_is() -> None:
    band = DeadbandFilter({"Flow": 5.0})
    assert band.passes(_good("Flow", 1.0))
    assert not band.passes(_good("Flow", 2.0))
    band.forget()
    assert band.passes(_good("Flow", 2.0))


def test_select_decides_as_passes_does() -> None:
    samples = [_good("Flow", v) for v in (10.0, 10.4, 10.5, 10.6, 10.2)] + [
        Sample.bad("Flow", "comm: lost", 0.0), Sample.bad("Flow", "comm: lost", 1.0),
        _good("Flow", 10.2), _good("T0", 1), _good("T0", 1), Sample.bad("T0", "x", 0.0),
        Sample.bad("T0", "x", 0.0), Sample("T0", 1, Quality.UNCERTAIN, 0.0, 0.0)]
    one_by_one = DeadbandFilter({"Flow": 0.5})
    expected = [s for s in samples if one_by_one.passes(s)]
    assert DeadbandFilter({"Flow": 0.5}).select(samples) == expected
    assert len(expected) == 8


def test_equal_to_the_deadband_allows_for_binary_rounding() -> None:
    import struct

    def f32(x: float) -> float:
        return float(struct.unpack("<f", struct.pack("<f", x))[0])

    # the PLC moved each by exactly 0.1: none passes a 0.1 deadband, whatever the binary
    for a, b in ((20.1, 20.2), (20.2, 20.3), (0.6, 0.7), (1.0, 1.1)):
        assert not moved(f32(a), f32(b), 0.1), (a, b)
        assert not moved(a, b, 0.1), (a, b)
        assert moved(a, b + 0.001, 0.1), (a, b)
    assert moved(1e6, 1e6 + 0.2, 0.1)  # large values: tolerance scales, still passes
