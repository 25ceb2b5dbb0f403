"""The alarm performance report (hmi.core.alarm_kpi) from the station's alarm journal.

The figures need the journal rows of the range; stale alarms also need, for each alarm,
its last ACTIVATE or CLEAR before the range (an alarm active for a month has no row in
the last day). Those are read per alarm by name (the journal's (name, time) index),
looking back one day, then 30 days, then the whole journal, each step only for the
alarms not yet settled: an alarm settles at its first step with such a row. Alarms
asked for: every alarm of the site file and every alarm in the range's rows. Synchronous
(SQL): the screen calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hmi.core.alarm_kpi import AlarmReport, JournalEntry, alarm_report
from hmi.core.alarm_states import AlarmEvent
from hmi.core.site import Site

_LOOKBACK_S = (86_400.0, 30 * 86_400.0, float("inf"))
_NAMES_PER_QUERY = 500  # well under SQLite's bound-parameter limit
_CHANGES = (AlarmEvent.ACTIVATE, AlarmEvent.CLEAR)


class JournalReader(Protocol):
    """The journal's read side (hmi.store.alarms.AlarmRepository)."""

    def journal(self, start: float = ..., end: float = ...,
                names: Sequence[str] | None = ...) -> Sequence[JournalEntry]: ...


def read_alarm_report(journal: JournalReader, site: Site, start: float,
                      end: float) -> AlarmReport:
    """The report over [start, end) for ``site``'s alarms and operator positions."""
    rows = list(journal.journal(start, end))
    settled = {row.name for row in rows if row.event in _CHANGES}
    waiting = sorted(({rule.name for rule in site.alarms} | {row.name for row in rows})
                     - settled)
    earlier: list[JournalEntry] = []
    reached = start
    for lookback in _LOOKBACK_S:
        if not waiting:
            break
        since = start - lookback
        found: list[JournalEntry] = []
        for k in range(0, len(waiting), _NAMES_PER_QUERY):
            found.extend(journal.journal(since, reached, waiting[k:k + _NAMES_PER_QUERY]))
        earlier.extend(found)  # every row: a later SHELVE says the state at the end
        done = {row.name for row in found if row.event in _CHANGES}
        waiting = [name for name in waiting if name not in done]
        reached = since
    return alarm_report([*earlier, *rows], site.alarms, site.alarm_settings.positions,
                        start, end)
