"""`hmi users` as an installer and an administrator run it: real subprocesses on a real
SQLite file, passwords on stdin (and once on a real terminal), the audit rows and the
log lines each command leaves, and what a hostile or clumsy user name does."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hmi.cli import main
from tests.cli_security import (
    ADMIN,
    ADMIN_PW,
    ENGINEER,
    OPERATOR,
    OPERATOR_PW,
    Station,
    one_line_error,
    run_in_terminal,
    staffed_template,
)

__all__ = ["staffed_template"]  # a fixture, used by name


@pytest.fixture
def station(tmp_path: Path) -> Station:
    return Station(tmp_path)


@pytest.fixture
def staffed(station: Station, staffed_template: Path) -> Station:
    """A station with its administrator, an operator and an engineer."""
    return station.copy_from(staffed_template)


def listed(station: Station) -> dict[str, dict[str, object]]:
    result = station.as_admin("users", "list", "--json")
    assert result.code == 0, result.err
    return {row["name"]: row for row in map(json.loads, result.out.splitlines())}


# -- first run ----------------------------------------------------------------------------


def test_first_run_makes_the_administrator_without_as(station: Station) -> None:
    result = station.run("users", "add", ADMIN, "--role", "admin", "--full-name", "Bea Boss",
                         "--password-stdin", stdin=ADMIN_PW + "\n")
    assert result.code == 0, result.err
    assert f"created the first administrator {ADMIN}" in result.out
    assert ADMIN_PW not in result.out + result.err
    rows = station.audit_rows()
    assert [(r["user_name"], r["action"], r["object"], r["new_value"]) for r in rows] == [
        (ADMIN, "user_added", ADMIN, "admin")]
    assert rows[0]["reason"] == "first administrator of this installation"
    users = listed(station)
    assert users[ADMIN]["full_name"] == "Bea Boss"
    assert users[ADMIN]["role"] == "admin"
    with sqlite3.connect(station.database) as connection:
        (stored,) = connection.execute("SELECT password_hash FROM users").fetchone()
    assert stored.startswith("$argon2id$")
    assert ADMIN_PW not in stored
    assert "first administrator boss created" in station.log_text()


def test_the_first_user_must_be_the_administrator(station: Station) -> None:
    result = station.run("users", "add", OPERATOR, "--role", "operator", "--password-stdin",
                         stdin=OPERATOR_PW + "\n")
    error = one_line_error(result, "users add")
    assert "there are no users yet: create the administrator first" in error
    assert "hmi users add NAME --role admin" in error
    assert not station.database.exists()


def test_first_run_refuses_as_so_no_password_line_is_mistaken(station: Station) -> None:
    # "admin's password, then the new one": on an empty station the first line would
    # otherwise become the new administrator's password
    result = station.run("users", "add", ADMIN, "--role", "admin", "--as", "someone",
                         "--password-stdin", stdin="Someone-s-pw1\n" + ADMIN_PW + "\n")
    assert "nobody can log in as 'someone'" in one_line_error(result, "users add")


def test_a_second_administrator_is_not_a_first_run(staffed: Station) -> None:
    result = staffed.run("users", "add", "eve", "--role", "admin", "--password-stdin",
                         stdin="Ev1l-password\n")
    assert "give --as NAME: a user with the role Administrator" in one_line_error(
        result, "users add")
    assert "eve" not in listed(staffed)


@pytest.mark.parametrize("args", [
    ["users", "list"],
    ["users", "passwd", OPERATOR],
    ["users", "disable", OPERATOR, "--reason", "left"],
    ["users", "enable", OPERATOR],
])
def test_every_command_needs_as_once_users_exist(staffed: Station, args: list[str]) -> None:
    result = staffed.run(*args, "--password-stdin", stdin=ADMIN_PW + "\n")
    assert "give --as NAME" in one_line_error(result, " ".join(args[:2]))


def test_commands_other_than_add_refuse_a_station_without_a_database(station: Station) -> None:
    result = station.as_admin("users", "list")
    assert f"no database found at {station.database}" in one_line_error(result, "users list")
    assert not station.data.exists()


# -- add, list, passwd, disable, enable ---------------------------------------------------


def test_add_list_passwd_disable_enable(staffed: Station) -> None:
    staffed.add_user("k.lee", "shift_lead", "Sh1ft-lead-pw")
    users = listed(staffed)
    assert set(users) == {ADMIN, OPERATOR, ENGINEER, "k.lee"}
    assert users[OPERATOR] == {"name": OPERATOR, "full_name": "", "role": "operator",
                               "disabled": False, "locked": False, "locked_until": None,
                               "failed_attempts": 0}

    table = staffed.as_admin("users", "list")
    assert table.code == 0, table.err
    header, *lines = table.out.splitlines()
    assert header.split() == ["NAME", "FULL", "NAME", "ROLE", "STATE"]
    assert any(line.split()[:3] == [ADMIN, "Bea", "Boss"] for line in lines)
    assert "argon2" not in table.out

    # the operator changes their own password: no manage_users needed, the old one is
    own = staffed.run("users", "passwd", OPERATOR, "--as", OPERATOR, "--password-stdin",
                      stdin=f"{OPERATOR_PW}\nN3w-operator-pw\n")
    assert own.code == 0, own.err
    # the administrator sets it for them
    reset = staffed.as_admin("users", "passwd", OPERATOR, then="Adm1n-set-pw")
    assert reset.code == 0, reset.err
    assert staffed.run("users", "passwd", OPERATOR, "--as", OPERATOR, "--password-stdin",
                       stdin="N3w-operator-pw\nWhatever-pw9\n").code == 2
    assert staffed.run("users", "passwd", OPERATOR, "--as", OPERATOR, "--password-stdin",
                       stdin="Adm1n-set-pw\nWhatever-pw9\n").code == 0

    disabled = staffed.as_admin("users", "disable", OPERATOR, "--reason", "left the company")
    assert disabled.code == 0, disabled.err
    assert listed(staffed)[OPERATOR]["disabled"] is True
    refused = staffed.run("users", "passwd", OPERATOR, "--as", OPERATOR, "--password-stdin",
                          stdin="Whatever-pw9\nAnother-pw12\n")
    assert f"The account {OPERATOR} is disabled" in one_line_error(refused, "users passwd")

    enabled = staffed.as_admin("users", "enable", OPERATOR, "--reason", "came back")
    assert enabled.code == 0, enabled.err
    assert listed(staffed)[OPERATOR]["disabled"] is False

    changes = [(r["user_name"], r["action"], r["object"], r["reason"])
               for r in staffed.audit_rows() if r["action"] != "login"]
    assert changes == [
        (ADMIN, "user_added", ADMIN, "first administrator of this installation"),
        (ADMIN, "user_added", OPERATOR, ""),
        (ADMIN, "user_added", ENGINEER, ""),
        (ADMIN, "user_added", "k.lee", ""),
        (OPERATOR, "password_changed", OPERATOR, ""),
        (ADMIN, "password_changed", OPERATOR, ""),
        (OPERATOR, "login_failed", "login", "wrong password"),
        (OPERATOR, "password_changed", OPERATOR, ""),
        (ADMIN, "user_disabled", OPERATOR, "left the company"),
        (OPERATOR, "login_failed", "login", "account disabled"),
        (ADMIN, "user_enabled", OPERATOR, "came back"),
    ]
    logins = [r for r in staffed.audit_rows() if r["action"] == "login"]
    assert {r["object"] for r in logins} >= {"command line: hmi users list",
                                             "command line: hmi users add",
                                             "command line: hmi users disable"}
    log = staffed.log_text()
    for line in ("user k.lee added by boss as shift_lead", f"user {OPERATOR} disabled by {ADMIN}",
                 f"password of {OPERATOR} changed by {OPERATOR}", f"login: {ADMIN} (admin)"):
        assert line in log
    for secret in (ADMIN_PW, OPERATOR_PW, "N3w-operator-pw", "Adm1n-set-pw", "Whatever-pw9"):
        assert secret not in log


def test_the_last_administrator_cannot_be_disabled(staffed: Station) -> None:
    result = staffed.as_admin("users", "disable", ADMIN, "--reason", "oops")
    assert "last enabled administrator" in one_line_error(result, "users disable")


def test_an_existing_name_is_refused_before_a_new_password_is_asked(staffed: Station) -> None:
    result = staffed.as_admin("users", "add", OPERATOR, "--role", "engineer")
    assert f"a user named '{OPERATOR}' exists already" in one_line_error(result, "users add")


def test_an_unknown_role_names_the_allowed_ones(staffed: Station) -> None:
    result = staffed.as_admin("users", "add", "x.y", "--role", "god", then="Passw0rd-xy")
    error = one_line_error(result, "users add")
    assert "unknown role 'god'; allowed: operator, shift_lead, maintenance, engineer, admin" \
        in error


def test_passwd_of_an_unknown_user(staffed: Station) -> None:
    result = staffed.as_admin("users", "passwd", "nobody", then="Passw0rd-xy")
    assert "there is no user named 'nobody'" in one_line_error(result, "users passwd")


@pytest.mark.parametrize(("password", "problem"), [
    ("Sh0rt", "at least 10 characters (it has 5)"),
    ("onlyletters-here", "letters and digits"),
    ("j.smith-2024-pw", "not the user name"),
    ("Tab\there-pass1", "no control characters"),
    ("A1" * 200, "at most 256 characters"),
])
def test_password_rules_are_said_in_words(staffed: Station, password: str,
                                          problem: str) -> None:
    result = staffed.as_admin("users", "passwd", OPERATOR, then=password)
    error = one_line_error(result, "users passwd")
    assert error.startswith("hmi users passwd: the password needs ")
    assert problem in error
    assert password not in error


def test_an_operator_may_not_manage_users_and_the_refusal_is_audited(staffed: Station) -> None:
    result = staffed.run("users", "add", "mallory", "--role", "admin", "--as", OPERATOR,
                         "--password-stdin", stdin=f"{OPERATOR_PW}\nMall0ry-pass\n")
    error = one_line_error(result, "users add")
    assert f"{OPERATOR} (Operator) may not manage users: ask a user with the role " \
        "Administrator" in error
    denied = [r for r in staffed.audit_rows() if r["action"] == "permission_denied"]
    assert [(r["user_name"], r["object"], r["new_value"]) for r in denied] == [
        (OPERATOR, "mallory", "manage_users")]
    assert f"permission denied: {OPERATOR} (Operator) may not manage users" in \
        staffed.log_text()
    assert "mallory" not in listed(staffed)


# -- wrong passwords and the lockout ------------------------------------------------------


def test_a_wrong_as_password_is_refused_audited_and_logged(staffed: Station) -> None:
    result = staffed.run("users", "list", "--as", ADMIN, "--password-stdin",
                         stdin="not-the-password\n")
    assert one_line_error(result, "users list") == \
        "hmi users list: Wrong user name or password.\n"
    assert result.out == ""
    failed = staffed.audit_rows()[-1]
    assert (failed["user_name"], failed["action"], failed["reason"]) == (
        ADMIN, "login_failed", "wrong password")
    log = staffed.log_text()
    assert f"login failed for {ADMIN}: wrong password (1 in a row)" in log
    assert "not-the-password" not in log
    # an unknown name gets the same answer, and is audited as typed
    unknown = staffed.run("users", "list", "--as", "ghost", "--password-stdin",
                          stdin="not-the-password\n")
    assert unknown.err == "hmi users list: Wrong user name or password.\n"
    assert staffed.audit_rows()[-1]["user_name"] == "ghost"
    assert "login refused for ghost: unknown user" in staffed.log_text()


def test_lockout_through_the_command_line(staffed: Station) -> None:
    for attempt in range(1, 6):
        result = staffed.run("users", "list", "--as", OPERATOR, "--password-stdin",
                             stdin=f"wrong-{attempt}\n")
        error = one_line_error(result, "users list")
        if attempt < 5:
            assert "Wrong user name or password." in error
    assert f"The account {OPERATOR} is locked after 5 wrong passwords" in error
    # the right password does not open a locked account
    result = staffed.run("users", "passwd", OPERATOR, "--as", OPERATOR, "--password-stdin",
                         stdin=f"{OPERATOR_PW}\nN3w-operator-pw\n")
    assert "is locked" in one_line_error(result, "users passwd")
    state = listed(staffed)[OPERATOR]
    assert state["locked"] is True
    assert state["failed_attempts"] == 5
    table = staffed.as_admin("users", "list").out
    assert "locked until" in next(line for line in table.splitlines()
                                  if line.startswith(OPERATOR))
    actions = [r["action"] for r in staffed.audit_rows() if r["user_name"] == OPERATOR]
    assert actions.count("login_failed") == 6  # five wrong, then one while locked
    assert actions.count("locked_out") == 1
    assert f"account {OPERATOR} locked until" in staffed.log_text()
    # an administrator unlocks sooner
    assert staffed.as_admin("users", "enable", OPERATOR, "--reason", "unlock").code == 0
    again = staffed.run("users", "passwd", OPERATOR, "--as", OPERATOR, "--password-stdin",
                        stdin=f"{OPERATOR_PW}\nN3w-operator-pw\n")
    assert again.code == 0, again.err


def test_a_good_login_resets_the_count_of_wrong_ones(staffed: Station) -> None:
    for attempt in range(4):
        assert staffed.run("users", "list", "--as", ADMIN, "--password-stdin",
                           stdin=f"wrong-{attempt}\n").code == 2
    assert listed(staffed)[ADMIN]["failed_attempts"] == 0  # that list logged in
    assert staffed.run("users", "list", "--as", ADMIN, "--password-stdin",
                       stdin="wrong-again\n").code == 2
    assert listed(staffed)[ADMIN]["locked"] is False


# -- stdin and the terminal ---------------------------------------------------------------


@pytest.mark.parametrize(("stdin", "problem"), [
    ("", "line 1 of standard input (the password of boss) is missing (end of input)"),
    ("\n", "line 1 of standard input (the password of boss) is empty"),
    (ADMIN_PW + "\n", "line 2 of standard input (new password of x.y) is missing"),
    (ADMIN_PW + "\n\n", "line 2 of standard input (new password of x.y) is empty"),
])
def test_missing_lines_on_stdin_change_nothing(staffed: Station, stdin: str,
                                               problem: str) -> None:
    result = staffed.run("users", "add", "x.y", "--role", "operator", "--as", ADMIN,
                         "--password-stdin", stdin=stdin)
    assert problem in one_line_error(result, "users add")
    assert "x.y" not in listed(staffed)


def test_a_megabyte_on_stdin_is_refused_without_echo(staffed: Station) -> None:
    result = staffed.as_admin("users", "passwd", OPERATOR, then="A1" * 500_000)
    error = one_line_error(result, "users passwd")
    assert "line 2 of standard input (new password of j.smith) is longer than 65,536" in error
    assert len(error) < 300


def test_without_a_terminal_it_says_to_use_password_stdin(staffed: Station) -> None:
    result = staffed.run("users", "list", "--as", ADMIN, stdin=None)
    assert "no terminal to ask for the password of boss" in one_line_error(result, "users list")
    assert "--password-stdin" in result.err


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX pseudo-terminal")
def test_passwords_are_typed_twice_at_a_terminal_and_never_echoed(station: Station) -> None:
    code, shown = run_in_terminal(station, ["users", "add", ADMIN, "--role", "admin"],
                                  [ADMIN_PW, "Different-pw1"])
    assert code == 2
    assert "New password for boss: " in shown
    assert "Type it again: " in shown
    assert "the two entries of the new password of boss differ; nothing was changed" in shown
    assert ADMIN_PW not in shown
    assert "Different-pw1" not in shown
    code, shown = run_in_terminal(station, ["users", "add", ADMIN, "--role", "admin"],
                                  [ADMIN_PW, ADMIN_PW])
    assert code == 0, shown
    assert ADMIN_PW not in shown
    code, shown = run_in_terminal(station, ["users", "list", "--as", ADMIN], [ADMIN_PW])
    assert code == 0, shown
    assert "Password for boss: " in shown
    assert ADMIN_PW not in shown


# -- names people type --------------------------------------------------------------------


@pytest.fixture
def in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`hmi.cli.main` in this process (no argv limit of 128 KiB per argument)."""
    monkeypatch.setenv("HMI_LOG_DIR", str(tmp_path / "log"))
    level = logging.getLogger().level
    yield
    logging.getLogger().setLevel(level)


