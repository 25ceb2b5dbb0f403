"""One 12-hour alarm journal whose performance figures are worked out by hand below;
the core test (rows from the state machine) and the CLI test (the same moves through the
real store) assert the same numbers.

The range: START .. START + 12 h = 72 intervals of 10 min.

Positions: Filling console = [Filling], Packing console = [Packing], Utilities desk =
[Utilities]; area Boiler is in no position; Old.Alarm is not in the site file.

Filling, Fill.01..Fill.12 (Fill.k activates in an interval holding n alarms if k <= n,
at 30 s steps, cleared 5 s later):
    interval   0   1   2   3   10  11  20
    alarms    12   7   5   4   11   3  10      -> 52 annunciated
    flood 1: interval 0 has 12 > 10: starts; 1 (7) and 2 (5) are not < 5: go on;
             3 (4 < 5) ends it, not in flood -> intervals 0..2: 30 min, 24 alarms, peak 12
    flood 2: interval 10 (11 > 10); 11 (3 < 5) ends it -> 10 min, 11 alarms, peak 11
    interval 20 has 10: not more than 10, no flood
    time in flood 40 min of 720 min = 5.5556 %
    average 52 / 72 = 0.7222 per 10 min, 52 / 12 = 4.3333 per hour, 52 * 2 = 104 per day
    peak 12, in interval 0 (START)
    per alarm: Fill.01..03: in all 7 intervals = 7 each; Fill.04: n >= 4 in 6 (all but
    11); Fill.05: n >= 5 in 5; Fill.06, 07: n >= 7 in 4 (0, 1, 10, 20); Fill.08..10:
    n >= 8 in 3 (0, 10, 20); Fill.11: 2 (0, 10); Fill.12: 1 (0).
    3*7 + 6 + 5 + 2*4 + 3*3 + 2 + 1 = 52
Packing: Pack.Chatter at +2 h, +20 s, +59 s: 3 within 59 s: chattering, 3 in 60 s;
         Pack.Slow at +3 h, +30 s, +61 s: windows [t, t+60): 2 and 2: not chattering.
         6 annunciated; peak 3 first in interval 12 (START + 2 h); 6/72 = 0.0833 per
         10 min, 0.5 per hour, 12 per day.
Utilities: Util.Pump (critical) at +4 h and +5 h: 2 annunciated; 2/72 per 10 min.
         Util.Shelved: shelved at +1 h, then activates twice (+10 s, +30 s): not
         annunciated, "shelved" 2. Util.Supp: suppressed at +2 h, activates once:
         "suppressed by design" 1.
         Stale at END: Util.Stale activated 25 h before END, acknowledged at START + 1 h:
         stale, 25 h, acknowledged; Util.Recent activated 23 h before END: not stale;
         Util.Cleared activated 30 h and cleared 28 h before END: not stale;
         Util.Ancient activated 10 days before START: 240 + 12 = 252 h; Util.Oldest
         activated 40 days before START: 960 + 12 = 972 h.  3 stale (fewer than 5: fine).
(no position): Boiler.Temp (high) at +6 h and +7 h, Old.Alarm at +8 h: 3 annunciated.

Total annunciated: 52 + 6 + 2 + 3 = 63.
Priorities: Fill.11, Fill.12 and Pack.Chatter medium, Util.Pump critical, Boiler.Temp
high, the rest low.
    medium = 2 + 1 + 3 = 6 -> 6/63 = 9.5238 %  (target ~15: fine)
    high with critical = 2 + 2 = 4 -> 6.3492 %  (target ~5: over); critical 2 -> 3.1746 %
    not configured (Old.Alarm) 1 -> 1.5873 %
    low = 63 - 6 - 4 - 1 = 52 -> 82.5397 %
Bad actors (ties by name): Fill.01 7, Fill.02 7, Fill.03 7, Fill.04 6, Fill.05 5,
    Fill.06 4, Fill.07 4, Fill.08 3, Fill.09 3, Fill.10 3 (Pack.Chatter, Pack.Slow also 3,
    after by name) -> 49 of 63 = 77.7778 %
"""

from __future__ import annotations

from hmi.core.alarm_rules import AlarmKind, AlarmRule, Priority
from hmi.core.alarm_states import AlarmEvent

