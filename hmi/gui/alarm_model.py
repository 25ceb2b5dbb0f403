"""The active alarm list as a table model: every alarm not normal, refreshed from the
engine's notifications, never on a poll.

Notifications are gathered and applied together at most every ``COALESCE_MS`` (a flood
of 1,000 alarms in a second is a few updates of the table, not 1,000); a few changes are
applied row by row, many as one reset. ``AlarmFilter`` sorts and filters by priority,
area, equipment and state; the default order is what needs the operator first:
unacknowledged, then by priority, then newest.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont

from hmi.core.alarm_rules import AlarmRule, Priority
from hmi.core.alarm_states import AlarmEvent, AlarmRecord, AlarmState, AlarmTransition
from hmi.core.ports import AlarmBoard
from hmi.gui.alarm_style import LOOKS, STATE_WORDS, needs_ack, priority_pixmap

COALESCE_MS = 150
RESET_ABOVE = 40  # changed alarms at once: above this the table is rebuilt in one go
COLUMNS = ("Priority", "State", "Since", "Alarm", "Message", "Value", "Area", "Equipment")
PRIORITY, STATE, SINCE, NAME, MESSAGE, VALUE, AREA, EQUIPMENT = range(len(COLUMNS))
_UNACK_TEXT = QColor("#1e1e1e")
Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class AlarmRow:
    rule: AlarmRule
    record: AlarmRecord
    value: str  # the value that raised or cleared it, as the journal says
    state: AlarmState  # (the record's, computed once: read thousands of times a second)
    urgency: tuple[int, int, float]  # sort key: to acknowledge first, priority, newest

    @property
    def name(self) -> str:
        return self.rule.name


def make_row(rule: AlarmRule, record: AlarmRecord, value: str = "") -> AlarmRow:
    state = record.alarm.state
    return AlarmRow(rule, record, value, state,
                    (0 if needs_ack(state) else 1, rule.priority.rank, -record.since))


def shown(state: AlarmState) -> bool:
    return state is not AlarmState.NORMAL


def urgency(row: AlarmRow) -> tuple[int, int, float]:
    """Sort key: needs acknowledging first, then priority, then newest."""
    return row.urgency


def since_text(seconds: float, now: float | None = None) -> str:
    now = time.time() if now is None else now
    local = time.localtime(seconds)
    if time.strftime("%Y%m%d", local) == time.strftime("%Y%m%d", time.localtime(now)):
        return time.strftime("%H:%M:%S", local)
    return time.strftime("%d %b %H:%M", local)


class AlarmSummaryModel(QAbstractTableModel):
    """``changed`` after each applied update (the banner, the tab's title and the horn
    read the counts from it)."""

    changed = Signal()

    def __init__(self, board: AlarmBoard, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._board = board
        self._rules = board.rules
        self._values: dict[str, str] = {}
        self._rows: list[AlarmRow] = []
        self._index: dict[str, int] = {}
        self._dirty: set[str] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COALESCE_MS)
        self._timer.timeout.connect(self.apply_pending)
        self._bold = QFont()
        self._bold.setBold(True)
        self._sort: tuple[int, Qt.SortOrder] = (STATE, Qt.SortOrder.AscendingOrder)
        self._counts: dict[str, int] | None = None
        self._remove = board.changes.add(self._on_changes)
        self._reset(board.records())

    # -- reading ---------------------------------------------------------------------

    def rows(self) -> list[AlarmRow]:
        return list(self._rows)

    def row(self, name: str) -> AlarmRow | None:
        at = self._index.get(name)
        return None if at is None else self._rows[at]

    def row_at(self, index: Index) -> AlarmRow:
        return self._rows[index.row()]

    def row_number(self, at: int) -> AlarmRow:
        return self._rows[at]

    @property
    def rules(self) -> Mapping[str, AlarmRule]:
        return self._rules

    def rule(self, name: str) -> AlarmRule:
        return self._rules[name]

    def record(self, name: str) -> AlarmRecord | None:
        return self._board.records().get(name)

    # -- Qt --------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 (Qt)
        return 0 if parent.isValid() else len(self._rows)

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
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, column)
        if role == Qt.ItemDataRole.DecorationRole and column == PRIORITY:
            return priority_pixmap(row.rule.priority, filled=needs_ack(row.state))
        if role == Qt.ItemDataRole.FontRole and needs_ack(row.state):
            return self._bold
        if role == Qt.ItemDataRole.BackgroundRole and column == STATE and needs_ack(row.state):
            return QBrush(QColor(LOOKS[row.rule.priority].colour))
        if role == Qt.ItemDataRole.ForegroundRole and column == STATE and needs_ack(row.state):
            return QBrush(QColor(LOOKS[row.rule.priority].text_colour))
        if role == Qt.ItemDataRole.ToolTipRole and column in (MESSAGE, NAME):
            return f"{row.rule.shown_name}: {row.rule.message}"
        return None

    def _text(self, row: AlarmRow, column: int) -> str:
        rule, record = row.rule, row.record
        if column == PRIORITY:
            return LOOKS[rule.priority].title
        if column == STATE:
            text = STATE_WORDS[row.state]
            until = record.alarm.shelved_until
            if row.state is AlarmState.SHELVED and until is not None and until < math.inf:
                text += f" to {time.strftime('%H:%M', time.localtime(until))}"
            if record.alarm.handled and record.alarm.active:
                text += " (active)"
            return text
        if column == SINCE:
            return since_text(record.since)
        if column == NAME:
            return rule.shown_name
        if column == MESSAGE:
            return rule.message
        if column == VALUE:
            return row.value
        if column == AREA:
            return rule.area
        return rule.equipment

    def _sort_value(self, row: AlarmRow, column: int) -> Any:
        if column == PRIORITY:
            return (row.rule.priority.rank, urgency(row))
        if column == STATE:
            return urgency(row)
        if column == SINCE:
            return row.record.since
        return (self._text(row, column).casefold(), urgency(row))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Keep the rows in this order from now on (the header's click); the selection
        stays on the alarms it was on."""
        self._sort = (column, order)
        self._resort()

    def _resort(self) -> None:
        column, order = self._sort
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        names = [self._rows[i.row()].name if i.row() < len(self._rows) else ""
                 for i in before]
        self._rows.sort(key=lambda row: self._sort_value(row, column),
                        reverse=order is Qt.SortOrder.DescendingOrder)
        self._index = {row.name: at for at, row in enumerate(self._rows)}
        after = [self.index(self._index[name], i.column()) if name in self._index
                 else QModelIndex() for name, i in zip(names, before, strict=True)]
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    # -- updates ---------------------------------------------------------------------

    def _on_changes(self, transitions: Sequence[AlarmTransition]) -> None:
        for transition in transitions:
            if transition.value and transition.event in (AlarmEvent.ACTIVATE,
                                                         AlarmEvent.CLEAR):
                self._values[transition.name] = transition.value
            self._dirty.add(transition.name)
        # (an empty batch also says "look again": a server's reachability changed)
        if not self._timer.isActive():
            self._timer.start()

    def apply_pending(self) -> None:
        """Apply what the engine said since the last update (the timer does this): rows
        that changed are updated, new ones added at once, and the order kept; many
        alarms gone at once rebuild the table."""
        self._timer.stop()
        dirty, self._dirty = self._dirty, set()
        records = self._board.records()
        keep = {name: records[name] for name in dirty if name in records
                and name in self._rules and shown(records[name].alarm.state)}
        gone = [name for name in dirty if name in self._index and name not in keep]
        if len(gone) > RESET_ABOVE:
            self._reset(records)
        else:
            for name in gone:
                self._remove_row(name)
            new = [self._make(record) for name, record in keep.items()
                   if name not in self._index]
            for name, record in keep.items():
                at = self._index.get(name)
                if at is not None:
                    self._rows[at] = self._make(record)
            if new:
                end = len(self._rows)
                self.beginInsertRows(QModelIndex(), end, end + len(new) - 1)
                self._rows += new
                for at, row in enumerate(new, end):
                    self._index[row.name] = at
                self.endInsertRows()
            if keep:
                self._resort()
                self.dataChanged.emit(self.index(0, 0),
                                      self.index(len(self._rows) - 1, len(COLUMNS) - 1))
        self._counts = None
        self.changed.emit()

    def _make(self, record: AlarmRecord) -> AlarmRow:
        return make_row(self._rules[record.name], record, self._values.get(record.name, ""))

    def _reset(self, records: dict[str, AlarmRecord]) -> None:
        column, order = self._sort
        self.beginResetModel()
        self._rows = [self._make(record) for name, record in records.items()
                      if name in self._rules and shown(record.alarm.state)]
        self._rows.sort(key=lambda row: self._sort_value(row, column),
                        reverse=order is Qt.SortOrder.DescendingOrder)
        self._index = {row.name: at for at, row in enumerate(self._rows)}
        self._counts = None
        self.endResetModel()

    def _remove_row(self, name: str) -> None:
        at = self._index[name]
        self.beginRemoveRows(QModelIndex(), at, at)
        del self._rows[at]
        self._index = {row.name: k for k, row in enumerate(self._rows)}
        self.endRemoveRows()

    def problems(self) -> dict[str, str]:
        """Sources of alarms that cannot be reached now, and why."""
        return self._board.problems()

    def counts(self) -> dict[str, int]:
        """unacked, active (process abnormal, annunciated), handled (shelved,
        suppressed, out of service): counted once an update."""
        if self._counts is None:
            unacked = sum(1 for row in self._rows if row.urgency[0] == 0)
            active = sum(1 for row in self._rows if row.state.annunciated)
            self._counts = {"unacked": unacked, "active": active,
                            "handled": len(self._rows) - active}
        return dict(self._counts)

    def close(self) -> None:
        self._timer.stop()
        self._remove()


