"""Alarms: each alarm's current state and the journal of every transition.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alarm_states",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("acked", sa.Boolean(), nullable=False),
        sa.Column("latched", sa.Boolean(), nullable=False),
        sa.Column("shelved_until", sa.Float(), nullable=True),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column("out_of_service", sa.Boolean(), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "alarm_journal",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("state_before", sa.String(length=40), nullable=False),
        sa.Column("state_after", sa.String(length=40), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alarm_journal_time", "alarm_journal", ["time"])
    op.create_index("ix_alarm_journal_name_time", "alarm_journal", ["name", "time"])


def downgrade() -> None:
    op.drop_index("ix_alarm_journal_name_time", table_name="alarm_journal")
    op.drop_index("ix_alarm_journal_time", table_name="alarm_journal")
    op.drop_table("alarm_journal")
    op.drop_table("alarm_states")
