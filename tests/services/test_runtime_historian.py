"""The runtime builds its historian from the site's [historian] section: heartbeat and
retention reach the HistorianService, and the trend's retention horizon follows them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hmi.config import parse_site
from hmi.runtime import Runtime
from hmi.services.historian import RetentionPolicy
from hmi.store.historian_retention import DAY
from tests.config.minimal_site import BASE as SITE


def runtime_for(text: str, data_dir: Path) -> Iterator[Runtime]:
    runtime = Runtime(parse_site(text, "site.toml"), data_dir)
    try:
        yield runtime
    finally:
        runtime.database.close()


@pytest.fixture
def configured(tmp_path: Path) -> Iterator[Runtime]:
    text = SITE + "\n[historian]\nraw_days = 7\nrollup_days = 400\nheartbeat = 15\n"
    yield from runtime_for(text, tmp_path)


@pytest.fixture
def default(tmp_path: Path) -> Iterator[Runtime]:
    yield from runtime_for(SITE, tmp_path)


def test_runtime_passes_configured_heartbeat_and_retention_to_the_historian(
    configured: Runtime,
):
    service = configured.historian
    assert service.writer.filter.heartbeat == 15.0
    assert service.retention is not None
    assert service.retention.policy == RetentionPolicy(
        raw_seconds=7 * DAY, minutes_seconds=400 * DAY
    )


def test_runtime_history_horizon_is_the_configured_rollup_retention(configured: Runtime):
    now = time.time()
    # within 400 days nothing is past retention; 500 days back is, and the note says so
    assert configured.history.retention_note(now - 300 * DAY, now) == ""
    note = configured.history.retention_note(now - 500 * DAY, now)
    assert note.startswith("history is kept for 400 days")


def test_runtime_without_historian_section_keeps_todays_values(default: Runtime):
    service = default.historian
    assert service.writer.filter.heartbeat == 60.0
    assert service.retention is not None
    assert service.retention.policy == RetentionPolicy.days(raw=90, minutes=3 * 365)
    now = time.time()
    assert default.history.retention_note(now - 1000 * DAY, now) == ""
    assert default.history.retention_note(now - 1200 * DAY, now).startswith(
        "history is kept for 1095 days"
    )
