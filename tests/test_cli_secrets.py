"""`hmi secrets set|check` as subprocesses: a test keyring in a file the processes share
(tests/file_keyring.py, chosen with PYTHON_KEYRING_BACKEND), who may set a secret, the
audit row that names it and never holds it, no backend at all, and a planted secret
that must not turn up in any log, output or database file."""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from hmi.core.site import MesLink
from hmi.mes.secrets import BACKEND_ADVICE, SERVICE, read_api_key
from tests.cli_security import (
    ADMIN,
    ADMIN_PW,
    ENGINEER,
    ENGINEER_PW,
    OPERATOR,
    OPERATOR_PW,
    Run,
    Station,
    one_line_error,
    run_in_terminal,
    staffed_template,
)
from tests.file_keyring import FILE_ENV, FileKeyring

__all__ = ["staffed_template"]  # a fixture, used by name

NAME = "mes-api-key"
NO_BACKEND = "keyring.backends.fail.Keyring"


@pytest.fixture
def station(tmp_path: Path) -> Station:
    return Station(tmp_path)


@pytest.fixture
def staffed(station: Station, staffed_template: Path) -> Station:
    return station.copy_from(staffed_template)


def stored(station: Station) -> dict[str, str]:
    if not station.keyring_file.exists():
        return {}
    return dict(json.loads(station.keyring_file.read_text(encoding="utf-8")))


def set_as(station: Station, user: str, password: str, value: str, name: str = NAME,
           verbose: bool = False) -> Run:
    return station.run("secrets", "set", name, "--stdin", "--as", user, "--password-stdin",
                       stdin=f"{password}\n{value}\n", verbose=verbose)


def test_set_on_a_new_station_then_check(station: Station) -> None:
    result = station.run("secrets", "set", NAME, "--stdin", stdin="k3y-value-1\n")
    assert result.code == 0, result.err
    assert result.out == f"stored the secret '{NAME}' in the keyring (file keyring " \
        "FileKeyring)\n"
    assert "k3y-value-1" not in result.out + result.err
    assert stored(station) == {f"{SERVICE}/{NAME}": "k3y-value-1"}
    (row,) = station.audit_rows()
    assert (row["user_name"], row["role"], row["action"], row["object"]) == (
        "system", "system", "secret_set", NAME)
    assert row["reason"].startswith("stored a new value; set before any HMI user existed, "
                                    "by OS user ")
    assert "k3y-value-1" not in json.dumps(row)

    check = station.run("secrets", "check", NAME, data=False)
    assert (check.code, check.out) == (0, f"{NAME}: set\n")
    missing = station.run("secrets", "check", "capper-password", data=False)
    assert missing.code == 1
    assert missing.out == "capper-password: not set (store it with: hmi secrets set " \
        "capper-password)\n"


def test_the_app_reads_what_was_set(station: Station, monkeypatch: pytest.MonkeyPatch) -> None:
    assert station.run("secrets", "set", NAME, "--stdin", stdin="k3y-value-2\n").code == 0
    monkeypatch.setenv(FILE_ENV, str(station.keyring_file))
    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring())  # type: ignore[no-untyped-call]
    try:
        link = MesLink(url="http://127.0.0.1:1/", api_key_secret=NAME)
        assert read_api_key(link) == "k3y-value-2"
    finally:
        keyring.set_keyring(previous)


def test_once_users_exist_it_takes_a_user_who_may_change_the_config(staffed: Station) -> None:
    result = staffed.run("secrets", "set", NAME, "--stdin", stdin="k3y-value-3\n")
    assert "give --as NAME: a user with the role Engineer, Administrator" in one_line_error(
        result, "secrets set")
    denied = set_as(staffed, OPERATOR, OPERATOR_PW, "k3y-value-3")
    assert f"{OPERATOR} (Operator) may not change the configuration" in one_line_error(
        denied, "secrets set")
    assert stored(staffed) == {}
    row = staffed.audit_rows()[-1]
    assert (row["user_name"], row["action"], row["object"], row["new_value"]) == (
        OPERATOR, "permission_denied", NAME, "edit_config")

    first = set_as(staffed, ENGINEER, ENGINEER_PW, "k3y-value-3")
    assert first.code == 0, first.err
    second = set_as(staffed, ADMIN, ADMIN_PW, "k3y-value-4")
    assert second.code == 0, second.err
    assert stored(staffed) == {f"{SERVICE}/{NAME}": "k3y-value-4"}
    rows = [r for r in staffed.audit_rows() if r["action"] == "secret_set"]
    assert [(r["user_name"], r["role"], r["object"], r["old_value"], r["new_value"],
             r["reason"]) for r in rows] == [
        (ENGINEER, "engineer", NAME, "", "", "stored a new value"),
        (ADMIN, "admin", NAME, "", "", "replaced the stored value"),
    ]
    wrong = set_as(staffed, ENGINEER, "not-it-at-all", "k3y-value-5")
    assert "Wrong user name or password." in one_line_error(wrong, "secrets set")
    assert stored(staffed) == {f"{SERVICE}/{NAME}": "k3y-value-4"}
    assert f"secret {NAME} replaced by {ADMIN}" in staffed.log_text()