def run_main(args: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(("name", "problem"), [
    ("", "the user name is empty"),
    ("   ", "the user name is empty"),
    ("a\x07b", "control characters (U+0007)"),
    ("a\nb", "control characters (U+000A)"),
    ("a\u202eb", "control characters (U+202E)"),  # right-to-left override hides text
    ("a b", "has a space in it"),
    ("x" * 65, "is 65 characters long; at most 64"),
    ("x" * 1_000_000, "is 1000000 characters long; at most 64"),
    ("x'; DROP TABLE users;--", "has a space in it"),
])
def test_bad_user_names_are_refused_in_one_line(
    tmp_path: Path, in_process: None, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], name: str, problem: str,
) -> None:
    data = tmp_path / "data"
    for args in (["users", "add", name, "--role", "admin"],
                 ["users", "passwd", name, "--as", ADMIN],
                 ["users", "disable", name, "--reason", "r", "--as", ADMIN]):
        code, out, err = run_main([*args, "--password-stdin", "--data", str(data)],
                                  ADMIN_PW + "\n" + ADMIN_PW + "\n", monkeypatch, capsys)
        assert code == 2
        assert out == ""
        assert err.count("\n") == 1, err[:200]
        assert err.startswith(f"hmi {' '.join(args[:2])}: ")
        assert problem in err
        assert len(err) < 300
    assert not data.exists()  # refused before the database was even opened


