"""Tables of the historian: tags, raw samples and per-minute aggregates.

Exception-based storage (hmi.store.historian_writer): a sample is stored when it moves
past the tag's deadband, when its quality changes, or when the heartbeat interval has
passed. Quality codes: 0 GOOD, 1 UNCERTAIN, 2 BAD (hmi.core.history); higher is worse.
A BAD sample stores value NULL and text NULL: a visible gap, never an interpolated line.
These names are an interface (hmi.store.historian_query reads them): a change is a new
Alembic revision and a note to the readers, never a silent rename. Created by Alembic
revision 0001.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Integer, String, Table, Text

from hmi.store.schema.metadata import metadata

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
