"""Each production rule's open period, so a restart (also after a crash) loses no part.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "production_open",
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("period_start", sa.Float(), nullable=False),
        sa.Column("good_last", sa.BigInteger(), nullable=True),
        sa.Column("good_total", sa.BigInteger(), nullable=False),
        sa.Column("good_gap", sa.Boolean(), nullable=False),
        sa.Column("reject_last", sa.BigInteger(), nullable=True),
        sa.Column("reject_total", sa.BigInteger(), nullable=False),
        sa.Column("reject_gap", sa.Boolean(), nullable=False),
        sa.Column("saved_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("rule"),
    )


def downgrade() -> None:
    op.drop_table("production_open")
