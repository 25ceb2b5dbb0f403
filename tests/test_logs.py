"""hmi.logs: the rotating log file, its folder, what reaches it (the hmi.security logger's
logins, failures, lockouts and refusals) and what never does (passwords in asyncua's
request dumps, SQL parameters)."""

from __future__ import annotations

import logging
import logging.handlers
import os
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

from hmi import logs
from hmi.cli import main
from hmi.core.security import Action, PermissionDeniedError, Role, SecuritySettings
from hmi.logs import LOG_DIR_ENV, LogSetupError, configure_logging, stop_logging
from hmi.runtime import DATABASE_FILE
from hmi.security.authentication import LoginRefusedError
from hmi.services.security import StationSecurity
from hmi.store.database import open_database


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    levels = {h: h.level for h in handlers}
    yield
    stop_logging()
    root.setLevel(level)
    for handler in handlers:
        handler.setLevel(levels[handler])
        for fil in [f for f in handler.filters if isinstance(f, logs.RedactSecrets)]:
            handler.removeFilter(fil)


def file_handlers() -> list[logging.handlers.RotatingFileHandler]:
    return [h for h in logging.getLogger().handlers
            if isinstance(h, logging.handlers.RotatingFileHandler)]


def test_the_file_rotates_at_5_mb_keeping_5_and_is_replaced_not_doubled(tmp_path: Path) -> None:
    path = configure_logging(tmp_path / "a")
    assert path == tmp_path / "a" / "hmi.log"
    (handler,) = file_handlers()
    assert (handler.maxBytes, handler.backupCount) == (5 * 1024 * 1024, 5)
    assert handler.encoding == "utf-8"
    logging.getLogger("hmi.test").info("Grüße aus 操作员1")
    second = configure_logging(tmp_path / "b")
    assert [h.baseFilename for h in file_handlers()] == [str(second)]
    line = path.read_text(encoding="utf-8").strip()
    assert line.endswith(f"INFO    hmi.test [{os.getpid()}]: Grüße aus 操作员1")
    assert line[:4].isdigit()  # a timestamp first
    stop_logging()
    assert file_handlers() == []


def test_the_console_does_not_get_chattier(tmp_path: Path) -> None:
    root = logging.getLogger()
    console = logging.StreamHandler()
    root.addHandler(console)
    root.setLevel(logging.WARNING)
    try:
        configure_logging(tmp_path, logging.DEBUG)
        assert root.level == logging.DEBUG
        assert console.level == logging.WARNING
    finally:
        root.removeHandler(console)


def test_the_folder_is_the_user_log_folder_unless_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(LOG_DIR_ENV, raising=False)
    assert logs.default_log_dir() == Path(platformdirs.user_log_dir("hmi", appauthor=False))
    monkeypatch.setenv(LOG_DIR_ENV, str(tmp_path / "env"))
    assert logs.default_log_dir() == tmp_path / "env"
    assert configure_logging() == tmp_path / "env" / "hmi.log"


def test_an_unwritable_folder_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(LogSetupError, match=r"cannot write the log file .*file/sub/hmi\.log: "
                                            r".*--log-dir DIR or the HMI_LOG_DIR"):
        configure_logging(blocker / "sub")
    assert file_handlers() == []


def test_the_cli_names_an_unwritable_log_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(["--log-dir", str(blocker), "audit", "verify", "--data", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("hmi audit: cannot write the log file ")
    assert err.count("\n") == 1


def test_a_rotation_refused_by_another_process_keeps_logging(tmp_path: Path) -> None:
    handler = logs._SharedRotatingFileHandler(tmp_path / "hmi.log", maxBytes=200,
                                              backupCount=2, encoding="utf-8")
    logger = logging.Logger("rotation-test")
    logger.addHandler(handler)

    def refuse(source: str, dest: str) -> None:
        raise PermissionError(13, "in use by another process")

    handler.rotate = refuse  # type: ignore[method-assign]
    try:
        for n in range(20):
            logger.warning("line %d %s", n, "x" * 40)
    finally:
        handler.close()
    text = (tmp_path / "hmi.log").read_text(encoding="utf-8")
    assert "line 19" in text


@pytest.mark.parametrize(("message", "shown"), [
    ("UserNameIdentityToken(PolicyId='username', UserName='op', Password=b'se\\'cr,et)', "
     "EncryptionAlgorithm=None)",
     "UserNameIdentityToken(PolicyId='username', UserName='op', Password=<hidden>, "
     "EncryptionAlgorithm=None)"),
    ('Password=b"two words", x=1', "Password=<hidden>, x=1"),
    ("connect user=op password=hunter2)", "connect user=op password=<hidden>)"),
    ("--password-stdin given", "--password-stdin given"),
])
def test_passwords_are_cut_from_every_record(tmp_path: Path, message: str, shown: str) -> None:
    path = configure_logging(tmp_path, logging.DEBUG)
    logging.getLogger("asyncua.client.ua_client.UASocketProtocol").debug("Sending: %s", message)
    text = path.read_text(encoding="utf-8")
    assert text.strip().endswith("Sending: " + shown)


def test_the_security_logger_reaches_the_file(tmp_path: Path) -> None:
    path = configure_logging(tmp_path / "log")
    database = open_database(tmp_path / DATABASE_FILE)
    try:
        station = StationSecurity.build(database, SecuritySettings(lockout_attempts=2))
        auth, users = station.auth, station.users
        admin = users.first_admin("boss", "Adm1n-passw0rd")
        users.add(admin, "olaf", Role.OPERATOR, "Shop-fl00r-pw")
        auth.login("olaf", "Shop-fl00r-pw")
        for _ in range(2):
            with pytest.raises(LoginRefusedError):
                auth.login("olaf", "wrong-password")
    finally:
        database.close()
    text = path.read_text(encoding="utf-8")
    for line in ("WARNING hmi.security", "login: olaf (operator)",
                 "login failed for olaf: wrong password (1 in a row)",
                 "account olaf locked until"):
        assert line in text
    assert "Shop-fl00r-pw" not in text
    assert "argon2" not in text  # no SQL parameters, no hashes


def test_a_refusal_is_logged(tmp_path: Path) -> None:
    path = configure_logging(tmp_path / "log")
    database = open_database(tmp_path / DATABASE_FILE)
    try:
        station = StationSecurity.build(database, SecuritySettings())
        auth, guard, users = station.auth, station.guard, station.users
        admin = users.first_admin("boss", "Adm1n-passw0rd")
        operator = users.add(admin, "olaf", Role.OPERATOR, "Shop-fl00r-pw")
        with pytest.raises(PermissionDeniedError):
            guard.require(auth.login(operator.name, "Shop-fl00r-pw"), Action.MANAGE_USERS)
    finally:
        database.close()
    assert "permission denied: olaf (Operator) may not manage users" in path.read_text("utf-8")
