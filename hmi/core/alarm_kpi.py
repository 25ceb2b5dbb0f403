"""Alarm system performance (EEMUA 191, ISA-18.2 section 16): pure figures from the journal.

``alarm_report(rows, rules, positions, start, end)`` counts over the range
[start, end) (POSIX seconds; ``start`` included, ``end`` not). Every figure can be
checked by hand from `hmi alarms list`-style journal rows with these definitions:

Annunciated alarm
    An ACTIVATE row whose after-state is UNACKED: the horn sounded. An ACTIVATE while the
    alarm is shelved, suppressed by design or out of service is followed but not shown:
    it is counted apart as an *activation not annunciated*, by its after-state. (An alarm
    that comes back UNACKED when its shelve expires is not an ACTIVATE row: not counted.)
Operator position
    ``[alarming] positions`` maps a position to the areas it watches; without it one
    position, "Station", watches every alarm. An alarm whose area no position lists (or
    an alarm not in the site file) goes to the position "(no position)".
Alarm rate, per position
    The range is cut into fixed 10-minute intervals from ``start`` (the last one shorter
    if the range is not a whole number of them). *Average per 10 min* = annunciated /
    (range seconds / 600); per hour = annunciated / (range seconds / 3600); per day =
    annunciated / (range seconds / 86400). *Peak 10 min* = the most annunciated alarms in
    one interval. Targets: EEMUA 191 average per 10 min acceptable <= 1, manageable <= 2;
    ISA-18.2 per hour ~6 acceptable, ~12 manageable; per day ~150 and ~300; at most 10 in
    any 10 minutes.
Flood, per position
    A flood starts at an interval with more than 10 annunciated alarms and goes on through
    the following intervals until the first with fewer than 5, which is not in flood (so
    5..10 alarms keep a flood going but do not start one). *Time in flood* is the sum of
    its intervals' lengths; *% of time in flood* = that / the range; *peak* = the most
    alarms in one of its intervals. Target (ISA-18.2): under 1 % of the time.
Chattering alarm
    An alarm with 3 or more annunciated activations in any 60 s: activations at t1 <= t2 <=
    t3 with t3 - t1 < 60 s (3 within 59 s chatter, 3 spread over 61 s do not). Listed with
    the most annunciated activations in one sliding window [t, t + 60 s) starting at one
    of them. Target: none.
Stale alarm
    An alarm whose last ACTIVATE or CLEAR row before ``end`` is an ACTIVATE more than 24 h
    before ``end`` (annunciated or not: a shelved alarm can be stale too). This looks
    before ``start``: ``rows`` must hold, for each alarm, at least its last ACTIVATE or
    CLEAR row before ``start`` (hmi.services.alarm_report reads them). Listed with the
    state its last row left. Target (ISA-18.2): fewer than 5.
Bad actors
    The 10 alarms with the most annunciated alarms (ties by name), each with its share of
    all annunciated alarms, and the 10's share together. Target (ISA-18.2): the top 10
    at most ~5 % of the load (a station with few alarms configured cannot meet it).
Priority mix
    The share of annunciated alarms per priority against the EEMUA 191 / ISA-18.2 target
    low ~80 %, medium ~15 %, high ~5 %; critical is counted with high and also shown on
    its own. The mix is off target where medium is over 15 % or high (with critical)
    over 5 %: urgent priorities used too often. Alarms not in the site file have no
    priority: counted as "not configured".

Percentages are of 100; times are POSIX seconds; nothing here reads a clock.
"""

from __future__ import annotations

import enum
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass

from hmi.core.alarm_rules import AlarmRule, Priority
from hmi.core.alarm_states import AlarmEvent, AlarmState
from hmi.core.ports import JournalLine

INTERVAL_S = 600.0  # EEMUA 191 counts alarms per 10 minutes
FLOOD_START = 10  # more than this in one interval starts a flood (ISA-18.2)
FLOOD_END = 5  # fewer than this in one interval ends it
CHATTER_COUNT = 3  # this many annunciated activations ...
CHATTER_WINDOW_S = 60.0  # ... within this (strictly less) make an alarm chatter
STALE_S = 24 * 3600.0  # active longer than this at the end of the range: stale
STALE_TARGET = 5  # ISA-18.2: fewer than 5 stale alarms
TOP = 10
DEFAULT_POSITION = "Station"
NO_POSITION = "(no position)"
NOT_CONFIGURED = "not configured"


