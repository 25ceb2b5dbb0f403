"""The Audit tab: the audit trail, newest first, filtered by time, user, action and text;
"Verify chain" checks every row's hash link; "Export CSV…" writes the filtered rows.

Only users whose role may read the audit trail (Action.VIEW_AUDIT) see rows; anyone
else sees which roles may. Every query runs on a worker thread, never on the GUI loop.
The reader (hmi.store.audit.AuditRepository) and its filter type are handed in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QDateTime,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from hmi.core.audit import AuditRecord, ChainReport
from hmi.core.security import MAX_TEXT, ROLE_TITLES, Action, Role
from hmi.gui.access import AccessController

log = logging.getLogger(__name__)

F = TypeVar("F")
F_co = TypeVar("F_co", covariant=True)
F_contra = TypeVar("F_contra", contravariant=True)
ROW_LIMIT = 1000
ALL_USERS, ALL_ACTIONS = "All users", "All actions"
COLUMNS = ("Seq", "Time", "User", "Role", "Action", "Object", "Old", "New", "Reason",
           "Meaning")
_BROKEN_BACKGROUND = QColor("#c62828")
_BROKEN_TEXT = QColor("#ffffff")
Index = QModelIndex | QPersistentModelIndex


class AuditReader(Protocol[F_contra]):
    """The audit trail's read side (hmi.store.audit.AuditRepository), taking its own
    filter type."""

    def rows(self, where: F_contra) -> list[AuditRecord]: ...

    def users_and_actions(self) -> tuple[list[str], list[str]]: ...

    def verify(self) -> ChainReport: ...

    def export_csv(self, path: Path, where: F_contra) -> int: ...


class AuditFilterFactory(Protocol[F_co]):
    """Builds the reader's filter (hmi.store.audit.AuditFilter)."""

    def __call__(self, start: float | None = ..., end: float | None = ..., user: str = ...,
                 action: str = ..., text: str = ..., limit: int | None = ...) -> F_co: ...


def _role(role: str) -> str:
    try:
        return ROLE_TITLES[Role(role)]
    except ValueError:
        return role  # "system", or "" for an unknown user name typed at the login


def _cells(record: AuditRecord) -> tuple[str, ...]:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.time))
    return (str(record.seq), when, record.user, _role(record.role), record.action,
            record.object, record.old_value, record.new_value, record.reason, record.meaning)


