"""Alarm requests: an operator's action from the command line, handed to the running
station that owns the alarm states (its engine would overwrite a state written behind its
back).

The command inserts one ``pending`` row per alarm (``submit``) and reads the answers; the
station takes the pending rows (``pending``: one indexed query) and answers each in the
transaction that records what it did (``settle``, called by hmi.store.alarms). A row
leaves ``pending`` once: every move out of it is ``UPDATE ... WHERE status = 'pending'``,
so a request the command withdrew (no answer in time) is never performed afterwards, and
one the station answered cannot be withdrawn.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, insert, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import SQLAlchemyError

from hmi.store.database import Database, StoreError
from hmi.store.schema.alarms import alarm_requests


class RequestAction(enum.StrEnum):
    ACKNOWLEDGE = "acknowledge"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    REFUSED = "refused"  # by the station: the reason is the answer
    WITHDRAWN = "withdrawn"  # by the command (or expired): never performed


class RequestWithdrawnError(StoreError):
    """The request is no longer pending (withdrawn, or answered already): nothing done."""


@dataclass(frozen=True, slots=True)
class NewRequest:
    """What the command asks, for one alarm."""

    alarm: str
    action: RequestAction
    user: str
    role: str
    text: str = ""  # the comment or reason
    minutes: float | None = None  # a shelve's length
    meaning: str = ""  # the signature's meaning ("" unsigned)


@dataclass(frozen=True, slots=True)
class AlarmRequest:
    """A stored request, as the station performs it."""

    id: int
    created: float
    expires: float
    alarm: str
    action: str  # a RequestAction's value (a newer program's action: refused, not lost)
    user: str
    role: str
    text: str
    minutes: float | None
    meaning: str


@dataclass(frozen=True, slots=True)
class RequestAnswer:
    id: int
    status: RequestStatus
    answer: str  # why refused; the state left when done


class AlarmRequestRepository:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def submit(self, requests: Sequence[NewRequest], wait_s: float) -> list[int]:
        """Insert the requests, pending; the station takes none after ``wait_s``."""
        now = self._clock()
        ids: list[int] = []
        try:
            with self._db.engine.begin() as connection:
                for request in requests:
                    result = connection.execute(insert(alarm_requests).values(
                        created=now, expires=now + wait_s, alarm=request.alarm,
                        action=request.action.value, user_name=request.user,
                        role=request.role, text=request.text, minutes=request.minutes,
                        meaning=request.meaning, status=RequestStatus.PENDING.value,
                        answer=""))
                    key = result.inserted_primary_key
                    assert key is not None
                    ids.append(int(key[0]))
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot hand the request to the station: {exc}") from exc
        return ids

    def pending(self, limit: int = 100) -> list[AlarmRequest]:
        """The oldest pending requests (ix_alarm_requests_status: cheap when none)."""
        query = (select(alarm_requests)
                 .where(alarm_requests.c.status == RequestStatus.PENDING.value)
                 .order_by(alarm_requests.c.id).limit(limit))
        try:
            with self._db.engine.connect() as connection:
                rows = connection.execute(query).mappings().all()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the alarm requests: {exc}") from exc
        return [_request(row) for row in rows]

    def answers(self, ids: Iterable[int]) -> dict[int, RequestAnswer]:
        """Each request's status and answer (pending ones too)."""
        query = select(alarm_requests.c.id, alarm_requests.c.status, alarm_requests.c.answer
                       ).where(alarm_requests.c.id.in_(list(ids)))
        try:
            with self._db.engine.connect() as connection:
                rows = connection.execute(query).all()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the station's answers: {exc}") from exc
        return {row.id: RequestAnswer(row.id, RequestStatus(row.status), row.answer)
                for row in rows}

    def answer(self, answers: Sequence[RequestAnswer]) -> list[int]:
        """Answer requests that change nothing else (refusals, withdrawals); returns the
        ids that were still pending (only those are answered)."""
        try:
            with self._db.engine.begin() as connection:
                return [a.id for a in answers if _settle_one(connection, a, self._clock())]
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot answer the alarm requests: {exc}") from exc


def settle(connection: Connection, answers: Sequence[RequestAnswer], now: float) -> None:
    """Answer ``answers`` in the caller's transaction; RequestWithdrawnError (so the
    caller's transaction rolls back) if one is no longer pending."""
    for answer in answers:
        if not _settle_one(connection, answer, now):
            raise RequestWithdrawnError(f"alarm request {answer.id} is no longer pending "
                                        "(withdrawn, or answered already)")


def _settle_one(connection: Connection, answer: RequestAnswer, now: float) -> bool:
    result = connection.execute(
        update(alarm_requests)
        .where(and_(alarm_requests.c.id == answer.id,
                    alarm_requests.c.status == RequestStatus.PENDING.value))
        .values(status=answer.status.value, answer=answer.answer, answered=now))
    return result.rowcount == 1


def _request(row: RowMapping) -> AlarmRequest:
    return AlarmRequest(row["id"], row["created"], row["expires"], row["alarm"],
                        row["action"], row["user_name"], row["role"],
                        row["text"], row["minutes"], row["meaning"])