def test_a_megabyte_as_name_is_audited_shortened(
    tmp_path: Path, in_process: None, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    station = Station(tmp_path)
    station.first_admin()
    code, _, err = run_main(["users", "list", "--as", "\x1b[2J" + "y" * 1_000_000,
                             "--password-stdin", "--data", str(station.data)],
                            "whatever\n", monkeypatch, capsys)
    assert code == 2
    assert err == "hmi users list: Wrong user name or password.\n"
    row = station.audit_rows()[-1]
    assert row["action"] == "login_failed"
    assert str(row["user_name"]).startswith("\N{REPLACEMENT CHARACTER}[2Jyyy")
    assert len(str(row["user_name"])) == 65


def test_sql_like_and_unicode_names_are_stored_verbatim(staffed: Station) -> None:
    names = ["x';DROP/**/TABLE/**/users;--", "Müller", "操作员1", 'Robert");--']
    for n, name in enumerate(names):
        staffed.add_user(name, "operator", f"Pässw0rd-{n}-ok")
    decomposed = "Mu\u0308ller"  # the same name typed with a combining diaeresis
    result = staffed.run("users", "passwd", decomposed, "--as", decomposed,
                         "--password-stdin", stdin="Pässw0rd-1-ok\nN3w-pässword\n")
    assert result.code == 0, result.err
    result = staffed.run("users", "list", "--as", "操作员1", "--password-stdin",
                         stdin="Pässw0rd-2-ok\n")
    assert "may not manage users" in one_line_error(result, "users list")
    users = listed(staffed)
    assert set(users) == {ADMIN, OPERATOR, ENGINEER, *names}
    with sqlite3.connect(staffed.database) as connection:
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
        stored = {r[0] for r in connection.execute("SELECT name FROM users")}
    assert "users" in tables
    assert stored == {ADMIN, OPERATOR, ENGINEER, *names}
    assert "Mu\u0308ller" not in stored  # NFC: one way to write each name


def test_full_name_and_reason_are_checked(staffed: Station) -> None:
    result = staffed.as_admin("users", "add", "a.b", "--role", "operator", "--full-name",
                              "A\x01B", then="Passw0rd-ab")
    error = one_line_error(result, "users add")
    assert "the full name holds" in error
    assert "U+0001" in error
    result = staffed.as_admin("users", "disable", OPERATOR, "--reason", "  ")
    assert "the reason is empty: say why" in one_line_error(result, "users disable")
    result = staffed.as_admin("users", "disable", OPERATOR, "--reason", "r" * 100_000)
    assert "the reason is 100,000 characters long" in one_line_error(result, "users disable")
