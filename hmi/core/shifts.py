"""Shift boundaries: which shift has just ended, for "review last shift".

Shifts are given by their start times of day ("06:00", "14:00", "22:00"); each shift
runs until the next start, the last one of the day across midnight into the first.
Times are local wall-clock times. DST is ignored: on the night the clocks change, the
shift that spans the change comes out an hour long or short by wall clock, which is
what the plant's shift plan says anyway.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence


def parse_shift_start(text: str) -> dt.time:
    """'06:00' -> 06:00; raises ValueError naming the text for anything else."""
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
        return dt.time(hours, minutes)
    except ValueError as exc:
        raise ValueError(f"shift start {text!r} is not HH:MM") from exc


def last_completed_shift(
    now: dt.datetime, starts: Sequence[dt.time]
) -> tuple[dt.datetime, dt.datetime]:
    """The [start, end) of the last shift that has ended at ``now``.

    ``now`` may be naive (local) or aware; the result has the same tzinfo. A shift
    that ends exactly at ``now`` counts as completed.
    """
    if not starts:
        raise ValueError("no shift start times configured")
    times = sorted(set(starts))
    boundaries = [
        dt.datetime.combine(now.date() + dt.timedelta(days=offset), start, now.tzinfo)
        for offset in (-2, -1, 0)
        for start in times
    ]
    # The current shift began at the latest boundary <= now; the one before it is the
    # last completed shift. Two days back always holds at least two boundaries.
    current = max(i for i, b in enumerate(boundaries) if b <= now)
    return boundaries[current - 1], boundaries[current]
