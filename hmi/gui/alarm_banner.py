"""The alarm banner: on every screen, under the header, the unacknowledged alarms the
operator must see now, most urgent first.

Up to ``LINES`` lines; in a flood the rest is a count ("37 more unacknowledged"), except
critical alarms, which are still announced one by one (up to ``CRITICAL_LINES``). A line
opens the alarm's details; Silence stops the horn (it does not acknowledge); "Alarm list"
goes to the Alarms tab. With nothing to acknowledge the banner is one grey line saying
how many alarms are active or set aside (ISA-101: no colour when nothing is abnormal).
"""

from __future__ import annotations

import heapq

from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from hmi.core.alarm_rules import Priority
from hmi.gui.alarm_model import AlarmRow, AlarmSummaryModel, since_text, urgency
from hmi.gui.alarm_sound import Annunciator
from hmi.gui.alarm_style import LOOKS, STATE_WORDS, needs_ack, priority_pixmap

LINES = 3
CRITICAL_LINES = 6


def banner_rows(rows: list[AlarmRow]) -> tuple[list[AlarmRow], int, int]:
    """The rows with a line of their own, how many more are unacknowledged, and how many
    of those are critical (none unless more than CRITICAL_LINES are)."""
    unacked = [row for row in rows if needs_ack(row.state)]
    critical = sorted((row for row in unacked if row.rule.priority is Priority.CRITICAL),
                      key=urgency)
    lines = critical[:CRITICAL_LINES]
    others = heapq.nsmallest(max(0, LINES - len(lines)),
                             (row for row in unacked
                              if row.rule.priority is not Priority.CRITICAL), key=urgency)
    lines = sorted(lines + others, key=urgency)
    return lines, len(unacked) - len(lines), len(critical) - len(critical[:CRITICAL_LINES])


def line_text(row: AlarmRow) -> str:
    rule = row.rule
    where = " · ".join(part for part in (rule.area, rule.equipment) if part)
    text = f"{since_text(row.record.since)}   {rule.message}"
    if where:
        text += f"   — {where}"
    return f"{text}   [{STATE_WORDS[row.state]}]"


class AlarmBanner(QFrame):
    open_alarm = Signal(str)
    show_list = Signal()

    def __init__(self, model: AlarmSummaryModel, annunciator: Annunciator,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alarmBanner")
        self._model = model
        self._annunciator = annunciator
        self._lines: list[QPushButton] = []
        self._box = QVBoxLayout()
        self._box.setContentsMargins(0, 0, 0, 0)
        self._box.setSpacing(2)
        self.quiet = QLabel()
        self.quiet.setObjectName("alarmBannerQuiet")
        self._box.addWidget(self.quiet)
        for _ in range(CRITICAL_LINES + LINES):
            line = QPushButton()
            line.setObjectName("alarmBannerLine")
            line.setIconSize(QSize(28, 28))
            line.setVisible(False)
            line.clicked.connect(lambda _=False, b=line: self._on_line(b))
            self._box.addWidget(line)
            self._lines.append(line)
        self.more = QLabel()
        self.more.setObjectName("alarmBannerMore")
        self.more.setVisible(False)
        self._box.addWidget(self.more)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(self._box, 1)
        layout.addLayout(self._buttons(annunciator))
        model.changed.connect(self.refresh)
        annunciator.changed.connect(self.refresh)
        self.refresh()

    def _buttons(self, annunciator: Annunciator) -> QVBoxLayout:
        self.silence_button = QPushButton("Silence")
        self.silence_button.setObjectName("alarmSilence")
        self.silence_button.setToolTip("Stops the horn. The alarms stay unacknowledged.")
        self.silence_button.clicked.connect(annunciator.silence)
        self.list_button = QPushButton("Alarm list")
        self.list_button.setObjectName("alarmListButton")
        self.list_button.clicked.connect(self.show_list)
        self.source_problem = QLabel()  # a PLC's alarm server out of reach
        self.source_problem.setObjectName("alarmBannerProblem")
        self.source_problem.setProperty("attention", True)
        self.source_problem.setVisible(False)
        self._box.addWidget(self.source_problem)
        self.sound_problem = QLabel()
        self.sound_problem.setObjectName("alarmSoundProblem")
        self.sound_problem.setWordWrap(True)
        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        buttons = QHBoxLayout()
        buttons.addWidget(self.silence_button)
        buttons.addWidget(self.list_button)
        right.addLayout(buttons)
        right.addWidget(self.sound_problem)
        right.addStretch(1)
        return right

    def shown_alarms(self) -> list[str]:
        return [str(line.property("alarm")) for line in self._lines if line.isVisibleTo(self)]

    def refresh(self) -> None:
        rows = self._model.rows()
        lines, more, critical_more = banner_rows(rows)
        for at, line in enumerate(self._lines):
            if at < len(lines):
                row = lines[at]
                line.setText(line_text(row))
                line.setIcon(QIcon(priority_pixmap(row.rule.priority)))
                line.setProperty("alarm", row.name)
                line.setToolTip(f"{LOOKS[row.rule.priority].title}: {row.rule.shown_name} — "
                                "touch for details")
            line.setVisible(at < len(lines))
        if more:
            text = f"{more} more unacknowledged"
            if critical_more:
                text += f" ({critical_more} of them critical)"
            self.more.setText(text + " — open the alarm list")
        self.more.setVisible(bool(more))
        counts = self._model.counts()
        if not lines:
            parts = [f"{counts['active']} active" if counts["active"] else
                     "No active alarms"]
            if counts["handled"]:
                parts.append(f"{counts['handled']} shelved, suppressed or out of service")
            self.quiet.setText("No unacknowledged alarms · " + " · ".join(parts)
                               if counts["active"] else " · ".join(parts))
        self.quiet.setVisible(not lines)
        problems = self._model.problems()
        self.source_problem.setText(
            "Alarms of " + ", ".join(problems) + " cannot be had now: see the alarm list"
            if problems else "")
        self.source_problem.setVisible(bool(problems))
        self.silence_button.setVisible(self._annunciator.sounding is not None)
        problem = self._annunciator.player.problem
        self.sound_problem.setText("No sound on this station" if problem else "")
        self.sound_problem.setToolTip(problem)
        self.sound_problem.setVisible(bool(problem) and bool(lines))

    def _on_line(self, line: QPushButton) -> None:
        name = line.property("alarm")
        if name:
            self.open_alarm.emit(str(name))
