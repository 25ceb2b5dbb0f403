"""The one deadband rule, used at the source (Modbus, OPC UA polling) and by the historian.

A numeric value has moved when it differs from the last one passed by MORE than the
deadband: ``|new - last| > deadband``. A change exactly equal to the deadband does not
pass. This is OPC UA's absolute deadband (Part 4, 7.22.2: a notification when
``|last - new| > AbsoluteDeadband``), so a tag reads the same whether the server filters
it (an OPC UA subscription) or we do (Modbus, OPC UA polling, the historian's storage).
A deadband of 0 therefore means "any change". Equality allows for the rounding of the
binary values (``moved``): 20.2 -> 20.3 in float32 moved 0.1, not 0.0999985.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from hmi.core.samples import Quality, Sample, Value

# A ten-thousandth of the deadband: far above a float32's rounding for values up to
# ~1,600 deadbands (its resolution is ~6e-8 of the value), far below any real move.
DEADBAND_TOLERANCE = 1e-4


def moved(last: float, new: float, deadband: float) -> bool:
    """Has a number moved past the deadband? (Strictly more than it: see the module.)

    "Equal to the deadband" is judged on the values as the PLC meant them: a float32
    20.2 -> 20.3 differs by 0.0999985 in binary and 20.1 -> 20.2 by 0.1000004, yet both
    moved exactly 0.1. So a difference within DEADBAND_TOLERANCE of the deadband counts
    as equal to it. Without a deadband, any change passes."""
    if deadband <= 0:
        return new != last
    return abs(new - last) - deadband > DEADBAND_TOLERANCE * deadband


def value_moved(last: Value, new: Value, deadband: float) -> bool:
    """``moved`` for any tag value: numbers by the deadband, everything else (booleans,
    text, None, NaN) on any difference."""
    if isinstance(last, bool) or isinstance(new, bool):
        return last != new
    if isinstance(last, int | float) and isinstance(new, int | float):
        a, b = float(last), float(new)
        if math.isnan(a) or math.isnan(b):  # NaN: "changed" unless both are NaN
            return math.isnan(a) != math.isnan(b)
        return moved(a, b, deadband)
    return last != new


class DeadbandFilter:
    """Decides at the source which Samples are published.

    A tag without a deadband (0) publishes every sample it reads: its regular updates are
    what proves it fresh (stale detection per tag). A tag with a deadband publishes a GOOD
    sample when its value moved past the deadband since the last sample published
    (``moved``). Whatever the deadband, a change of quality or of the reason a value is
    not GOOD is always published, and a BAD tag is not re-sent every scan.
    """

    def __init__(self, deadbands: Mapping[str, float]) -> None:
        self._deadband = {tag: band for tag, band in deadbands.items() if band > 0}
        self._last: dict[str, Sample] = {}

    @classmethod
    def of(cls, tags: Iterable[tuple[str, float]]) -> DeadbandFilter:
        return cls(dict(tags))

    def passes(self, sample: Sample) -> bool:
        """Does this one sample pass (and count as the last one published if so)?"""
        return bool(self.select((sample,)))

    def note(self, sample: Sample) -> None:
        """Remember a sample published around the filter (e.g. BAD on link loss)."""
        self._last[sample.tag] = sample

    def forget(self) -> None:
        """Start afresh (after a reconnect: the first values are always published)."""
        self._last.clear()

    def select(self, samples: Sequence[Sample]) -> list[Sample]:
        """The samples that pass, in order (one loop, no call per sample: 55,000 tags a
        second go through here on the device loop)."""
        out: list[Sample] = []
        last_of, deadbands = self._last, self._deadband
        good = Quality.GOOD
        for sample in samples:
            tag = sample.tag
            last = last_of.get(tag)
            if last is not None and last.quality is sample.quality:
                if sample.quality is good:
                    band = deadbands.get(tag)
                    if band is not None and not value_moved(last.value, sample.value, band):
                        continue
                elif last.detail == sample.detail:
                    continue
            last_of[tag] = sample
            out.append(sample)
        return out