class Verdict(enum.Enum):
    FINE = "within target"
    MANAGEABLE = "manageable"
    OVER = "over target"


JournalEntry = JournalLine  # what the report reads of a journal row (name, time, event, after)


@dataclass(frozen=True, slots=True)
class Figure:
    """One figure with the target it is judged against, as text next to it."""

    value: float
    target: str
    verdict: Verdict = Verdict.FINE


@dataclass(frozen=True, slots=True)
class Flood:
    start: float
    end: float
    alarms: int  # annunciated in its intervals
    peak: int  # the most in one of its intervals


@dataclass(frozen=True, slots=True)
class PositionFigures:
    """Alarm rate and floods of one operator position."""

    name: str
    areas: tuple[str, ...]  # () for the default position: every area
    annunciated: int
    per_10_min: Figure
    peak_10_min: Figure
    peak_10_min_start: float | None  # the first interval with the peak; None: no alarm
    per_hour: Figure
    per_day: Figure
    flood_percent: Figure
    flood_seconds: float
    flood_peak: int
    floods: tuple[Flood, ...]


@dataclass(frozen=True, slots=True)
class ChatteringAlarm:
    name: str
    max_in_60_s: int
    annunciated: int  # in the range


@dataclass(frozen=True, slots=True)
class StaleAlarm:
    name: str
    active_since: float
    hours: float  # active at the end of the range
    state: AlarmState  # as its last row before the end left it


@dataclass(frozen=True, slots=True)
class BadActor:
    name: str
    priority: str  # a Priority value, or "not configured"
    area: str
    annunciated: int
    percent: float  # of all annunciated


@dataclass(frozen=True, slots=True)
class PriorityShare:
    priority: str  # "low", "medium", "high (with critical)", "critical", "not configured"
    annunciated: int
    percent: float
    target: str
    verdict: Verdict = Verdict.FINE


@dataclass(frozen=True, slots=True)
class AlarmReport:
    start: float
    end: float
    annunciated: int
    not_annunciated: int
    not_annunciated_by_state: tuple[tuple[str, int], ...]  # (AlarmState value, count)
    positions: tuple[PositionFigures, ...]
    unwatched_areas: tuple[str, ...]  # areas of alarms no position watches ("" : no area)
    not_configured: tuple[str, ...]  # alarms in the journal but not in the site file
    chattering: tuple[ChatteringAlarm, ...]
    chattering_count: Figure
    stale: tuple[StaleAlarm, ...]
    stale_count: Figure
    bad_actors: tuple[BadActor, ...]
    top_10_percent: Figure
    priority_mix: tuple[PriorityShare, ...]

    @property
    def hours(self) -> float:
        return (self.end - self.start) / 3600.0

    def to_json(self) -> dict[str, object]:
        """Plain dicts, lists, numbers and texts (enums as their values)."""
        plain = _plain(self)
        assert isinstance(plain, dict)
        return plain


