"""Alarm definitions and when their condition holds: pure, from samples and time.

One ``AlarmRule`` per configured alarm (``[[alarms]]`` in the site file, parsed by
hmi.config.alarms). ``Condition`` follows one rule over the samples of its tag and says
when the alarm becomes active or clears, applying, in this order:

- the limit test of its kind (HI/HIHI: value > limit; LO/LOLO: value < limit; deviation:
  |value - set-point| > limit; rate: |change per second| > limit; discrete: the value
  is one of ``states``; bad quality: the sample is BAD);
- the deadband, on the way back only (an analog alarm active at HI clears when the value
  is at or below limit - deadband: no chattering around the limit);
- the on-delay (the condition must hold that long before the alarm activates) and the
  off-delay (it must be gone that long before the alarm clears), checked at each sample
  and at each ``tick`` (a delay ends while the value stands still).

A BAD sample leaves an analog or discrete condition as it was (the value is unknown, the
bad-quality alarm says so); the state machine is in hmi.core.alarm_states.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from hmi.core.samples import Quality, Sample, Value


class Priority(enum.Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for the most urgent."""
        return _RANKS[self]


_RANKS = {priority: rank for rank, priority in enumerate(Priority)}


class AlarmKind(enum.Enum):
    HIHI = "hihi"
    HI = "hi"
    LO = "lo"
    LOLO = "lolo"
    DISCRETE = "discrete"
    DEVIATION = "deviation"
    RATE = "rate"
    BAD_QUALITY = "bad_quality"

    @property
    def analog(self) -> bool:
        return self in (AlarmKind.HIHI, AlarmKind.HI, AlarmKind.LO, AlarmKind.LOLO,
                        AlarmKind.DEVIATION, AlarmKind.RATE)

    @property
    def high_side(self) -> bool:
        return self in (AlarmKind.HIHI, AlarmKind.HI)


@dataclass(frozen=True, slots=True)
class Guidance:
    """What the operator needs at the alarm: why, what if nothing is done, what to do."""

    cause: str = ""
    consequence: str = ""
    action: str = ""


@dataclass(frozen=True, slots=True)
class AlarmRule:
    name: str
    tag: str
    kind: AlarmKind
    priority: Priority
    message: str
    limit: float | None = None  # HI/LO...: the limit; deviation: the band; rate: per second
    deadband: float = 0.0
    on_delay: float = 0.0  # seconds
    off_delay: float = 0.0
    states: tuple[Value, ...] = ()  # discrete: the values that are abnormal
    setpoint_tag: str = ""  # deviation: the set-point it is compared with
    latching: bool = False
    area: str = ""
    equipment: str = ""
    guidance: Guidance = Guidance()
    suppress_when: str = ""  # an expression over tags (hmi.core.alarm_expr)
    device: str = ""  # a bad_quality alarm on a device's communication (``tag`` empty)
    source: str = ""  # "" for this station's rules; else who raises it (a PLC's server)
    title: str = ""  # what the screens call it, when not its name (a server's condition)

    @property
    def shown_name(self) -> str:
        return self.title or self.name

    @property
    def tags(self) -> tuple[str, ...]:
        """Every tag the rule reads (its condition's; suppression's are read apart)."""
        return tuple(t for t in (self.tag, self.setpoint_tag) if t)


