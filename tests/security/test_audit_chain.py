"""The audit trail: one row per action, hash-chained, in the same transaction as the
change; `verify` finds an edited, deleted, inserted or reordered row, and rows cut off
the end; a clock set back is recorded and the sequence keeps rising."""

from __future__ import annotations

import itertools
import sqlite3
import threading

import pytest
from sqlalchemy import text

from hmi.core import audit as events
from hmi.core.audit import GENESIS, AuditEntry, verify
from hmi.store import audit
from hmi.store.audit import AuditFilter
from tests.security.conftest import Security


def entry(n: int, **kw: str) -> AuditEntry:
    return AuditEntry(kw.get("user", "alice"), "operator", "confirm_event", f"event {n}",
                      old_value="pending", new_value=f"{n} good", reason=kw.get("reason", ""))


def fill(sec: Security, count: int = 6) -> None:
    for n in range(count):
        sec.clock.now += 1
        sec.audit.record(entry(n))


def sql(sec: Security, statement: str) -> None:
    """Tamper with the file directly, as someone with a database tool would."""
    path = sec.db.engine.url.database
    assert path
    with sqlite3.connect(path) as raw:
        raw.execute(statement)


def test_rows_chain_to_each_other_and_verify(sec: Security) -> None:
    fill(sec)
    rows = sec.audit.rows()
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert all(r.hash == r.expected_hash() for r in rows)
    report = sec.audit.verify()
    assert report.ok, report.broken
    assert (report.rows, report.head_seq, report.head_hash) == (len(rows), rows[-1].seq,
                                                                rows[-1].hash)


def test_an_edited_row_is_found(sec: Security) -> None:
    fill(sec)
    sql(sec, "UPDATE audit_trail SET new_value = '999 good' WHERE seq = 4")
    report = sec.audit.verify()
    assert not report.ok
    assert report.broken is not None
    assert report.broken.seq == 4
    assert "edited" in report.broken.reason
    assert report.rows == 3  # the rows before it verified


def test_a_deleted_row_is_found(sec: Security) -> None:
    fill(sec)
    sql(sec, "DELETE FROM audit_trail WHERE seq = 3")
    report = sec.audit.verify()
    assert report.broken is not None
    assert report.broken.seq == 3
    assert "missing" in report.broken.reason


def test_reordered_rows_are_found(sec: Security) -> None:
    fill(sec)
    # swap rows 3 and 4 (their content and hashes move with them; the order breaks)
    sql(sec, "UPDATE audit_trail SET seq = -3 WHERE seq = 3")
    sql(sec, "UPDATE audit_trail SET seq = 3 WHERE seq = 4")
    sql(sec, "UPDATE audit_trail SET seq = 4 WHERE seq = -3")
    report = sec.audit.verify()
    assert report.broken is not None
    assert report.broken.seq == 3


def test_an_inserted_row_is_found(sec: Security) -> None:
    fill(sec)
    rows = sec.audit.rows()
    last = rows[-1].seq
    forged = audit.seal(last + 1, rows[-1].time_us + 1, entry(99, user="mallory"),
                        rows[-1].hash)
    # a well-formed row on the end, but written around the application: the head knows
    sql(sec, "INSERT INTO audit_trail VALUES (" + ", ".join(
        repr(v) for v in (forged.seq, forged.time_us, forged.user, forged.role, forged.action,
                          forged.object, forged.old_value, forged.new_value, forged.reason,
                          forged.meaning, forged.prev_hash, forged.hash)) + ")")
    report = sec.audit.verify()
    assert report.broken is not None
    assert "head" in report.broken.reason
    # and one squeezed in the middle (renumbering the rest) breaks the links
    sql(sec, f"DELETE FROM audit_trail WHERE seq = {last + 1}")
    sql(sec, "UPDATE audit_trail SET seq = seq + 100 WHERE seq >= 4")
    sql(sec, "UPDATE audit_trail SET seq = seq - 99 WHERE seq >= 104")
    middle = audit.seal(4, rows[2].time_us + 1, entry(98, user="mallory"), rows[2].hash)
    sql(sec, "INSERT INTO audit_trail VALUES (" + ", ".join(
        repr(v) for v in (middle.seq, middle.time_us, middle.user, middle.role, middle.action,
                          middle.object, middle.old_value, middle.new_value, middle.reason,
                          middle.meaning, middle.prev_hash, middle.hash)) + ")")
    report = sec.audit.verify()
    assert report.broken is not None
    assert report.broken.seq == 5  # the row after the forgery no longer links to it


