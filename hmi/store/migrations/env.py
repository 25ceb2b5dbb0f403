"""Alembic environment: runs on the connection hmi.store.database hands in.

There is no alembic.ini: ``open_database`` builds the Config in code and passes its open
connection as ``config.attributes["connection"]``. Developers generating a revision do
the same through ``hmi.store.database.alembic_config``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from hmi.store.schema.metadata import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things: later revisions copy-and-move the table.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "hmi migrations run through hmi.store.database (open_database or "
            "alembic_config), which hands in the connection; there is no alembic.ini"
        )
    _run(connection)


# Alembic executes this file with its context set up; a plain import (the architecture
# test imports every module) has no context and must do nothing.
if hasattr(context, "config"):
    _main()
