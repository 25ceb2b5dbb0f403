"""Alarm requests: what `hmi alarms ack/shelve/unshelve` hand to a running station.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alarm_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.Column("alarm", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("minutes", sa.Float(), nullable=True),
        sa.Column("meaning", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered", sa.Float(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'done', 'refused', 'withdrawn')",
                           name="ck_alarm_requests_status"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alarm_requests_status", "alarm_requests", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_alarm_requests_status", table_name="alarm_requests")
    op.drop_table("alarm_requests")
