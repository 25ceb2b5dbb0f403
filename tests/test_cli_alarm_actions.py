"""`hmi alarms ack/shelve/unshelve` as real `hmi` processes on a real SQLite file: without
a station the command acts on the store itself; while a station runs (a real Runtime in
this test's loop, holding the station lock) it hands the station a request and the
station's engine changes, journals and audits it once; the refusals (maximum shelve,
permission, a missing comment, unknown alarm, wrong password, no database) are one line
and change nothing; a second app on the folder is refused; a station that does not answer
gets its request withdrawn."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hmi.config import parse_site
from hmi.core.alarm_states import AlarmEvent, AlarmState
from hmi.runtime import Runtime
from hmi.store.alarms import AlarmRepository
from hmi.store.database import open_database
from hmi.store.station_lock import StationBusyError, StationLock
from tests.cli_security import (
    ENGINEER,
    ENGINEER_PW,
    OPERATOR,
    OPERATOR_PW,
    Run,
    Station,
    one_line_error,
    staffed_template,
)
from tests.test_cli_alarms import SITE, journal

__all__ = ["staffed_template"]  # a fixture, used by name

SITE_TEXT = SITE + "\n[alarming]\nmax_shelve_minutes = 60\n"


@pytest.fixture
def station(tmp_path: Path, staffed_template: Path) -> Station:
    """Users boss (admin), j.smith (operator), e.ng (engineer); three alarms raised."""
    station = Station(tmp_path).copy_from(staffed_template)
    (tmp_path / "site.toml").write_text(SITE_TEXT, encoding="utf-8")
    now = time.time()
    journal(station.data, *((name, AlarmEvent.ACTIVATE, now - 60)
                            for name in ("Level.Low", "Level.Empty", "Speed.High")))
    return station


def act(station: Station, *args: str, user: str = OPERATOR, password: str = OPERATOR_PW,
        ) -> Run:
    return station.run("alarms", *args, "--config", str(station.root / "site.toml"),
                       "--as", user, "--password-stdin", stdin=password + "\n")


def journal_rows(station: Station) -> list[tuple[str, AlarmEvent, str, str]]:
    db = open_database(station.database)
    try:
        return [(r.name, r.event, r.user, r.comment) for r in AlarmRepository(db).journal()
                if r.event is not AlarmEvent.ACTIVATE]
    finally:
        db.close()


def alarm_audit(station: Station) -> list[tuple[object, ...]]:
    return [(r["user_name"], r["action"], r["object"], r["new_value"], r["reason"])
            for r in station.audit_rows() if str(r["action"]).startswith(("ack", "shelve"))]


def requests(station: Station) -> list[tuple[str, str, str]]:
    with sqlite3.connect(station.database) as connection:
        return connection.execute(
            "SELECT alarm, status, answer FROM alarm_requests ORDER BY id").fetchall()


def test_without_a_station_the_command_acts_on_the_store_and_releases_the_lock(station):
    done = act(station, "ack", "Level.Low", "Speed.High", "--comment", "seen on the tank")
    assert (done.code, done.out) == (0, "Level.Low: acknowledged\nSpeed.High: acknowledged\n")
    assert journal_rows(station) == [
        ("Level.Low", AlarmEvent.ACK, OPERATOR, "seen on the tank"),
        ("Speed.High", AlarmEvent.ACK, OPERATOR, "seen on the tank")]
    assert alarm_audit(station) == [
        (OPERATOR, "ack_alarm:acknowledge", f"alarm {name}", "acknowledged",
         "seen on the tank") for name in ("Level.Low", "Speed.High")]
    assert requests(station) == []  # no station: nothing handed over
    again = act(station, "ack", "Level.Low", "Level.Empty", "--comment", "again")
    assert again.code == 1
    assert again.out == "Level.Empty: acknowledged\n"
    assert again.err == "Level.Low: refused: already acknowledged\n"
    lock = StationLock(station.data, "test")
    assert lock.try_acquire()  # the command let go of it
    lock.release()


def test_refusals_are_one_line_and_change_nothing(station):
    audited = len(station.audit_rows())
    engineer = {"user": ENGINEER, "password": ENGINEER_PW}
    site = str(station.root / "site.toml")
    # refused before the password is asked: run side by side (each a real `hmi` process)
    asked = {
        "critical": (("ack", "Level.Low", "Level.Empty"), {}),
        "bell": (("ack", "Level.Low", "--comment", "a\x07b"), {}),
        "long": (("ack", "Level.Low", "--comment", "x" * 2001), {}),
        "too_long": (("shelve", "Speed.High", "--minutes", "90", "--reason", "sensor swap"),
                     engineer),
        "no_reason": (("shelve", "Speed.High", "--minutes", "30", "--reason", " "), engineer),
        "unknown": (("ack", "Level.low"), {}),
    }
    with ThreadPoolExecutor(max_workers=len(asked) + 1) as pool:
        running = {key: pool.submit(act, station, *args, **login)
                   for key, (args, login) in asked.items()}
        missing = pool.submit(station.run, "alarms", "ack", "Level.Low", "--config", site,
                              "--as", OPERATOR, "--password-stdin", "--data",
                              str(station.root / "nowhere"), stdin=OPERATOR_PW + "\n",
                              data=False)
        said = {key: one_line_error(future.result(), f"alarms {asked[key][0][0]}")
                for key, future in running.items()}
        assert "no database found at" in one_line_error(missing.result(), "alarms ack")
    assert "Level.Empty (critical) needs a comment" in said["critical"]
    assert "--comment TEXT" in said["critical"]
    assert "--comment: the comment holds a control character (U+0007)" in said["bell"]
    assert "2,001 characters long; at most 2,000" in said["long"]
    assert "at most 60 minutes ([alarming] max_shelve_minutes in" in said["too_long"]
    assert "--reason is empty" in said["no_reason"]
    assert "no alarm named 'Level.low' in" in said["unknown"]
    assert "hmi alarms list" in said["unknown"]
    assert len(station.audit_rows()) == audited  # none of them logged in
    wrong = one_line_error(act(station, "ack", "Level.Low", password="Not-the-passw0rd"),
                           "alarms ack")
    assert "Wrong user name or password" in wrong
    denied = one_line_error(act(station, "shelve", "Speed.High", "--minutes", "30",
                                "--reason", "sensor swap"), "alarms shelve")
    assert f"{OPERATOR} (Operator) may not shelve alarms: ask a user with the role" in denied
    assert [r["action"] for r in station.audit_rows()[audited:]] == [
        "login_failed", "login", "permission_denied"]
    assert journal_rows(station) == []
    assert requests(station) == []


def test_shelve_and_unshelve_need_the_permission_and_are_journalled(station):
    shelved = act(station, "shelve", "Speed.High", "--minutes", "30", "--reason",
                  "sensor swap", user=ENGINEER, password=ENGINEER_PW)
    assert (shelved.code, shelved.out) == (0, "Speed.High: shelved for 30 min\n")
    back = act(station, "unshelve", "Speed.High", user=ENGINEER, password=ENGINEER_PW)
    assert (back.code, back.out) == (0, "Speed.High: unshelved\n")
    assert journal_rows(station) == [
        ("Speed.High", AlarmEvent.SHELVE, ENGINEER, "sensor swap"),
        ("Speed.High", AlarmEvent.UNSHELVE, ENGINEER, "")]
    assert [row[1] for row in alarm_audit(station)] == ["shelve_alarm:shelve",
                                                        "shelve_alarm:unshelve"]


def test_while_a_station_runs_it_performs_the_request_once_and_a_second_app_is_refused(
        station):
    site = parse_site(SITE_TEXT, "site.toml")

    async def scenario() -> None:
        runtime = Runtime(site, station.data)
        await runtime.start()
        try:
            deadline = time.monotonic() + 5
            while not runtime.alarms.records():  # the states back from the store
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            second = Runtime(site, station.data)
            with pytest.raises(StationBusyError, match=(
                    rf"another HMI station is running on {station.data}: process "
                    rf"{os.getpid()} \(the HMI app\)")):
                await second.start()
            await second.stop()  # a refused start stops cleanly, the lock stays held
            done = await asyncio.to_thread(act, station, "ack", "Level.Low", "--comment",
                                           "valve opened")
            assert (done.code, done.out, done.err) == (0, "Level.Low: acknowledged\n", "")
            # the station's own engine changed: nothing written behind its back
            assert runtime.alarms.record("Level.Low").alarm.state is AlarmState.ACKED
            refused = await asyncio.to_thread(act, station, "ack", "Level.Low")
            assert refused.code == 1
            assert refused.err == ("Level.Low: refused by the station: already "
                                   "acknowledged\n")
        finally:
            await runtime.stop()

    asyncio.run(scenario())
    assert journal_rows(station) == [("Level.Low", AlarmEvent.ACK, OPERATOR, "valve opened")]
    assert alarm_audit(station) == [(OPERATOR, "ack_alarm:acknowledge", "alarm Level.Low",
                                     "acknowledged", "valve opened")]
    assert requests(station) == [("Level.Low", "done", "acknowledged"),
                                 ("Level.Low", "refused", "already acknowledged")]
    lock = StationLock(station.data, "test")
    assert lock.try_acquire()  # released by the runtime's stop
    lock.release()


def test_a_station_that_does_not_answer_gets_its_request_withdrawn(station):
    lock = StationLock(station.data, "a stuck station")
    assert lock.try_acquire()
    try:
        started = time.monotonic()
        late = act(station, "ack", "Level.Low", "--wait", "0.5")
        assert time.monotonic() - started < 10
    finally:
        lock.release()
    assert late.code == 1
    assert late.out == ""
    assert late.err.startswith("Level.Low: not acknowledged: the station running on ")
    assert late.err.endswith("did not answer within 0.5 s (is it stuck, or still "
                             "starting?); the request was withdrawn and nothing changed\n")
    assert requests(station) == [("Level.Low", "withdrawn", "no answer within 0.5 s")]
    assert journal_rows(station) == []


def test_a_second_hmi_run_on_the_folder_says_which_station_holds_it(station):
    lock = StationLock(station.data, "a running station")
    assert lock.try_acquire()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "hmi", "run", "--config", str(station.root / "site.toml"),
             "--data", str(station.data)],
            cwd=station.root, capture_output=True, text=True, encoding="utf-8", timeout=60,
            check=False, env=station.env() | {"QT_QPA_PLATFORM": "offscreen"},
            stdin=subprocess.DEVNULL)
    finally:
        lock.release()
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(
        f"hmi run: another HMI station is running on {station.data}: process "
        f"{os.getpid()} (a running station) since ")
    assert "Traceback" not in result.stderr
