"""Alembic: open_database migrates to head; the migrated schema is exactly hmi.store.schema's;
opening again changes nothing; a database made before migrations is adopted."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from hmi.core.samples import Quality, Sample
from hmi.store.database import StoreError, alembic_config, open_database
from hmi.store.historian_retention import count_rows
from hmi.store.historian_writer import HistorianWriter
from hmi.store.schema.metadata import metadata
from tests.store.test_historian_fixtures import BACKENDS, database_url

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_migrations_ship_as_a_package_with_one_head() -> None:
    folder = resources.files("hmi.store.migrations")
    assert folder.joinpath("env.py").is_file()
    assert folder.joinpath("versions").joinpath("__init__.py").is_file()
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1
    assert HEAD == "0007"  # the newest revision: the open production periods
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text("utf-8")
    assert '"hmi.store.migrations"' in pyproject
    assert '"hmi.store.migrations.versions"' in pyproject


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_migrated_schema_is_the_metadata(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        db = open_database(url)
        try:
            with db.engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                assert compare_metadata(context, metadata) == []
                assert context.get_current_revision() == HEAD
        finally:
            db.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_opening_again_is_idempotent_and_keeps_the_data(backend: str, tmp_path: Path) -> None:
    sample = Sample("x", 1.0, Quality.GOOD, 1_700_000_000.0, 1_700_000_000.0)
    with database_url(backend, tmp_path) as url:
        db = open_database(url)
        assert HistorianWriter(db).write([sample])
        db.close()
        for _ in range(2):
            again = open_database(url)
            try:
                assert count_rows(again, "historian_samples") == 1
                with again.engine.connect() as connection:
                    versions = connection.execute(text("SELECT version_num FROM alembic_version"))
                    assert versions.scalars().all() == [HEAD]
            finally:
                again.close()


def test_a_database_made_before_migrations_is_adopted(tmp_path: Path) -> None:
    """Databases made by metadata.create_all (before this revision) hold some tables
    already: the first revision creates only what is missing and keeps their rows."""
    path = tmp_path / "old.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    old_tables = [metadata.tables[n] for n in ("production_events", "event_confirmations",
                                                 "outbox")]
    metadata.create_all(engine, tables=old_tables)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO outbox (id, kind, payload, created_at, status, attempts, last_error,"
            " next_attempt_at) VALUES ('a', 'k', '{}', 1.0, 'pending', 0, '', 0.0)"
        ))
    engine.dispose()
    db = open_database(path)
    try:
        assert set(metadata.tables) <= set(inspect(db.engine).get_table_names())
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 1
            context = MigrationContext.configure(connection)
            assert compare_metadata(context, metadata) == []
    finally:
        db.close()


def test_a_database_from_a_newer_version_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "newer.sqlite"
    open_database(path).close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="newer version of the HMI") as caught:
        open_database(path)
    assert str(path) in str(caught.value)
