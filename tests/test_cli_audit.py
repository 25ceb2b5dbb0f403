"""`hmi audit verify` and `hmi audit export` as subprocesses on a real SQLite file: OK,
then BROKEN after the trail is tampered with directly in sqlite3 (a value edited, a
middle row deleted, two rows' sequence swapped, the end cut off, a row edited and
re-hashed), and the CSV export with its time range, filters and who may run it."""

from __future__ import annotations

import csv
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hmi.core.audit import AuditEntry, content_hash
from hmi.core.security import Role, SecuritySettings
from hmi.runtime import DATABASE_FILE
from hmi.services.security import StationSecurity
from hmi.store.audit import CSV_COLUMNS, AuditRepository
from hmi.store.database import open_database
from tests.cli_security import (
    ADMIN,
    ADMIN_PW,
    ENGINEER,
    ENGINEER_PW,
    OPERATOR,
    OPERATOR_PW,
    Station,
    one_line_error,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC).timestamp()
ISO0 = "2026-03-02T08:00:00Z"
HISTORY = [  # (seconds after T0, user, role, action, object)
    (0, "alice", "operator", "confirm_event", "event 1"),
    (60, "bob", "shift_lead", "login_failed", "login"),
    (120, "alice", "operator", "ack_alarm", "Filler.HighLevel"),
    (180, "bob", "shift_lead", "confirm_event", "event 2"),
    (240, "alice", "operator", "confirm_event", "event 3"),
]


def build_trail(data: Path) -> None:
    """Five rows at known times, then the administrator, an operator and an engineer
    (their rows an hour later): the clock only ever moves forward."""
    data.mkdir(parents=True)
    database = open_database(data / DATABASE_FILE)
    now = [T0]
    try:
        audit = AuditRepository(database, clock=lambda: now[0])
        for offset, user, role, action, target in HISTORY:
            now[0] = T0 + offset
            audit.record(AuditEntry(user, role, action, target, reason=f"at +{offset}s"))
        now[0] = T0 + 3600
        users = StationSecurity.build(database, SecuritySettings(), lambda: now[0]).users
        admin = users.first_admin(ADMIN, ADMIN_PW)
        users.add(admin, OPERATOR, Role.OPERATOR, OPERATOR_PW)
        users.add(admin, ENGINEER, Role.ENGINEER, ENGINEER_PW)
    finally:
        database.close()


@pytest.fixture(scope="module")
def trail_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("trail") / "data"
    build_trail(data)
    return data


@pytest.fixture
def station(tmp_path: Path, trail_template: Path) -> Station:
    return Station(tmp_path).copy_from(trail_template)


def sql(station: Station, *statements: str) -> None:
    with sqlite3.connect(station.database) as connection:
        for statement in statements:
            connection.execute(statement)


# -- verify -------------------------------------------------------------------------------


def test_verify_ok_names_rows_head_and_hash(station: Station) -> None:
    result = station.run("audit", "verify", stdin=None)  # no login, no terminal needed
    assert result.code == 0, result.err
    with sqlite3.connect(station.database) as connection:
        seq, head = connection.execute(
            "SELECT seq, hash FROM audit_trail ORDER BY seq DESC LIMIT 1").fetchone()
    assert seq == len(HISTORY) + 3
    assert result.out == f"OK: {seq} rows, head row {seq}, hash {head}\n"
    assert re.fullmatch(r"[0-9a-f]{64}", head)


@pytest.mark.parametrize(("tampering", "broken"), [
    (["UPDATE audit_trail SET reason = 'nothing happened' WHERE seq = 2"],
     "audit trail broken at row 2: its content does not match its hash (the row was edited)"),
    (["UPDATE audit_trail SET user_name = 'mallory' WHERE seq = 4"],
     "audit trail broken at row 4: its content does not match its hash"),
    (["DELETE FROM audit_trail WHERE seq = 3"],
     "audit trail broken at row 3: row 3 is missing (rows 3..3 deleted?)"),
    (["UPDATE audit_trail SET seq = -1 WHERE seq = 2",
      "UPDATE audit_trail SET seq = 2 WHERE seq = 3",
      "UPDATE audit_trail SET seq = 3 WHERE seq = -1"],
     "audit trail broken at row 2: it does not follow row 1"),
    (["DELETE FROM audit_trail WHERE seq = (SELECT max(seq) FROM audit_trail)"],
     "rows cut off the end"),
])
def test_verify_finds_tampering(station: Station, tampering: list[str], broken: str) -> None:
    assert station.run("audit", "verify").code == 0
    sql(station, *tampering)
    result = station.run("audit", "verify")
    assert result.code == 1, result.err
    assert result.out.startswith("BROKEN: audit trail broken at row ")
    assert broken in result.out
    assert result.out.count("\n") == 1
    assert result.err == ""


def test_verify_finds_a_row_edited_and_rehashed(station: Station) -> None:
    """A forger who recomputes the edited row's own hash still breaks the next link."""
    with sqlite3.connect(station.database) as connection:
        connection.row_factory = sqlite3.Row
        row = dict(connection.execute("SELECT * FROM audit_trail WHERE seq = 2").fetchone())
        row["reason"] = "nothing happened"
        entry = AuditEntry(row["user_name"], row["role"], row["action"], row["object"],
                           row["old_value"], row["new_value"], row["reason"], row["meaning"])
        forged = content_hash(row["seq"], row["time_us"], entry, row["prev_hash"])
        connection.execute("UPDATE audit_trail SET reason = ?, hash = ? WHERE seq = 2",
                           (row["reason"], forged))
    result = station.run("audit", "verify")
    assert result.code == 1
    assert result.out.startswith("BROKEN: audit trail broken at row 3: it does not follow row 2")


