"""Dialogs of the alarm screens: an action with its comment or reason (acknowledge,
shelve, out of service, ...), and an alarm's details with its guidance and history.

An action dialog stays open when the service refuses (a comment missing, a shelve too
long, no permission) and says why in its message line; nothing has changed then.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hmi.core.alarm_rules import AlarmKind, AlarmRule
from hmi.core.alarm_states import AlarmRecord, AlarmState
from hmi.core.ports import JournalLine
from hmi.gui.alarm_style import LOOKS, STATE_WORDS, priority_pixmap
from hmi.gui.login import AccountDialog, set_message, text_field

SHELVE_CHOICES = (15, 30, 60, 120, 240, 480)  # minutes; those above the cap are left out
MAX_TEXT = 500


def minutes_words(minutes: float) -> str:
    if minutes < 60:
        return f"{minutes:g} min"
    hours = minutes / 60
    return f"{hours:g} h"


class AlarmActionDialog(AccountDialog):
    """Emits ``submitted(minutes, text)``; the caller answers with ``refuse(why)``
    (the dialog stays) or ``accept()``."""

    submitted = Signal(float, str)

    def __init__(self, title: str, subject: str, submit: str, *, text_label: str,
                 text_required: bool, max_minutes: float | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(title, title, "", submit, parent)
        self.setObjectName("alarmActionDialog")
        self.subject = QLabel(subject)
        self.subject.setObjectName("alarmActionSubject")
        self.subject.setWordWrap(True)
        self.add_row("Alarm" if "\n" not in subject else "Alarms", self.subject)
        self.minutes: float = 0.0
        self.minute_buttons: dict[float, QPushButton] = {}
        if max_minutes is not None:
            self._add_minutes(max_minutes)
        need = "required" if text_required else "optional"
        self.text = text_field("alarmActionText", f"{text_label} ({need})")
        self.text.setMaxLength(MAX_TEXT)
        self.text_required = text_required
        self.add_row(text_label, self.text)
        self.text.returnPressed.connect(self._on_submit)
        self.submit_button.clicked.connect(self._on_submit)

    def _add_minutes(self, cap: float) -> None:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        group = QButtonGroup(self)
        choices: list[float] = [m for m in SHELVE_CHOICES if m <= cap] or [cap]
        for minutes in choices:
            button = QPushButton(minutes_words(minutes))
            button.setCheckable(True)
            button.setObjectName("shelveMinutes")
            group.addButton(button)
            row.addWidget(button)
            button.clicked.connect(lambda _=False, m=minutes: self._choose(m))
            self.minute_buttons[minutes] = button
        self.add_row("Shelve for", box)
        self._choose(choices[min(1, len(choices) - 1)])
        self.cap_label = QLabel(f"At most {minutes_words(cap)} (site setting); it comes "
                                "back by itself at the end, unacknowledged if still active.")
        self.cap_label.setWordWrap(True)
        self.add_row("", self.cap_label)

    def _choose(self, minutes: float) -> None:
        self.minutes = minutes
        self.minute_buttons[minutes].setChecked(True)

    def _on_submit(self) -> None:
        if not self.submit_button.isEnabled():
            return
        if self.text_required and not self.text.text().strip():
            self.refuse(f"Type a {self.text.placeholderText().split(' (')[0].lower()}: "
                        "it is required here.")
            return
        self._busy(True)
        set_message(self.message, "Working…", refused=False)
        self.submitted.emit(self.minutes, self.text.text())

    def refuse(self, why: str) -> None:
        self._busy(False)
        set_message(self.message, why, refused=True)
        self.text.setFocus()


def rule_text(rule: AlarmRule) -> str:
    """The condition in words: "Filler.ProductTemp above 6 (deadband 0.3, on-delay 10 s)"."""
    kind = rule.kind
    if rule.source:
        return f"raised by the {rule.source}"
    if kind is AlarmKind.BAD_QUALITY:
        what = f"device {rule.device} not communicating" if rule.device else \
            f"{rule.tag} quality BAD"
    elif kind is AlarmKind.DISCRETE:
        states = ", ".join("ON" if s is True else "OFF" if s is False else str(s)
                           for s in rule.states)
        what = f"{rule.tag} is {states}"
    elif kind is AlarmKind.DEVIATION:
        what = f"{rule.tag} more than {rule.limit:g} from {rule.setpoint_tag}"
    elif kind is AlarmKind.RATE:
        what = f"{rule.tag} changing faster than {rule.limit:g} per second"
    else:
        side = "above" if kind.high_side else "below"
        what = f"{rule.tag} {side} {rule.limit:g} ({kind.value.upper()})"
    extras = []
    if rule.deadband:
        extras.append(f"deadband {rule.deadband:g}")
    if rule.on_delay:
        extras.append(f"on-delay {rule.on_delay:g} s")
    if rule.off_delay:
        extras.append(f"off-delay {rule.off_delay:g} s")
    if rule.latching:
        extras.append("latching: reset by acknowledging once normal")
    if rule.suppress_when:
        extras.append(f"suppressed while {rule.suppress_when}")
    return what + (f" — {', '.join(extras)}" if extras else "")


def _clock(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


class AlarmDetailsDialog(QDialog):
    """One alarm: priority, state, where, the condition, what to do, and its journal.
    ``acknowledge`` asks the view to acknowledge it (the view checks and does it)."""

    acknowledge = Signal(str)

    def __init__(self, rule: AlarmRule, record: AlarmRecord | None,
                 history: Sequence[JournalLine] = (), parent: QWidget | None = None, *,
                 may_acknowledge: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("alarmDetails")
        self.setWindowTitle(f"Alarm {rule.shown_name}")
        self.rule = rule
        look = LOOKS[rule.priority]
        mark = QLabel()
        mark.setPixmap(priority_pixmap(rule.priority, size=44))
        heading = QLabel(rule.message)
        heading.setObjectName("dialogHeading")
        heading.setWordWrap(True)
        state = record.alarm.state if record is not None else None
        self.state_label = QLabel(
            f"{look.title} priority · {state.value if state else 'not known yet'}"
            + (f" since {_clock(record.since)}" if record is not None else ""))
        self.state_label.setObjectName("alarmDetailsState")
        top = QHBoxLayout()
        top.addWidget(mark, 0, Qt.AlignmentFlag.AlignTop)
        titles = QVBoxLayout()
        titles.addWidget(heading)
        titles.addWidget(self.state_label)
        top.addLayout(titles, 1)
        facts = self._facts(rule)
        self._fill_history(history)
        self.ack_button = QPushButton("Acknowledge")
        self.ack_button.setObjectName("submitButton")
        self.ack_button.clicked.connect(lambda: self.acknowledge.emit(rule.name))
        close = QPushButton("Close")
        close.setObjectName("cancelButton")
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.ack_button)
        buttons.addWidget(close)
        self.ack_button.setVisible(may_acknowledge and state is not None
                                   and state in (AlarmState.UNACKED, AlarmState.RTN_UNACKED,
                                                 AlarmState.LATCHED))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(14)
        layout.addLayout(top)
        layout.addLayout(facts)
        history_title = QLabel(f"History ({len(history)} entries, newest first)")
        history_title.setObjectName("alarmFactName")
        layout.addWidget(history_title)
        layout.addWidget(self.history, 1)
        layout.addLayout(buttons)
        self.resize(820, 640)

    def _facts(self, rule: AlarmRule) -> QGridLayout:
        facts = QGridLayout()
        facts.setHorizontalSpacing(16)
        facts.setVerticalSpacing(8)
        rows = [("Alarm", rule.shown_name), ("Where", " · ".join(p for p in (rule.area,
                                                                      rule.equipment) if p)),
                ("Condition", rule_text(rule))]
        guidance = rule.guidance
        rows += [("Cause", guidance.cause or "—"),
                 ("If nothing is done", guidance.consequence or "—"),
                 ("What to do", guidance.action or "—")]
        self.fact_labels: dict[str, QLabel] = {}
        for at, (title, text) in enumerate(rows):
            name = QLabel(title)
            name.setObjectName("alarmFactName")
            name.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
            value = QLabel(text)
            value.setWordWrap(True)
            value.setObjectName("alarmAction" if title == "What to do" else "alarmFact")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            facts.addWidget(name, at, 0)
            facts.addWidget(value, at, 1)
            self.fact_labels[title] = value
        facts.setColumnStretch(1, 1)
        return facts

    def _fill_history(self, history: Sequence[JournalLine]) -> None:
        self.history = QTableWidget(len(history), 4)
        self.history.setObjectName("alarmHistory")
        self.history.setHorizontalHeaderLabels(("Time", "What", "By", "Comment / value"))
        self.history.verticalHeader().setVisible(False)
        self.history.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for at, line in enumerate(reversed(history)):  # newest first
            what = f"{line.event.value} → {STATE_WORDS[line.after]}"
            for column, text in enumerate((_clock(line.time), what, line.user,
                                           line.comment or line.value)):
                self.history.setItem(at, column, QTableWidgetItem(text))
        header = self.history.horizontalHeader()
        for column, width in enumerate((170, 330, 110)):
            self.history.setColumnWidth(column, width)
        header.setStretchLastSection(True)
