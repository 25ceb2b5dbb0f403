"""Marks on the trend's time axis: alarms, production events, operator notes."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class MarkerKind(enum.Enum):
    ALARM = "alarm"
    PRODUCTION = "production"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class TrendMarker:
    time: float  # POSIX seconds
    kind: MarkerKind
    label: str  # short, shown on hover: "HI Tank level", "1,234 bottles confirmed"
    end: float | None = None  # for a span (an alarm's active period, a production period)
    key: str = ""  # identity for updates and removal (alarm id, event id)
