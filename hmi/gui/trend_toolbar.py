"""The trend's button row: live/pause, window, paging, last shift, cursor, sets, export,
and a status line that says what the operator is looking at."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

LIVE_WINDOWS = (60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 8 * 3600.0, 24 * 3600.0)


def window_text(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


class TrendToolbar(QWidget):
    """Only widgets; hmi.gui.trend.TrendView connects them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trendToolbar")

        def button(text: str, name: str, checkable: bool = False, tip: str = "") -> QPushButton:
            made = QPushButton(text)
            made.setObjectName(name)
            made.setCheckable(checkable)
            made.setToolTip(tip)
            return made

        self.live = button("Live", "trendLiveButton", True, "Follow the latest data")
        self.pause = button("Pause", "trendPauseButton", True,
                            "Hold the view still; data keeps arriving")
        self.window_combo = QComboBox()
        self.window_combo.setObjectName("trendWindowCombo")
        self.window_combo.setToolTip("Live window")
        self.earlier = button("◀", "trendEarlierButton", tip="One screen earlier")
        self.later = button("▶", "trendLaterButton", tip="One screen later")
        self.range = button("Range…", "trendRangeButton", tip="Show any range of history")
        self.last_shift = button("Last shift", "trendLastShiftButton",
                                 tip="Review the last completed shift")
        self.cursor_button = button("Cursor", "trendCursorButton", True,
                             "Read every pen at one time")
        self.sets = button("Trend sets…", "trendSetsButton", tip="Load or save pens")
        self.csv = button("CSV", "trendCsvButton", tip="Export the visible range")
        self.png = button("PNG", "trendPngButton", tip="Save a picture of the trend")
        self.status = QLabel("")
        self.status.setObjectName("trendStatus")
        # A long message (a historian error) wraps inside the space it has; it must never
        # widen the toolbar, or the whole window grows past the screen.
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        for widget in (self.live, self.pause, self.window_combo, self.earlier, self.later,
                       self.range, self.last_shift, self.cursor_button):
            layout.addWidget(widget)
        layout.addWidget(self.status, 1)
        for widget in (self.sets, self.csv, self.png):
            layout.addWidget(widget)

    def set_windows(self, current: float) -> None:
        """Offer the standard live windows plus ``current`` if it is not one of them."""
        spans = sorted({*LIVE_WINDOWS, current})
        self.window_combo.blockSignals(True)
        self.window_combo.clear()
        for span in spans:
            self.window_combo.addItem(window_text(span), span)
        self.window_combo.setCurrentIndex(spans.index(current))
        self.window_combo.blockSignals(False)

    def set_status(self, text: str, abnormal: bool = False) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)
        if self.status.property("abnormal") != abnormal:
            self.status.setProperty("abnormal", abnormal)
            self.status.style().unpolish(self.status)
            self.status.style().polish(self.status)
