"""Tables of alarms: each alarm's current state, and the journal of every transition.

The state row and the journal rows of one engine batch commit together
(hmi.store.alarms), so after a restart the states are what the journal says. Created by
Alembic revision 0004.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, String, Table, Text

from hmi.store.schema.metadata import metadata

alarm_states = Table(
    "alarm_states",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("state", String(40), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("acked", Boolean, nullable=False),
    Column("latched", Boolean, nullable=False),
    Column("shelved_until", Float, nullable=True),
    Column("suppressed", Boolean, nullable=False),
    Column("out_of_service", Boolean, nullable=False),
    Column("since", Float, nullable=False),
    Column("occurrence", Integer, nullable=False),
)

alarm_journal = Table(
    "alarm_journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("time", Float, nullable=False),
    Column("event", String(40), nullable=False),
    Column("state_before", String(40), nullable=False),
    Column("state_after", String(40), nullable=False),
    Column("occurrence", Integer, nullable=False),
    Column("user_name", String(64), nullable=False),
    Column("comment", Text, nullable=False),
    Column("value", Text, nullable=False),
    Index("ix_alarm_journal_time", "time"),
    Index("ix_alarm_journal_name_time", "name", "time"),
)
