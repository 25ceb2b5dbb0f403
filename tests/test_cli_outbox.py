"""`hmi outbox list` and `hmi outbox retry` on a station's store, as real `hmi`
processes: what waits, was sent and was rejected (with the MES's reason); a rejected
transaction sent again by a user who may, audited; refusals in one line."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from hmi.core.events import ProductionEvent
from hmi.mes.payloads import production_performance
from hmi.store.database import open_database
from hmi.store.events import EventRepository
from hmi.store.outbox import OutboxRepository
from tests.cli_security import (
    ENGINEER,
    ENGINEER_PW,
    OPERATOR,
    OPERATOR_PW,
    Station,
    one_line_error,
    staffed_template,
)

__all__ = ["staffed_template"]  # a fixture, used by name


@pytest.fixture
def station(tmp_path: Path, staffed_template: Path) -> Station:
    return Station(tmp_path).copy_from(staffed_template)


def confirmed(station: Station, rejected: bool) -> str:
    db = open_database(station.database)
    try:
        events = EventRepository(db)
        now = time.time()
        event = ProductionEvent(str(uuid.uuid4()), "count", "L1", now - 60, now, 10, 0,
                                "pcs", True)
        events.add(event)
        key = str(uuid.uuid4())
        events.confirm(event.event_id, "alice", "",
                       production_performance(event, key, "alice", "", now), now, key)
        if rejected:
            OutboxRepository(db).mark_rejected(key, 422, "HTTP 422: unknown line L1", now)
    finally:
        db.close()
    return key


def test_list_shows_each_transaction_with_the_mes_reason(station: Station):
    waiting = confirmed(station, rejected=False)
    refused = confirmed(station, rejected=True)
    result = station.run("outbox", "list")
    assert result.code == 0, result.err
    assert result.out.startswith("STATUS")
    [line] = [line for line in result.out.splitlines() if refused in line]
    assert line.startswith("rejected") and line.endswith("HTTP 422: unknown line L1")
    result = station.run("outbox", "list", "--status", "pending", "--json")
    rows = json.loads(result.out)
    assert [(r["id"], r["status"]) for r in rows] == [(waiting, "pending")]
    assert rows[0]["payload"]["type"] == "ProductionPerformance"


def test_retry_needs_the_permission_and_is_audited(station: Station):
    refused = confirmed(station, rejected=True)
    result = station.run("outbox", "retry", refused, "--as", OPERATOR, "--password-stdin",
                         stdin=OPERATOR_PW + "\n")
    assert "may not resend to the MES" in one_line_error(result, "outbox retry")
    result = station.run("outbox", "retry", refused, "--as", ENGINEER, "--reason",
                         "line L1 added at the MES", "--password-stdin",
                         stdin=ENGINEER_PW + "\n")
    assert result.code == 0, result.err
    assert result.out == f"{refused}: queued to be sent again\n"
    listing = json.loads(station.run("outbox", "list", "--json").out)
    assert [r["status"] for r in listing if r["id"] == refused] == ["pending"]
    rows = [r for r in station.audit_rows() if r["action"] == "retry_mes"]
    assert [(r["user_name"], r["reason"]) for r in rows] == [(ENGINEER,
                                                               "line L1 added at the MES")]
    again = station.run("outbox", "retry", str(uuid.uuid4()), "--as", ENGINEER,
                        "--password-stdin", stdin=ENGINEER_PW + "\n")
    assert "there is no outbox item" in one_line_error(again, "outbox retry")
