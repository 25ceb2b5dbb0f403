"""How values, qualities and times read on screen: one place, so every view agrees."""

from __future__ import annotations

import time

from hmi.core.samples import Quality, Sample

NO_VALUE = "—"


def format_value(sample: Sample | None) -> str:
    """A BAD value is never shown as if it were good: it reads as a dash."""
    if sample is None or sample.quality is Quality.BAD or sample.value is None:
        return NO_VALUE
    value = sample.value
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    if isinstance(value, float):
        magnitude = abs(value)
        digits = 1 if magnitude >= 100 else 2 if magnitude >= 1 else 3
        return f"{value:.{digits}f}"
    return str(value)


def format_quality(sample: Sample | None) -> str:
    if sample is None:
        return "WAITING"
    if sample.quality is Quality.GOOD:
        return "GOOD"
    return f"{sample.quality.value}: {sample.detail}" if sample.detail else sample.quality.value


def format_clock(timestamp: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(timestamp))


def format_datetime(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))
