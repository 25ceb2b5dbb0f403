"""The Alarm journal tab: every alarm transition (raised, cleared, acknowledged, shelved,
...), with who and why, searchable, filterable, exportable to CSV.

Everyone may read it, whatever their role: an alarm's history is what the operator
needs to understand it, and the export holds every alarm of the range and filter (not
only those the viewer may act on). The rows come from the store in a worker thread; the
screen shows the newest ``SHOWN`` of a range, the export has them all.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import logging
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from hmi.core.alarm_rules import AlarmRule, Priority
from hmi.core.alarm_states import AlarmEvent
from hmi.core.ports import AlarmBoard, AlarmJournalReader, JournalLine
from hmi.gui.alarm_style import LOOKS, STATE_WORDS, priority_pixmap

log = logging.getLogger(__name__)
SHOWN = 5_000
RANGES = (("Last hour", 3600.0), ("Last 8 hours", 8 * 3600.0), ("Last 24 hours", 86400.0),
          ("Last 7 days", 7 * 86400.0), ("Last 30 days", 30 * 86400.0))
COLUMNS = ("Time", "Priority", "Alarm", "Message", "Event", "State after", "By",
           "Comment / value", "Area", "Equipment")
CSV_HEADER = ("time_utc", "time_local", "alarm", "priority", "area", "equipment", "message",
              "event", "state_before", "state_after", "occurrence", "user", "comment",
              "value")
Index = QModelIndex | QPersistentModelIndex


def csv_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def matches(line: JournalLine, rule: AlarmRule | None, words: str,
            priority: Priority | None, area: str, event: AlarmEvent | None) -> bool:
    if priority is not None and (rule is None or rule.priority is not priority):
        return False
    if area and (rule is None or rule.area != area):
        return False
    if event is not None and line.event is not event:
        return False
    if words:
        haystack = " ".join((line.name, rule.message if rule else "", line.user,
                             line.comment, line.value)).casefold()
        return all(word in haystack for word in words.casefold().split())
    return True


def write_csv(path: Path, lines: Sequence[JournalLine], rules: dict[str, AlarmRule]) -> int:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_HEADER)
        for line in lines:
            rule = rules.get(line.name)
            when = dt.datetime.fromtimestamp(line.time, dt.UTC)
            local = dt.datetime.fromtimestamp(line.time)
            writer.writerow([csv_safe(str(cell)) for cell in (
                when.isoformat(timespec="milliseconds"), local.isoformat(timespec="seconds"),
                line.name, rule.priority.value if rule else "", rule.area if rule else "",
                rule.equipment if rule else "", rule.message if rule else "(not configured)",
                line.event.value, line.before.value, line.after.value, line.occurrence,
                line.user, line.comment, line.value)])
    return len(lines)


class JournalModel(QAbstractTableModel):
    def __init__(self, rules: dict[str, AlarmRule]) -> None:
        super().__init__()
        self._rules = rules
        self.lines: list[JournalLine] = []

    def set_lines(self, lines: list[JournalLine]) -> None:
        self.beginResetModel()
        self.lines = lines
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 (Qt)
        return 0 if parent.isValid() else len(self.lines)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 (Qt)
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802 (Qt)
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        line = self.lines[index.row()]
        rule = self._rules.get(line.name)
        column = index.column()
        if role == Qt.ItemDataRole.DecorationRole and column == 1 and rule is not None:
            return priority_pixmap(rule.priority, size=20)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        cells = (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(line.time)),
                 LOOKS[rule.priority].title if rule else "",
                 line.name, rule.message if rule else "(not configured)",
                 line.event.value, STATE_WORDS[line.after], line.user,
                 line.comment or line.value, rule.area if rule else "",
                 rule.equipment if rule else "")
        return cells[column]


class AlarmJournalView(QWidget):
    def __init__(self, board: AlarmBoard, journal: AlarmJournalReader,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alarmJournalView")
        self._journal = journal
        self._rules = dict(board.rules)
        self._tasks: set[asyncio.Future[Any]] = set()
        self._matching: list[JournalLine] = []
        self.export_dialog: QFileDialog | None = None
        self.range = QComboBox()
        for title, seconds in RANGES:
            self.range.addItem(title, seconds)
        self.range.setCurrentIndex(2)
        self.search = QLineEdit()
        self.search.setObjectName("journalSearch")
        self.search.setPlaceholderText("Search alarm, message, user, comment")
        self.priority = QComboBox()
        self.priority.addItem("All priorities", None)
        for priority in Priority:
            self.priority.addItem(LOOKS[priority].title, priority)
        self.area = QComboBox()
        self.area.addItem("All areas", "")
        for area in sorted({r.area for r in self._rules.values() if r.area}):
            self.area.addItem(area, area)
        self.kind = QComboBox()
        self.kind.addItem("All events", None)
        for event in AlarmEvent:
            self.kind.addItem(event.value, event)
        top = self._top()
        self.model = JournalModel(self._rules)
        self.table = self._table()
        self.status = QLabel()
        self.status.setObjectName("journalStatus")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(300)
        self._search_timer.timeout.connect(self._apply_filter)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.refresh_button.clicked.connect(self._on_range_or_filter)
        self.export_button.clicked.connect(self._on_export)
        self._lines: list[JournalLine] = []
        self._generation = 0  # reads answered out of order: only the newest is shown

    def _top(self) -> QHBoxLayout:
        self.refresh_button = QPushButton("Refresh")
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setObjectName("journalExport")
        top = QHBoxLayout()
        for widget in (self.range, self.priority, self.area, self.kind):
            widget.setObjectName("alarmFilter")
            widget.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            widget.setMinimumContentsLength(9)
            # a new range is read again; a filter sifts the rows in hand
            widget.currentIndexChanged.connect(
                self._on_range_or_filter if widget is self.range else self._apply_filter)
            top.addWidget(widget)
        top.addWidget(self.search, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.export_button)
        return top

    def _table(self) -> QTableView:
        table = QTableView()
        table.setObjectName("alarmJournal")
        table.setModel(self.model)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(36)
        table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        for column, width in enumerate((170, 110, 200, 0, 150, 150, 110, 200, 100, 110)):
            if width:
                table.setColumnWidth(column, width)
        return table

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt)
        super().showEvent(event)
        self._on_range_or_filter()

    def _on_range_or_filter(self, *_: object) -> None:
        self._start(self.reload())

    async def reload(self) -> int:
        """Read the chosen range again and show what matches; returns the matches."""
        end = time.time() + 1
        start = end - float(self.range.currentData())
        self.status.setText("Reading the journal…")
        self._generation += 1
        generation = self._generation
        try:
            lines = list(await self._journal.journal(start, end))
        except Exception as exc:  # shown; the table keeps what it had
            log.warning("alarm journal not read: %s", exc)
            if generation == self._generation:
                self.status.setText(f"The journal could not be read: {exc}")
            return 0
        if generation != self._generation:  # a newer range was asked for meanwhile
            return len(self._matching)
        self._lines = lines
        return self._apply_filter()

    def _apply_filter(self) -> int:
        words = self.search.text().strip()
        priority = self.priority.currentData()
        area = str(self.area.currentData() or "")
        event = self.kind.currentData()
        self._matching = [line for line in self._lines
                          if matches(line, self._rules.get(line.name), words, priority,
                                     area, event)]
        shown = list(reversed(self._matching[-SHOWN:]))  # newest first
        self.model.set_lines(shown)
        text = f"{len(self._matching):,} entries"
        if len(self._matching) > SHOWN:
            text += f" (the newest {SHOWN:,} shown; the export has them all)"
        self.status.setText(text)
        return len(self._matching)

    def _on_export(self) -> None:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
        dialog = QFileDialog(self, "Export the alarm journal",
                             str(Path.home() / f"alarm-journal-{stamp}.csv"),
                             "CSV files (*.csv)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("csv")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
        dialog.fileSelected.connect(lambda path: self._start(self.export_to(Path(path))))
        self.export_dialog = dialog
        dialog.open()  # never exec() under qasync

    async def export_to(self, path: Path) -> int | None:
        """Every entry of the range matching the filters, oldest first, to ``path``."""
        matching = list(self._matching)
        try:
            count = await asyncio.to_thread(write_csv, path, matching, self._rules)
        except OSError as exc:
            self.status.setText(f"Not exported: {exc}")
            return None
        self.status.setText(f"Exported {count:,} entries to {path}")
        return count

    def _start(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close_view(self) -> None:
        self._search_timer.stop()
        if self.export_dialog is not None and self.export_dialog.isVisible():
            self.export_dialog.reject()
        for task in self._tasks:
            task.cancel()
