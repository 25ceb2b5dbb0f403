"""Alarm performance figures (EEMUA 191, ISA-18.2) from a journal worked out by hand in
tests/core/alarm_scenario.py: rates per position, floods, chattering, stale alarms, bad
actors and the priority mix; and the edges of each definition."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from hmi.core.alarm_kpi import (
    DEFAULT_POSITION,
    NO_POSITION,
    AlarmReport,
    PositionFigures,
    Verdict,
    alarm_report,
)
from hmi.core.alarm_rules import AlarmKind, AlarmRule, Priority
from hmi.core.alarm_states import Alarm, AlarmEvent, AlarmState, step
from tests.core import alarm_scenario as scenario

START = 1_700_000_000.0
END = START + scenario.SPAN


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    time: float
    event: AlarmEvent
    after: AlarmState


def journal(moves: list[scenario.Move]) -> list[Row]:
    """The rows the engine would journal for the moves (through the state machine)."""
    alarms: dict[str, Alarm] = {}
    rows = []
    for name, event, t in moves:
        result = step(alarms.get(name, Alarm()), event, now=t, until=t + 600,
                      max_shelve_s=3600)
        assert result.ok, (name, event, result.refused)
        alarms[name] = result.after
        rows.append(Row(name, t, event, result.after.state))
    return rows


@pytest.fixture(scope="module")
def report() -> AlarmReport:
    return alarm_report(journal(scenario.moves(START)), scenario.rules(),
                        scenario.POSITIONS, START, END)


def position(report: AlarmReport, name: str) -> PositionFigures:
    return next(p for p in report.positions if p.name == name)


def test_annunciated_and_not_annunciated(report: AlarmReport) -> None:
    assert report.annunciated == 63  # 52 + 6 + 2 + 3
    assert report.not_annunciated == 3
    assert report.not_annunciated_by_state == (("shelved", 2), ("suppressed by design", 1))


def test_rates_and_floods_per_position(report: AlarmReport) -> None:
    assert [p.name for p in report.positions] == [
        "Filling console", "Packing console", "Utilities desk", NO_POSITION]
    filling = position(report, "Filling console")
    assert filling.areas == ("Filling",)
    assert filling.annunciated == 52
    assert filling.per_10_min.value == pytest.approx(52 / 72)  # 0.7222
    assert filling.per_10_min.verdict is Verdict.FINE
    assert filling.per_hour.value == pytest.approx(52 / 12)
    assert filling.per_day.value == pytest.approx(104)
    assert filling.peak_10_min.value == 12
    assert filling.peak_10_min.verdict is Verdict.OVER  # more than 10
    assert filling.peak_10_min_start == START
    assert [(f.start - START, f.end - START, f.alarms, f.peak) for f in filling.floods] == [
        (0, 1800, 24, 12),  # intervals 0..2: 12 + 7 + 5; interval 3 (4) ends it
        (6000, 6600, 11, 11),  # interval 10; interval 11 (3) ends it
    ]  # interval 20 (10 alarms) does not start one
    assert filling.flood_seconds == 2400
    assert filling.flood_percent.value == pytest.approx(100 * 2400 / 43200)  # 5.5556
    assert filling.flood_percent.verdict is Verdict.OVER
    assert filling.flood_peak == 12

    packing = position(report, "Packing console")
    assert packing.annunciated == 6
    assert packing.per_10_min.value == pytest.approx(6 / 72)
    assert packing.per_hour.value == pytest.approx(0.5)
    assert packing.per_day.value == pytest.approx(12)
    assert (packing.peak_10_min.value, packing.peak_10_min_start) == (3, START + 7200)
    assert packing.floods == ()
    assert packing.flood_percent.value == 0
    assert packing.flood_percent.verdict is Verdict.FINE

    utilities = position(report, "Utilities desk")
    assert utilities.annunciated == 2  # Util.Pump; the shelved and suppressed ones: none
    assert utilities.per_day.value == pytest.approx(4)

    nobody = position(report, NO_POSITION)
    assert nobody.annunciated == 3  # Boiler.Temp twice, Old.Alarm
    assert nobody.areas == ("Boiler",)
    assert report.unwatched_areas == ("Boiler",)
    assert report.not_configured == ("Old.Alarm",)


def test_chattering_three_within_59_s_not_61_s(report: AlarmReport) -> None:
    assert [(a.name, a.max_in_60_s, a.annunciated) for a in report.chattering] == [
        ("Pack.Chatter", 3, 3)]
    assert report.chattering_count.value == 1
    assert report.chattering_count.verdict is Verdict.OVER


def test_stale_alarms_more_than_24_h_active_at_the_end(report: AlarmReport) -> None:
    assert [(a.name, a.active_since, a.hours, a.state) for a in report.stale] == [
        ("Util.Oldest", START - 40 * 86400, 972.0, AlarmState.UNACKED),
        ("Util.Ancient", START - 10 * 86400, 252.0, AlarmState.UNACKED),
        ("Util.Stale", END - 25 * 3600, 25.0, AlarmState.ACKED),
    ]  # Util.Recent: 23 h; Util.Cleared: cleared
    assert report.stale_count.value == 3
    assert report.stale_count.verdict is Verdict.FINE  # fewer than 5


def test_bad_actors_and_their_share(report: AlarmReport) -> None:
    assert [(a.name, a.annunciated) for a in report.bad_actors] == [
        ("Fill.01", 7), ("Fill.02", 7), ("Fill.03", 7), ("Fill.04", 6), ("Fill.05", 5),
        ("Fill.06", 4), ("Fill.07", 4), ("Fill.08", 3), ("Fill.09", 3), ("Fill.10", 3)]
    first = report.bad_actors[0]
    assert (first.priority, first.area) == ("low", "Filling")
    assert first.percent == pytest.approx(100 * 7 / 63)
    assert report.top_10_percent.value == pytest.approx(100 * 49 / 63)  # 77.7778
    assert report.top_10_percent.verdict is Verdict.OVER


def test_priority_mix_against_80_15_5(report: AlarmReport) -> None:
    mix = {share.priority: share for share in report.priority_mix}
    assert list(mix) == ["low", "medium", "high (with critical)", "critical",
                         "not configured"]
    assert {name: share.annunciated for name, share in mix.items()} == {
        "low": 52, "medium": 6, "high (with critical)": 4, "critical": 2,
        "not configured": 1}
    assert mix["low"].percent == pytest.approx(100 * 52 / 63)  # 82.5397
    assert mix["medium"].percent == pytest.approx(100 * 6 / 63)  # 9.5238
    assert mix["high (with critical)"].percent == pytest.approx(100 * 4 / 63)  # 6.3492
    assert mix["critical"].percent == pytest.approx(100 * 2 / 63)
    assert [share.verdict for share in mix.values()] == [
        Verdict.FINE, Verdict.FINE, Verdict.OVER, Verdict.FINE, Verdict.FINE]
    assert mix["high (with critical)"].target == "~5 %"


def test_to_json_is_plain(report: AlarmReport) -> None:
    plain = report.to_json()
    again = json.loads(json.dumps(plain))
    assert again == plain
    assert plain["annunciated"] == 63
    assert plain["stale"][2] == {"name": "Util.Stale", "active_since": END - 25 * 3600,
                                 "hours": 25.0, "state": "acknowledged"}
    positions = plain["positions"]
    assert isinstance(positions, list)
    assert positions[0]["per_10_min"]["verdict"] == "within target"
    assert positions[0]["floods"][0] == {"start": START, "end": START + 1800, "alarms": 24,
                                         "peak": 12}


# -- edges ---------------------------------------------------------------------------------


def rule(name: str, area: str = "", priority: Priority = Priority.LOW) -> AlarmRule:
    return AlarmRule(name, "Speed", AlarmKind.BAD_QUALITY, priority, name, area=area)


def activations(name: str, *times: float) -> list[Row]:
    return [Row(name, START + t, AlarmEvent.ACTIVATE, AlarmState.UNACKED) for t in times]


def test_default_position_watches_every_area_and_a_flood_runs_to_a_short_last_interval(
) -> None:
    # 1500 s: intervals of 600, 600 and 300 s holding 11, 6 and 5: one flood to the end
    times = [*range(0, 110, 10), *range(600, 660, 10), *range(1200, 1250, 10)]
    rows = activations("A", *times)
    report = alarm_report(rows, [rule("A", "Filling")], (), START, START + 1500)
    (station,) = report.positions
    assert (station.name, station.areas) == (DEFAULT_POSITION, ())
    assert station.annunciated == 22
    assert station.per_10_min.value == pytest.approx(22 / 2.5)  # 8.8: over 2
    assert station.per_10_min.verdict is Verdict.OVER
    assert station.flood_seconds == 1500
    assert station.flood_percent.value == pytest.approx(100)
    assert [(f.alarms, f.peak) for f in station.floods] == [(22, 11)]
    assert report.unwatched_areas == ()
    assert [a.max_in_60_s for a in report.chattering] == [6]  # 600..650


def test_an_average_between_1_and_2_per_10_min_is_manageable() -> None:
    rows = activations("A", 0, 700, 1300)  # 3 in 1800 s: 1 per 10 min exactly
    report = alarm_report(rows, [rule("A")], (), START, START + 1800)
    assert report.positions[0].per_10_min.verdict is Verdict.FINE
    rows = activations("A", 0, 700, 1300, 1700)  # 4 / 3 = 1.33
    report = alarm_report(rows, [rule("A")], (), START, START + 1800)
    assert report.positions[0].per_10_min.verdict is Verdict.MANAGEABLE


def test_an_empty_journal_reports_zeros_and_rows_outside_the_range_are_not_counted(
) -> None:
    rows = [*activations("A", -1, 3600)]  # before start, and at end (not included)
    report = alarm_report(rows, [rule("A")], (("Desk", ("X",)),), START, START + 3600)
    assert report.annunciated == 0
    assert report.bad_actors == ()
    assert report.top_10_percent.value == 0
    assert [p.name for p in report.positions] == ["Desk", NO_POSITION]  # area "" unwatched
    assert report.unwatched_areas == ("",)
    assert all(share.percent == 0 for share in report.priority_mix)
    with pytest.raises(ValueError, match="must end after it starts"):
        alarm_report(rows, [], (), START, START)
