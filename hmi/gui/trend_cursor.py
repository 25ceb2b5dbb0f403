"""The cursor tool: a vertical line on the trend and a readout of every pen at its time.

Without the cursor the readout shows each pen's latest live value, so the panel always
answers "what is it now" or "what was it then". A BAD reading is a dash and the word
BAD in red, never a number (DESIGN.md: a widget never shows a BAD value as good).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hmi.core.decimate import NO_DATA
from hmi.core.history import BAD
from hmi.core.trend_data import QUALITY_CODE, QUALITY_NAME, Reading
from hmi.gui.formatting import NO_VALUE
from hmi.gui.trend_canvas import TrendCanvas
from hmi.gui.trend_pens import TrendPen, swatch

CURSOR_COLOUR = "#1e1e1e"
BAD_BACKGROUND, BAD_TEXT = QColor("#c62828"), QColor("#ffffff")
UNCERTAIN_BACKGROUND = QColor("#f2c200")


def format_number(value: float) -> str:
    magnitude = abs(value)
    digits = 1 if magnitude >= 100 else 2 if magnitude >= 1 else 3
    return f"{value:.{digits}f}"


def format_reading(reading: Reading) -> str:
    """One value, or a bucket's range when the history is coarser than a sample."""
    if not reading.has_value:
        return NO_VALUE
    low, high = format_number(reading.low), format_number(reading.high)
    return low if low == high else f"{low} … {high}"


@dataclass(frozen=True, slots=True)
class ReadoutRow:
    pen: str
    colour: str
    value: str
    units: str
    quality: str


class CursorReadout(QWidget):
    """Each pen's value, units and quality at the cursor (or now)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trendReadout")
        self.heading = QLabel("Latest values")
        self.heading.setObjectName("trendReadoutHeading")
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("trendReadoutTable")
        self.table.setHorizontalHeaderLabels(["Pen", "Value", "Units", "Quality"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.table.horizontalHeader()
        # fixed widths: ResizeToContents re-measures every row on every change (10 Hz)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column, width in ((1, 108), (2, 48), (3, 96)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(column, width)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(self.table, 1)
        self.rows: list[ReadoutRow] = []

    def show_rows(self, heading: str, rows: Sequence[ReadoutRow]) -> None:
        """Update in place: only changed cells are touched (this runs at display rate)."""
        if heading != self.heading.text():
            self.heading.setText(heading)
        if rows == self.rows:
            return
        table = self.table
        if len(rows) != table.rowCount():
            table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            old = self.rows[r] if r < len(self.rows) else None
            if old is None or (old.pen, old.colour) != (row.pen, row.colour):
                table.setItem(r, 0, QTableWidgetItem(swatch(row.colour, 16), row.pen))
            if old is None or old.value != row.value:
                value = QTableWidgetItem(row.value)
                value.setTextAlignment(Qt.AlignmentFlag.AlignRight |
                                       Qt.AlignmentFlag.AlignVCenter)
                table.setItem(r, 1, value)
            if old is None or old.units != row.units:
                table.setItem(r, 2, QTableWidgetItem(row.units))
            if old is None or old.quality != row.quality:
                quality = QTableWidgetItem(row.quality)
                if row.quality.startswith("BAD"):
                    quality.setBackground(QBrush(BAD_BACKGROUND))
                    quality.setForeground(QBrush(BAD_TEXT))
                elif row.quality.startswith("UNCERTAIN"):
                    quality.setBackground(QBrush(UNCERTAIN_BACKGROUND))
                table.setItem(r, 3, quality)
        self.rows = list(rows)


class CursorTool(QObject):
    """A draggable vertical line; ``moved`` carries its time. Reads all pens there."""

    moved = Signal(float)

    def __init__(self, canvas: TrendCanvas, readout: CursorReadout,
                 pens: Callable[[], Sequence[TrendPen]],
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(canvas)
        self._canvas = canvas
        self._readout = readout
        self._pens = pens
        self._clock = clock
        self.line = pg.InfiniteLine(
            angle=90, movable=True, pen=pg.mkPen(CURSOR_COLOUR, width=2),
            hoverPen=pg.mkPen(CURSOR_COLOUR, width=4),
            label="", labelOpts={"position": 0.96, "color": CURSOR_COLOUR,
                                 "fill": pg.mkBrush("#f2f2f2"), "movable": False})
        self.line.setZValue(50)
        self.line.sigPositionChanged.connect(self._on_moved)
        self.enabled = False

    @property
    def time(self) -> float | None:
        return float(self.line.value()) if self.enabled else None

    def set_enabled(self, on: bool) -> None:
        if on == self.enabled:
            return
        self.enabled = on
        if on:
            t0, t1 = self._canvas.x_range()
            self.line.setValue((t0 + t1) / 2)
            self._canvas.view.addItem(self.line, ignoreBounds=True)
        else:
            self._canvas.view.removeItem(self.line)
        self.refresh()

    def set_time(self, t: float) -> None:
        if not self.enabled:
            self.set_enabled(True)
        self.line.setValue(t)

    def _on_moved(self) -> None:
        self.refresh()
        self.moved.emit(float(self.line.value()))

    def readings(self) -> dict[str, tuple[Reading, str]]:
        """Each visible pen's reading and its quality text at the cursor (or now)."""
        t = self.time
        found: dict[str, tuple[Reading, str]] = {}
        for pen in self._pens():
            if not pen.visible:
                continue
            if t is None:
                latest = pen.series.latest
                if latest is None:
                    found[pen.name] = (Reading(math.nan, math.nan, NO_DATA), "WAITING")
                    continue
                reading = pen.series.at(latest.source_time)
                code = QUALITY_CODE[latest.quality]
                detail = f": {latest.detail}" if code != 0 and latest.detail else ""
                found[pen.name] = (reading, QUALITY_NAME[code] + detail)
            else:
                reading = pen.series.at(t)
                found[pen.name] = (reading, QUALITY_NAME[reading.quality])
        return found

    def refresh(self) -> None:
        t = self.time
        rows = []
        pens = {pen.name: pen for pen in self._pens()}
        for name, (reading, quality) in self.readings().items():
            pen = pens[name]
            shown = format_reading(reading) if reading.quality != BAD else NO_VALUE
            rows.append(ReadoutRow(name, pen.colour, shown, pen.tag.units, quality))
        if t is None:
            heading = "Latest values"
        else:
            heading = "At cursor " + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
            self.line.label.setFormat(time.strftime("%H:%M:%S", time.localtime(t)))
        self._readout.show_rows(heading, rows)

