"""`hmi alarms report`: the alarm system's performance over a time range (EEMUA 191,
ISA-18.2) from the station's alarm journal, each figure next to its target.

``--from``/``--to`` are local times, ``YYYY-MM-DD`` (midnight) or ``YYYY-MM-DD HH:MM``;
``--to`` defaults to now, ``--from`` to 24 h before ``--to``. The definitions of the
figures are in hmi.core.alarm_kpi; ``--json`` gives them all for scripts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

from hmi.commands.login import EXIT_OK, CommandError, existing_database, guarded
from hmi.commands.parser import ALARM_WHEN_HELP
from hmi.config import load_site
from hmi.core.alarm_kpi import (
    CHATTER_COUNT,
    NO_POSITION,
    STALE_S,
    AlarmReport,
    Figure,
    PositionFigures,
    Verdict,
)
from hmi.core.alarm_states import AlarmState
from hmi.services.alarm_report import read_alarm_report
from hmi.store.alarms import AlarmRepository

DEFAULT_HOURS = 24.0
WHEN_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d")
WHEN_HELP = ALARM_WHEN_HELP
_MARK = {Verdict.FINE: "ok", Verdict.MANAGEABLE: "MANAGEABLE", Verdict.OVER: "OVER TARGET"}


@guarded("alarms report")
def cmd_report(args: argparse.Namespace) -> int:
    now = time.time()
    end = now if args.end is None else parse_when(args.end, "--to")
    start = end - DEFAULT_HOURS * 3600 if args.start is None else \
        parse_when(args.start, "--from")
    if end > now + 60:
        raise CommandError(f"--to {_local(end)} is in the future; leave --to out to report "
                           "up to now")
    if not start < end:
        raise CommandError(f"--from {_local(start)} is not before --to {_local(end)}; give "
                           "the earlier time as --from")
    site = load_site(args.config)
    database = existing_database(args)
    try:
        report = read_alarm_report(AlarmRepository(database), site, start, end)
    finally:
        database.close()
    if args.json:
        print(json.dumps({"site": site.name, **report.to_json()}, indent=2,
                         ensure_ascii=False))
    else:
        print("\n".join(report_lines(report, site.name)))
    return EXIT_OK


def parse_when(text: str, option: str) -> float:
    """A local date or date and minute as POSIX seconds."""
    for pattern in WHEN_FORMATS:
        try:
            # naive: local time, as the operator reads the clock
            return dt.datetime.strptime(text.strip(), pattern).timestamp()
        except ValueError:
            continue
    raise CommandError(f"{option} {text!r} is not a date; give {WHEN_HELP}, e.g. "
                       f"{option} \"2024-05-01 06:00\"")


# -- the text report ------------------------------------------------------------------------

_LABEL = 29  # the figure's name
_VALUE = 12  # its value
_VERDICT = 11


def report_lines(report: AlarmReport, site: str) -> list[str]:
    lines = [f"Alarm performance, {site}: {_local(report.start)} to {_local(report.end)} "
             f"({_hours(report.end - report.start)})",
             f"annunciated alarms: {report.annunciated}"]
    if report.not_annunciated:
        hidden = ", ".join(f"{AlarmState(state).value} {count}"
                           for state, count in report.not_annunciated_by_state)
        lines.append(f"activations not annunciated: {report.not_annunciated} ({hidden}); "
                     "not counted below")
    lines.append("")
    lines.append(f"  {'FIGURE':<{_LABEL}} {'VALUE':<{_VALUE}} {'VERDICT':<{_VERDICT}} TARGET")
    for position in report.positions:
        lines.extend(_position_lines(position, report))
    lines.append("Whole station")
    lines.append(_row("chattering alarms", f"{report.chattering_count.value:g}",
                      report.chattering_count))
    lines.append(_row("stale alarms (active > 24 h)", f"{report.stale_count.value:g}",
                      report.stale_count))
    lines.append(_row("top 10 alarms' share", f"{report.top_10_percent.value:.1f} %",
                      report.top_10_percent))
    lines.append("")
    lines.append(f"Priority mix (of {report.annunciated} annunciated)")
    for share in report.priority_mix:
        lines.append(_row(share.priority, f"{share.percent:.1f} % ({share.annunciated})",
                          Figure(share.percent, share.target, share.verdict),
                          judged=share.target.startswith("~")))
    lines.extend(_bad_actor_lines(report))
    lines.extend(_chattering_lines(report))
    lines.extend(_stale_lines(report))
    lines.extend(_flood_lines(report))
    return lines


def _position_lines(position: PositionFigures, report: AlarmReport) -> list[str]:
    lines = [f"{position.name}: {position.annunciated} annunciated"]
    if position.name == NO_POSITION:
        if report.unwatched_areas:
            areas = ", ".join(area or "(no area)" for area in report.unwatched_areas)
            lines.append(f"  areas no position watches: {areas}")
        if report.not_configured:
            lines.append(f"  alarms not in the site file: {', '.join(report.not_configured)}")
    else:
        areas = ", ".join(position.areas) if position.areas else "every area"
        lines.append(f"  watches: {areas}")
    peak_at = "" if position.peak_10_min_start is None else \
        f"; first at {_local(position.peak_10_min_start)}"
    floods = len(position.floods)
    flood_note = "" if not floods else \
        f"; {floods} flood{'s' if floods > 1 else ''}, {_hours(position.flood_seconds)}, " \
        f"peak {position.flood_peak} in 10 min"
    return [
        *lines,
        _row("alarms per 10 min, average", f"{position.per_10_min.value:.2f}",
             position.per_10_min),
        _row("alarms in 10 min, peak", f"{position.peak_10_min.value:g}",
             position.peak_10_min, peak_at),
        _row("alarms per hour, average", f"{position.per_hour.value:.2f}", position.per_hour),
        _row("alarms per day, average", f"{position.per_day.value:.1f}", position.per_day),
        _row("time in flood", f"{position.flood_percent.value:.1f} %",
             position.flood_percent, flood_note),
        "",
    ]


def _row(label: str, value: str, figure: Figure, note: str = "", judged: bool = True) -> str:
    mark = _MARK[figure.verdict] if judged else ""
    return f"  {label:<{_LABEL}} {value:<{_VALUE}} {mark:<{_VERDICT}} {figure.target}{note}"


def _bad_actor_lines(report: AlarmReport) -> list[str]:
    if not report.bad_actors:
        return []
    lines = ["", f"Top {len(report.bad_actors)} alarms (bad actors): "
                 f"{report.top_10_percent.value:.1f} % of all annunciated",
             f"  {'#':>2}  {'ALARM':<32} {'PRIORITY':<15} {'AREA':<16} {'COUNT':>6} "
             f"{'SHARE':>8}"]
    for rank, actor in enumerate(report.bad_actors, 1):
        lines.append(f"  {rank:>2}  {actor.name:<32} {actor.priority:<15} "
                     f"{actor.area or '-':<16} {actor.annunciated:>6} {actor.percent:>6.1f} %")
    return lines


def _chattering_lines(report: AlarmReport) -> list[str]:
    if not report.chattering:
        return []
    lines = ["", f"Chattering alarms ({CHATTER_COUNT} or more annunciated within 60 s)",
             f"  {'ALARM':<32} {'MOST IN 60 s':>12} {'ANNUNCIATED':>12}"]
    lines.extend(f"  {alarm.name:<32} {alarm.max_in_60_s:>12} {alarm.annunciated:>12}"
                 for alarm in report.chattering)
    return lines


def _stale_lines(report: AlarmReport) -> list[str]:
    if not report.stale:
        return []
    lines = ["", f"Stale alarms (active more than {STALE_S / 3600:g} h at "
                 f"{_local(report.end)})",
             f"  {'ALARM':<32} {'ACTIVE SINCE':<17} {'HOURS':>7}  STATE"]
    lines.extend(f"  {alarm.name:<32} {_local(alarm.active_since):<17} {alarm.hours:>7.1f}  "
                 f"{alarm.state.value}" for alarm in report.stale)
    return lines


def _flood_lines(report: AlarmReport) -> list[str]:
    floods = [(position.name, flood) for position in report.positions
              for flood in position.floods]
    if not floods:
        return []
    lines = ["", "Floods (start: more than 10 in 10 min; end: fewer than 5)",
             f"  {'POSITION':<24} {'FROM':<17} {'TO':<17} {'ALARMS':>7} {'PEAK':>5}"]
    lines.extend(f"  {name:<24} {_local(flood.start):<17} {_local(flood.end):<17} "
                 f"{flood.alarms:>7} {flood.peak:>5}" for name, flood in floods)
    return lines


def _local(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def _hours(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
