"""Initial schema: production events, confirmations, MES outbox and the historian.

A database made before migrations existed (``metadata.create_all``, up to the historian
groundwork) already holds some of these tables with this very shape: this revision
creates only the tables that are missing, so such a database is adopted, not refused.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _missing(name: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    if _missing("production_events"):
        op.create_table(
            "production_events",
            sa.Column("event_id", sa.String(length=36), nullable=False),
            sa.Column("rule", sa.String(length=200), nullable=False),
            sa.Column("line", sa.String(length=200), nullable=False),
            sa.Column("period_start", sa.Float(), nullable=False),
            sa.Column("period_end", sa.Float(), nullable=False),
            sa.Column("good_count", sa.Integer(), nullable=False),
            sa.Column("reject_count", sa.Integer(), nullable=False),
            sa.Column("unit", sa.String(length=50), nullable=False),
            sa.Column("complete", sa.Boolean(), nullable=False),
            sa.Column("state", sa.String(length=20), nullable=False),
            sa.Column("created_at", sa.Float(), nullable=False),
            sa.CheckConstraint(
                "state IN ('pending', 'confirmed')", name="ck_production_events_state"
            ),
            sa.PrimaryKeyConstraint("event_id"),
        )
        op.create_index(
            "ix_production_events_state", "production_events", ["state", "period_start"]
        )
    if _missing("event_confirmations"):
        op.create_table(
            "event_confirmations",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("event_id", sa.String(length=36), nullable=False),
            sa.Column("confirmed_by", sa.String(length=200), nullable=False),
            sa.Column("comment", sa.Text(), nullable=False),
            sa.Column("confirmed_at", sa.Float(), nullable=False),
            sa.Column("quantity", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["event_id"], ["production_events.event_id"]),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("event_id"),
        )
    if _missing("outbox"):
        op.create_table(
            "outbox",
            sa.Column("id", sa.String(length=36), nullable=False),
            sa.Column("kind", sa.String(length=100), nullable=False),
            sa.Column("payload", sa.Text(), nullable=False),
            sa.Column("created_at", sa.Float(), nullable=False),
            sa.Column("status", sa.String(length=20), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("last_error", sa.Text(), nullable=False),
            sa.Column("last_attempt_at", sa.Float(), nullable=True),
            sa.Column("next_attempt_at", sa.Float(), nullable=False),
            sa.Column("sent_at", sa.Float(), nullable=True),
            sa.Column("http_status", sa.Integer(), nullable=True),
            sa.CheckConstraint(
                "status IN ('pending', 'sent', 'rejected')", name="ck_outbox_status"
            ),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    if _missing("historian_tags"):
        op.create_table(
            "historian_tags",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("name", sa.String(length=128), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("name"),
        )
    if _missing("historian_samples"):
        op.create_table(
            "historian_samples",
            sa.Column("tag_id", sa.Integer(), nullable=False),
            sa.Column("t", sa.Float(), nullable=False),
            sa.Column("value", sa.Float(), nullable=True),
            sa.Column("text", sa.Text(), nullable=True),
            sa.Column("quality", sa.Integer(), nullable=False),
            sa.Column("detail", sa.Text(), nullable=True),
            sa.ForeignKeyConstraint(["tag_id"], ["historian_tags.id"]),
            sa.PrimaryKeyConstraint("tag_id", "t"),
            sqlite_with_rowid=False,
        )
    if _missing("historian_minutes"):
        op.create_table(
            "historian_minutes",
            sa.Column("tag_id", sa.Integer(), nullable=False),
            sa.Column("minute", sa.Float(), nullable=False),
            sa.Column("min", sa.Float(), nullable=True),
            sa.Column("max", sa.Float(), nullable=True),
            sa.Column("sum", sa.Float(), nullable=False),
            sa.Column("count", sa.Integer(), nullable=False),
            sa.Column("first", sa.Float(), nullable=True),
            sa.Column("last", sa.Float(), nullable=True),
            sa.Column("first_t", sa.Float(), nullable=True),
            sa.Column("last_t", sa.Float(), nullable=True),
            sa.Column("quality", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["tag_id"], ["historian_tags.id"]),
            sa.PrimaryKeyConstraint("tag_id", "minute"),
            sqlite_with_rowid=False,
        )


def downgrade() -> None:
    op.drop_table("historian_minutes")
    op.drop_table("historian_samples")
    op.drop_table("historian_tags")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("event_confirmations")
    op.drop_index("ix_production_events_state", table_name="production_events")
    op.drop_table("production_events")
