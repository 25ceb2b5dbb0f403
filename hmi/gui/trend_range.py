"""Choose any range of history: From and To, with calendar pop-ups and quick lengths.

A shift lead asked "what happened on Tuesday night?" types or picks two times and
sees them; a To before From, or a From in the future, is said in words next to the
Show button (which stays disabled) instead of failing silently.
"""

from __future__ import annotations

from PySide6.QtCore import QDateTime, Signal
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

DISPLAY_FORMAT = "yyyy-MM-dd HH:mm"
TOUCH_PX = 48
QUICK_LENGTHS = (("1 h", 3600.0), ("8 h", 8 * 3600.0), ("24 h", 86_400.0),
                 ("7 days", 7 * 86_400.0))


def _to_qt(timestamp: float) -> QDateTime:
    return QDateTime.fromSecsSinceEpoch(int(timestamp))


def range_problem(start: float, end: float, now: float) -> str:
    """Why [start, end] cannot be shown, in words; empty when it can."""
    if not end > start:
        return "“To” must be later than “From”."
    if start >= now:
        return "“From” is in the future: there is no history there yet."
    return ""


class RangeDialog(QDialog):
    """Emits ``chosen(start, end)`` (epoch seconds) when the operator presses Show."""

    chosen = Signal(float, float)

    def __init__(self, start: float, end: float, now: float,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trendRangeDialog")
        self.setWindowTitle("Show a range of history")
        self._now = now
        self.start_edit = self._editor("trendRangeFrom", start)
        self.end_edit = self._editor("trendRangeTo", min(end, now))
        form = QFormLayout()
        form.addRow("From", self.start_edit)
        form.addRow("To", self.end_edit)
        quick = QHBoxLayout()
        quick.addWidget(QLabel("Length from “From”:"))
        for text, seconds in QUICK_LENGTHS:
            button = QPushButton(text)
            button.setObjectName(f"trendRangeQuick{text.replace(' ', '')}")
            button.clicked.connect(lambda _c=False, s=seconds: self._set_length(s))
            quick.addWidget(button)
        self.problem = QLabel("")
        self.problem.setObjectName("trendRangeProblem")
        self.problem.setWordWrap(True)
        self.show_button = QPushButton("Show")
        self.show_button.setObjectName("trendRangeShow")
        self.show_button.setDefault(True)
        cancel = QPushButton("Cancel")
        cancel.setObjectName("trendRangeCancel")
        self.show_button.clicked.connect(self._on_show)
        cancel.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.problem, 1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.show_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(quick)
        layout.addLayout(buttons)
        self.start_edit.dateTimeChanged.connect(self._check)
        self.end_edit.dateTimeChanged.connect(self._check)
        self._check()

    def _editor(self, name: str, timestamp: float) -> QDateTimeEdit:
        edit = QDateTimeEdit(_to_qt(timestamp))
        edit.setObjectName(name)
        edit.setDisplayFormat(DISPLAY_FORMAT)
        edit.setCalendarPopup(True)
        edit.setMaximumDateTime(_to_qt(self._now + 86_400))
        edit.setMinimumSize(320, TOUCH_PX)  # a gloved finger, not a mouse pointer
        return edit

    def selected(self) -> tuple[float, float]:
        return (float(self.start_edit.dateTime().toSecsSinceEpoch()),
                float(self.end_edit.dateTime().toSecsSinceEpoch()))

    def set_range(self, start: float, end: float) -> None:
        self.start_edit.setDateTime(_to_qt(start))
        self.end_edit.setDateTime(_to_qt(end))

    def _set_length(self, seconds: float) -> None:
        start, _ = self.selected()
        self.end_edit.setDateTime(_to_qt(min(start + seconds, self._now)))

    def _check(self) -> None:
        problem = range_problem(*self.selected(), self._now)
        self.problem.setText(problem)
        if self.problem.property("abnormal") != bool(problem):  # red only with a problem
            self.problem.setProperty("abnormal", bool(problem))
            self.problem.style().unpolish(self.problem)
            self.problem.style().polish(self.problem)
        self.show_button.setEnabled(not problem)

    def _on_show(self) -> None:
        start, end = self.selected()
        if not range_problem(start, end, self._now):
            self.chosen.emit(start, end)
            self.accept()