class AuditTableModel(QAbstractTableModel):
    """Audit rows as shown: local time, role titles; the first broken row in red."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, ...]] = []
        self._seqs: list[int] = []
        self.broken_seq: int | None = None

    def set_records(self, records: Sequence[AuditRecord]) -> None:
        self.beginResetModel()
        self._rows = [_cells(r) for r in records]
        self._seqs = [r.seq for r in records]
        self.endResetModel()

    def mark_broken(self, seq: int | None) -> None:
        self.broken_seq = seq
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1,
                                                               len(COLUMNS) - 1))

    def row_of(self, seq: int) -> int | None:
        return self._seqs.index(seq) if seq in self._seqs else None

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 (Qt)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 (Qt)
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self._rows[row][column]
        if self.broken_seq is not None and self._seqs[row] == self.broken_seq:
            if role == Qt.ItemDataRole.BackgroundRole:
                return _BROKEN_BACKGROUND
            if role == Qt.ItemDataRole.ForegroundRole:
                return _BROKEN_TEXT
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802 (Qt)
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None


def _time_filter(label: str, hours_ago: float) -> tuple[QCheckBox, QDateTimeEdit]:
    check = QCheckBox(label)
    check.setObjectName(f"audit{label}Check")
    edit = QDateTimeEdit(QDateTime.currentDateTime().addSecs(int(-hours_ago * 3600)))
    edit.setObjectName(f"audit{label}Edit")
    edit.setDisplayFormat("yyyy-MM-dd HH:mm")
    edit.setCalendarPopup(True)
    edit.setEnabled(False)
    check.toggled.connect(edit.setEnabled)
    return check, edit


class AuditView(QWidget):
    def __init__(self, reader: AuditReader[F], make_filter: AuditFilterFactory[F],
                 access: AccessController, parent: QWidget | None = None,
                 limit: int = ROW_LIMIT) -> None:
        super().__init__(parent)
        self.setObjectName("auditView")
        self._reader: AuditReader[Any] = reader
        self._make_filter: AuditFilterFactory[Any] = make_filter
        self._access = access
        self.limit = limit
        self._generation = 0
        self._tasks: set[asyncio.Future[Any]] = set()
        self.export_dialog: QFileDialog | None = None

        self._build_filters()
        self._build_table()
        self._build_layout()

        self.search_button.clicked.connect(self._on_search)
        self.text_edit.returnPressed.connect(self._on_search)
        self.user_combo.activated.connect(self._on_search)
        self.action_combo.activated.connect(self._on_search)
        self.verify_button.clicked.connect(self._on_verify)
        self.export_button.clicked.connect(self._on_export)
        access.changed.connect(self._on_user_changed)
        self._on_user_changed()

    def _build_filters(self) -> None:
        self.refused = QLabel()
        self.refused.setObjectName("auditRefused")
        self.refused.setWordWrap(True)
        self.refused.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.from_check, self.from_edit = _time_filter("From", 24)
        self.to_check, self.to_edit = _time_filter("To", 0)
        self.user_combo = QComboBox()
        self.user_combo.setObjectName("auditUser")
        self.user_combo.addItem(ALL_USERS, "")
        self.action_combo = QComboBox()
        self.action_combo.setObjectName("auditAction")
        self.action_combo.addItem(ALL_ACTIONS, "")
        self.text_edit = QLineEdit()
        self.text_edit.setObjectName("auditText")
        self.text_edit.setPlaceholderText("Text in object, values, reason or meaning")
        self.text_edit.setMaxLength(MAX_TEXT)
        self.search_button = QPushButton("Search")
        self.search_button.setObjectName("auditSearch")
        self.verify_button = QPushButton("Verify chain")
        self.verify_button.setObjectName("auditVerify")
        self.verify_button.setToolTip("Check every row's hash link: shows the first row that "
                                      "was edited, deleted or inserted")
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setObjectName("auditExport")
        self.status = QLabel()
        self.status.setObjectName("auditStatus")
        self.status.setWordWrap(True)
        self.export_label = QLabel()
        self.export_label.setObjectName("auditExportResult")
        self.export_label.setWordWrap(True)
        self.export_label.setVisible(False)
        self.verify_label = QLabel()
        self.verify_label.setObjectName("auditVerifyResult")
        self.verify_label.setWordWrap(True)
        self.verify_label.setVisible(False)

    def _build_table(self) -> None:
        self.model = AuditTableModel(self)
        self.table = QTableView()
        self.table.setObjectName("auditTable")
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((64, 160, 110, 110, 150, 190, 130, 130, 220)):
            self.table.setColumnWidth(column, width)

    def _build_layout(self) -> None:
        filters = QGridLayout()
        filters.setContentsMargins(0, 0, 0, 0)
        filters.setHorizontalSpacing(8)
        filters.setVerticalSpacing(6)
        filters.addWidget(self.from_check, 0, 0)
        filters.addWidget(self.from_edit, 0, 1)
        filters.addWidget(self.to_check, 0, 2)
        filters.addWidget(self.to_edit, 0, 3)
        filters.addWidget(self.user_combo, 0, 4)
        filters.addWidget(self.action_combo, 0, 5)
        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        buttons.addWidget(self.text_edit, 1)
        buttons.addWidget(self.search_button)
        buttons.addWidget(self.verify_button)
        buttons.addWidget(self.export_button)
        filters.addLayout(buttons, 1, 0, 1, 6)
        filters.setColumnStretch(4, 1)
        filters.setColumnStretch(5, 1)
        rows_page = QWidget()
        rows_layout = QVBoxLayout(rows_page)
        rows_layout.setContentsMargins(4, 4, 4, 4)
        rows_layout.addLayout(filters)
        results = QHBoxLayout()
        results.setSpacing(12)
        results.addWidget(self.status, 1)
        results.addWidget(self.verify_label, 1)
        results.addWidget(self.export_label, 1)
        rows_layout.addLayout(results)
        rows_layout.addWidget(self.table, 1)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.refused)
        self.pages.addWidget(rows_page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

    # -- who may read ------------------------------------------------------------------------

    @property
    def allowed(self) -> bool:
        return self._access.may(Action.VIEW_AUDIT)[0]

    def _on_user_changed(self) -> None:
        allowed, _ = self._access.may(Action.VIEW_AUDIT)
        self._generation += 1  # a query in flight for the previous user is dropped
        if not allowed:
            self.model.set_records([])
            self.status.setText("")
            self._show_verify("", broken=False)
            self._show_export("")
            actor = self._access.actor
            who = ("Log in as one of them." if actor is None else
                   f"{actor.full_name or actor.name} is logged in as "
                   f"{ROLE_TITLES[actor.role]}.")
            self.refused.setText(f"The audit trail is not shown.\n"
                                 f"{self._access.settings.permissions.why_not(Action.VIEW_AUDIT)}"
                                 f".\n{who}")
            self.pages.setCurrentIndex(0)
            return
        self.pages.setCurrentIndex(1)
        if self.isVisible():
            self._on_search()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt)
        super().showEvent(event)
        if self.allowed:
            self._on_search()

    # -- rows --------------------------------------------------------------------------------

    def current_filter(self, limit: int | None) -> Any:
        def seconds(check: QCheckBox, edit: QDateTimeEdit) -> float | None:
            return float(edit.dateTime().toSecsSinceEpoch()) if check.isChecked() else None

        return self._make_filter(
            start=seconds(self.from_check, self.from_edit),
            end=seconds(self.to_check, self.to_edit),
            user=str(self.user_combo.currentData() or ""),
            action=str(self.action_combo.currentData() or ""),
            text=self.text_edit.text().strip(),
            limit=limit)

    def _on_search(self, *_: object) -> None:
        self._start(self.refresh())

    async def refresh(self) -> None:
        """Query the rows (newest first, at most ``limit``) and the filter lists."""
        if not self.allowed:
            return
        self._generation += 1
        generation = self._generation
        where = self.current_filter(self.limit)
        self.status.setText("Searching…")
        try:
            records = await asyncio.to_thread(self._reader.rows, where)
            users, actions = await asyncio.to_thread(self._reader.users_and_actions)
        except Exception as exc:
            log.exception("audit query failed")
            if generation == self._generation:
                self.status.setText(f"Could not read the audit trail: {exc}")
            return
        if generation != self._generation:
            return  # the user or the filter changed meanwhile
        self.model.set_records(records)
        _fill(self.user_combo, ALL_USERS, users)
        _fill(self.action_combo, ALL_ACTIONS, actions)
        if len(records) >= self.limit:
            self.status.setText(f"The newest {len(records):,} rows, newest first: the limit; "
                                "narrow the filter to see older rows")
        else:
            self.status.setText(f"{len(records):,} rows, newest first")

    # -- verify ------------------------------------------------------------------------------

    def _on_verify(self) -> None:
        self._start(self.verify())

    async def verify(self) -> ChainReport | None:
        if not self.allowed:
            return None
        self.verify_button.setEnabled(False)
        self._show_verify("Verifying the whole trail…", broken=False)
        try:
            report = await asyncio.to_thread(self._reader.verify)
        except Exception as exc:
            log.exception("audit verify failed")
            self._show_verify(f"Could not verify the audit trail: {exc}", broken=True)
            return None
        finally:
            self.verify_button.setEnabled(True)
        if not self.allowed:
            return None
        await self.refresh()  # the rows as stored now, edited ones included
        if report.broken is None:
            self._show_verify(f"Chain OK: all {report.rows:,} rows verified "
                              f"(last row {report.head_seq:,})", broken=False)
            self.model.mark_broken(None)
        else:
            before = " The rows before it verify." if report.head_seq else ""
            self._show_verify(f"BROKEN at row {report.broken.seq:,}: {report.broken.reason}."
                              f"{before}", broken=True)
            self.model.mark_broken(report.broken.seq)
            row = self.model.row_of(report.broken.seq)
            if row is not None:
                self.table.scrollTo(self.model.index(row, 0))
        return report

    def _show_verify(self, text: str, broken: bool) -> None:
        self.verify_label.setText(text)
        self.verify_label.setVisible(bool(text))
        if self.verify_label.property("abnormal") != broken:
            self.verify_label.setProperty("abnormal", broken)
            self.verify_label.style().polish(self.verify_label)

    # -- export ------------------------------------------------------------------------------

    def _on_export(self) -> None:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
        dialog = QFileDialog(self, "Export the audit trail", str(Path.home() /
                                                                 f"audit-{stamp}.csv"),
                             "CSV files (*.csv)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("csv")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog)  # same look everywhere
        dialog.fileSelected.connect(lambda path: self._start(self.export_to(Path(path))))
        if self.export_dialog is not None:
            self.export_dialog.deleteLater()
        self.export_dialog = dialog
        dialog.open()  # never exec() under qasync

    async def export_to(self, path: Path) -> int | None:
        """Every row matching the filter (no limit), oldest first, to ``path``."""
        if not self.allowed:
            return None
        where = self.current_filter(None)
        self._show_export(f"Exporting to {path}…")
        try:
            count = int(await asyncio.to_thread(self._reader.export_csv, path, where))
        except Exception as exc:
            log.warning("audit export to %s failed: %s", path, exc)
            self._show_export(f"Not exported: {exc}")
            return None
        self._show_export(f"Exported {count:,} rows to {path}")
        return count

    def _show_export(self, text: str) -> None:
        self.export_label.setText(text)
        self.export_label.setVisible(bool(text))

    def _start(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _fill(combo: QComboBox, everything: str, names: Sequence[str]) -> None:
    """Replace the choices, keeping the selected one."""
    current = str(combo.currentData() or "")
    present = [combo.itemData(i) for i in range(1, combo.count())]
    if present == list(names):
        return
    combo.blockSignals(True)
    combo.clear()
    combo.addItem(everything, "")
    for name in names:
        combo.addItem(name, name)
    if current and current not in names:
        combo.addItem(current, current)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    combo.blockSignals(False)