def _plain(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


# -- the report -----------------------------------------------------------------------------


def alarm_report(rows: Iterable[JournalEntry], rules: Iterable[AlarmRule],
                 positions: Sequence[tuple[str, Sequence[str]]], start: float,
                 end: float) -> AlarmReport:
    """The figures over [start, end). ``rows``: journal rows before ``end`` (those before
    ``start`` are read for stale alarms only); ``positions``: (position, areas) pairs,
    empty for one position watching every area."""
    if not end > start:
        raise ValueError(f"the range must end after it starts ({start} .. {end})")
    by_name = {rule.name: rule for rule in rules}
    ordered = sorted(rows, key=lambda row: row.time)  # stable: the journal's order
    in_range = [row for row in ordered if start <= row.time < end]
    activations = [row for row in in_range if row.event is AlarmEvent.ACTIVATE]
    annunciated = [row for row in activations if row.after is AlarmState.UNACKED]
    hidden = Counter(row.after.value for row in activations
                     if row.after is not AlarmState.UNACKED)

    position_of = _position_finder(positions)
    seen = {row.name for row in in_range}
    not_configured = tuple(sorted(seen - by_name.keys()))
    areas = {rule.area for rule in by_name.values()}
    unwatched = tuple(sorted(area for area in areas if position_of(area) == NO_POSITION))
    lanes: dict[str, list[float]] = {name: [] for name, _ in positions} or \
        {DEFAULT_POSITION: []}
    if positions and (unwatched or not_configured):
        lanes[NO_POSITION] = []
    for row in annunciated:
        rule = by_name.get(row.name)
        lanes[position_of(rule.area) if rule else position_of(None)].append(row.time)
    watched = dict(positions)
    position_figures = tuple(
        _position(name, tuple(watched.get(name, unwatched)), times, start, end)
        for name, times in lanes.items())

    chattering = _chattering(annunciated)
    stale = _stale(ordered, end)
    bad_actors, top_share = _bad_actors(annunciated, by_name)
    return AlarmReport(
        start=start, end=end, annunciated=len(annunciated),
        not_annunciated=sum(hidden.values()),
        not_annunciated_by_state=tuple(sorted(hidden.items())),
        positions=position_figures, unwatched_areas=unwatched if positions else (),
        not_configured=not_configured,
        chattering=chattering,
        chattering_count=Figure(len(chattering), "none",
                                Verdict.OVER if chattering else Verdict.FINE),
        stale=stale,
        stale_count=Figure(len(stale), f"fewer than {STALE_TARGET} (ISA-18.2)",
                           Verdict.OVER if len(stale) >= STALE_TARGET else Verdict.FINE),
        bad_actors=bad_actors,
        top_10_percent=Figure(top_share, "at most ~5 % of all (ISA-18.2)",
                              Verdict.OVER if top_share > 5.0 else Verdict.FINE),
        priority_mix=_priority_mix(annunciated, by_name),
    )


def _position_finder(positions: Sequence[tuple[str, Sequence[str]]]
                     ) -> Callable[[str | None], str]:
    """area -> the position watching it (None: an alarm not in the site file)."""
    if not positions:
        return lambda area: DEFAULT_POSITION
    watcher = {area: name for name, areas in positions for area in areas}
    return lambda area: NO_POSITION if area is None else watcher.get(area, NO_POSITION)


def _position(name: str, areas: tuple[str, ...], times: list[float], start: float,
              end: float) -> PositionFigures:
    seconds = end - start
    count = len(times)
    intervals = math.ceil(seconds / INTERVAL_S)
    counts = [0] * intervals
    for t in times:
        counts[min(int((t - start) // INTERVAL_S), intervals - 1)] += 1
    peak = max(counts)
    floods = _floods(counts, start, end)
    flood_seconds = sum(flood.end - flood.start for flood in floods)
    flood_percent = 100.0 * flood_seconds / seconds
    return PositionFigures(
        name=name, areas=areas, annunciated=count,
        per_10_min=_graded(count / (seconds / INTERVAL_S), 1, 2,
                           "EEMUA 191: acceptable <= 1, manageable <= 2"),
        peak_10_min=Figure(peak, "at most 10 (ISA-18.2)",
                           Verdict.OVER if peak > FLOOD_START else Verdict.FINE),
        peak_10_min_start=start + counts.index(peak) * INTERVAL_S if peak else None,
        per_hour=_graded(count / (seconds / 3600), 6, 12,
                         "ISA-18.2: acceptable ~6, manageable ~12"),
        per_day=_graded(count / (seconds / 86400), 150, 300,
                        "ISA-18.2: acceptable ~150, manageable ~300"),
        flood_percent=Figure(flood_percent, "under 1 % of the time (ISA-18.2)",
                             Verdict.OVER if flood_percent >= 1.0 else Verdict.FINE),
        flood_seconds=flood_seconds,
        flood_peak=max((flood.peak for flood in floods), default=0),
        floods=floods,
    )


def _graded(value: float, acceptable: float, manageable: float, target: str) -> Figure:
    verdict = Verdict.FINE if value <= acceptable else \
        Verdict.MANAGEABLE if value <= manageable else Verdict.OVER
    return Figure(value, target, verdict)


def _floods(counts: list[int], start: float, end: float) -> tuple[Flood, ...]:
    floods: list[Flood] = []
    first: int | None = None  # the flood's first interval, while one goes on

    def close(last: int) -> None:  # the flood's intervals are first..last
        assert first is not None
        part = counts[first:last + 1]
        floods.append(Flood(start + first * INTERVAL_S,
                            min(start + (last + 1) * INTERVAL_S, end), sum(part), max(part)))

    for k, count in enumerate(counts):
        if first is None and count > FLOOD_START:
            first = k
        elif first is not None and count < FLOOD_END:
            close(k - 1)
            first = None
    if first is not None:
        close(len(counts) - 1)
    return tuple(floods)


def _chattering(annunciated: list[JournalEntry]) -> tuple[ChatteringAlarm, ...]:
    times: dict[str, list[float]] = {}
    for row in annunciated:
        times.setdefault(row.name, []).append(row.time)
    found = []
    for name, moments in times.items():
        most, j = 0, 0
        for i, t in enumerate(moments):  # the window [t, t + 60 s) from each activation
            j = max(j, i)
            while j < len(moments) and moments[j] - t < CHATTER_WINDOW_S:
                j += 1
            most = max(most, j - i)
        if most >= CHATTER_COUNT:
            found.append(ChatteringAlarm(name, most, len(moments)))
    found.sort(key=lambda alarm: (-alarm.max_in_60_s, -alarm.annunciated, alarm.name))
    return tuple(found)


def _stale(ordered: list[JournalEntry], end: float) -> tuple[StaleAlarm, ...]:
    last_change: dict[str, JournalEntry] = {}  # the last ACTIVATE or CLEAR before end
    last_state: dict[str, AlarmState] = {}
    for row in ordered:
        if row.time >= end:
            break
        last_state[row.name] = row.after
        if row.event in (AlarmEvent.ACTIVATE, AlarmEvent.CLEAR):
            last_change[row.name] = row
    stale = [StaleAlarm(name, row.time, (end - row.time) / 3600, last_state[name])
             for name, row in last_change.items()
             if row.event is AlarmEvent.ACTIVATE and end - row.time > STALE_S]
    stale.sort(key=lambda alarm: (alarm.active_since, alarm.name))
    return tuple(stale)


def _bad_actors(annunciated: list[JournalEntry], rules: Mapping[str, AlarmRule]
                ) -> tuple[tuple[BadActor, ...], float]:
    total = len(annunciated)
    counts = Counter(row.name for row in annunciated)
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP]
    actors = []
    for name, count in top:
        rule = rules.get(name)
        actors.append(BadActor(name, rule.priority.value if rule else NOT_CONFIGURED,
                               rule.area if rule else "", count, 100.0 * count / total))
    share = 100.0 * sum(count for _, count in top) / total if total else 0.0
    return tuple(actors), share


_MIX_TARGETS = (  # (shown as, priorities, target %, judged: over the target is off)
    ("low", (Priority.LOW,), 80.0, False),
    ("medium", (Priority.MEDIUM,), 15.0, True),
    ("high (with critical)", (Priority.HIGH, Priority.CRITICAL), 5.0, True),
)


def _priority_mix(annunciated: list[JournalEntry], rules: Mapping[str, AlarmRule]
                  ) -> tuple[PriorityShare, ...]:
    total = len(annunciated)
    counts = Counter(rules[row.name].priority if row.name in rules else None
                     for row in annunciated)

    def percent(count: int) -> float:
        return 100.0 * count / total if total else 0.0

    mix = []
    for shown, priorities, target, judged in _MIX_TARGETS:
        count = sum(counts[p] for p in priorities)
        over = judged and percent(count) > target
        mix.append(PriorityShare(shown, count, percent(count), f"~{target:g} %",
                                 Verdict.OVER if over else Verdict.FINE))
    critical = counts[Priority.CRITICAL]
    mix.append(PriorityShare("critical", critical, percent(critical), "counted with high"))
    if counts[None]:
        mix.append(PriorityShare(NOT_CONFIGURED, counts[None], percent(counts[None]),
                                 "not in the site file: no priority"))
    return tuple(mix)
