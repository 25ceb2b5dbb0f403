"""The device view: one row per PLC connection. A row's state changes the moment its
device's status does (pushed through ``on_status``); its counters refresh from a
provider once a second, and only while the view is on screen.

Grey when all is well (ISA-101); a row turns red while its device is down and amber
for a while after its error count rose, so the eye goes to what needs attention.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QHideEvent, QShowEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QVBoxLayout, QWidget

from hmi.core.diagnostics import DeviceDiagnostics
from hmi.core.status import DeviceStatus
from hmi.services.devices import COLUMNS, LAST_ERROR, cells, from_status, is_down

DiagnosticsProvider = Callable[[], dict[str, DeviceDiagnostics]]
REFRESH_MS = 1000  # 1 Hz: counters, not samples, and not state (pushed)
LAST_ERROR_WIDTH = 300  # px
RISING_HOLD = 10.0  # seconds a row stays amber after its error count last rose
_NUMERIC = frozenset(range(LAST_ERROR + 1, len(COLUMNS)))
# ISA-101: red for a device that is down (alarm-grade), amber for errors still rising.
_DOWN_BRUSH, _DOWN_TEXT = QBrush(QColor("#c62828")), QBrush(QColor("#ffffff"))
_RISING_BRUSH = QBrush(QColor("#f2c200"))
ModelIndex = QModelIndex | QPersistentModelIndex


class DeviceDiagnosticsModel(QAbstractTableModel):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._rows: list[DeviceDiagnostics] = []
        self._cells: list[tuple[str, ...]] = []
        self._errors: dict[str, int] = {}
        self._rising_until: dict[str, float] = {}
        self._bold = QFont()
        self._bold.setBold(True)

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row, column = index.row(), index.column()
        diagnostics = self._rows[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._cells[row][column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return diagnostics.last_error or None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        down = is_down(diagnostics)
        if role == Qt.ItemDataRole.FontRole and down:
            return self._bold
        if role == Qt.ItemDataRole.BackgroundRole:
            if down:
                return _DOWN_BRUSH
            if self.errors_rising(diagnostics.device):
                return _RISING_BRUSH
        if role == Qt.ItemDataRole.ForegroundRole and down:
            return _DOWN_TEXT
        return None

    def errors_rising(self, device: str) -> bool:
        return self._clock() < self._rising_until.get(device, -1.0)

    def update_diagnostics(self, diagnostics: dict[str, DeviceDiagnostics]) -> None:
        now = self._clock()
        for name, d in diagnostics.items():
            before = self._errors.get(name)
            if before is not None and d.errors > before:
                self._rising_until[name] = now + RISING_HOLD
            self._errors[name] = d.errors
        rows = list(diagnostics.values())
        if [r.device for r in rows] != [r.device for r in self._rows]:
            self.beginResetModel()
            self._rows, self._cells = rows, [cells(r) for r in rows]
            self.endResetModel()
            return
        self._rows, self._cells = rows, [cells(r) for r in rows]
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(COLUMNS) - 1))

    def update_status(self, status: DeviceStatus) -> None:
        """A device's state changed: its row says so now; the counters stay as they were."""
        row = next((i for i, r in enumerate(self._rows) if r.device == status.device), None)
        if row is None:
            self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
            self._rows.append(from_status(status))
            self._cells.append(cells(self._rows[-1]))
            self.endInsertRows()
            return
        updated = dataclasses.replace(self._rows[row], state=status.state,
                                      last_error=status.last_error,
                                      reconnects=status.reconnects)
        self._rows[row], self._cells[row] = updated, cells(updated)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def diagnostics(self, device: str) -> DeviceDiagnostics | None:
        return next((r for r in self._rows if r.device == device), None)

    def counts(self) -> tuple[int, int]:
        """(devices down, devices whose errors are rising and not down)."""
        down = sum(1 for r in self._rows if is_down(r))
        rising = sum(1 for r in self._rows if not is_down(r) and self.errors_rising(r.device))
        return down, rising


class DeviceView(QWidget):
    """The table; ``refreshed(down, rising)`` after each change of what it shows."""

    refreshed = Signal(int, int)

    def __init__(self, provider: DiagnosticsProvider, parent: QWidget | None = None,
                 interval_ms: int = REFRESH_MS) -> None:
        super().__init__(parent)
        self.setObjectName("deviceView")
        self._provider = provider
        self._stopped = False
        self.model = DeviceDiagnosticsModel()
        self.table = QTableView(self)
        self.table.setObjectName("deviceTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(40)  # a gloved finger's row
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(60)
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        # The reason a device is down matters most: it sits next to the state, on one
        # line (elided; the tooltip has it all); the byte counters scroll off first.
        header.setSectionResizeMode(LAST_ERROR, QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(LAST_ERROR, LAST_ERROR_WIDTH)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        # State is pushed (on_status); this timer only refreshes the counters (requests/s,
        # latency, errors, bytes). They change with every request, so pushing them would
        # cost the loop per request for numbers nobody reads while the tab is hidden: they
        # refresh at 1 Hz while the view is on screen, and not at all otherwise.
        self._counters = QTimer(self)
        self._counters.setObjectName("deviceCounterRefresh")
        self._counters.setInterval(interval_ms)
        self._counters.timeout.connect(self._on_counters_tick)
        self._on_counters_tick()

    @property
    def refreshing_counters(self) -> bool:
        return self._counters.isActive()

    def on_status(self, status: DeviceStatus) -> None:
        """A device's status changed: its row shows it at once, on screen or not."""
        self.model.update_status(status)
        self.refreshed.emit(*self.model.counts())

    def _on_counters_tick(self) -> None:
        self.model.update_diagnostics(self._provider())
        self.refreshed.emit(*self.model.counts())

    def refresh(self) -> None:
        """Refresh the counters now, not at the next tick."""
        self._on_counters_tick()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._stopped and not self._counters.isActive():
            self._on_counters_tick()  # what it shows is current the moment it appears
            self._counters.start()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802
        self._counters.stop()
        super().hideEvent(event)

    def stop(self) -> None:
        self._stopped = True
        self._counters.stop()
