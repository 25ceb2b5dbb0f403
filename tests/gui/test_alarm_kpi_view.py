"""The alarm performance screen: the figures of a report as big numbers with their
targets, amber only where a figure is outside its target, the bad actors in a table;
the report is computed off the GUI loop for the chosen range."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtWidgets import QApplication

from hmi.core.alarm_kpi import AlarmReport, alarm_report
from hmi.gui.alarm_kpi_view import AlarmKpiView
from hmi.gui.uiloader import theme_stylesheet
from tests.core import alarm_scenario as scenario
from tests.core.test_alarm_kpi import journal
from tests.gui.accounts import run

START = 1_700_000_000.0
NOW = START + scenario.SPAN


class FakeReport:
    """The scenario's report for any range; remembers the ranges and threads asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, float]] = []
        self.threads: list[int] = []
        self._rows = journal(scenario.moves(START))

    def __call__(self, start: float, end: float) -> AlarmReport:
        self.calls.append((start, end))
        self.threads.append(threading.get_ident())
        return alarm_report(self._rows, scenario.rules(), scenario.POSITIONS, START, NOW)


def test_figures_targets_and_bad_actors(qloop, qtbot, tmp_path: Path) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before = app.styleSheet()
    app.setStyleSheet(theme_stylesheet())
    try:
        fake = FakeReport()
        view = AlarmKpiView(fake, clock=lambda: NOW)
        qtbot.addWidget(view)
        view.resize(1400, 860)
        assert [view.range_combo.itemText(k) for k in range(view.range_combo.count())] == [
            "Last 24 h", "Last 7 days", "Last 30 days", "Custom"]
        assert not view.from_edit.isEnabled()
        report = run(qloop, view.refresh())
        assert report is not None
        assert fake.calls[-1] == (NOW - 86400, NOW)
        assert fake.threads[-1] != threading.get_ident(), "computed off the GUI thread"

        assert view.annunciated.value.text() == "63"
        assert view.per_10_min.value.text() == "0.72"
        assert view.per_10_min.detail.text() == \
            "Filling console, the highest of 4 positions"
        assert view.per_10_min.target.text() == \
            "target: EEMUA 191: acceptable <= 1, manageable <= 2"
        assert view.per_10_min.value.property("attention") is False  # grey: fine
        assert view.peak_10_min.value.text() == "12"
        assert view.peak_10_min.value.property("attention") is True
        assert view.peak_10_min.target.text() == "OVER TARGET; target: at most 10 (ISA-18.2)"
        assert view.flood.value.text() == "5.6 %"
        assert view.stale.value.text() == "3"
        assert view.stale.value.property("attention") is False
        assert view.stale.detail.text() == \
            "Util.Oldest (972 h), Util.Ancient (252 h), Util.Stale (25 h)"
        assert view.chattering.value.text() == "1"
        assert view.chattering.detail.text() == "Pack.Chatter (3 in 60 s)"
        assert view.top_10.value.text() == "78 %"
        assert view.priorities.value.text() == "83 / 10 / 6 %"
        assert view.priorities.value.property("attention") is True  # high over 5 %

        actors = view.actors_table
        assert actors.rowCount() == 10
        assert [actors.item(0, c).text() for c in range(6)] == [
            "1", "Fill.01", "low", "Filling", "7", "11.1 %"]
        positions = view.positions_table
        assert [positions.item(r, 0).text() for r in range(positions.rowCount())] == [
            "Filling console", "Packing console", "Utilities desk", "(no position)"]
        assert positions.item(0, 3).toolTip() == "over target: at most 10 (ISA-18.2)"
        assert positions.item(1, 3).toolTip() == ""
        assert "areas no position watches: Boiler" in view.notes.text()

        view.range_combo.setCurrentIndex(3)  # Custom
        assert view.from_edit.isEnabled()
        view.from_edit.setDateTime(view.to_edit.dateTime().addSecs(3600))
        assert run(qloop, view.refresh()) is None
        assert view.status.text() == "The range is empty: From must be before To"

        view.show()
        qtbot.waitExposed(view)
        run(qloop, view.refresh())  # (the custom range is empty: the figures stay)
        view.range_combo.setCurrentIndex(1)
        run(qloop, view.refresh())
        assert fake.calls[-1] == (NOW - 7 * 86400, NOW)
        assert view.grab().save("/tmp/kpi_view.png")
    finally:
        app.setStyleSheet(before)
