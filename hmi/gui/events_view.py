"""The operator's production queue: pending events, a comment, and Confirm.

Confirm is enabled only for a user whose role may confirm production (re-checked on
every change of user); otherwise it is disabled and says why. When the site asks for
a signature, the signature dialog comes first and its Signature goes to the service.
The MES line under the queue changes when the outbox says it changed (a notification),
never on a timer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from hmi.core.events import ProductionEvent
from hmi.core.ports import OutboxMonitor, ProductionQueue
from hmi.core.security import Action, Signature
from hmi.gui.access import AccessController
from hmi.gui.coalesce import Coalesced
from hmi.gui.formatting import format_clock
from hmi.gui.rejections_view import RejectionsDialog
from hmi.gui.signature import SignatureDialog

log = logging.getLogger(__name__)


def describe_event(event: ProductionEvent) -> str:
    span = f"{format_clock(event.period_start)}–{format_clock(event.period_end)}"
    line = f"{event.line} · " if event.line else ""
    text = f"{line}{span}\n{event.good_count:,} {event.unit} good · {event.reject_count:,} rejected"
    if not event.complete:
        text += "\n⚠ counter offline during this period: check the count"
    return text


def _confirming(event: ProductionEvent) -> str:
    """What is being signed, in one line."""
    line = f"{event.line} · " if event.line else ""
    return (f"Confirm {event.good_count:,} {event.unit} good, {event.reject_count:,} rejected "
            f"· {line}{format_clock(event.period_start)}–{format_clock(event.period_end)}")


def describe_outbox(counts: dict[str, int], problem: str = "") -> tuple[str, bool]:
    """The MES line under the queue, and whether it needs attention."""
    pending, sent, rejected = (counts.get(k, 0) for k in ("pending", "sent", "rejected"))
    text = f"MES: {sent} sent · {pending} waiting to send · {rejected} rejected"
    if pending and problem:
        text += f"\nNot sent yet: {problem}. Kept safely; retrying by itself."
    elif problem:  # nothing waits yet, but what is confirmed now will not go
        text += f"\nSending is held: {problem}."
    return text, bool(rejected) or bool(problem)


class EventQueueView(QWidget):
    def __init__(
        self,
        queue: ProductionQueue,
        outbox: OutboxMonitor,
        access: AccessController,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._queue = queue
        self._outbox = outbox
        self._access = access
        self.signature_dialog: SignatureDialog | None = None
        self._confirming = False  # a confirmation is on its way to the service
        self._tasks: set[asyncio.Future[None]] = set()
        self.list = QListWidget()
        self.list.setObjectName("eventList")
        self.list.setWordWrap(True)
        self.empty_label = QLabel("Nothing to confirm.")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.comment = QLineEdit()
        self.comment.setObjectName("commentEdit")
        self.comment.setPlaceholderText("Comment (optional)")
        self.comment.setMaxLength(2000)
        self.confirm_button = QPushButton("Confirm")
        self.confirm_button.setObjectName("confirmButton")
        self.confirm_button.setEnabled(False)
        # why Confirm is disabled, in words: a gloved finger cannot hover for a tooltip
        self.permission_hint = QLabel("")
        self.permission_hint.setObjectName("confirmHint")
        self.permission_hint.setWordWrap(True)
        self.feedback = QLabel("")
        self.feedback.setObjectName("confirmFeedback")
        self.feedback.setWordWrap(True)
        self._add_rejections_button()
        self.outbox_label = QLabel("MES: —")
        self.outbox_label.setObjectName("outboxStatus")
        self.outbox_label.setWordWrap(True)  # a long reason must not squeeze the tag table

        row = QHBoxLayout()
        row.addWidget(self.comment, 1)
        row.addWidget(self.confirm_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty_label)
        layout.addLayout(row)
        for widget in (self.permission_hint, self.feedback, self.outbox_label,
                       self.rejections_button):
            layout.addWidget(widget)

        self.list.currentItemChanged.connect(self._on_selection)
        self.confirm_button.clicked.connect(self._on_confirm)
        self.comment.returnPressed.connect(self._on_confirm)
        access.changed.connect(self._on_selection)
        self._remove_listener = queue.add_listener(self._on_queue_changed)
        # the outbox changed (sent, rejected, retried, queued, the MES came or went): a
        # burst of notifications is one refresh, plus one after it if any came meanwhile
        self._on_outbox_changed = Coalesced(self.refresh_outbox)
        self._remove_outbox_listener = outbox.add_listener(self._on_outbox_changed)
        self._on_selection()
        self._on_queue_changed()

    def selected_event(self) -> ProductionEvent | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def _on_selection(self, *_: object) -> None:
        allowed, why = self._access.may(Action.CONFIRM_EVENT)
        busy = self._confirming or (self.signature_dialog is not None
                                    and self.signature_dialog.isVisible())
        self.confirm_button.setEnabled(allowed and not busy and self.selected_event() is not None)
        self.confirm_button.setToolTip(why)
        self.permission_hint.setText(why)
        self.permission_hint.setVisible(bool(why))
        self.comment.setEnabled(allowed)

    def _on_queue_changed(self) -> None:
        task = asyncio.ensure_future(self.refresh())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def refresh(self) -> None:
        events = await self._queue.pending()
        current = self.selected_event()
        self.list.clear()
        for event in events:
            item = QListWidgetItem(describe_event(event))
            item.setData(Qt.ItemDataRole.UserRole, event)
            self.list.addItem(item)
            if current is not None and event.event_id == current.event_id:
                self.list.setCurrentItem(item)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)
        self.empty_label.setVisible(not events)
        self._on_selection()
        await self.refresh_outbox()

    async def refresh_outbox(self) -> None:
        counts = await self._outbox.counts()
        rejected = counts.get("rejected", 0)
        self.rejections_button.setText(f"Rejected by the MES ({rejected})…")
        self.rejections_button.setVisible(bool(rejected))
        text, attention = describe_outbox(counts, self._outbox.problem())
        self.outbox_label.setText(text)
        if self.outbox_label.property("attention") != attention:
            self.outbox_label.setProperty("attention", attention)
            self.outbox_label.style().polish(self.outbox_label)

    @asyncSlot()
    async def _on_confirm(self) -> None:
        event = self.selected_event()
        if event is None or not self.confirm_button.isEnabled():
            return
        self._access.sync()
        allowed, why = self._access.may(Action.CONFIRM_EVENT)
        if not allowed:
            self.feedback.setText(f"Not confirmed: {why}.")
            self._on_selection()
            return
        meaning = self._access.settings.meaning(Action.CONFIRM_EVENT)
        if meaning is None:
            await self._confirm(event, None)
            return
        dialog = SignatureDialog(self._access, Action.CONFIRM_EVENT, meaning,
                                 _confirming(event), self.window())
        dialog.signed.connect(lambda signature: self._start(self._confirm(event, signature)))
        dialog.rejected.connect(self._on_not_signed)
        dialog.finished.connect(self._on_selection)
        if self.signature_dialog is not None:
            self.signature_dialog.deleteLater()
        self.signature_dialog = dialog
        self.confirm_button.setEnabled(False)
        dialog.open()  # never exec() under qasync

    def _on_not_signed(self) -> None:
        self.feedback.setText("Not confirmed: not signed.")

    def _start(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _confirm(self, event: ProductionEvent, signature: Signature | None) -> None:
        self._confirming = True
        self.confirm_button.setEnabled(False)
        try:
            await self._queue.confirm(event.event_id, self._access.actor, self.comment.text(),
                                      signature)
        except Exception as exc:  # any refusal is shown; nothing was written
            log.warning("confirming %s failed: %s", event.event_id, exc)
            self.feedback.setText(f"Not confirmed: {exc}")
            return
        finally:
            self._confirming = False
            self._on_selection()
        self.comment.clear()
        text = (f"Confirmed {event.good_count:,} {event.unit} "
                f"({format_clock(event.period_start)}–{format_clock(event.period_end)}); "
                "queued for the MES.")
        if signature is not None:
            text += f"\n{signature.shown()}"
        self.feedback.setText(text)
        await self.refresh()

    def _add_rejections_button(self) -> None:
        self.rejections_button = QPushButton("Rejected by the MES…")
        self.rejections_button.setObjectName("rejectionsButton")
        self.rejections_button.setVisible(False)
        self.rejections_button.clicked.connect(self.open_rejections)
        self.rejections: RejectionsDialog | None = None

    def open_rejections(self) -> RejectionsDialog:
        """The dead-letter list: what the MES rejected, why, and Send again."""
        if self.rejections is not None:
            self.rejections.deleteLater()
        dialog = RejectionsDialog(self._outbox, self._access, self.window())
        self.rejections = dialog
        dialog.open()  # never exec() under qasync
        self._start(dialog.refresh())
        return dialog

    def close_view(self) -> None:
        if self.rejections is not None:
            self.rejections.reject()
        if self.signature_dialog is not None:
            self.signature_dialog.reject()
        self._remove_outbox_listener()
        self._remove_listener()
        self._on_outbox_changed.cancel()
