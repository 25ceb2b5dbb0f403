"""The HMI's log file: ``<log dir>/hmi.log``, rotated at 5 MB, five old files kept.

The app and the CLI's database commands write to the same file, so one place holds the
logins, failed logins, lockouts and refusals of the ``hmi.security`` logger, whichever
program saw them. The folder is platformdirs' user log folder unless given; the
``HMI_LOG_DIR`` environment variable moves it (tests, a site that logs elsewhere).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
from pathlib import Path

LOG_FILE = "hmi.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUP_COUNT = 5
LOG_DIR_ENV = "HMI_LOG_DIR"
FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(process)d]: %(message)s"
_HANDLER_NAME = "hmi-log-file"
# SQLAlchemy logs every statement with its parameters (password hashes among them) at
# INFO once its logger is enabled. It sets itself to WARNING on import; this keeps it
# there whatever else lowered it: a log file is no place for those, at any level.
_QUIET = ("sqlalchemy",)


# asyncua logs every request it sends at DEBUG, ActivateSession's UserNameIdentityToken
# with the OPC UA password among them (in clear on a channel without security); its
# server side does the same with what it receives. Such values are cut out of every
# record before any handler writes it.
_PASSWORD_VALUE = re.compile(
    r"""(password\s*=\s*)(b?'(?:[^'\\]|\\.)*'|b?"(?:[^"\\]|\\.)*"|[^,)\s]+)""",
    re.IGNORECASE,
)
HIDDEN = "<hidden>"


class RedactSecrets(logging.Filter):
    """Replaces ``Password=...`` in a record's message with ``Password=<hidden>``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "assword" in message:
            hidden = _PASSWORD_VALUE.sub(rf"\g<1>{HIDDEN}", message)
            if hidden != message:
                record.msg, record.args = hidden, None
        return True


def redact_secrets() -> None:
    """Put RedactSecrets on every handler of the root logger (once each); the CLI calls
    it for its console, configure_logging for the file."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())


class LogSetupError(OSError):
    """The log folder or file cannot be written; the message says where and why."""


def default_log_dir() -> Path:
    """``$HMI_LOG_DIR`` if set, else the user log folder (Linux: ~/.local/state/hmi/log)."""
    override = os.environ.get(LOG_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs  # noqa: PLC0415 (only when no folder is given)

    return Path(platformdirs.user_log_dir("hmi", appauthor=False))


class _SharedRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating handler that keeps writing when another process holds the file open
    (Windows refuses the rename while the app and a CLI command both log): it then
    carries on in the current file instead of printing a logging error per record."""

    def doRollover(self) -> None:  # noqa: N802 (logging's name)
        try:
            super().doRollover()
        except OSError:
            if self.stream is None:
                self.stream = self._open()


def configure_logging(log_dir: Path | None = None, level: int = logging.INFO) -> Path:
    """Send records at ``level`` and above to ``<log_dir>/hmi.log``; returns that path.

    Handlers already on the root logger (the console's) keep the level they had, so
    the console does not get chattier. Calling it again replaces the earlier file handler.
    """
    folder = log_dir if log_dir is not None else default_log_dir()
    path = folder / LOG_FILE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = _SharedRotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8"
        )
    except OSError as exc:
        raise LogSetupError(
            f"cannot write the log file {path}: {exc.strerror or exc}; give a writable "
            f"folder with --log-dir DIR or the {LOG_DIR_ENV} environment variable"
        ) from None
    handler.set_name(_HANDLER_NAME)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    stop_logging()
    if root.level > level:
        for other in root.handlers:
            if other.level == logging.NOTSET:
                other.setLevel(root.level)
        root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    root.addHandler(handler)
    redact_secrets()
    return path


def stop_logging() -> None:
    """Close and remove the file handler ``configure_logging`` added (if any)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
            handler.close()
