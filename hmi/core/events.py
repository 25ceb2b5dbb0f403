"""Production events: the good-parts counter cut into periods an operator confirms."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from hmi.core.samples import Quality, Sample
from hmi.core.site import ProductionCountRule


class EventState(enum.Enum):
    PENDING = "pending"  # detected, waiting for an operator
    CONFIRMED = "confirmed"


@dataclass(frozen=True, slots=True)
class ProductionEvent:
    event_id: str
    rule: str
    line: str
    period_start: float
    period_end: float
    good_count: int
    reject_count: int
    unit: str
    complete: bool  # False when the counter was BAD for part of the period
    state: EventState = EventState.PENDING


@dataclass(frozen=True, slots=True)
class OpenPeriod:
    """A production rule's open period as stored, so a restart (also after a crash)
    goes on from it: the period's start, each counter's last reading and what it has
    counted since the start. The counter's next reading after the restart then counts
    the parts made while the station was down too (a PLC counter keeps counting)."""

    rule: str
    period_start: float
    good_last: int | None
    good_total: int
    good_gap: bool
    reject_last: int | None
    reject_total: int
    reject_gap: bool


class _CounterSpan:
    """Parts counted by one monotonically increasing counter over a period."""

    def __init__(self) -> None:
        self.last: int | None = None
        self.total = 0
        self.gap = False

    def feed(self, sample: Sample) -> None:
        if sample.quality is not Quality.GOOD or sample.value is None:
            self.gap = True
            return
        value = int(sample.value)
        if self.last is not None:
            # A counter that goes down was reset (shift start, PLC restart): count
            # from zero rather than booking a negative production.
            self.total += value - self.last if value >= self.last else value
        self.last = value

    def restart(self) -> int:
        total, self.total, self.gap = self.total, 0, False
        return total


class ProductionCounter:
    """Feeds on counter samples; ``close_period`` returns the event for the period."""

    def __init__(self, rule: ProductionCountRule, start: float) -> None:
        self.rule = rule
        self.period_start = start
        self._good = _CounterSpan()
        self._reject = _CounterSpan()

    def feed(self, sample: Sample) -> None:
        if sample.tag == self.rule.counter_tag:
            self._good.feed(sample)
        elif sample.tag == self.rule.reject_tag:
            self._reject.feed(sample)

    def due(self, now: float) -> bool:
        return now >= self.period_start + self.rule.period

    def snapshot(self) -> OpenPeriod:
        good, reject = self._good, self._reject
        return OpenPeriod(self.rule.name, self.period_start, good.last, good.total,
                          good.gap, reject.last, reject.total, reject.gap)

    def restore(self, period: OpenPeriod) -> None:
        """Go on from a stored open period (the rule's, after a restart)."""
        self.period_start = period.period_start
        self._good.last, self._good.total = period.good_last, period.good_total
        self._good.gap = period.good_gap
        self._reject.last, self._reject.total = period.reject_last, period.reject_total
        self._reject.gap = period.reject_gap

    def close_period(self, now: float) -> ProductionEvent:
        complete = not self._good.gap and self._good.last is not None
        event = ProductionEvent(
            event_id=str(uuid.uuid4()),
            rule=self.rule.name,
            line=self.rule.line,
            period_start=self.period_start,
            period_end=now,
            good_count=self._good.restart(),
            reject_count=self._reject.restart(),
            unit=self.rule.unit,
            complete=complete,
        )
        self.period_start = now
        return event
