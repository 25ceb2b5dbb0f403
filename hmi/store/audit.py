"""The audit trail: append inside the caller's transaction, read, verify, export.

``append`` is called by the repositories that make a change, on their open connection,
so the change and the row that records it commit together or not at all. It updates
the head row first: on SQLite that takes the write lock, on PostgreSQL the row lock,
so two writers can never fork the chain. A wall clock earlier than the last row's is
recorded as a CLOCK_MOVED_BACK row before the entry; the sequence keeps rising.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import SQLAlchemyError

from hmi.core.audit import (
    CLOCK_MOVED_BACK,
    SYSTEM,
    AuditEntry,
    AuditRecord,
    ChainBreak,
    ChainReport,
    seal,
    verify,
)
from hmi.store.database import Database, StoreError
from hmi.store.schema.security import audit_head, audit_trail

Clock = Callable[[], float]
CSV_COLUMNS = ("seq", "time_utc", "user", "role", "action", "object", "old_value",
               "new_value", "reason", "meaning", "prev_hash", "hash")


def _now_us(clock: Clock) -> int:
    return round(clock() * 1e6)


def append(connection: Connection, entry: AuditEntry, clock: Clock = time.time,
           ) -> AuditRecord:
    """Seal ``entry`` onto the chain, in the caller's transaction; returns its row."""
    # take the lock before reading the head: nobody appends between our read and write
    connection.execute(update(audit_head).where(audit_head.c.id == 1)
                       .values(last_seq=audit_head.c.last_seq))
    head = connection.execute(select(audit_head).where(audit_head.c.id == 1)).mappings().one()
    seq, prev_hash, last_us = int(head["last_seq"]), str(head["last_hash"]), \
        int(head["last_time_us"])
    now_us = _now_us(clock)
    records = []
    if now_us < last_us:
        jump = AuditEntry(SYSTEM, SYSTEM, CLOCK_MOVED_BACK, "clock",
                          old_value=_iso(last_us), new_value=_iso(now_us),
                          reason=f"the wall clock went back {(last_us - now_us) / 1e6:.3f} s; "
                                 "the sequence number keeps the order")
        records.append(seal(seq + 1, now_us, jump, prev_hash))
        seq, prev_hash = records[-1].seq, records[-1].hash
    records.append(seal(seq + 1, now_us, entry, prev_hash))
    connection.execute(audit_trail.insert(), [_row(r) for r in records])
    last = records[-1]
    connection.execute(update(audit_head).where(audit_head.c.id == 1).values(
        last_seq=last.seq, last_hash=last.hash, last_time_us=now_us))
    return last


def _iso(time_us: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time_us / 1e6)) + \
        f".{time_us % 1_000_000:06d}Z"


def _row(record: AuditRecord) -> dict[str, object]:
    return {"seq": record.seq, "time_us": record.time_us, "user_name": record.user,
            "role": record.role, "action": record.action, "object": record.object,
            "old_value": record.old_value, "new_value": record.new_value,
            "reason": record.reason, "meaning": record.meaning,
            "prev_hash": record.prev_hash, "hash": record.hash}


def _record(row: RowMapping) -> AuditRecord:
    return AuditRecord(int(row["seq"]), int(row["time_us"]), row["user_name"], row["role"],
                       row["action"], row["object"], row["old_value"], row["new_value"],
                       row["reason"], row["meaning"], row["prev_hash"], row["hash"])


@dataclass(frozen=True, slots=True)
class AuditFilter:
    start: float | None = None  # POSIX seconds, inclusive
    end: float | None = None  # exclusive
    user: str = ""
    action: str = ""
    text: str = ""  # in object, values, reason or meaning (case-insensitive)
    limit: int | None = None  # newest first when set (the GUI); else oldest first


class AuditRepository:
    """Synchronous; callers on the loop use asyncio.to_thread."""

    def __init__(self, db: Database, clock: Clock = time.time) -> None:
        self._db = db
        self._clock = clock

    def record(self, entry: AuditEntry) -> AuditRecord:
        """An entry that changes nothing else (a login, a refusal), in its own transaction."""
        try:
            with self._db.engine.begin() as connection:
                return append(connection, entry, self._clock)
        except SQLAlchemyError as exc:
            raise StoreError(f"could not write the audit trail in {self._db.location}: "
                             f"{exc}") from exc

    def rows(self, where: AuditFilter = AuditFilter()) -> list[AuditRecord]:
        c = audit_trail.c
        query = select(audit_trail)
        if where.start is not None:
            query = query.where(c.time_us >= int(where.start * 1e6))
        if where.end is not None:
            query = query.where(c.time_us < int(where.end * 1e6))
        if where.user:
            query = query.where(c.user_name == where.user)
        if where.action:
            query = query.where(c.action == where.action)
        if where.text:
            like = f"%{where.text.lower()}%"
            query = query.where(or_(*(col.ilike(like) for col in (
                c.object, c.old_value, c.new_value, c.reason, c.meaning))))
        if where.limit is not None:
            query = query.order_by(c.seq.desc()).limit(where.limit)
        else:
            query = query.order_by(c.seq)
        with self._db.engine.connect() as connection:
            return [_record(row) for row in connection.execute(query).mappings()]

    def users_and_actions(self) -> tuple[list[str], list[str]]:
        """The names that occur, for the audit view's filter lists."""
        c = audit_trail.c
        with self._db.engine.connect() as connection:
            users = connection.execute(select(c.user_name).distinct().order_by(c.user_name))
            actions = connection.execute(select(c.action).distinct().order_by(c.action))
            return [str(u) for u in users.scalars()], [str(a) for a in actions.scalars()]

    def _stream(self, connection: Connection, batch: int = 5000) -> Iterator[AuditRecord]:
        last = 0
        while True:
            rows = connection.execute(select(audit_trail).where(audit_trail.c.seq > last)
                                      .order_by(audit_trail.c.seq).limit(batch)).mappings().all()
            if not rows:
                return
            for row in rows:
                yield _record(row)
            last = int(rows[-1]["seq"])

    def verify(self) -> ChainReport:
        """The whole chain, in sequence order, against its hashes and the head row."""
        with self._db.engine.connect() as connection:
            report = verify(self._stream(connection))
            head = connection.execute(select(audit_head).where(audit_head.c.id == 1)) \
                .mappings().one()
        if report.ok and (int(head["last_seq"]) != report.head_seq or
                          head["last_hash"] != report.head_hash):
            missing = int(head["last_seq"])
            why = (f"the trail ends at row {report.head_seq} but row {missing} was written "
                   "(rows cut off the end?)" if missing > report.head_seq else
                   "the last row is not the one the trail's head recorded (edited or added?)")
            return ChainReport(report.rows, report.head_seq, report.head_hash,
                               ChainBreak(min(report.head_seq + 1, missing), why))
        return report

    def export_csv(self, path: Path, where: AuditFilter = AuditFilter()) -> int:
        """Rows in sequence order as CSV (UTF-8, times in UTC ISO 8601); returns the count."""
        records = self.rows(AuditFilter(where.start, where.end, where.user, where.action,
                                        where.text))
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(CSV_COLUMNS)
            for r in records:
                writer.writerow([r.seq, _iso(r.time_us), r.user, r.role, r.action, r.object,
                                 r.old_value, r.new_value, r.reason, r.meaning, r.prev_hash,
                                 r.hash])
        return len(records)
