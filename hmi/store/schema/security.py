"""Tables of the security layer: local users and the audit trail (hash chain).

Created by Alembic revision 0003. The audit table is append-only by contract: nothing
in hmi updates or deletes its rows, and ``hmi audit verify`` finds a row that was
(hmi.core.audit).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, Integer, String, Table, Text

from hmi.store.schema.metadata import metadata

users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),  # hmi.core.security.clean_user_name
    Column("full_name", String(200), nullable=False, default=""),
    Column("role", String(20), nullable=False),
    Column("password_hash", String(200), nullable=False),  # argon2id, PHC string
    Column("disabled", Boolean, nullable=False, default=False),
    Column("failed_attempts", Integer, nullable=False, default=0),  # in a row
    Column("locked_until", Float, nullable=True),  # POSIX seconds
    Column("created_at", Float, nullable=False),
    Column("password_changed_at", Float, nullable=False),
)

audit_trail = Table(
    "audit_trail",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=False),  # 1, 2, 3 ... with no gap: the order of the trail
    Column("time_us", BigInteger, nullable=False),  # wall clock, microseconds (UTC)
    Column("user_name", String(64), nullable=False),
    Column("role", String(20), nullable=False),
    Column("action", String(40), nullable=False),
    Column("object", Text, nullable=False),
    Column("old_value", Text, nullable=False),
    Column("new_value", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("meaning", Text, nullable=False),  # the signature's meaning, "" if unsigned
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_trail_time", "time_us"),
)

# One row (id 1): the chain's head. Appending updates it first, which serialises
# writers on SQLite and PostgreSQL alike, and lets verify notice rows cut off the end.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("last_time_us", BigInteger, nullable=False),
)
