"""Open the one database: SQLite (WAL, synchronous=FULL) by default, any SQLAlchemy URL.

Opening runs the Alembic migrations in hmi/store/migrations up to head (a no-op on a
database that is already there), so the schema is always the one hmi.store.schema declares.
The historian writes through its own engine (``Database.ingest_engine``) with relaxed
commit durability; events, confirmations and the outbox keep synchronous=FULL.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from hmi.store.schema.metadata import metadata

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
# The historian's connection caches more pages: its inserts touch one leaf per tag.
INGEST_CACHE_KIB = 32 * 1024
# SQLite folds the WAL back into the database file (a checkpoint: copy, then fsync) after
# a commit leaves more than 1,000 pages (4 MiB) in it. A historian transaction dirties
# about one leaf page per tag, so with that default nearly every commit paid a checkpoint,
# and a leaf changed by successive commits was copied once per commit. At 10,000 pages
# (~40 MiB of WAL) the copies are shared by several commits: about a third of the commit
# time at 5,000-row transactions. Durability is the same: a commit is in the WAL either
# way (synchronous decides when it is flushed); a checkpoint only moves committed pages.
# The cost is disk: the WAL file keeps its largest size, ~40 MiB plus one transaction.
INGEST_WAL_AUTOCHECKPOINT_PAGES = 10_000


class StoreError(Exception):
    """The store cannot do what was asked; the message says what to do about it."""


class Database:
    """An opened database: the engine plus where it lives, for messages."""

    def __init__(self, engine: Engine, location: str) -> None:
        self.engine = engine
        self.location = location  # the file path for SQLite, else the URL without password
        self._ingest_engines: list[Engine] = []

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def ingest_engine(self, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
        """A second engine on the same database for bulk historian writes.

        Its commits are not waited onto disk: SQLite synchronous=NORMAL (in WAL mode a
        power cut can take back the last commits, never corrupt the file), PostgreSQL
        synchronous_commit=off (the same trade, at most ~3 x wal_writer_delay). Losing
        the last half second of trend samples is acceptable; losing an operator's
        confirmation is not, so ``engine`` keeps FULL for events, audit and outbox.
        On SQLite it also checkpoints the WAL less often (INGEST_WAL_AUTOCHECKPOINT_PAGES).
        Disposed by ``close``.
        """
        url = self.engine.url
        if self.is_sqlite and url.database in (None, "", ":memory:"):
            return self.engine  # a second in-memory engine would be another database
        engine = create_engine(url)
        if self.is_sqlite:
            pragmas = functools.partial(
                _set_sqlite_pragmas,
                synchronous="NORMAL",
                busy_timeout_ms=busy_timeout_ms,
                cache_kib=INGEST_CACHE_KIB,
                wal_autocheckpoint_pages=INGEST_WAL_AUTOCHECKPOINT_PAGES,
            )
            event.listen(engine, "connect", pragmas)
        elif engine.dialect.name == "postgresql":
            event.listen(engine, "connect", _relax_postgresql_commit)
        self._ingest_engines.append(engine)
        return engine

    def close(self) -> None:
        for engine in self._ingest_engines:
            engine.dispose()
        self._ingest_engines.clear()
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.location!r})"


def _set_sqlite_pragmas(
    dbapi_connection: Any,
    _record: Any,
    synchronous: str = "FULL",
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    cache_kib: int = 0,
    wal_autocheckpoint_pages: int = 0,
) -> None:
    """Per connection: WAL, durable commits, enforced foreign keys, wait on locks."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk (WAL fsynced) before it returns, so the operator is
        # never told "confirmed" for a row a power cut can take back.
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if cache_kib:
            cursor.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        if wal_autocheckpoint_pages:
            cursor.execute(f"PRAGMA wal_autocheckpoint={int(wal_autocheckpoint_pages)}")
    finally:
        cursor.close()


def _relax_postgresql_commit(dbapi_connection: Any, _record: Any) -> None:
    """Historian connections on PostgreSQL: commit without waiting for the WAL flush."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET synchronous_commit TO OFF")
    finally:
        cursor.close()
    dbapi_connection.commit()


def _migrations_folder() -> Path:
    # The package is installed as files (never zipped), so its resource is a real folder.
    return Path(str(resources.files("hmi.store.migrations")))


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration, built in code (there is no alembic.ini): scripts from
    the installed package ``hmi.store.migrations``, run on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(_migrations_folder()))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_schema(engine: Engine) -> None:
    """Bring the database to the newest revision, in one transaction where the database
    allows transactional DDL (SQLite and PostgreSQL both do)."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")


def _with_default_driver(url: URL) -> URL:
    """``postgresql://`` means psycopg 3 (the driver we ship), not psycopg2."""
    if url.drivername == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    return url


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
        url = _with_default_driver(url)
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
        upgrade_schema(engine)
        tables = set(inspect(engine).get_table_names())
    except (SQLAlchemyError, sqlite3.Error, CommandError) as exc:
        engine.dispose()
        reason = getattr(exc, "orig", None) or exc
        if "not a database" in str(reason):
            hint = (
                "it is not an HMI database (another file at that path?): move it away or "
                "choose another database path"
            )
        elif isinstance(exc, CommandError) and "Can't locate revision" in str(reason):
            hint = (
                "it was written by a newer version of the HMI (its schema revision is "
                "unknown here): run that version, or choose another database path"
            )
        else:
            hint = "check the path or URL, permissions and free disk space"
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