HOUR, DAY = 3600.0, 86400.0
SPAN = 12 * HOUR
FILLING = {0: 12, 1: 7, 2: 5, 3: 4, 10: 11, 11: 3, 20: 10}  # interval -> alarms
POSITIONS = (("Filling console", ("Filling",)), ("Packing console", ("Packing",)),
             ("Utilities desk", ("Utilities",)))
MEDIUM = {"Fill.11", "Fill.12", "Pack.Chatter"}
RULES = (
    *[(f"Fill.{k:02d}", "Filling") for k in range(1, 13)],
    ("Pack.Chatter", "Packing"), ("Pack.Slow", "Packing"),
    ("Util.Pump", "Utilities"), ("Util.Shelved", "Utilities"), ("Util.Supp", "Utilities"),
    ("Util.Stale", "Utilities"), ("Util.Recent", "Utilities"), ("Util.Cleared", "Utilities"),
    ("Util.Ancient", "Utilities"), ("Util.Oldest", "Utilities"),
    ("Boiler.Temp", "Boiler"),
)

Move = tuple[str, AlarmEvent, float]


def priority(name: str) -> Priority:
    if name in MEDIUM:
        return Priority.MEDIUM
    return {"Util.Pump": Priority.CRITICAL, "Boiler.Temp": Priority.HIGH}.get(
        name, Priority.LOW)


def rules() -> list[AlarmRule]:
    return [AlarmRule(name, "Speed", AlarmKind.BAD_QUALITY, priority(name), name, area=area)
            for name, area in RULES]


def site_blocks() -> str:
    """The [[alarms]] blocks and [alarming] of the same alarms, for a site file."""
    blocks = "".join(
        f'\n[[alarms]]\nname = "{name}"\ntag = "Speed"\ntype = "bad_quality"\n'
        f'priority = "{priority(name).value}"\narea = "{area}"\n' for name, area in RULES)
    listed = ", ".join(f'"{name}" = ["{areas[0]}"]' for name, areas in POSITIONS)
    return blocks + f"\n[alarming]\npositions = {{ {listed} }}\n"


def moves(start: float) -> list[Move]:
    """Every event of the scenario, oldest first."""
    end = start + SPAN
    made: list[Move] = []

    def pulse(name: str, t: float) -> None:
        made.extend([(name, AlarmEvent.ACTIVATE, t), (name, AlarmEvent.CLEAR, t + 5)])

    made += [("Util.Oldest", AlarmEvent.ACTIVATE, start - 40 * DAY),
             ("Util.Ancient", AlarmEvent.ACTIVATE, start - 10 * DAY),
             ("Util.Cleared", AlarmEvent.ACTIVATE, end - 30 * HOUR),
             ("Util.Cleared", AlarmEvent.CLEAR, end - 28 * HOUR),
             ("Util.Stale", AlarmEvent.ACTIVATE, end - 25 * HOUR),
             ("Util.Recent", AlarmEvent.ACTIVATE, end - 23 * HOUR)]
    for interval, count in FILLING.items():
        for k in range(count):
            pulse(f"Fill.{k + 1:02d}", start + interval * 600 + 30 * k)
    for t in (0, 20, 59):
        pulse("Pack.Chatter", start + 2 * HOUR + t)
    for t in (0, 30, 61):
        pulse("Pack.Slow", start + 3 * HOUR + t)
    made += [("Util.Stale", AlarmEvent.ACK, start + HOUR),
             ("Util.Shelved", AlarmEvent.SHELVE, start + HOUR)]
    pulse("Util.Shelved", start + HOUR + 10)
    pulse("Util.Shelved", start + HOUR + 30)
    made.append(("Util.Supp", AlarmEvent.SUPPRESS, start + 2 * HOUR))
    pulse("Util.Supp", start + 2 * HOUR + 5)
    pulse("Util.Pump", start + 4 * HOUR)
    pulse("Util.Pump", start + 5 * HOUR)
    pulse("Boiler.Temp", start + 6 * HOUR)
    pulse("Boiler.Temp", start + 7 * HOUR)
    pulse("Old.Alarm", start + 8 * HOUR)
    return sorted(made, key=lambda move: move[2])
