"""`hmi alarms report`: the hand-worked journal of tests/core/alarm_scenario.py written
through the real store, reported by the real command as text and JSON; bad input gives
one line and exit code 2."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from hmi.core.alarm_states import Alarm, AlarmTransition, step
from hmi.folders import DATABASE_FILE
from hmi.store.alarms import AlarmRepository
from hmi.store.database import open_database
from tests.config.minimal_site import BASE
from tests.core import alarm_scenario as scenario
from tests.test_cli import assert_no_crash, run_hmi

START = dt.datetime(2024, 5, 1, 6, 0).timestamp()  # local, as --from reads it
END = START + scenario.SPAN  # 2024-05-01 18:00
RANGE = ("--from", "2024-05-01 06:00", "--to", "2024-05-01 18:00")


def seed(data: Path, moves: list[scenario.Move]) -> None:
    db = open_database(data / DATABASE_FILE)
    alarms: dict[str, Alarm] = {}
    made = []
    for name, event, t in moves:
        alarm = alarms.get(name, Alarm())
        result = step(alarm, event, now=t, until=t + 600, max_shelve_s=3600)
        assert result.ok, result.refused
        alarms[name] = result.after
        made.append(AlarmTransition(name, t, event, alarm.state, result.after, 1))
    AlarmRepository(db).record(made)
    db.close()


@pytest.fixture
def station(tmp_path: Path) -> tuple[Path, Path]:
    site = tmp_path / "site.toml"
    site.write_text(BASE + scenario.site_blocks(), encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir()
    seed(data, scenario.moves(START))
    return site, data


def test_the_report_as_text(station: tuple[Path, Path], tmp_path: Path) -> None:
    site, data = station
    result = run_hmi("alarms", "report", "--config", site, "--data", data, *RANGE,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_no_crash(result)
    text = result.stdout
    lines = text.splitlines()
    assert lines[0] == "Alarm performance, Line 1: 2024-05-01 06:00 to 2024-05-01 18:00 (12 h)"
    assert "annunciated alarms: 63" in lines
    assert "activations not annunciated: 3 (shelved 2, suppressed by design 1); not " \
        "counted below" in lines
    assert lines[lines.index("Filling console: 52 annunciated") + 1] == "  watches: Filling"
    row = next(line for line in lines if "alarms per 10 min, average" in line)
    assert row.split()[5:] == ["0.72", "ok", "EEMUA", "191:", "acceptable", "<=", "1,",
                               "manageable", "<=", "2"]
    peak = next(line for line in lines if "alarms in 10 min, peak" in line)
    assert peak.split()[5:8] == ["12", "OVER", "TARGET"]
    assert peak.endswith("at most 10 (ISA-18.2); first at 2024-05-01 06:00")
    flood = next(line for line in lines if "time in flood" in line)
    assert flood.split()[3:7] == ["5.6", "%", "OVER", "TARGET"]
    assert flood.endswith("under 1 % of the time (ISA-18.2); 2 floods, 40 min, peak 12 "
                          "in 10 min")
    nobody = lines.index("(no position): 3 annunciated")
    assert lines[nobody + 1:nobody + 3] == ["  areas no position watches: Boiler",
                                            "  alarms not in the site file: Old.Alarm"]
    stale = next(line for line in lines if "stale alarms (active > 24 h)" in line)
    assert stale.split()[6:] == ["3", "ok", "fewer", "than", "5", "(ISA-18.2)"]
    assert "Top 10 alarms (bad actors): 77.8 % of all annunciated" in lines
    assert any(line.split() == ["1", "Fill.01", "low", "Filling", "7", "11.1", "%"]
               for line in lines)
    mix = next(line for line in lines if line.startswith("  high (with critical)"))
    assert mix.split()[3:] == ["6.3", "%", "(4)", "OVER", "TARGET", "~5", "%"]
    assert any(line.split() == ["Pack.Chatter", "3", "3"] for line in lines)
    assert any(line.split()[:2] == ["Util.Stale", "2024-04-30"] and
               line.split()[-2:] == ["25.0", "acknowledged"] for line in lines)
    assert any(line.split()[:1] == ["Util.Oldest"] and "972.0" in line for line in lines)
    assert any(line.split()[0] == "Filling" and line.split()[-2:] == ["24", "12"]
               for line in lines if line.strip())


def test_the_report_as_json(station: tuple[Path, Path], tmp_path: Path) -> None:
    site, data = station
    result = run_hmi("alarms", "report", "--config", site, "--data", data, *RANGE,
                     "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["site"] == "Line 1"
    assert (report["start"], report["end"]) == (START, END)
    assert report["annunciated"] == 63
    assert report["not_annunciated"] == 3
    filling = report["positions"][0]
    assert filling["name"] == "Filling console"
    assert filling["per_10_min"]["value"] == pytest.approx(52 / 72)
    assert filling["flood_seconds"] == 2400
    assert filling["flood_percent"]["verdict"] == "over target"
    assert [p["name"] for p in report["positions"]] == [
        "Filling console", "Packing console", "Utilities desk", "(no position)"]
    # the stale alarms came from before --from: 13 h, 10 days and 40 days before it
    assert [(a["name"], a["hours"]) for a in report["stale"]] == [
        ("Util.Oldest", 972.0), ("Util.Ancient", 252.0), ("Util.Stale", 25.0)]
    assert [a["name"] for a in report["chattering"]] == ["Pack.Chatter"]
    assert report["top_10_percent"]["value"] == pytest.approx(100 * 49 / 63)
    assert [s["annunciated"] for s in report["priority_mix"]] == [52, 6, 4, 2, 1]


def test_the_default_range_is_the_last_24_h(station: tuple[Path, Path], tmp_path: Path
                                            ) -> None:
    site, data = station
    result = run_hmi("alarms", "report", "--config", site, "--data", data, "--json",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["end"] - report["start"] == 86400
    assert report["annunciated"] == 0  # the scenario is in 2024
    # every alarm left active then: Util.Oldest, .Ancient, .Stale and now .Recent too
    assert [a["name"] for a in report["stale"]] == ["Util.Oldest", "Util.Ancient",
                                                     "Util.Stale", "Util.Recent"]
    assert report["stale_count"]["verdict"] == "within target"  # fewer than 5


@pytest.mark.parametrize(("args", "message"), [
    (("--from", "yesterday"), "hmi alarms report: --from 'yesterday' is not a date; give "
     'local time: YYYY-MM-DD or "YYYY-MM-DD HH:MM", e.g. --from "2024-05-01 06:00"'),
    (("--from", "2024-05-01", "--to", "2024-04-30 23:59"),
     "hmi alarms report: --from 2024-05-01 00:00 is not before --to 2024-04-30 23:59; "
     "give the earlier time as --from"),
    (("--to", "2999-01-01"), "hmi alarms report: --to 2999-01-01 00:00 is in the future; "
     "leave --to out to report up to now"),
])
def test_bad_times_say_what_to_write(station: tuple[Path, Path], tmp_path: Path,
                                     args: tuple[str, ...], message: str) -> None:
    site, data = station
    result = run_hmi("alarms", "report", "--config", site, "--data", data, *args,
                     cwd=tmp_path)
    assert result.returncode == 2
    assert_no_crash(result)
    assert result.stderr == message + "\n"
    assert result.stdout == ""


def test_without_a_database_the_command_says_where_it_looked(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(BASE + scenario.site_blocks(), encoding="utf-8")
    result = run_hmi("alarms", "report", "--config", site, "--data", tmp_path / "none",
                     *RANGE, cwd=tmp_path)
    assert result.returncode == 2
    assert_no_crash(result)
    assert result.stderr.startswith("hmi alarms report: no database found at ")
    assert result.stderr.endswith("; give the HMI's data folder with --data DIR\n")
    assert len(result.stderr.splitlines()) == 1
