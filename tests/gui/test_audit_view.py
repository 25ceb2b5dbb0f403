"""The Audit tab: only for roles that may read it; rows newest first with filters and a
limit; Verify chain finds a tampered row; Export CSV writes the filtered rows."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QWidget

from hmi.core import audit as events
from hmi.gui.audit_view import AuditView
from hmi.runtime import DATABASE_FILE
from tests.conftest import wait_for
from tests.gui.accounts import run, shot, station


def _audit_tab(st) -> AuditView:
    view = st.window.audit_view
    assert isinstance(view, AuditView)
    tabs = st.window._tabs
    index = tabs.indexOf(st.window.findChild(QWidget, "auditTab"))
    assert tabs.tabText(index) == "Audit"
    tabs.setCurrentIndex(index)
    return view


def _column(view: AuditView, column: int) -> list[str]:
    model = view.model
    return [model.index(row, column).data() for row in range(model.rowCount())]


def _search(qloop, view: AuditView) -> None:
    run(qloop, view.refresh())


def test_only_roles_with_view_audit_see_the_rows(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto", "s.lead")
        view = _audit_tab(st)
        assert view.pages.currentIndex() == 0
        assert "Needs the role Shift lead, Engineer, Administrator to read the audit trail" \
            in view.refused.text()
        assert "Log in as one of them" in view.refused.text()
        run(qloop, st.login("o.otto"))
        assert view.pages.currentIndex() == 0, "an operator may not read it"
        assert view.model.rowCount() == 0
        shot(st.window, "audit-tab-refused.png")
        splitter = st.window.findChild(QSplitter, "mainSplitter")
        audit_height = splitter.sizes()[1]
        st.window._tabs.setCurrentWidget(st.window.findChild(QWidget, "tagsTab"))
        assert splitter.sizes()[1] < audit_height, "the trend gets its height back"
        _audit_tab(st)
        assert splitter.sizes()[1] == audit_height

        run(qloop, st.login("s.lead"))
        run(qloop, wait_for(lambda: view.model.rowCount() > 0, 5, "rows"))
        assert view.pages.currentIndex() == 1

        run(qloop, st.access.lock())
        assert view.pages.currentIndex() == 0
        assert view.model.rowCount() == 0, "rows are not left on screen after the lock"


def test_rows_newest_first_and_filters_by_user_action_and_text(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto", "m.maier")
        st.runtime.users.set_disabled(st.admin, "m.maier", True, "moved to another plant")
        run(qloop, st.login("o.otto"))
        run(qloop, st.login("j.smith"))
        view = _audit_tab(st)
        run(qloop, wait_for(lambda: view.model.rowCount() > 0, 5, "rows"))
        _search(qloop, view)
        seqs = [int(s) for s in _column(view, 0)]
        assert seqs == sorted(seqs, reverse=True), "newest first"
        assert len(seqs) == len(st.runtime.audit.rows())
        assert view.status.text() == f"{len(seqs)} rows, newest first"
        header = [view.model.headerData(c, Qt.Orientation.Horizontal) for c in range(10)]
        assert header == ["Seq", "Time", "User", "Role", "Action", "Object", "Old", "New",
                          "Reason", "Meaning"]
        assert _column(view, 1)[0][:2] == "20"  # local date and time
        assert "Administrator" in _column(view, 3)
        shot(st.window, "audit-tab.png")

        users = [view.user_combo.itemText(i) for i in range(view.user_combo.count())]
        assert users[0] == "All users"
        assert {"j.smith", "o.otto"} <= set(users)
        view.user_combo.setCurrentIndex(view.user_combo.findData("o.otto"))
        _search(qloop, view)
        assert set(_column(view, 2)) == {"o.otto"}
        assert set(_column(view, 4)) == {events.LOGIN, events.LOGOUT}

        view.user_combo.setCurrentIndex(0)
        view.action_combo.setCurrentIndex(view.action_combo.findData(events.USER_ADDED))
        _search(qloop, view)
        assert sorted(_column(view, 5)) == ["j.smith", "m.maier", "o.otto"]

        view.action_combo.setCurrentIndex(0)
        view.text_edit.setText("ANOTHER plant")  # case-insensitive, in the reason
        _search(qloop, view)
        assert _column(view, 4) == [events.USER_DISABLED]
        assert _column(view, 8) == ["moved to another plant"]


def test_the_limit_is_said(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto", "m.maier", "s.lead")
        run(qloop, st.login("j.smith"))
        view = _audit_tab(st)
        view.limit = 3
        _search(qloop, view)
        assert view.model.rowCount() == 3
        assert _column(view, 0) == ["5", "4", "3"]
        assert "newest 3 rows" in view.status.text()
        assert "narrow the filter" in view.status.text()


def test_verify_says_ok_then_broken_after_a_row_is_edited(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto")
        run(qloop, st.login("j.smith"))
        view = _audit_tab(st)
        _search(qloop, view)

        async def verify() -> None:
            view.verify_label.setText("")  # the next answer, not the previous one
            qtbot.mouseClick(view.verify_button, Qt.MouseButton.LeftButton)
            await wait_for(lambda: view.verify_label.text().startswith(("Chain", "BROKEN")),
                           10, "the verification")

        run(qloop, verify())
        assert view.verify_label.text().startswith("Chain OK: all 3 rows verified")
        assert view.verify_label.property("abnormal") is False

        with sqlite3.connect(tmp_path / DATABASE_FILE) as connection:  # someone edits a row
            connection.execute("update audit_trail set new_value = 'admin' where seq = 2")
        connection.close()
        run(qloop, verify())
        text = view.verify_label.text()
        assert text.startswith("BROKEN at row 2: its content does not match its hash"), text
        assert view.verify_label.property("abnormal") is True
        row = view.model.row_of(2)
        assert row is not None
        background = view.model.index(row, 0).data(Qt.ItemDataRole.BackgroundRole)
        assert background is not None
        assert background.name() == "#c62828"
        assert view.model.index(0, 0).data(Qt.ItemDataRole.BackgroundRole) is None
        shot(st.window, "audit-tab-broken.png")


def test_export_writes_the_filtered_rows_as_csv(qloop, qtbot, tmp_path: Path):
    (tmp_path / "data").mkdir()
    with station(qloop, qtbot, tmp_path / "data") as st:
        st.add_users("o.otto")
        run(qloop, st.login("o.otto"))
        run(qloop, st.login("j.smith"))
        view = _audit_tab(st)
        view.user_combo.addItem("o.otto", "o.otto")
        view.user_combo.setCurrentIndex(view.user_combo.findData("o.otto"))

        qtbot.mouseClick(view.export_button, Qt.MouseButton.LeftButton)
        dialog = view.export_dialog
        assert dialog is not None
        assert dialog.isVisible(), "a file dialog, opened with open()"
        target = tmp_path / "audit.csv"

        async def scenario() -> None:
            dialog.fileSelected.emit(str(target))
            await wait_for(lambda: view.export_label.text().startswith("Exported"), 10,
                           "export")

        dialog.close()
        run(qloop, scenario())
        assert view.export_label.text() == f"Exported 2 rows to {target}"
        with target.open(encoding="utf-8", newline="") as source:
            rows = list(csv.DictReader(source))
        assert [(r["user"], r["action"]) for r in rows] == [
            ("o.otto", events.LOGIN), ("o.otto", events.LOGOUT)]
        assert rows[1]["reason"] == "user switched to j.smith"
