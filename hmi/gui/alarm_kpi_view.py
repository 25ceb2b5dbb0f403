"""The alarm performance screen for shift leads: EEMUA 191 / ISA-18.2 figures over a
chosen range, each as a big number with its target beside it, and the bad actors.

The figures come from ``report(start, end)`` (hmi.services.alarm_report.read_alarm_report
bound to the station's journal and site), called on a worker thread
(``asyncio.to_thread``: it reads SQL). ISA-101: everything grey while a figure meets its
target; only a figure outside it is marked (amber, and the words "over target" or
"manageable"). The definitions are in hmi.core.alarm_kpi.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateTimeEdit,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hmi.core.alarm_kpi import NO_POSITION, AlarmReport, Figure, PositionFigures, Verdict

log = logging.getLogger(__name__)

RANGES = (("Last 24 h", 24.0), ("Last 7 days", 7 * 24.0), ("Last 30 days", 30 * 24.0),
          ("Custom", 0.0))
ACTOR_COLUMNS = ("#", "Alarm", "Priority", "Area", "Alarms", "Share")
POSITION_COLUMNS = ("Position", "Alarms", "Per 10 min\n≤ 1 (2)", "Peak 10 min\n≤ 10",
                    "Per hour\n~6 (12)", "Per day\n~150 (300)", "In flood\n< 1 %")
ReportFunction = Callable[[float, float], AlarmReport]
_ATTENTION = QColor("#f2c200")  # the theme's QLabel[attention] amber

# Only this screen's sizes; the colours are the theme's (QLabel[attention], grey panels).
_STYLE = """
QWidget#alarmKpiView QComboBox, QWidget#alarmKpiView QDateTimeEdit {
    min-height: 46px; padding: 0 8px; font-size: 16px; background: #e6e6e6;
    border: 1px solid #808080; border-radius: 4px; }
QFrame#kpiTile { background: #e2e2e2; border: 1px solid #b4b4b4; border-radius: 4px; }
QLabel#kpiTitle { font-size: 15px; font-weight: 600; color: #3a3a3a; }
QLabel#kpiValue { font-size: 34px; font-weight: 700; padding: 0 10px; border-radius: 3px; }
QLabel#kpiTarget { font-size: 14px; color: #3a3a3a; }
QLabel#kpiDetail { font-size: 15px; font-weight: 600; }
QLabel#kpiHeading { font-size: 17px; font-weight: 600; padding: 6px 0 2px 0; }
QLabel#kpiStatus { font-size: 15px; padding: 0 6px; }
QTableWidget#kpiActors, QTableWidget#kpiPositions { font-size: 15px; }
"""


class KpiTile(QFrame):
    """One figure: its name, the number big, the target (and verdict) under it."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("kpiTile")
        self.title = QLabel(title)
        self.title.setObjectName("kpiTitle")
        self.value = QLabel("–")
        self.value.setObjectName("kpiValue")
        self.detail = QLabel()  # where (the busiest position), which alarms
        self.detail.setObjectName("kpiDetail")
        self.detail.setWordWrap(True)
        self.detail.setVisible(False)
        self.target = QLabel()
        self.target.setObjectName("kpiTarget")
        self.target.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.value, 0, Qt.AlignmentFlag.AlignLeft)  # amber hugs the number
        layout.addWidget(self.detail)
        layout.addWidget(self.target)
        layout.addStretch(1)

    def show_figure(self, value: str, target: str, verdict: Verdict, detail: str = "") -> None:
        self.value.setText(value)
        off = verdict is not Verdict.FINE
        self.target.setText(f"{verdict.value.upper()}; target: {target}" if off else
                            f"target: {target}" if target else "")
        self.detail.setText(detail)
        self.detail.setVisible(bool(detail))
        _mark(self.value, off)


def _mark(label: QLabel, off: bool) -> None:
    if label.property("attention") != off:
        label.setProperty("attention", off)
        label.style().unpolish(label)
        label.style().polish(label)


