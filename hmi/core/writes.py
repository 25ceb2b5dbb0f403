"""The outcome of writing a value to a PLC, as the operator and the audit trail see it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hmi.core.samples import Value


class WriteOutcome(enum.Enum):
    CONFIRMED = "confirmed"  # written, and the read-back matches
    MISMATCH = "mismatch"  # written, but the PLC reports another value (clamped, overridden)
    REFUSED = "refused"  # not sent: not writable, out of range, wrong type
    FAILED = "failed"  # sent, and the PLC or the link said no (exception, timeout)


@dataclass(frozen=True, slots=True)
class WriteResult:
    tag: str
    outcome: WriteOutcome
    requested: Value
    read_back: Value = None
    message: str = ""  # what happened and, when not CONFIRMED, what to do about it

    @property
    def ok(self) -> bool:
        return self.outcome is WriteOutcome.CONFIRMED
