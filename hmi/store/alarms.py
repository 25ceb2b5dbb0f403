"""Alarm states and their journal: what the engine records, read back after a restart.

``record`` writes a batch of transitions in one transaction: a journal row each, and the
alarm's state row (insert or update) as the last transition of the batch left it. So the
states are never ahead of, nor behind, the journal.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, insert, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import SQLAlchemyError

from hmi.core.alarm_states import Alarm, AlarmEvent, AlarmRecord, AlarmState, AlarmTransition
from hmi.core.audit import AuditEntry
from hmi.store import audit
from hmi.store.audit import Clock
from hmi.store.database import Database, StoreError
from hmi.store.schema.alarms import alarm_journal, alarm_states


@dataclass(frozen=True, slots=True)
class JournalRow:
    """One journal row as read back."""

    id: int
    name: str
    time: float
    event: AlarmEvent
    before: AlarmState
    after: AlarmState
    occurrence: int
    user: str
    comment: str
    value: str


class AlarmRepository:
    def __init__(self, db: Database, audit_clock: Clock = time.time) -> None:
        self._db = db
        self._audit_clock = audit_clock

    def load(self, latching: dict[str, bool] | None = None) -> dict[str, AlarmRecord]:
        """Every stored alarm's record; ``latching`` gives each alarm's configured
        latching (the configuration may have changed since it was stored)."""
        latching = latching or {}
        try:
            with self._db.engine.connect() as connection:
                rows = connection.execute(select(alarm_states)).mappings().all()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the alarm states: {exc}") from exc
        return {row["name"]: _record(row, latching.get(row["name"], False)) for row in rows}

    def record(self, transitions: Sequence[AlarmTransition],
               audit_entries: Sequence[AuditEntry] = ()) -> None:
        """The journal rows, the resulting states and (for an operator's action) its
        audit rows, in one transaction."""
        if not transitions:
            return
        last: dict[str, AlarmTransition] = {}
        since: dict[str, float] = {}
        for transition in transitions:
            last[transition.name] = transition
            if transition.before is not transition.state:
                since[transition.name] = transition.time
        try:
            with self._db.engine.begin() as connection:
                connection.execute(insert(alarm_journal), [_journal(t) for t in transitions])
                for name, transition in last.items():
                    _store_state(connection, transition, since.get(name))
                for entry in audit_entries:
                    audit.append(connection, entry, self._audit_clock)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot record {len(transitions)} alarm transitions: {exc}"
                             ) from exc

    def journal(self, start: float = float("-inf"), end: float = float("inf"),
                names: Iterable[str] | None = None) -> list[JournalRow]:
        """Journal rows with start <= time < end, oldest first."""
        condition = and_(alarm_journal.c.time >= start, alarm_journal.c.time < end)
        if names is not None:
            condition = and_(condition, alarm_journal.c.name.in_(list(names)))
        query = select(alarm_journal).where(condition).order_by(alarm_journal.c.time,
                                                                alarm_journal.c.id)
        try:
            with self._db.engine.connect() as connection:
                rows = connection.execute(query).mappings().all()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the alarm journal: {exc}") from exc
        return [JournalRow(row["id"], row["name"], row["time"], AlarmEvent(row["event"]),
                           AlarmState(row["state_before"]), AlarmState(row["state_after"]),
                           row["occurrence"], row["user_name"], row["comment"], row["value"])
                for row in rows]


def _record(row: RowMapping, latching: bool) -> AlarmRecord:
    alarm = Alarm(active=bool(row["active"]), acked=bool(row["acked"]),
                  latched=bool(row["latched"]) and latching,
                  shelved_until=row["shelved_until"], suppressed=bool(row["suppressed"]),
                  out_of_service=bool(row["out_of_service"]), latching=latching)
    return AlarmRecord(row["name"], alarm, float(row["since"]), int(row["occurrence"]))


def _journal(transition: AlarmTransition) -> dict[str, object]:
    return {
        "name": transition.name, "time": transition.time,
        "event": transition.event.value, "state_before": transition.before.value,
        "state_after": transition.state.value, "occurrence": transition.occurrence,
        "user_name": transition.user, "comment": transition.comment,
        "value": transition.value,
    }


def _store_state(connection: Connection, transition: AlarmTransition,
                 since: float | None) -> None:
    alarm = transition.after
    values: dict[str, object] = {
        "state": alarm.state.value, "active": alarm.active, "acked": alarm.acked,
        "latched": alarm.latched, "shelved_until": alarm.shelved_until,
        "suppressed": alarm.suppressed, "out_of_service": alarm.out_of_service,
        "occurrence": transition.occurrence,
    }
    if since is not None:
        values["since"] = since
    changed = connection.execute(
        update(alarm_states).where(alarm_states.c.name == transition.name).values(values))
    if changed.rowcount == 0:
        values.setdefault("since", transition.time)
        connection.execute(insert(alarm_states).values(name=transition.name, **values))