def _table(name: str, columns: tuple[str, ...]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.verticalHeader().setVisible(False)
    table.setWordWrap(False)
    return table


class AlarmKpiView(QWidget):
    def __init__(self, report: ReportFunction, parent: QWidget | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self.setObjectName("alarmKpiView")
        self.setStyleSheet(_STYLE)
        self._report = report
        self._clock = clock
        self._generation = 0
        self._tasks: set[asyncio.Future[Any]] = set()
        self.shown: AlarmReport | None = None

        self._build_range()
        self._build_figures()
        self._build_tables()
        self._build_layout()

        self.range_combo.currentIndexChanged.connect(self._on_range_changed)
        self.show_button.clicked.connect(self._on_show_clicked)
        self._on_range_changed()

    # -- building ---------------------------------------------------------------------------

    def _build_range(self) -> None:
        self.range_combo = QComboBox()
        self.range_combo.setObjectName("kpiRange")
        for label, hours in RANGES:
            self.range_combo.addItem(label, hours)
        now = QDateTime.currentDateTime()
        self.from_edit = QDateTimeEdit(now.addDays(-1))
        self.to_edit = QDateTimeEdit(now)
        for edit, name in ((self.from_edit, "kpiFrom"), (self.to_edit, "kpiTo")):
            edit.setObjectName(name)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
            edit.setCalendarPopup(True)
        self.show_button = QPushButton("Show")
        self.show_button.setObjectName("kpiShow")
        self.status = QLabel()
        self.status.setObjectName("kpiStatus")
        self.status.setWordWrap(True)

    def _build_figures(self) -> None:
        self.annunciated = KpiTile("Alarms annunciated")
        self.per_10_min = KpiTile("Alarms per 10 min, average")
        self.peak_10_min = KpiTile("Most alarms in 10 min")
        self.flood = KpiTile("Time in flood")
        self.chattering = KpiTile("Chattering alarms")
        self.stale = KpiTile("Stale alarms (active > 24 h)")
        self.top_10 = KpiTile("Top 10 alarms' share")
        self.priorities = KpiTile("Priority mix: low / medium / high")
        self.tiles = (self.annunciated, self.per_10_min, self.peak_10_min, self.flood,
                      self.chattering, self.stale, self.top_10, self.priorities)

    def _build_tables(self) -> None:
        self.positions_table = _table("kpiPositions", POSITION_COLUMNS)
        header = self.positions_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.actors_table = _table("kpiActors", ACTOR_COLUMNS)
        header = self.actors_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.notes = QLabel()
        self.notes.setObjectName("kpiTarget")
        self.notes.setWordWrap(True)

    def _build_layout(self) -> None:
        chooser = QHBoxLayout()
        chooser.setSpacing(8)
        chooser.addWidget(self.range_combo)
        chooser.addWidget(QLabel("From"))
        chooser.addWidget(self.from_edit)
        chooser.addWidget(QLabel("To"))
        chooser.addWidget(self.to_edit)
        chooser.addWidget(self.show_button)
        chooser.addWidget(self.status, 1)
        grid = QGridLayout()
        grid.setSpacing(8)
        for k, tile in enumerate(self.tiles):
            grid.addWidget(tile, k // 4, k % 4)
        for column in range(4):
            grid.setColumnStretch(column, 1)
        tables = QHBoxLayout()
        tables.setSpacing(12)
        left = QVBoxLayout()
        left.addWidget(_heading("Operator positions (target in the header; manageable in "
                                "brackets)"))
        left.addWidget(self.positions_table, 1)
        left.addWidget(self.notes)
        right = QVBoxLayout()
        right.addWidget(_heading("Bad actors: the 10 most frequent alarms"))
        right.addWidget(self.actors_table, 1)
        tables.addLayout(left, 5)
        tables.addLayout(right, 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(8)
        layout.addLayout(chooser)
        layout.addLayout(grid)
        layout.addLayout(tables, 1)

    # -- the range --------------------------------------------------------------------------

    def _on_range_changed(self, *_: object) -> None:
        custom = not self.range_combo.currentData()
        self.from_edit.setEnabled(custom)
        self.to_edit.setEnabled(custom)

    def current_range(self) -> tuple[float, float]:
        hours = float(self.range_combo.currentData() or 0.0)
        if hours:
            end = self._clock()
            return end - hours * 3600, end
        return (float(self.from_edit.dateTime().toSecsSinceEpoch()),
                float(self.to_edit.dateTime().toSecsSinceEpoch()))

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt)
        super().showEvent(event)
        self._on_show_clicked()

    def _on_show_clicked(self, *_: object) -> None:
        task = asyncio.ensure_future(self.refresh())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def refresh(self) -> AlarmReport | None:
        """Compute the figures for the chosen range on a worker thread and show them."""
        start, end = self.current_range()
        if not start < end:
            self.status.setText("The range is empty: From must be before To")
            return None
        self._generation += 1
        generation = self._generation
        self.status.setText("Counting…")
        self.show_button.setEnabled(False)
        try:
            report = await asyncio.to_thread(self._report, start, end)
        except Exception as exc:
            log.exception("alarm report failed")
            if generation == self._generation:
                self.status.setText(f"Could not compute the figures: {exc}")
            return None
        finally:
            self.show_button.setEnabled(True)
        if generation != self._generation:
            return None  # a newer range was asked for meanwhile
        if self.range_combo.currentData():  # a preset: From/To say what it covered
            self.from_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(start)))
            self.to_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(end)))
        self.show_report(report)
        return report

    # -- showing ----------------------------------------------------------------------------

    def show_report(self, report: AlarmReport) -> None:
        self.shown = report
        self.status.setText(f"{_local(report.start)} to {_local(report.end)} "
                            f"({report.hours:.0f} h)")
        hidden = f"; {report.not_annunciated} more while shelved or suppressed" \
            if report.not_annunciated else ""
        self.annunciated.show_figure(f"{report.annunciated:,}", "", Verdict.FINE,
                                     f"in {report.hours:.0f} h{hidden}")
        _worst_tile(self.per_10_min, report, lambda p: p.per_10_min, "{:.2f}")
        _worst_tile(self.peak_10_min, report, lambda p: p.peak_10_min, "{:.0f}")
        _worst_tile(self.flood, report, lambda p: p.flood_percent, "{:.1f} %")
        self.chattering.show_figure(
            f"{report.chattering_count.value:g}", "none (3 or more in 60 s is chattering)",
            report.chattering_count.verdict,
            _names(f"{a.name} ({a.max_in_60_s} in 60 s)" for a in report.chattering))
        self.stale.show_figure(
            f"{report.stale_count.value:g}", report.stale_count.target,
            report.stale_count.verdict,
            _names(f"{a.name} ({a.hours:.0f} h)" for a in report.stale))
        self.top_10.show_figure(f"{report.top_10_percent.value:.0f} %",
                                report.top_10_percent.target, report.top_10_percent.verdict)
        mix = report.priority_mix[:3]  # low, medium, high with critical
        worst = max((share.verdict for share in mix), key=_severity)
        self.priorities.show_figure(" / ".join(f"{share.percent:.0f}" for share in mix) + " %",
                                    "~80 / 15 / 5 % (critical counted with high)", worst)
        self._fill_positions(report)
        self._fill_actors(report)

    def _fill_positions(self, report: AlarmReport) -> None:
        table = self.positions_table
        table.setRowCount(len(report.positions))
        for row, position in enumerate(report.positions):
            cells: list[tuple[str, Figure | None]] = [
                (position.name, None), (f"{position.annunciated:,}", None),
                (f"{position.per_10_min.value:.2f}", position.per_10_min),
                (f"{position.peak_10_min.value:.0f}", position.peak_10_min),
                (f"{position.per_hour.value:.1f}", position.per_hour),
                (f"{position.per_day.value:.0f}", position.per_day),
                (f"{position.flood_percent.value:.1f} %", position.flood_percent)]
            for column, (text, figure) in enumerate(cells):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight |
                                          Qt.AlignmentFlag.AlignVCenter)
                if figure is not None and figure.verdict is not Verdict.FINE:
                    item.setBackground(_ATTENTION)
                    item.setToolTip(f"{figure.verdict.value}: {figure.target}")
                table.setItem(row, column, item)
        notes = []
        if report.unwatched_areas:
            areas = ", ".join(area or "(no area)" for area in report.unwatched_areas)
            notes.append(f"{NO_POSITION}: areas no position watches: {areas}")
        if report.not_configured:
            notes.append(f"Alarms in the journal but not in the site file: "
                         f"{', '.join(report.not_configured)}")
        self.notes.setText("\n".join(notes))
        self.notes.setVisible(bool(notes))

    def _fill_actors(self, report: AlarmReport) -> None:
        table = self.actors_table
        table.setRowCount(len(report.bad_actors))
        for row, actor in enumerate(report.bad_actors):
            cells = (str(row + 1), actor.name, actor.priority, actor.area or "–",
                     f"{actor.annunciated:,}", f"{actor.percent:.1f} %")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column in (0, 4, 5):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight |
                                          Qt.AlignmentFlag.AlignVCenter)
                table.setItem(row, column, item)


def _severity(verdict: Verdict) -> int:
    return list(Verdict).index(verdict)


def _worst_tile(tile: KpiTile, report: AlarmReport,
                figure_of: Callable[[PositionFigures], Figure], pattern: str) -> None:
    """The position doing worst on this figure; its name when there are several."""
    worst = max(report.positions, key=lambda p: figure_of(p).value)
    figure = figure_of(worst)
    where = f"{worst.name}, the highest of {len(report.positions)} positions" \
        if len(report.positions) > 1 else ""
    tile.show_figure(pattern.format(figure.value), figure.target, figure.verdict, where)


def _names(texts: Iterable[str], most: int = 3) -> str:
    shown = list(texts)
    more = f" and {len(shown) - most} more" if len(shown) > most else ""
    return ", ".join(shown[:most]) + more


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("kpiHeading")
    return label


def _local(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))

