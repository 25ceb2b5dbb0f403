"""Open the one database: SQLite (WAL, synchronous=FULL) by default, any SQLAlchemy URL.

The schema is created with ``metadata.create_all`` for now; Alembic migrations replace
this with a later issue (the first migration must match hmi/store/schema.py).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from hmi.store.schema import metadata

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


class StoreError(Exception):
    """The store cannot do what was asked; the message says what to do about it."""


class Database:
    """An opened database: the engine plus where it lives, for messages."""

    def __init__(self, engine: Engine, location: str) -> None:
        self.engine = engine
        self.location = location  # the file path for SQLite, else the URL without password

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.location!r})"


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Per connection: WAL, durable commits, enforced foreign keys, wait on locks."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk (WAL fsynced) before it returns, so the operator is
        # never told "confirmed" for a row a power cut can take back.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _check_sqlite_path(path: Path) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise StoreError(
            f"cannot open the database {path}: the folder {folder} does not exist; "
            "create it or choose another database path"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(
            f"cannot open the database {path}: the folder {folder} is read-only; "
            "SQLite in WAL mode needs to write beside the file: give this user write "
            "access or choose another database path"
        )
    if path.exists():
        if path.is_dir():
            raise StoreError(f"cannot open the database {path}: it is a folder; give a file path")
        if not os.access(path, os.R_OK | os.W_OK):
            raise StoreError(
                f"cannot open the database {path}: the file is read-only for this user; "
                "give this user write access or choose another database path"
            )


def open_database(url_or_path: str | os.PathLike[str]) -> Database:
    """Open (creating if needed) the database at a file path or a SQLAlchemy URL."""
    raw = os.fspath(url_or_path)
    if "://" in raw:
        try:
            url = make_url(raw)
        except ArgumentError as exc:
            raise StoreError(f"cannot open the database: {raw!r} is not a valid URL") from exc
        path = Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None
        if path is not None and str(path) == ":memory:":
            path = None
        location = str(path) if path is not None else url.render_as_string(hide_password=True)
    else:
        path = Path(raw).expanduser()
        url = make_url(f"sqlite:///{path}")
        location = str(path)

    if path is not None:
        _check_sqlite_path(path)
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _set_sqlite_pragmas)
    try:
        metadata.create_all(engine)
        tables = set(inspect(engine).get_table_names())
    except (SQLAlchemyError, sqlite3.Error) as exc:
        engine.dispose()
        reason = getattr(exc, "orig", None) or exc
        hint = (
            "it is not an HMI database (another file at that path?): move it away or "
            "choose another database path"
            if "not a database" in str(reason)
            else "check the path or URL, permissions and free disk space"
        )
        raise StoreError(f"cannot open the database {location}: {reason}; {hint}") from exc
    missing = set(metadata.tables) - tables
    if missing:
        engine.dispose()
        raise StoreError(f"the database {location} lacks tables {sorted(missing)}")
    log.info("opened database %s", location)
    return Database(engine, location)


def sqlite_pragma(db: Database, name: str) -> object:
    """Read one PRAGMA value (for diagnostics and tests); SQLite only."""
    if not db.is_sqlite or not name.isidentifier():
        raise StoreError(f"PRAGMA {name!r} is only available on SQLite")
    with db.engine.connect() as connection:
        return connection.execute(text(f"PRAGMA {name}")).scalar()