def test_rows_cut_off_the_end_are_found(sec: Security) -> None:
    fill(sec)
    sql(sec, "DELETE FROM audit_trail WHERE seq >= 6")
    report = sec.audit.verify()
    assert report.broken is not None
    assert "cut off" in report.broken.reason


def test_a_clock_set_back_is_recorded_and_the_sequence_keeps_rising(sec: Security) -> None:
    fill(sec, 3)
    before = sec.audit.rows()[-1]
    sec.clock.now -= 3600  # NTP, a dead RTC battery, a person
    sec.audit.record(entry(50))
    rows = sec.audit.rows()
    jump, after = rows[-2], rows[-1]
    assert jump.action == events.CLOCK_MOVED_BACK
    assert "went back 3600" in jump.reason
    assert (jump.seq, after.seq) == (before.seq + 1, before.seq + 2)
    assert after.time_us < before.time_us  # the time as it was, the order by sequence
    assert sec.audit.verify().ok


def test_an_audit_row_commits_with_its_change_or_not_at_all(sec: Security) -> None:
    def change_that_fails() -> None:
        with sec.db.engine.begin() as connection:
            audit.append(connection, entry(1), sec.clock)
            raise RuntimeError("the change failed after the audit row was added")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert sec.audit.rows(AuditFilter(action="confirm_event")) == []
    assert sec.audit.verify().ok


def test_concurrent_writers_never_fork_the_chain(sec: Security) -> None:
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for n in range(15):
                sec.audit.record(entry(100 * k + n))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = sec.audit.rows()
    assert len({r.seq for r in rows}) == len(rows) == 1 + 60  # first admin + 60
    assert sec.audit.verify().ok


@pytest.mark.parametrize("typed", [
    "x'; DROP TABLE audit_trail; --",
    "Müller 操作员 🙂 עברית",
    "a" * 1_000_000,
])
def test_any_text_is_stored_verbatim_and_verifies(sec: Security, typed: str) -> None:
    sec.audit.record(AuditEntry("alice", "operator", "confirm_event", typed, reason=typed))
    row = sec.audit.rows()[-1]
    assert (row.object, row.reason) == (typed, typed)
    assert sec.audit.verify().ok
    with sec.db.engine.connect() as connection:  # the table is still there
        assert connection.execute(text("SELECT count(*) FROM audit_trail")).scalar() == 2


def test_filters_and_csv_export(sec: Security, tmp_path) -> None:
    fill(sec, 4)
    sec.audit.record(AuditEntry("bob", "shift_lead", "retry_mes", "tx-1", reason="MES fixed"))
    assert [r.user for r in sec.audit.rows(AuditFilter(user="bob"))] == ["bob"]
    assert len(sec.audit.rows(AuditFilter(action="confirm_event"))) == 4
    assert [r.object for r in sec.audit.rows(AuditFilter(text="mes FIXED"))] == ["tx-1"]
    newest = sec.audit.rows(AuditFilter(limit=2))
    assert [r.seq for r in newest] == [6, 5]
    out = tmp_path / "audit.csv"
    assert sec.audit.export_csv(out, AuditFilter(user="alice")) == 4
    lines = out.read_text("utf-8").splitlines()
    assert lines[0].startswith("seq,time_utc,user,role,action")
    assert len(lines) == 5
    assert verify(sec.audit.rows()).ok
