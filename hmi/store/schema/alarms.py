"""Tables of alarms: each alarm's current state, the journal of every transition, and
the requests `hmi alarms ack/shelve` hand to a running station.

The state row and the journal rows of one engine batch commit together
(hmi.store.alarms), so after a restart the states are what the journal says. A request's
answer commits with the transition it made (hmi.store.alarm_requests). Created by
Alembic revisions 0004 (states, journal) and 0005 (requests).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
)

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

# An operator's action from the command line while the app runs: the command checks the
# password and the permission, inserts one row per alarm, and waits; the station performs
# it at its next pass and answers. A row leaves 'pending' once (conditional UPDATE): done or
# refused by the station, or withdrawn by the command (no answer in time).
alarm_requests = Table(
    "alarm_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created", Float, nullable=False),
    Column("expires", Float, nullable=False),  # not performed after (the command gave up)
    Column("alarm", String(128), nullable=False),
    Column("action", String(20), nullable=False),  # hmi.store.alarm_requests.RequestAction
    Column("user_name", String(64), nullable=False),
    Column("role", String(20), nullable=False),
    Column("text", Text, nullable=False),  # the comment or reason
    Column("minutes", Float, nullable=True),  # a shelve's length
    Column("meaning", Text, nullable=False),  # the signature's meaning, "" if unsigned
    Column("status", String(20), nullable=False),
    Column("answer", Text, nullable=False),  # why refused, or the state it left
    Column("answered", Float, nullable=True),
    CheckConstraint("status IN ('pending', 'done', 'refused', 'withdrawn')",
                    name="ck_alarm_requests_status"),
    Index("ix_alarm_requests_status", "status", "id"),
)
