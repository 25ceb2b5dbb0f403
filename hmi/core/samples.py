"""The one currency of the data path: a Sample with first-class Quality."""

from __future__ import annotations

import enum
from dataclasses import dataclass

Value = bool | int | float | str | None


class Quality(enum.Enum):
    """OPC-style quality. A BAD value is never shown as if it were good."""

    GOOD = "GOOD"
    UNCERTAIN = "UNCERTAIN"
    BAD = "BAD"

    @property
    def is_good(self) -> bool:
        return self is Quality.GOOD


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of one tag.

    ``source_time`` is when the PLC (or server) stamped it, ``receive_time`` when the
    worker got it; both are POSIX seconds. ``detail`` says why a value is not GOOD
    (e.g. ``"comm: connection refused"``) so the operator can act on it.
    """

    tag: str
    value: Value
    quality: Quality
    source_time: float
    receive_time: float
    detail: str = ""

    @classmethod
    def bad(cls, tag: str, detail: str, now: float) -> Sample:
        """A BAD sample with no value, for a tag whose source is unreachable or broken."""
        return cls(tag, None, Quality.BAD, now, now, detail)
