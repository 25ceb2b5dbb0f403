"""Databases for the historian tests: SQLite in a temp dir, and PostgreSQL when
HMI_TEST_POSTGRES_URL names a server (.ci/run starts one and sets it).

Each PostgreSQL test gets a database of its own, created from the URL's server and
dropped afterwards. The PostgreSQL cases are skipped only when the variable is unset,
with that reason in the summary (-ra).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hmi.store.database import Database, open_database

POSTGRES_URL = os.environ.get("HMI_TEST_POSTGRES_URL", "")
POSTGRES_SKIP_REASON = (
    "HMI_TEST_POSTGRES_URL is not set: the PostgreSQL cases need a server "
    "(.ci/run starts one; or export HMI_TEST_POSTGRES_URL=postgresql+psycopg://user@127.0.0.1:port/db)"
)
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason=POSTGRES_SKIP_REASON),
    ),
]


@contextmanager
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of this backend, removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'hmi.sqlite'}"
        return
    server = make_url(POSTGRES_URL)
    name = f"hmi_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def fresh_database(backend: str, tmp_path: Path) -> Iterator[Database]:
    """An opened (migrated) empty database of this backend."""
    with database_url(backend, tmp_path) as url:
        db = open_database(url)
        try:
            yield db
        finally:
            db.close()


def test_postgresql_is_skipped_only_without_the_variable() -> None:
    marks = BACKENDS[1].marks
    assert len(marks) == 1
    assert marks[0].args == (not POSTGRES_URL,)
    assert "HMI_TEST_POSTGRES_URL is not set" in marks[0].kwargs["reason"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_test_gets_an_empty_database(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as db:
        assert db.engine.dialect.name == backend
        with db.engine.connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM historian_samples"))
            assert count.scalar_one() == 0
