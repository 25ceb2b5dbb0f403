"""The dead-letter list: what the MES rejected, with its reason and what it carried; a
shift lead sends one again (permission retry_mes, a reason, audited), an operator is
told who may. The real runtime and window on a SQLite file."""

from __future__ import annotations

import time
from pathlib import Path

from hmi.core.outbox import OutboxStatus
from tests.conftest import wait_for
from tests.gui.accounts import run, shot, station


def test_a_shift_lead_sends_a_rejected_transaction_again(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto", "s.lead")
        event = st.add_event(good=500)
        actor = run(qloop, st.login("o.otto"))
        item_id = run(qloop, st.runtime.production.confirm(event.event_id, actor))
        st.runtime.outbox.mark_rejected(item_id, 422, "HTTP 422: order 4711 not started",
                                        time.time())
        view = st.window.events
        view._on_outbox_changed()
        run(qloop, wait_for(lambda: view.rejections_button.isVisibleTo(view), 5,
                            "the rejections offered"))
        assert view.rejections_button.text() == "Rejected by the MES (1)…"
        dialog = view.open_rejections()
        run(qloop, wait_for(lambda: dialog.table.rowCount() == 1, 5, "the list read"))
        assert dialog.table.item(0, 3).text() == "HTTP 422: order 4711 not started"
        assert '"type": "ProductionPerformance"' in dialog.payload.toPlainText()
        assert not dialog.retry_button.isEnabled()  # an operator may not
        assert "Needs the role" in dialog.hint.text()
        shot(dialog, "mes-rejections.png")
        run(qloop, st.login("s.lead"))
        assert dialog.retry_button.isEnabled()
        dialog.reason.setText("order 4711 started at the MES")
        assert run(qloop, dialog.retry(dialog.selected(), None)) is True
        assert dialog.table.rowCount() == 0
        item = st.runtime.outbox.get(item_id)
        assert item is not None and item.status is OutboxStatus.PENDING
        rows = [r for r in st.runtime.audit.rows() if r.action == "retry_mes"]
        assert [(r.user, r.reason) for r in rows] == [("s.lead",
                                                       "order 4711 started at the MES")]
