"""What the MES rejected (the dead-letter list): each transaction with when it was
queued, the MES's status and reason, and what it carried; a shift lead sends one again
once its cause is put right at the MES (permission retry_mes, a reason, signed where the
site asks, audited). Nothing here is ever lost: a rejected transaction stays until sent."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Coroutine
from typing import Any

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hmi.core.outbox import OutboxItem
from hmi.core.ports import OutboxMonitor
from hmi.core.security import Action, Signature
from hmi.gui.access import AccessController
from hmi.gui.signature import SignatureDialog

log = logging.getLogger(__name__)


class RejectionsDialog(QDialog):
    def __init__(self, outbox: OutboxMonitor, access: AccessController,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rejectionsDialog")
        self.setWindowTitle("Rejected by the MES")
        self._outbox = outbox
        self._access = access
        self._items: list[OutboxItem] = []
        self._tasks: set[asyncio.Future[Any]] = set()
        self.signature_dialog: SignatureDialog | None = None
        heading = QLabel("Rejected by the MES")
        heading.setObjectName("dialogHeading")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(("Queued", "HTTP", "Kind", "The MES said"))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        for column, width in enumerate((170, 60, 190)):
            self.table.setColumnWidth(column, width)
        self.payload = QPlainTextEdit()
        self.payload.setReadOnly(True)
        self.payload.setObjectName("rejectedPayload")
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("What was put right at the MES (audited)")
        self.retry_button = QPushButton("Send again")
        self.retry_button.setObjectName("submitButton")
        close = QPushButton("Close")
        close.setObjectName("cancelButton")
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.feedback = QLabel()
        self.feedback.setObjectName("dialogMessage")
        self.feedback.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.reason, 1)
        row.addWidget(self.retry_button)
        row.addWidget(close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(heading)
        layout.addWidget(self.table, 2)
        layout.addWidget(self.payload, 1)
        layout.addLayout(row)
        layout.addWidget(self.hint)
        layout.addWidget(self.feedback)
        self.resize(980, 620)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.retry_button.clicked.connect(self._on_retry)
        close.clicked.connect(self.accept)
        access.changed.connect(self._on_selection)
        self._on_selection()

    def selected(self) -> OutboxItem | None:
        rows = self.table.selectionModel().selectedRows()
        return self._items[rows[0].row()] if rows else None

    async def refresh(self) -> int:
        self._items = await self._outbox.rejected()
        self.table.setRowCount(len(self._items))
        for at, item in enumerate(self._items):
            queued = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(item.created_at))
            for column, text in enumerate((queued, str(item.http_status or ""), item.kind,
                                           item.last_error)):
                cell = QTableWidgetItem(text)
                cell.setToolTip(text)
                self.table.setItem(at, column, cell)
        if self._items and self.selected() is None:
            self.table.selectRow(0)
        self._on_selection()
        return len(self._items)

    def _on_selection(self) -> None:
        item = self.selected()
        allowed, why = self._access.may(Action.RETRY_MES)
        self.retry_button.setEnabled(allowed and item is not None)
        self.hint.setText(why)
        self.hint.setVisible(bool(why))
        if item is None:
            self.payload.setPlainText("")
            return
        try:
            shown = json.dumps(json.loads(item.payload), indent=2, ensure_ascii=False)
        except ValueError:
            shown = item.payload
        self.payload.setPlainText(shown)

    def _on_retry(self) -> None:
        item = self.selected()
        if item is None or not self.retry_button.isEnabled():
            return
        meaning = self._access.settings.meaning(Action.RETRY_MES)
        if meaning is None:
            self._start(self.retry(item, None))
            return
        dialog = SignatureDialog(self._access, Action.RETRY_MES, meaning,
                                 f"Send MES transaction {item.id} again", self)
        dialog.signed.connect(lambda signature: self._start(self.retry(item, signature)))
        if self.signature_dialog is not None:
            self.signature_dialog.deleteLater()
        self.signature_dialog = dialog
        dialog.open()

    async def retry(self, item: OutboxItem, signature: Signature | None) -> bool:
        self.retry_button.setEnabled(False)
        try:
            await self._outbox.retry(item.id, self._access.actor, self.reason.text(),
                                     signature)
        except Exception as exc:  # a refusal (permission, reason, already sent): shown
            log.info("resend of %s refused: %s", item.id, exc)
            self.feedback.setText(f"Not sent again: {exc}")
            self._on_selection()
            return False
        self.feedback.setText(f"Queued to be sent again ({item.kind}, queued "
                              f"{time.strftime('%H:%M', time.localtime(item.created_at))}).")
        self.reason.clear()
        await self.refresh()
        return True

    def _start(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def done(self, result: int) -> None:
        for task in self._tasks:
            task.cancel()
        super().done(result)
