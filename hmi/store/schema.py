"""SQLAlchemy Core tables: production events, their confirmations, the MES outbox and the
historian.

Times are POSIX seconds (REAL), as everywhere in hmi.core, so SQLite and PostgreSQL
store the same values and no timezone is ever guessed. The schema is created and changed
only through the Alembic revisions in hmi/store/migrations/versions.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

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
    CheckConstraint("status IN ('pending', 'sent', 'rejected')", name="ck_outbox_status"),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

# -- historian ---------------------------------------------------------------------------
# Exception-based storage (hmi.store.historian_writer): a sample is stored when it moves
# past the tag's deadband, when its quality changes, or when the heartbeat interval has
# passed. Quality codes: 0 GOOD, 1 UNCERTAIN, 2 BAD (hmi.core.history); higher is worse.
# A BAD sample stores value NULL and text NULL: a visible gap, never an interpolated line.
# These names are an interface (hmi.store.historian_query reads them): a change is a new
# Alembic revision and a note to the readers, never a silent rename.

historian_tags = Table(
    "historian_tags",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),  # Sample.tag
)

# One row per stored sample.
historian_samples = Table(
    "historian_samples",
    metadata,
    Column("tag_id", Integer, ForeignKey("historian_tags.id"), primary_key=True),
    Column("t", Float, primary_key=True),  # Sample.source_time, POSIX seconds
    # numbers, and booleans as 0.0/1.0; NULL when BAD, for string tags, and for NaN
    Column("value", Float, nullable=True),
    Column("text", Text, nullable=True),  # string tags only; NULL when BAD
    Column("quality", Integer, nullable=False),
    Column("detail", Text, nullable=True),  # why not GOOD (Sample.detail); NULL when GOOD
    sqlite_with_rowid=False,  # clustered on (tag_id, t): a range read is one seek
)

# One row per tag and minute that received any sample, maintained in the same
# transaction as the raw rows from every sample received (before the deadband filter,
# so min and max are exact). Numeric columns cover GOOD and UNCERTAIN numeric samples
# only; a minute of only BAD (or text) samples has count 0 and NULL min/max/first/last.
historian_minutes = Table(
    "historian_minutes",
    metadata,
    Column("tag_id", Integer, ForeignKey("historian_tags.id"), primary_key=True),
    Column("minute", Float, primary_key=True),  # start of the minute, POSIX seconds
    Column("min", Float, nullable=True),
    Column("max", Float, nullable=True),
    Column("sum", Float, nullable=False, default=0.0),  # mean = sum / count
    Column("count", Integer, nullable=False, default=0),  # GOOD/UNCERTAIN numeric samples
    Column("first", Float, nullable=True),  # value of the earliest counted sample
    Column("last", Float, nullable=True),  # value of the latest counted sample
    Column("first_t", Float, nullable=True),
    Column("last_t", Float, nullable=True),
    Column("quality", Integer, nullable=False, default=0),  # worst quality in the minute
    sqlite_with_rowid=False,
)
from hmi.store import schema_security  # noqa: E402,F401  (its tables join this metadata)
