"""The ProductionPerformance body the MES receives."""

from __future__ import annotations

from hmi.core.events import ProductionEvent
from hmi.mes.payloads import iso_utc, production_performance


def test_production_performance_shape() -> None:
    event = ProductionEvent(
        "e-1", "filler-count", "L1", 1714543200.0, 1714543260.5, 9, 1, "pcs", complete=False
    )
    body = production_performance(event, "ob-1", "alice", "jam at 06:00", 1714543300.0)
    assert body == {
        "type": "ProductionPerformance",
        "transactionId": "ob-1",
        "line": "L1",
        "rule": "filler-count",
        "periodStart": "2024-05-01T06:00:00.000Z",
        "periodEnd": "2024-05-01T06:01:00.500Z",
        "quantity": {"good": 9, "reject": 1, "unit": "pcs"},
        "confirmedBy": "alice",
        "comment": "jam at 06:00",
        "confirmedAt": "2024-05-01T06:01:40.000Z",
        "complete": False,
    }


def test_iso_utc_is_utc_with_z() -> None:
    assert iso_utc(0.0) == "1970-01-01T00:00:00.000Z"
