"""The Alarms tab: the active alarm summary, its filters, and what people do with alarms.

Acknowledge takes one touch when no comment is asked for (the site asks one for the
priorities in [alarming] ack_comment_required); "Acknowledge all shown" asks first.
Shelve, unshelve, out of service and return to service open a dialog with the reason
and, where the site asks ([security.signatures]), the electronic signature. Each button
is enabled only for a user whose role may, and says why not in words (a gloved finger
cannot hover for a tooltip). Every answer of the service (done, refused and why) is
shown under the table.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from hmi.core.alarm_rules import Priority
from hmi.core.alarm_states import AlarmState
from hmi.core.ports import AlarmBoard, AlarmHandling, AlarmJournalReader
from hmi.core.security import Action, Signature
from hmi.gui.access import AccessController
from hmi.gui.alarm_dialogs import AlarmActionDialog, AlarmDetailsDialog
from hmi.gui.alarm_kpi_view import ReportFunction
from hmi.gui.alarm_model import (
    MESSAGE,
    STATE_FILTERS,
    AlarmFilter,
    AlarmRow,
    AlarmSummaryModel,
)
from hmi.gui.alarm_sound import SoundPlayer
from hmi.gui.alarm_style import LOOKS, needs_ack, priority_icon
from hmi.gui.signature import SignatureDialog

log = logging.getLogger(__name__)
ANY = "All"


def _subject(rows: list[AlarmRow]) -> str:
    if len(rows) == 1:
        return f"{rows[0].rule.shown_name}: {rows[0].rule.message}"
    mix = Counter(row.rule.priority for row in rows)
    parts = [f"{mix[p]} {LOOKS[p].title.lower()}" for p in Priority if mix[p]]
    return f"{len(rows)} alarms\n({', '.join(parts)})"


class AlarmSummaryView(QWidget):
    """``details_opened(dialog)`` when an alarm's details open (tests, the trend)."""

    details_opened = Signal(object)

    def __init__(self, model: AlarmSummaryModel, handling: AlarmHandling,
                 journal: AlarmJournalReader, access: AccessController,
                 max_shelve_minutes: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alarmView")
        self.model = model
        self.proxy = AlarmFilter(model, self)
        self._handling = handling
        self._journal = journal
        self._access = access
        self._max_shelve = max_shelve_minutes
        self._tasks: set[asyncio.Future[Any]] = set()
        self.dialog: QDialog | None = None  # the action or details dialog open now
        self.signature_dialog: SignatureDialog | None = None
        self._acting = False  # an action is on its way to the service (a second tap waits)
        self._selected_before_reset: list[str] = []
        self._known_rules = 0  # the area/equipment filters' choices are from this many
        filters = self._filters()
        self._table()
        buttons = self._buttons()
        self.hint = QLabel()
        self.hint.setObjectName("alarmHint")
        self.hint.setWordWrap(True)
        self.feedback = QLabel()
        self.feedback.setObjectName("alarmFeedback")
        self.feedback.setWordWrap(True)
        self.problems = QLabel()  # a PLC's alarm server out of reach: said above the list
        self.problems.setObjectName("alarmProblems")
        self.problems.setProperty("attention", True)
        self.problems.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.problems)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.hint)
        layout.addWidget(self.feedback)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        model.changed.connect(self._on_model_changed)
        model.modelAboutToBeReset.connect(self._keep_selection)
        model.modelReset.connect(self._restore_selection)
        access.changed.connect(self._on_selection)
        self._on_selection()

    def _filters(self) -> QHBoxLayout:
        self.priority_filter = QComboBox()
        self.priority_filter.addItem(f"{ANY} priorities", None)
        for priority in Priority:
            self.priority_filter.addItem(priority_icon(priority), LOOKS[priority].title,
                                         priority)
        self.area_filter = _choices(f"{ANY} areas", [])
        self.equipment_filter = _choices(f"{ANY} equipment", [])
        self._fill_places()
        self.state_filter = QComboBox()
        self.state_filter.addItem("Active and unacknowledged", None)
        for title in STATE_FILTERS:
            self.state_filter.addItem(title, title)
        filters = QHBoxLayout()
        for box in (self.priority_filter, self.area_filter, self.equipment_filter,
                    self.state_filter):
            box.setObjectName("alarmFilter")
            box.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(15 if box is self.state_filter else 9)
            box.currentIndexChanged.connect(self._on_filter)
            filters.addWidget(box)
        self.count_label = QLabel()
        self.count_label.setObjectName("alarmCount")
        filters.addStretch(1)
        filters.addWidget(self.count_label)
        return filters

    def _table(self) -> None:
        self.table = QTableView()
        self.table.setObjectName("alarmTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(44)  # a gloved finger's row
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(MESSAGE, QHeaderView.ResizeMode.Stretch)
        for column, width in enumerate((120, 175, 96, 200, 0, 90, 110, 130)):
            if width:
                self.table.setColumnWidth(column, width)
        self.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
        self.table.doubleClicked.connect(lambda index: self.open_details(
            self.proxy.row_at(index).name))

    def _buttons(self) -> QHBoxLayout:
        self.ack_button = _button("Acknowledge", "alarmAck")
        self.ack_all_button = _button("Acknowledge all shown", "alarmAckAll")
        self.shelve_button = _button("Shelve…", "alarmShelve")
        self.unshelve_button = _button("Unshelve", "alarmUnshelve")
        self.service_button = _button("Out of service…", "alarmService")
        self.details_button = _button("Details", "alarmDetails")
        buttons = QHBoxLayout()
        for button in (self.ack_button, self.ack_all_button, self.shelve_button,
                       self.unshelve_button, self.service_button, self.details_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.ack_button.clicked.connect(self.acknowledge_selected)
        self.ack_all_button.clicked.connect(self.acknowledge_all_shown)
        self.shelve_button.clicked.connect(self.shelve_selected)
        self.unshelve_button.clicked.connect(self.unshelve_selected)
        self.service_button.clicked.connect(self.toggle_service_selected)
        self.details_button.clicked.connect(self._on_details)
        return buttons

    # -- selection and what may be done -------------------------------------------------

    def selected_rows(self) -> list[AlarmRow]:
        rows = self.table.selectionModel().selectedRows()
        return [self.proxy.row_at(index) for index in rows]

    def select(self, *names: str) -> None:
        selection = self.table.selectionModel()
        selection.clearSelection()
        flags = (QItemSelectionModel.SelectionFlag.Select
                 | QItemSelectionModel.SelectionFlag.Rows)
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if self.proxy.row_at(index).name in names:
                selection.select(index, flags)

    def _keep_selection(self) -> None:
        self._selected_before_reset = [row.name for row in self.selected_rows()]

    def _restore_selection(self) -> None:
        if self._selected_before_reset:
            self.select(*self._selected_before_reset)
            self._selected_before_reset = []

    def _on_model_changed(self) -> None:
        if len(self.model.rules) != self._known_rules:  # a PLC server's alarms came
            self._fill_places()
        self._on_selection()

    def _fill_places(self) -> None:
        rules = list(self.model.rules.values())
        self._known_rules = len(rules)
        _refill(self.area_filter, sorted({r.area for r in rules if r.area}))
        _refill(self.equipment_filter, sorted({r.equipment for r in rules if r.equipment}))

    def _on_filter(self, *_: object) -> None:
        state_key = self.state_filter.currentData()
        self.proxy.set_filter(
            priority=self.priority_filter.currentData(),
            area=self.area_filter.currentData() or "",
            equipment=self.equipment_filter.currentData() or "",
            states=STATE_FILTERS[state_key] if state_key else None)
        self._on_selection()

    def _on_selection(self, *_: object) -> None:
        rows = self.selected_rows()
        shown = self.proxy.rowCount()
        counts = self.model.counts()
        problems = self.model.problems()
        self.problems.setText("\n".join(
            f"Alarms of {device} cannot be had: {why}. Its alarms show as last known; "
            "the list is put right when it is back." for device, why in problems.items()))
        self.problems.setVisible(bool(problems))
        self.count_label.setText(f"{shown} shown · {counts['unacked']} unacknowledged · "
                                 f"{counts['active']} active · {counts['handled']} set aside")
        why: list[str] = []
        may_ack, why_ack = self._access.may(Action.ACK_ALARM)
        may_shelve, why_shelve = self._access.may(Action.SHELVE_ALARM)
        may_service, why_service = self._access.may(Action.ALARM_OUT_OF_SERVICE)
        ackable = [row for row in rows if needs_ack(row.state)]
        shown_ackable = [row for row in self.proxy.shown_rows() if needs_ack(row.state)]
        one = rows[0] if len(rows) == 1 else None
        idle = not self._acting
        may_ack, may_shelve = may_ack and idle, may_shelve and idle
        self.ack_button.setEnabled(may_ack and bool(ackable))
        self.ack_all_button.setEnabled(may_ack and bool(shown_ackable))
        self.ack_all_button.setText(f"Acknowledge all shown ({len(shown_ackable)})")
        shelved = one is not None and one.state is AlarmState.SHELVED
        out = one is not None and one.state is AlarmState.OUT_OF_SERVICE
        self.shelve_button.setEnabled(may_shelve and one is not None and not shelved
                                      and not out)
        self.unshelve_button.setEnabled(may_shelve and shelved)
        self.service_button.setText("Return to service…" if out else "Out of service…")
        # a PLC server's alarm is enabled and disabled on the PLC, not here
        self.service_button.setEnabled(may_service and idle and one is not None
                                       and not one.rule.source)
        self.details_button.setEnabled(one is not None)
        if self._access.actor is None:
            why.append("Log in to acknowledge, shelve or take alarms out of service")
        else:
            for allowed, text, what in ((may_ack, why_ack, "Acknowledge"),
                                        (may_shelve, why_shelve, "Shelve"),
                                        (may_service, why_service, "Out of service")):
                if not allowed and text:
                    why.append(f"{what}: {text}")
            if one is not None and one.rule.source:
                why.append(f"Out of service: an alarm of the {one.rule.source} is "
                           "enabled and disabled on the PLC")
        self.hint.setText(" · ".join(why))
        self.hint.setVisible(bool(why))

    # -- actions ------------------------------------------------------------------------

    def acknowledge_selected(self) -> None:
        self._acknowledge([row for row in self.selected_rows() if needs_ack(row.state)])

    def acknowledge_all_shown(self) -> None:
        rows = [row for row in self.proxy.shown_rows() if needs_ack(row.state)]
        if rows:
            self._acknowledge(rows, confirm=True)

    def _acknowledge(self, rows: list[AlarmRow], confirm: bool = False) -> None:
        if not rows:
            return
        names = [row.name for row in rows]
        required = self._handling.comment_required(names)
        if not required and not confirm:
            self._act(self._do_ack(names, "", None))
            return
        title = f"Acknowledge {len(rows)} alarms" if len(rows) > 1 else "Acknowledge"
        dialog = AlarmActionDialog(title, _subject(rows), title, text_label="Comment",
                                   text_required=required, parent=self.window())
        dialog.submitted.connect(
            lambda _m, text: self._act(self._do_ack(names, text, dialog)))
        self._open(dialog)

    async def _do_ack(self, names: list[str], comment: str,
                      dialog: AlarmActionDialog | None) -> None:
        await self._call(lambda: self._handling.acknowledge(names, self._access.actor,
                                                            comment),
                         "Acknowledged", dialog)

    def shelve_selected(self) -> None:
        rows = self.selected_rows()
        if len(rows) != 1:
            return
        row = rows[0]
        dialog = AlarmActionDialog("Shelve alarm", _subject(rows), "Shelve",
                                   text_label="Reason", text_required=True,
                                   max_minutes=self._max_shelve, parent=self.window())
        dialog.submitted.connect(lambda minutes, text: self._signed(
            Action.SHELVE_ALARM, f"Shelve {row.name} for {minutes:g} min: {text}", dialog,
            lambda signature: self._handling.shelve(row.name, self._access.actor, minutes,
                                                    text, signature),
            "Shelved"))
        self._open(dialog)

    def unshelve_selected(self) -> None:
        rows = self.selected_rows()
        if len(rows) != 1:
            return
        name = rows[0].name
        dialog = AlarmActionDialog("Unshelve alarm", _subject(rows), "Unshelve",
                                   text_label="Comment", text_required=False,
                                   parent=self.window())
        dialog.submitted.connect(lambda _m, text: self._signed(
            Action.SHELVE_ALARM, f"Unshelve {name}", dialog,
            lambda signature: self._handling.unshelve(name, self._access.actor, text,
                                                      signature), "Unshelved"))
        self._open(dialog)

    def toggle_service_selected(self) -> None:
        rows = self.selected_rows()
        if len(rows) != 1:
            return
        row = rows[0]
        if row.state is AlarmState.OUT_OF_SERVICE:
            dialog = AlarmActionDialog("Return alarm to service", _subject(rows),
                                       "Return to service", text_label="Comment",
                                       text_required=False, parent=self.window())
            dialog.submitted.connect(lambda _m, text: self._signed(
                Action.ALARM_OUT_OF_SERVICE, f"Return {row.name} to service", dialog,
                lambda signature: self._handling.return_to_service(
                    row.name, self._access.actor, text, signature), "Returned to service"))
        else:
            dialog = AlarmActionDialog("Take alarm out of service", _subject(rows),
                                       "Take out of service", text_label="Reason",
                                       text_required=True, parent=self.window())
            dialog.submitted.connect(lambda _m, text: self._signed(
                Action.ALARM_OUT_OF_SERVICE, f"Take {row.name} out of service: {text}",
                dialog, lambda signature: self._handling.remove_from_service(
                    row.name, self._access.actor, text, signature), "Taken out of service"))
        self._open(dialog)

    def _signed(self, action: Action, subject: str, dialog: AlarmActionDialog,
                call: Callable[[Signature | None], Awaitable[str | dict[str, str]]],
                done: str) -> None:
        """The service call, after the electronic signature where the site asks."""
        meaning = self._access.settings.meaning(action)
        if meaning is None:
            self._act(self._call(lambda: call(None), done, dialog))
            return
        if self._access.actor is None:
            dialog.refuse("Log in first.")
            return
        signing = SignatureDialog(self._access, action, meaning, subject, dialog)
        signing.signed.connect(
            lambda signature: self._act(self._call(lambda: call(signature), done, dialog)))
        signing.rejected.connect(lambda: dialog.refuse("Not done: not signed."))
        if self.signature_dialog is not None:
            self.signature_dialog.deleteLater()
        self.signature_dialog = signing
        signing.open()

    async def _call(self, call: Callable[[], Awaitable[str | dict[str, str]]], done: str,
                    dialog: AlarmActionDialog | None) -> None:
        self._access.sync()
        try:
            answer = await call()
        except Exception as exc:  # a refusal (permission, comment, store): shown
            log.info("alarm action refused: %s", exc)
            if dialog is not None:
                dialog.refuse(f"Not done: {exc}")
            self.feedback.setText(f"Not done: {exc}")
            return
        finally:
            self._acting = False
            self._on_selection()
        said = answer if isinstance(answer, dict) else {"": answer}
        refused = {name: why for name, why in said.items() if why}
        ok = len(said) - len(refused)
        parts = []
        if ok:
            parts.append(f"{done}: {ok} alarm{'s' if ok != 1 else ''}." if len(said) > 1
                         else f"{done}.")
        for name, why in list(refused.items())[:5]:
            rule = self.model.rules.get(name)
            shown = rule.shown_name if rule is not None else name
            parts.append(f"Not done{f' for {shown}' if name else ''}: {why}.")
        if len(refused) > 5:
            parts.append(f"… and {len(refused) - 5} more refused.")
        self.feedback.setText(" ".join(parts))
        if dialog is not None:
            if refused and not ok:
                dialog.refuse(" ".join(parts))
            else:
                dialog.accept()
        self.model.apply_pending()

    # -- details ----------------------------------------------------------------------

    def _on_details(self) -> None:
        rows = self.selected_rows()
        if len(rows) == 1:
            self.open_details(rows[0].name)

    def open_details(self, name: str) -> None:
        self.start(self._details(name))

    async def _details(self, name: str) -> None:
        try:
            history = await self._journal.journal(float("-inf"), float("inf"), [name])
        except Exception as exc:  # the details still show, with the reason
            log.warning("alarm %s: history not read: %s", name, exc)
            history = []
            self.feedback.setText(f"The history of {name} could not be read: {exc}")
        rule = self.model.rules.get(name)
        if rule is None:  # a PLC server's alarm gone meanwhile
            self.feedback.setText(f"{name} is no longer listed.")
            return
        may_ack, _ = self._access.may(Action.ACK_ALARM)
        dialog = AlarmDetailsDialog(rule, self.model.record(name), list(history)[-200:],
                                    self.window(), may_acknowledge=may_ack)
        dialog.acknowledge.connect(lambda alarm: self._ack_from_details(alarm, dialog))
        self._open(dialog)
        self.details_opened.emit(dialog)

    def _ack_from_details(self, name: str, dialog: AlarmDetailsDialog) -> None:
        self.model.apply_pending()
        row = self.model.row(name)
        dialog.accept()
        if row is None or not needs_ack(row.state):
            self.feedback.setText(f"{name}: nothing to acknowledge now.")
            return
        self._acknowledge([row])

    # -- plumbing -----------------------------------------------------------------------

    def _open(self, dialog: QDialog) -> None:
        """One dialog at a time; the one before is closed and freed (a station runs for
        months: dialogs must not pile up)."""
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = dialog
        dialog.open()  # never exec() under qasync

    def _act(self, work: Coroutine[Any, Any, None]) -> None:
        """An action on its way: the buttons wait for its answer (a gloved double tap
        is one action)."""
        self._acting = True
        self._on_selection()
        self.start(work)

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close_view(self) -> None:
        for dialog in (self.signature_dialog, self.dialog):
            if dialog is not None and dialog.isVisible():
                dialog.close()
        for task in self._tasks:
            task.cancel()


def _choices(everything: str, values: list[str]) -> QComboBox:
    box = QComboBox()
    box.addItem(everything, "")
    for value in values:
        box.addItem(value, value)
    return box


def _refill(box: QComboBox, values: list[str]) -> None:
    """The choices after "all", the chosen one kept."""
    chosen = box.currentData()
    box.blockSignals(True)
    while box.count() > 1:
        box.removeItem(1)
    for value in values:
        box.addItem(value, value)
    box.setCurrentIndex(max(0, box.findData(chosen)))
    box.blockSignals(False)


def _button(text: str, name: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    return button


@dataclass(frozen=True, slots=True)
class AlarmScreenParts:
    """What the alarm screens are built on (hmi/app.py hands them to the window)."""

    board: AlarmBoard
    handling: AlarmHandling
    journal: AlarmJournalReader
    max_shelve_minutes: float
    player: SoundPlayer | None = None  # None: the platform's (hmi.gui.alarm_sound)
    report: ReportFunction | None = None  # the alarm KPIs over a range (no tab without)