class Condition:
    """One rule's condition over time: ``observe`` each sample of its tags (in time
    order), ``tick`` now and then; each returns True (became active), False (cleared) or
    None (no change)."""

    def __init__(self, rule: AlarmRule) -> None:
        self.rule = rule
        self.active = False
        self._raw = False  # the limit test (with deadband) before the delays
        self._since = -math.inf  # when _raw last changed
        self._setpoint: float | None = None  # deviation: the set-point's last value
        self._value: float | None = None  # deviation: the tag's last value
        self._last: tuple[float, float] | None = None  # rate: (source time, value)
        self._quiet_after: float | None = None  # rate: no sample since: the rate is 0
        # the rule's constants, read at every sample (10,000 rules at 1 Hz)
        self._tag = rule.tag
        self._setpoint_tag = rule.setpoint_tag or None
        self._kind = rule.kind
        self._high = rule.kind.high_side
        self._limit = rule.limit if rule.limit is not None else math.nan
        self._band = rule.deadband

    def observe(self, sample: Sample) -> bool | None:
        # delays run on this station's clock (receive_time, as ``tick``'s): a PLC clock
        # off by a minute must not end a 10 s delay at once
        tag = sample.tag
        if tag == self._setpoint_tag:
            self._setpoint = _number(sample) if sample.quality is not Quality.BAD else None
            return self._settle(self._test_current(), sample.receive_time)
        if tag != self._tag:
            return None
        raw = self._test(sample)
        return self._settle(raw, sample.receive_time)

    @property
    def waiting(self) -> bool:
        """A delay is running, or a rate may fall to 0 without a sample: ``tick`` has
        something to do (else it would return None)."""
        return self._raw != self.active or (self._raw and self.rule.kind is AlarmKind.RATE)

    def restore(self, active: bool) -> None:
        """Start from a known condition (the alarm's stored state after a restart)."""
        self.active = self._raw = active

    def tick(self, now: float) -> bool | None:
        """Delays that ended while no sample came (``now``: this station's clock). A
        rate alarm whose tag has stopped sending (a deadband holds back an unchanging
        value) sees a rate of 0 once twice the last gap between samples has passed."""
        raw = self._raw
        quiet = self._quiet_after
        if self.rule.kind is AlarmKind.RATE and raw and quiet is not None and now >= quiet:
            raw = False
        return self._settle(raw, now)

    # -- the limit test -------------------------------------------------------------

    def _test(self, sample: Sample) -> bool:
        rule = self.rule
        kind = self._kind
        if kind is AlarmKind.BAD_QUALITY:
            return sample.quality is Quality.BAD
        if sample.quality is Quality.BAD:
            if kind is AlarmKind.DEVIATION:
                self._value = None  # a set-point moving later is not against a stale value
            return self._raw  # unknown: as it was
        if kind is AlarmKind.DISCRETE:
            return _is_one_of(sample.value, rule.states)
        value = _number(sample)
        if value is None:
            return self._raw
        if kind is AlarmKind.RATE:
            last = self._last
            if last is not None and sample.source_time <= last[0]:
                return self._raw  # out of order or the same time: no rate from it
            self._last = (sample.source_time, value)
            if last is None:
                return self._raw
            gap = sample.source_time - last[0]
            self._quiet_after = sample.receive_time + max(2 * gap, 1.0)
            return self._beyond(abs(value - last[1]) / gap, high=True)
        if kind is AlarmKind.DEVIATION:
            self._value = value
            return self._test_current()
        return self._beyond(value, high=self._high)

    def _test_current(self) -> bool:
        """Deviation: the last value against the last set-point."""
        value = self._value
        if value is None or self._setpoint is None:
            return self._raw
        return self._beyond(abs(value - self._setpoint), high=True)

    def _beyond(self, value: float, *, high: bool) -> bool:
        # (the config requires a limit for every analog kind)
        band = self._band if self._raw else 0.0  # on the way back only
        return value > self._limit - band if high else value < self._limit + band

    # -- the delays -----------------------------------------------------------------

    def _settle(self, raw: bool, now: float) -> bool | None:
        if raw != self._raw:
            self._raw, self._since = raw, now
        if raw == self.active:
            return None
        delay = self.rule.on_delay if raw else self.rule.off_delay
        if now - self._since >= delay:
            self.active = raw
            return raw
        return None


def _number(sample: Sample) -> float | None:
    value = sample.value
    if type(value) is float:  # the common case first
        return None if math.isnan(value) else value
    if value is None or isinstance(value, str):
        return None
    number = float(value)  # (a bool is 0 or 1)
    return None if math.isnan(number) else number


def _is_one_of(value: Value, states: tuple[Value, ...]) -> bool:
    """A bit or a state matches: a bool state matches a bool or a 0/1 register value;
    any other state matches an equal value (a number, a text)."""
    for state in states:
        if isinstance(state, bool):
            if isinstance(value, bool | int) and bool(value) is state:
                return True
        elif not isinstance(value, bool) and value == state:
            return True
    return False
