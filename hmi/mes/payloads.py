"""MES transaction bodies, ISA-95 / B2MML flavoured, as plain JSON-ready dicts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hmi.core.events import ProductionEvent

PRODUCTION_PERFORMANCE = "ProductionPerformance"


def iso_utc(posix_seconds: float) -> str:
    """ISO-8601 UTC with milliseconds and a 'Z', e.g. 2024-05-01T06:00:00.000Z."""
    moment = datetime.fromtimestamp(posix_seconds, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def production_performance(
    event: ProductionEvent,
    transaction_id: str,
    confirmed_by: str,
    comment: str,
    confirmed_at: float,
) -> dict[str, Any]:
    """The ProductionPerformance transaction for an event an operator confirmed."""
    return {
        "type": PRODUCTION_PERFORMANCE,
        "transactionId": transaction_id,
        "line": event.line,
        "rule": event.rule,
        "periodStart": iso_utc(event.period_start),
        "periodEnd": iso_utc(event.period_end),
        "quantity": {
            "good": event.good_count,
            "reject": event.reject_count,
            "unit": event.unit,
        },
        "confirmedBy": confirmed_by,
        "comment": comment,
        "confirmedAt": iso_utc(confirmed_at),
        "complete": event.complete,
    }
