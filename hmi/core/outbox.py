"""MES outbox items as the GUI and services see them: pure data, no I/O.

The store persists them (hmi.store.outbox); the sender (hmi.mes.sender) moves them from
PENDING to SENT on a 2xx, or to REJECTED when the MES refuses them. Nothing is deleted:
a rejected item stays, with the server's message, until someone requeues it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class OutboxStatus(enum.Enum):
    PENDING = "pending"  # waiting to be sent, or being retried after a network error/5xx
    SENT = "sent"  # the MES answered 2xx
    REJECTED = "rejected"  # the MES answered 4xx: kept for the operator, never retried alone


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One transaction to the MES. Times are POSIX seconds; ``id`` is the Idempotency-Key."""

    id: str
    kind: str
    payload: str  # JSON text, exactly as it will be posted
    created_at: float
    status: OutboxStatus
    attempts: int = 0
    last_error: str = ""
    last_attempt_at: float | None = None
    next_attempt_at: float = 0.0
    sent_at: float | None = None
    http_status: int | None = None
