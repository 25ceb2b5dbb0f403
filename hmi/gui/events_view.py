"""The operator's production queue: pending events, a comment, and Confirm."""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import Qt, QTimer
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
from hmi.gui.formatting import format_clock

log = logging.getLogger(__name__)


def describe_event(event: ProductionEvent) -> str:
    span = f"{format_clock(event.period_start)}–{format_clock(event.period_end)}"
    line = f"{event.line} · " if event.line else ""
    text = f"{line}{span}\n{event.good_count:,} {event.unit} good · {event.reject_count:,} rejected"
    if not event.complete:
        text += "\n⚠ counter offline during this period: check the count"
    return text


def describe_outbox(counts: dict[str, int], problem: str = "") -> tuple[str, bool]:
    """The MES line under the queue, and whether it needs attention."""
    pending, sent, rejected = (counts.get(k, 0) for k in ("pending", "sent", "rejected"))
    text = f"MES: {sent} sent · {pending} waiting to send · {rejected} rejected"
    if pending and problem:
        text += f"\nNot sent yet: {problem}. Kept safely; retrying by itself."
    return text, bool(rejected) or bool(pending and problem)


class EventQueueView(QWidget):
    def __init__(
        self,
        queue: ProductionQueue,
        outbox: OutboxMonitor,
        user: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._queue = queue
        self._outbox = outbox
        self._user = user
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
        self.feedback = QLabel("")
        self.feedback.setObjectName("confirmFeedback")
        self.feedback.setWordWrap(True)
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
        layout.addWidget(self.feedback)
        layout.addWidget(self.outbox_label)

        self.list.currentItemChanged.connect(self._on_selection)
        self.confirm_button.clicked.connect(self._on_confirm)
        self.comment.returnPressed.connect(self._on_confirm)
        self._remove_listener = queue.add_listener(self._on_queue_changed)
        self._outbox_timer = QTimer(self)
        self._outbox_timer.setInterval(1000)
        self._outbox_timer.timeout.connect(self._on_outbox_tick)
        self._outbox_timer.start()
        self._on_queue_changed()

    def selected_event(self) -> ProductionEvent | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def _on_selection(self, *_: object) -> None:
        self.confirm_button.setEnabled(self.selected_event() is not None)

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
        text, attention = describe_outbox(await self._outbox.counts(), self._outbox.problem())
        self.outbox_label.setText(text)
        if self.outbox_label.property("attention") != attention:
            self.outbox_label.setProperty("attention", attention)
            self.outbox_label.style().polish(self.outbox_label)

    @asyncSlot()
    async def _on_outbox_tick(self) -> None:
        await self.refresh_outbox()

    @asyncSlot()
    async def _on_confirm(self) -> None:
        event = self.selected_event()
        if event is None or not self.confirm_button.isEnabled():
            return
        self.confirm_button.setEnabled(False)
        try:
            await self._queue.confirm(event.event_id, self._user, self.comment.text())
        except Exception as exc:  # any refusal is shown; nothing was written
            log.warning("confirming %s failed: %s", event.event_id, exc)
            self.feedback.setText(f"Not confirmed: {exc}")
            self.confirm_button.setEnabled(True)
            return
        self.comment.clear()
        self.feedback.setText(
            f"Confirmed {event.good_count:,} {event.unit} "
            f"({format_clock(event.period_start)}–{format_clock(event.period_end)}); "
            "queued for the MES."
        )
        await self.refresh()

    def close_view(self) -> None:
        self._outbox_timer.stop()
        self._remove_listener()