def test_no_keyring_backend_says_how_to_configure_one(station: Station) -> None:
    for args in (["secrets", "set", NAME, "--stdin"], ["secrets", "check", NAME]):
        result = station.run(*args, stdin="k3y-value-6\n", backend=NO_BACKEND,
                             data=args[1] == "set")
        error = one_line_error(result, " ".join(args[:2]))
        assert "no usable keyring backend on this machine" in error
        assert BACKEND_ADVICE in error
    assert not station.data.exists()  # refused before anything was opened or asked


@pytest.mark.parametrize(("name", "problem"), [
    ("", "the secret name is empty"),
    ("mes api key", "spaces or control characters"),
    ("mes\x1b[2Jkey", "spaces or control characters"),
    ("k" * 129, "is 129 characters long; at most 128"),
])
def test_bad_names_are_refused(station: Station, name: str, problem: str) -> None:
    result = station.run("secrets", "set", name, "--stdin", stdin="k3y-value-7\n")
    assert problem in one_line_error(result, "secrets set")
    assert stored(station) == {}


@pytest.mark.parametrize(("value", "problem"), [
    ("", "line 1 of standard input (the secret 'mes-api-key') is empty"),
    ("red\x1b[31mkey", "the secret holds control characters"),
    ("k" * 5000, "the secret is 5,000 characters long; at most 4,096"),
])
def test_bad_values_are_refused_without_repeating_them(station: Station, value: str,
                                                       problem: str) -> None:
    result = station.run("secrets", "set", NAME, "--stdin", stdin=value + "\n")
    error = one_line_error(result, "secrets set")
    assert problem in error
    assert value not in error or not value
    assert stored(station) == {}
    assert station.audit_rows() == []


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX pseudo-terminal")
def test_a_typed_secret_is_asked_twice_and_never_echoed(station: Station) -> None:
    code, shown = run_in_terminal(station, ["secrets", "set", NAME], ["k3y-typed-1", "k3y-typo"])
    assert code == 2
    assert f"Secret for {NAME} (service 'hmi'): " in shown
    assert "the two entries of the secret 'mes-api-key' differ; nothing was changed" in shown
    assert stored(station) == {}
    code, shown = run_in_terminal(station, ["secrets", "set", NAME], ["k3y-typed-1"] * 2)
    assert code == 0, shown
    assert "k3y-typed-1" not in shown
    assert stored(station) == {f"{SERVICE}/{NAME}": "k3y-typed-1"}


# -- a planted secret ---------------------------------------------------------------------


@pytest.fixture
def opcua_user_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """An OPC UA server taking one user whose password is a fresh random value, with no
    channel security: the password travels (and would be logged) in clear."""
    from tests.test_cli_opcua import ServerInThread

    password = "planted-" + secrets.token_hex(16)
    with ServerInThread(user=("operator", password)) as server:
        yield server.endpoint, password


def test_a_planted_secret_appears_in_no_log_output_or_database(
    staffed: Station, opcua_user_server: tuple[str, str],
) -> None:
    endpoint, planted = opcua_user_server
    outputs: list[str] = []

    def run(*args: str, stdin: str = "", data: bool = True) -> None:
        result = staffed.run(*args, stdin=stdin, data=data, verbose=True)
        assert result.code in (0, 1), result.err[-2000:]
        outputs.extend((result.out, result.err))

    run("secrets", "set", "capper-password", "--stdin", "--as", ENGINEER, "--password-stdin",
        stdin=f"{ENGINEER_PW}\n{planted}\n")
    run("secrets", "set", "capper-password", "--stdin", "--as", ADMIN, "--password-stdin",
        stdin=f"{ADMIN_PW}\n{planted}\n")
    run("secrets", "check", "capper-password", data=False)
    # the OPC UA client reads it from the keyring and logs in with it, at debug level
    run("browse", endpoint, "--depth", "1", "--username", "operator", "--password-secret",
        "capper-password", "--pki", str(staffed.root / "pki"), data=False)
    assert "ns=2;s=Capper" in outputs[-2]
    run("users", "list", "--as", ADMIN, "--password-stdin", stdin=ADMIN_PW + "\n")
    run("audit", "verify")
    csv_out = staffed.root / "audit.csv"
    run("audit", "export", "--from", "-1d", "--to", "now+1m", "--csv", str(csv_out),
        "--as", ADMIN, "--password-stdin", stdin=ADMIN_PW + "\n")
    assert stored(staffed) == {f"{SERVICE}/capper-password": planted}  # it is there

    needle = planted.encode("utf-8")
    scanned = [*staffed.log_dir.iterdir(), *staffed.data.glob("hmi.sqlite3*"), csv_out]
    assert any(p.name == "hmi.log" for p in scanned)
    assert any("login: boss (admin)" in p.read_text("utf-8") for p in scanned
               if p.name == "hmi.log")
    for path in scanned:
        assert needle not in path.read_bytes(), f"the planted secret is in {path}"
    for text in outputs:
        assert planted not in text
    assert "DEBUG" in "".join(outputs)  # it really ran at debug level
    assert "Password=<hidden>" in "".join(outputs)  # asyncua's request dump, cut
    # nor any other password typed today
    logged = staffed.log_text() + "".join(outputs)
    for password in (ADMIN_PW, ENGINEER_PW):
        assert password not in logged
    for path in staffed.data.glob("hmi.sqlite3*"):
        assert ADMIN_PW.encode() not in path.read_bytes()
