"""Alarm states and their journal: what the engine records, read back after a restart.

``record`` writes a batch of transitions in one transaction: a journal row each, and the
alarm's state row (insert or update) as the last transition of the batch left it. So the
states are never ahead of, nor behind, the journal. An operator's action adds its audit
rows, and, when it came from the command line, the request's answer
(hmi.store.alarm_requests), to that transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, case, insert, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import SQLAlchemyError

from hmi.core.alarm_states import Alarm, AlarmEvent, AlarmRecord, AlarmState, AlarmTransition
from hmi.core.audit import AuditEntry
from hmi.store import audit
from hmi.store.alarm_requests import RequestAnswer, settle
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
               audit_entries: Sequence[AuditEntry] = (),
               answers: Sequence[RequestAnswer] = ()) -> None:
        """The journal rows, the resulting states and (for an operator's action) its
        audit rows and the answers of the requests it performs, in one transaction.
        RequestWithdrawnError if a request is no longer pending: then nothing is written."""
        if not transitions and not answers:
            return
        last: dict[str, AlarmTransition] = {}
        since: dict[str, float] = {}
        for transition in transitions:
            last[transition.name] = transition
            if transition.before is not transition.state:
                since[transition.name] = transition.time
        try:
            with self._db.engine.begin() as connection:
                settle(connection, answers, self._audit_clock())  # first: may refuse all
                if transitions:
                    connection.execute(insert(alarm_journal),
                                       [_journal(t) for t in transitions])
                    _store_states(connection, list(last.values()), since)
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


_STATE_UPDATE = (  # one statement for every alarm of a batch (executemany)
    update(alarm_states)
    .where(alarm_states.c.name == bindparam("b_name"))
    .values(
        state=bindparam("state"), active=bindparam("active"), acked=bindparam("acked"),
        latched=bindparam("latched"), shelved_until=bindparam("shelved_until"),
        suppressed=bindparam("suppressed"), out_of_service=bindparam("out_of_service"),
        occurrence=bindparam("occurrence"),
        # a new ``since`` only where the batch moved the state
        since=case((bindparam("b_moved"), bindparam("b_since")), else_=alarm_states.c.since),
    )
)


def _store_states(connection: Connection, transitions: list[AlarmTransition],
                  since: dict[str, float]) -> None:
    """Each alarm's row as its last transition left it: one UPDATE for them all, an
    INSERT for those without a row yet (``since`` is where the batch moved the state)."""
    rows = [_state_row(t, since.get(t.name)) for t in transitions]
    result = connection.execute(_STATE_UPDATE, rows)
    if result.rowcount == len(rows):
        return
    names = [row["b_name"] for row in rows]
    have = set(connection.execute(select(alarm_states.c.name)
                                  .where(alarm_states.c.name.in_(names))).scalars())
    new = [row for row in rows if row["b_name"] not in have]
    connection.execute(insert(alarm_states), [
        {key: value for key, value in row.items() if not key.startswith("b_")}
        | {"name": row["b_name"], "since": row["b_since"]} for row in new])


def _state_row(transition: AlarmTransition, since: float | None) -> dict[str, object]:
    alarm = transition.after
    return {
        "b_name": transition.name, "state": alarm.state.value, "active": alarm.active,
        "acked": alarm.acked, "latched": alarm.latched,
        "shelved_until": alarm.shelved_until, "suppressed": alarm.suppressed,
        "out_of_service": alarm.out_of_service, "occurrence": transition.occurrence,
        "b_moved": since is not None,
        "b_since": transition.time if since is None else since,
    }
