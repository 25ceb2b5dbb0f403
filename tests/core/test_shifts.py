"""The last completed shift, for "review last shift"."""

from __future__ import annotations

import datetime as dt

import pytest

from hmi.core.shifts import last_completed_shift, parse_shift_start

STARTS = [dt.time(6), dt.time(14), dt.time(22)]


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute)


@pytest.mark.parametrize(("now", "start", "end"), [
    (at(10, 15, 30), at(10, 6), at(10, 14)),      # mid afternoon: the morning shift
    (at(10, 23), at(10, 14), at(10, 22)),         # late shift running: the afternoon
    (at(11, 3), at(10, 14), at(10, 22)),          # after midnight, same late shift running
    (at(11, 6), at(10, 22), at(11, 6)),           # the night shift across midnight just ended
    (at(11, 5, 59), at(10, 14), at(10, 22)),
    (at(1, 1), dt.datetime(2026, 2, 28, 14), dt.datetime(2026, 2, 28, 22)),  # month wrap
])
def test_last_completed_shift(now, start, end):
    assert last_completed_shift(now, STARTS) == (start, end)


def test_order_and_duplicates_of_starts_do_not_matter():
    assert last_completed_shift(at(10, 15), [dt.time(14), dt.time(6), dt.time(22),
                                             dt.time(6)]) == (at(10, 6), at(10, 14))


def test_one_shift_a_day_and_two_shifts():
    assert last_completed_shift(at(10, 7), [dt.time(6)]) == (at(9, 6), at(10, 6))
    assert last_completed_shift(at(10, 1), [dt.time(6), dt.time(18)]) == (at(9, 6), at(9, 18))


def test_aware_now_keeps_its_zone():
    zone = dt.timezone(dt.timedelta(hours=1))
    now = dt.datetime(2026, 3, 10, 15, tzinfo=zone)
    start, end = last_completed_shift(now, STARTS)
    assert start == dt.datetime(2026, 3, 10, 6, tzinfo=zone)
    assert end.tzinfo is zone


def test_parse_and_no_starts():
    assert parse_shift_start(" 06:30 ") == dt.time(6, 30)
    with pytest.raises(ValueError, match="HH:MM"):
        parse_shift_start("6h")
    with pytest.raises(ValueError, match="no shift"):
        last_completed_shift(at(10, 1), [])
