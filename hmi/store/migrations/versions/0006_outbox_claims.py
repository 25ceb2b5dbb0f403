"""Outbox claims: an item is claimed with a lease before it is posted, so two senders
sharing one store never post the same item at once.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a database made before migrations (metadata.create_all) may have them already
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("outbox")}
    if "claimed_by" not in have:
        op.add_column("outbox", sa.Column("claimed_by", sa.String(length=100), nullable=True))
    if "claimed_until" not in have:
        op.add_column("outbox", sa.Column("claimed_until", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