def test_verify_without_a_database_says_where_it_looked(tmp_path: Path) -> None:
    station = Station(tmp_path)
    result = station.run("audit", "verify")
    assert f"no database found at {station.database}" in one_line_error(result, "audit verify")
    assert not station.database.exists()


# -- export -------------------------------------------------------------------------------


def export(station: Station, *args: str, user: str = ADMIN,
           password: str = ADMIN_PW) -> tuple[int, str, list[list[str]]]:
    out = station.root / "audit.csv"
    result = station.run("audit", "export", "--csv", str(out), *args, "--as", user,
                         "--password-stdin", stdin=password + "\n")
    rows = list(csv.reader(out.open(encoding="utf-8", newline=""))) if out.exists() else []
    out.unlink(missing_ok=True)
    return result.code, result.err, rows


def test_export_writes_the_rows_of_the_range(station: Station) -> None:
    code, err, rows = export(station, "--from", ISO0, "--to", "2026-03-02T08:02:30Z")
    assert code == 0, err
    assert "wrote 3 audit rows to " in err
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r[0], r[1], r[2], r[3], r[4], r[5], r[8]) for r in rows[1:]] == [
        ("1", "2026-03-02T08:00:00.000000Z", "alice", "operator", "confirm_event", "event 1",
         "at +0s"),
        ("2", "2026-03-02T08:01:00.000000Z", "bob", "shift_lead", "login_failed", "login",
         "at +60s"),
        ("3", "2026-03-02T08:02:00.000000Z", "alice", "operator", "ack_alarm",
         "Filler.HighLevel", "at +120s"),
    ]
    with sqlite3.connect(station.database) as connection:
        stored = connection.execute(
            "SELECT prev_hash, hash FROM audit_trail WHERE seq <= 3 ORDER BY seq").fetchall()
    assert [(r[10], r[11]) for r in rows[1:]] == stored


@pytest.mark.parametrize(("filters", "expected"), [
    (["--user", "alice"], ["1", "3", "5"]),
    (["--action", "confirm_event"], ["1", "4", "5"]),
    (["--user", "bob", "--action", "confirm_event"], ["4"]),
    (["--user", "nobody"], []),
])
def test_export_filters_by_user_and_action(station: Station, filters: list[str],
                                           expected: list[str]) -> None:
    code, err, rows = export(station, "--from", ISO0, "--to", "2026-03-02T10:00:00+01:00",
                             *filters)
    assert code == 0, err
    assert [r[0] for r in rows[1:]] == expected


def test_export_relative_times_include_this_login(station: Station) -> None:
    code, err, rows = export(station, "--from", "-1h", "--to", "now+1m", user=ENGINEER,
                             password=ENGINEER_PW)
    assert code == 0, err
    assert [(r[2], r[4], r[5]) for r in rows[1:]] == [
        (ENGINEER, "login", "command line: hmi audit export")]


@pytest.mark.parametrize(("args", "message"), [
    (["--from", ISO0, "--to", "2026-03-01"],
     f"the range is reversed: --to 2026-03-01 is before --from {ISO0}; swap them"),
    (["--from", ISO0, "--to", ISO0], "the range is empty"),
    (["--from", "yesterday", "--to", "now"], "--from 'yesterday' is not a time; use ISO-8601"),
])
def test_export_time_mistakes_exit_2_before_any_login(station: Station, args: list[str],
                                                      message: str) -> None:
    before = len(station.audit_rows())
    code, err, rows = export(station, *args)
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("hmi audit export: ")
    assert message in err
    assert rows == []
    assert len(station.audit_rows()) == before


def test_export_needs_a_user_who_may_read_the_trail(station: Station) -> None:
    out = station.root / "audit.csv"
    result = station.run("audit", "export", "--from", "-1d", "--to", "now", "--csv", str(out),
                         "--password-stdin", stdin=ADMIN_PW + "\n")
    assert "give --as NAME: a user with the role Shift lead, Engineer, Administrator" in \
        one_line_error(result, "audit export")
    code, err, rows = export(station, "--from", "-1d", "--to", "now", user=OPERATOR,
                             password=OPERATOR_PW)
    assert code == 2
    assert f"{OPERATOR} (Operator) may not read the audit trail" in err
    assert rows == []
    denied = station.audit_rows()[-1]
    assert (denied["user_name"], denied["action"], denied["object"], denied["new_value"]) == (
        OPERATOR, "permission_denied", "audit trail", "view_audit")
    code, err, _ = export(station, "--from", "-1d", "--to", "now", password="wrong-pw-1")
    assert "Wrong user name or password." in err
    assert station.audit_rows()[-1]["action"] == "login_failed"


def test_export_to_an_unwritable_place(station: Station) -> None:
    for out, reason in ((station.root / "missing" / "a.csv", "No such file or directory"),
                        (station.root, "it is a folder")):
        result = station.run("audit", "export", "--from", "-1d", "--to", "now", "--csv",
                             str(out), "--as", ADMIN, "--password-stdin",
                             stdin=ADMIN_PW + "\n")
        error = one_line_error(result, "audit export")
        assert f"cannot write {out}: " in error
        assert reason in error
    assert not list(station.root.glob(".a.csv.*"))
