"""Tables of production: events, their confirmations, and the MES outbox.

A confirmation and its outbox row are written in one transaction (transactional outbox,
hmi.store.events); hmi.store.outbox sends and settles the rows. Created by Alembic
revision 0001.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from hmi.store.schema.metadata import metadata

production_events = Table(
    "production_events",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("rule", String(200), nullable=False),
    Column("line", String(200), nullable=False, default=""),
    Column("period_start", Float, nullable=False),
    Column("period_end", Float, nullable=False),
    Column("good_count", Integer, nullable=False),
    Column("reject_count", Integer, nullable=False),
    Column("unit", String(50), nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("state", String(20), nullable=False),
    Column("created_at", Float, nullable=False),
    CheckConstraint("state IN ('pending', 'confirmed')", name="ck_production_events_state"),
    Index("ix_production_events_state", "state", "period_start"),
)

event_confirmations = Table(
    "event_confirmations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # unique: an event is confirmed once; the database enforces it too, not only the code
    Column(
        "event_id",
        String(36),
        ForeignKey("production_events.event_id"),
        nullable=False,
        unique=True,
    ),
    Column("confirmed_by", String(200), nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("confirmed_at", Float, nullable=False),
    Column("quantity", Integer, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", String(36), primary_key=True),  # uuid4, sent as the Idempotency-Key
    Column("kind", String(100), nullable=False),
    Column("payload", Text, nullable=False),  # JSON text
    Column("created_at", Float, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column("last_attempt_at", Float, nullable=True),
    Column("next_attempt_at", Float, nullable=False, default=0.0),
    Column("sent_at", Float, nullable=True),
    Column("http_status", Integer, nullable=True),
    # the sender posting it now, and until when (a lease: a crashed sender's lapses)
    Column("claimed_by", String(100), nullable=True),
    Column("claimed_until", Float, nullable=True),
    CheckConstraint("status IN ('pending', 'sent', 'rejected')", name="ck_outbox_status"),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)


# Each production rule's open period (hmi.core.events.OpenPeriod), written with the
# events it closes (one transaction): a restart, also after a crash, goes on from it.
production_open = Table(
    "production_open",
    metadata,
    Column("rule", String(200), primary_key=True),
    Column("period_start", Float, nullable=False),
    Column("good_last", BigInteger, nullable=True),
    Column("good_total", BigInteger, nullable=False),
    Column("good_gap", Boolean, nullable=False),
    Column("reject_last", BigInteger, nullable=True),
    Column("reject_total", BigInteger, nullable=False),
    Column("reject_gap", Boolean, nullable=False),
    Column("saved_at", Float, nullable=False),
)
