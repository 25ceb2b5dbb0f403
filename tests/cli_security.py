"""Helpers for the tests of `hmi users`, `hmi audit` and `hmi secrets`: a station (data
folder, log folder, a file keyring) that `python -m hmi` subprocesses share, passwords
on stdin, and a real terminal (pty) for the prompts."""

from __future__ import annotations

import os
import select
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from hmi.core.security import Role, SecuritySettings
from hmi.runtime import DATABASE_FILE
from hmi.services.security import StationSecurity
from hmi.store.database import open_database
from tests.file_keyring import BACKEND, FILE_ENV

ROOT = Path(__file__).resolve().parents[1]
ADMIN, ADMIN_PW = "boss", "Adm1n-passw0rd"
OPERATOR, OPERATOR_PW = "j.smith", "Operat0r-pass"
ENGINEER, ENGINEER_PW = "e.ng", "Eng1neer-pass"
CRASH_TEXT = ("Traceback", "Fatal Python error")


@dataclass
class Run:
    code: int
    out: str
    err: str


@dataclass
class Station:
    """One workstation's folders; ``run`` is `hmi ARGS --data DATA` with them."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def database(self) -> Path:
        return self.data / DATABASE_FILE

    @property
    def keyring_file(self) -> Path:
        return self.root / "keyring.json"

    def env(self, backend: str = BACKEND) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            "PYTHON_KEYRING_BACKEND": backend,  # never the real keyring of this machine
            FILE_ENV: str(self.keyring_file),
            "HMI_LOG_DIR": str(self.log_dir),
            # nothing may land in the real user folders, whatever a command defaults to
            "XDG_DATA_HOME": str(self.root / "xdg-data"),
            "XDG_STATE_HOME": str(self.root / "xdg-state"),
        })
        return env

    def run(self, *args: str, stdin: str | None = "", data: bool = True,
            backend: str = BACKEND, verbose: bool = False) -> Run:
        """``hmi [-v] ARGS [--data DATA]``; ``stdin`` None: stdin is /dev/null."""
        argv = [sys.executable, "-m", "hmi", *(["-v"] if verbose else []), *args]
        if data:
            argv += ["--data", str(self.data)]
        result = subprocess.run(
            argv, cwd=self.root, input=stdin if stdin is not None else None,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True, text=True, encoding="utf-8", timeout=60, check=False,
            env=self.env(backend),
            start_new_session=True,  # no controlling terminal: a prompt fails, never waits
        )
        for text in CRASH_TEXT:
            assert text not in result.stderr, result.stderr
        return Run(result.returncode, result.stdout, result.stderr)

    def as_admin(self, *args: str, then: str = "", verbose: bool = False) -> Run:
        """``ARGS --as boss --password-stdin``, the admin's password then ``then``."""
        lines = ADMIN_PW + "\n" + (then + "\n" if then else "")
        return self.run(*args, "--as", ADMIN, "--password-stdin", stdin=lines,
                        verbose=verbose)

    def first_admin(self) -> None:
        result = self.run("users", "add", ADMIN, "--role", "admin", "--full-name",
                          "Bea Boss", "--password-stdin", stdin=ADMIN_PW + "\n")
        assert result.code == 0, result.err

    def add_user(self, name: str, role: str, password: str) -> None:
        result = self.as_admin("users", "add", name, "--role", role, then=password)
        assert result.code == 0, result.err

    def copy_from(self, template: Path) -> Station:
        shutil.copytree(template, self.data)
        return self

    def audit_rows(self) -> list[dict[str, object]]:
        with sqlite3.connect(self.database) as connection:
            connection.row_factory = sqlite3.Row
            rows = connection.execute("SELECT * FROM audit_trail ORDER BY seq").fetchall()
        return [dict(row) for row in rows]

    def log_text(self) -> str:
        return "".join(p.read_text(encoding="utf-8") for p in sorted(self.log_dir.glob("*")))


def build_staffed(data: Path) -> None:
    """A station with its administrator, an operator and an engineer, made in this
    process (a subprocess per user would cost seconds per test)."""
    data.mkdir(parents=True)
    database = open_database(data / DATABASE_FILE)
    try:
        users = StationSecurity.build(database, SecuritySettings()).users
        admin = users.first_admin(ADMIN, ADMIN_PW, "Bea Boss")
        users.add(admin, OPERATOR, Role.OPERATOR, OPERATOR_PW)
        users.add(admin, ENGINEER, Role.ENGINEER, ENGINEER_PW)
    finally:
        database.close()


@pytest.fixture(scope="session")
def staffed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("staffed") / "data"
    build_staffed(data)
    return data


def one_line_error(result: Run, title: str) -> str:
    """The error of a refused command: exit 2, one line on stderr naming the command."""
    assert result.code == 2, (result.out, result.err)
    assert result.err.count("\n") == 1, result.err
    assert result.err.startswith(f"hmi {title}: "), result.err
    return result.err


def run_in_terminal(station: Station, args: list[str], answers: list[str],
                    timeout: float = 60.0) -> tuple[int, str]:
    """``hmi ARGS`` on a pseudo-terminal: each prompt (a line ending in ": ") gets the next
    answer typed; returns the exit code and everything the terminal showed."""
    import pty  # POSIX only

    env = station.env()
    argv = [sys.executable, "-m", "hmi", *args, "--data", str(station.data)]
    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty, as at a real console
        try:
            os.chdir(station.root)
            os.execve(sys.executable, argv, env)
        finally:
            os._exit(127)
    shown, pending = b"", list(answers)
    since_answer = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            since_answer += chunk
            if pending and since_answer.rstrip(b" ").endswith(b":"):
                os.write(fd, pending.pop(0).encode("utf-8") + b"\r")
                since_answer = b""
        else:
            os.kill(pid, 9)
            raise AssertionError(f"no end after {timeout} s; the terminal showed {shown!r}")
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode("utf-8", "replace")
