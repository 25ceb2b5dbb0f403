"""`hmi alarms list`: the station's alarms from its store, most urgent first, with their
priority and message from the site file; JSON for scripts; a clear error without a
database."""

from __future__ import annotations

import json
import time
from pathlib import Path

from hmi.core.alarm_states import Alarm, AlarmEvent, AlarmTransition, step
from hmi.folders import DATABASE_FILE
from hmi.store.alarms import AlarmRepository
from hmi.store.database import open_database
from tests.config.minimal_site import BASE
from tests.test_cli import assert_no_crash, run_hmi

SITE = BASE + """
[[tags]]
name = "Level"
device = "plc1"
table = "holding_register"
address = 2
type = "float32"

[[alarms]]
name = "Level.Low"
tag = "Level"
type = "lo"
limit = 20
priority = "medium"
message = "Tank low"

[[alarms]]
name = "Level.Empty"
tag = "Level"
type = "lolo"
limit = 5
priority = "critical"
message = "Tank empty"

[[alarms]]
name = "Speed.High"
tag = "Speed"
type = "hi"
limit = 100
priority = "high"
message = "Too fast"
"""


def journal(data: Path, *moves: tuple[str, AlarmEvent, float]) -> None:
    db = open_database(data / DATABASE_FILE)
    repo = AlarmRepository(db)
    alarms: dict[str, Alarm] = {}
    made = []
    for name, event, t in moves:
        alarm = alarms.get(name, Alarm())
        result = step(alarm, event, now=t, until=t + 600, max_shelve_s=3600)
        assert result.ok, result.refused
        alarms[name] = result.after
        made.append(AlarmTransition(name, t, event, alarm.state, result.after, 1))
    repo.record(made)
    db.close()


def test_alarms_not_normal_most_urgent_first_and_as_json(tmp_path):
    site = tmp_path / "site.toml"
    site.write_text(SITE, encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir()
    now = time.time()
    journal(data, ("Level.Low", AlarmEvent.ACTIVATE, now - 60),
            ("Level.Low", AlarmEvent.ACK, now - 50),
            ("Level.Empty", AlarmEvent.ACTIVATE, now - 30),
            ("Speed.High", AlarmEvent.SHELVE, now - 10))
    result = run_hmi("alarms", "list", "--config", site, "--data", data, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_no_crash(result)
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["STATE", "PRIORITY", "SINCE", "ALARM"]
    assert [line.split()[0] for line in lines[1:]] == ["unacknowledged", "acknowledged",
                                                      "shelved"]
    assert "Level.Empty" in lines[1]
    assert "Tank empty" in lines[1]
    assert "critical" in lines[1]
    assert "shelved until" in lines[3]
    listed = json.loads(run_hmi("alarms", "list", "--config", site, "--data", data,
                                "--json", "--all", cwd=tmp_path).stdout)
    assert [a["name"] for a in listed] == ["Level.Empty", "Level.Low", "Speed.High"]
    assert listed[0]["state"] == "unacknowledged"
    assert listed[0]["acknowledged"] is False
    assert listed[2]["shelved_until"] is not None


def test_without_a_database_the_command_says_where_it_looked(tmp_path):
    site = tmp_path / "site.toml"
    site.write_text(SITE, encoding="utf-8")
    result = run_hmi("alarms", "list", "--config", site, "--data", tmp_path / "none",
                     cwd=tmp_path)
    assert result.returncode == 2
    assert_no_crash(result)
    assert "no database found at" in result.stderr
    assert "--data DIR" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    journal(empty)
    quiet = run_hmi("alarms", "list", "--config", site, "--data", empty, cwd=tmp_path)
    assert quiet.stdout == "no alarms active, unacknowledged or set aside (3 configured)\n"
