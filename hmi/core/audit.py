"""The audit trail's rows and their hash chain. Pure: the store keeps the rows, this
says what a row's hash is and where a chain breaks.

Each row holds the SHA-256 of the previous row (``prev_hash``) and of its own content
with that previous hash (``hash``). Editing a row changes its content hash; deleting,
inserting or reordering rows breaks a ``prev_hash`` link or the sequence. The sequence
number, not the clock, orders the trail: a clock set back is recorded as a row of its
own (CLOCK_MOVED_BACK) and the sequence goes on rising.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

GENESIS = "0" * 64  # the prev_hash of the first row

# Security events, audited beside the actions of hmi.core.security.Action
LOGIN = "login"
LOGOUT = "logout"
LOGIN_FAILED = "login_failed"
LOCKED_OUT = "locked_out"
PERMISSION_DENIED = "permission_denied"
SCREEN_LOCKED = "screen_locked"
SIGNATURE_FAILED = "signature_failed"
CLOCK_MOVED_BACK = "clock_moved_back"
USER_ADDED = "user_added"
PASSWORD_CHANGED = "password_changed"  # noqa: S105 (an event name)
USER_DISABLED = "user_disabled"
USER_ENABLED = "user_enabled"
SECRET_SET = "secret_set"  # noqa: S105 (an event name)

SYSTEM = "system"  # the user of rows the software writes by itself


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What a service asks to record (the store adds sequence, time and hashes)."""

    user: str
    role: str
    action: str
    object: str = ""
    old_value: str = ""
    new_value: str = ""
    reason: str = ""
    meaning: str = ""  # the signature's meaning; empty when the action was not signed


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    time_us: int  # wall clock when written, microseconds since the epoch (UTC)
    user: str
    role: str
    action: str
    object: str
    old_value: str
    new_value: str
    reason: str
    meaning: str
    prev_hash: str
    hash: str

    @property
    def time(self) -> float:
        return self.time_us / 1e6

    def expected_hash(self) -> str:
        return content_hash(self.seq, self.time_us, AuditEntry(
            self.user, self.role, self.action, self.object, self.old_value, self.new_value,
            self.reason, self.meaning), self.prev_hash)


def content_hash(seq: int, time_us: int, entry: AuditEntry, prev_hash: str) -> str:
    """SHA-256 of the row's content and the previous row's hash, as canonical JSON."""
    content = [seq, time_us, entry.user, entry.role, entry.action, entry.object,
               entry.old_value, entry.new_value, entry.reason, entry.meaning, prev_hash]
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal(seq: int, time_us: int, entry: AuditEntry, prev_hash: str) -> AuditRecord:
    return AuditRecord(seq, time_us, entry.user, entry.role, entry.action, entry.object,
                       entry.old_value, entry.new_value, entry.reason, entry.meaning,
                       prev_hash, content_hash(seq, time_us, entry, prev_hash))


@dataclass(frozen=True, slots=True)
class ChainBreak:
    seq: int  # the first row that does not verify (or the one expected there)
    reason: str

    def __str__(self) -> str:
        return f"audit trail broken at row {self.seq}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ChainReport:
    rows: int
    head_seq: int
    head_hash: str
    broken: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify(records: Iterable[AuditRecord]) -> ChainReport:
    """Walk the rows in sequence order; stop at the first that does not verify."""
    prev_hash, prev_seq, count = GENESIS, 0, 0
    for record in records:
        count += 1
        if record.seq != prev_seq + 1:
            if record.seq > prev_seq + 1:
                why = (f"row {prev_seq + 1} is missing (rows {prev_seq + 1}..{record.seq - 1}"
                       " deleted?)")
                return ChainReport(count - 1, prev_seq, prev_hash, ChainBreak(prev_seq + 1, why))
            why = f"row {record.seq} appears after row {prev_seq} (inserted or reordered?)"
            return ChainReport(count - 1, prev_seq, prev_hash, ChainBreak(record.seq, why))
        if record.prev_hash != prev_hash:
            why = (f"it does not follow row {prev_seq}: the link to the previous row is "
                   "wrong (a row deleted, inserted or reordered before it?)")
            return ChainReport(count - 1, prev_seq, prev_hash, ChainBreak(record.seq, why))
        if record.expected_hash() != record.hash:
            why = "its content does not match its hash (the row was edited)"
            return ChainReport(count - 1, prev_seq, prev_hash, ChainBreak(record.seq, why))
        prev_hash, prev_seq = record.hash, record.seq
    return ChainReport(count, prev_seq, prev_hash, None)
