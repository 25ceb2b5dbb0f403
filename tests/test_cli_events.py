"""`hmi events list` and `hmi events confirm` on a station's store, as real `hmi`
processes: events waiting for an operator; one confirmed as the --as user, signed with
that password where the site asks, its MES transaction queued and audited; refusals in
one line, nothing changed."""

from __future__ import annotations

import json
import time
import uuid
from importlib import resources
from pathlib import Path

import pytest

from hmi.core.events import ProductionEvent
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
    station = Station(tmp_path).copy_from(staffed_template)
    text = resources.files("hmi.resources").joinpath("config/demo.toml").read_text("utf-8")
    (tmp_path / "site.toml").write_text(text, encoding="utf-8")  # signs confirm_event
    return station


def add_event(station: Station, good: int) -> str:
    db = open_database(station.database)
    try:
        now = time.time()
        event = ProductionEvent(str(uuid.uuid4()), "filler_output", "Line 1", now - 3600, now,
                                good, 2, "bottles", True)
        EventRepository(db).add(event)
    finally:
        db.close()
    return event.event_id


def test_list_then_confirm_signed_with_the_as_password(station: Station):
    first = add_event(station, 1200)
    result = station.run("events", "list")
    assert result.code == 0, result.err
    [line] = [line for line in result.out.splitlines() if first in line]
    assert line.startswith("pending") and "1,200" in line and line.endswith("Line 1")
    site = str(station.root / "site.toml")
    refused = station.run("events", "confirm", first, "--config", site, "--as", ENGINEER,
                          "--password-stdin", stdin=ENGINEER_PW + "\n")
    assert "may not confirm production" in one_line_error(refused, "events confirm")
    result = station.run("events", "confirm", first, "--config", site, "--comment",
                         "counted by hand too", "--as", OPERATOR, "--password-stdin",
                         stdin=OPERATOR_PW + "\n")
    assert result.code == 0, result.err
    assert result.out.startswith(f"{first}: confirmed; MES transaction ")
    listing = json.loads(station.run("events", "list", "--all", "--json").out)
    assert [(e["id"], e["state"]) for e in listing] == [(first, "confirmed")]
    db = open_database(station.database)
    try:
        [item] = OutboxRepository(db).list()
    finally:
        db.close()
    assert json.loads(item.payload)["quantity"]["good"] == 1200
    rows = [r for r in station.audit_rows() if r["action"] == "confirm_event"]
    assert [(r["user_name"], r["reason"], r["meaning"]) for r in rows] == [
        (OPERATOR, "counted by hand too", "confirmed production quantity")]
    again = station.run("events", "confirm", first, "--config", site, "--as", OPERATOR,
                        "--password-stdin", stdin=OPERATOR_PW + "\n")
    assert "already confirmed" in one_line_error(again, "events confirm")
    unknown = station.run("events", "confirm", str(uuid.uuid4()), "--config", site, "--as",
                          OPERATOR, "--password-stdin", stdin=OPERATOR_PW + "\n")
    assert "there is no production event" in one_line_error(unknown, "events confirm")
