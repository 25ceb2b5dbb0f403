"""The audit trail and accounts on both backends: SQLite and PostgreSQL (a real server
when HMI_TEST_POSTGRES_URL is set; .ci/run starts one)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from hmi.core import audit as events
from hmi.core.audit import AuditEntry
from hmi.core.security import Role
from tests.security.conftest import PASSWORD, build
from tests.store.test_historian_fixtures import BACKENDS, fresh_database


@pytest.mark.parametrize("backend", BACKENDS)
def test_chain_concurrency_tamper_and_clock_on_each_backend(backend: str,
                                                            tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as db:
        sec = build(db)
        sec.add("olga", Role.OPERATOR)
        assert sec.auth.login("olga", PASSWORD).name == "olga"

        def writer(k: int) -> None:
            for n in range(10):
                sec.audit.record(AuditEntry("olga", "operator", "confirm_event",
                                            f"event {k}-{n}", reason="Grüße 🙂 'quoted'"))

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sec.clock.now -= 7200
        sec.audit.record(AuditEntry("olga", "operator", "logout", "hmi"))
        rows = sec.audit.rows()
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
        assert rows[-2].action == events.CLOCK_MOVED_BACK
        report = sec.audit.verify()
        assert report.ok, report.broken
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE audit_trail SET reason = 'nothing' WHERE seq = 10"))
        report = sec.audit.verify()
        assert report.broken is not None
        assert report.broken.seq == 10