STATE_FILTERS: dict[str, frozenset[AlarmState]] = {
    "All states": frozenset(s for s in AlarmState if s is not AlarmState.NORMAL),
    "Unacknowledged": frozenset({AlarmState.UNACKED, AlarmState.RTN_UNACKED,
                                 AlarmState.LATCHED}),
    "Active": frozenset({AlarmState.UNACKED, AlarmState.ACKED}),
    "Shelved": frozenset({AlarmState.SHELVED}),
    "Suppressed": frozenset({AlarmState.SUPPRESSED}),
    "Out of service": frozenset({AlarmState.OUT_OF_SERVICE}),
}
ANNUNCIATED_STATES = frozenset(s for s in AlarmState if s.annunciated)


class AlarmFilter(QSortFilterProxyModel):
    """Filters by priority, area, equipment and state; by default handled alarms
    (shelved, suppressed, out of service) are not in the active list."""

    def __init__(self, source: AlarmSummaryModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSourceModel(source)  # keeps its own order (Python sorts 1,000 rows in 1 ms;
        self.setDynamicSortFilter(True)  # the proxy's sort asks data() 20,000 times)
        self._source = source
        self.priority: Priority | None = None
        self.area = ""
        self.equipment = ""
        self.states: frozenset[AlarmState] = ANNUNCIATED_STATES

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """The header's click: the source keeps that order; the proxy only filters."""
        self._source.sort(column, order)

    def set_filter(self, *, priority: Priority | None = None, area: str = "",
                   equipment: str = "", states: frozenset[AlarmState] | None = None) -> None:
        self.beginFilterChange()
        self.priority, self.area, self.equipment = priority, area, equipment
        self.states = ANNUNCIATED_STATES if states is None else states
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802
        return self.accepts(self._source.row_number(source_row))

    def accepts(self, row: AlarmRow) -> bool:
        rule = row.rule
        return (row.state in self.states
                and (self.priority is None or rule.priority is self.priority)
                and (not self.area or rule.area == self.area)
                and (not self.equipment or rule.equipment == self.equipment))

    def row_at(self, index: Index) -> AlarmRow:
        return self._source.row_at(self.mapToSource(index))

    def shown_rows(self) -> list[AlarmRow]:
        """In the order shown (the proxy filters, the source sorts)."""
        return [row for row in self._source.rows() if self.accepts(row)]
