"""The MES outbox on every screen: one status-bar line saying whether what was confirmed
reaches the MES. Grey while all is sent; how many wait and since when; amber when the
oldest has waited long or sending is held (and why: "held: no API key in the keyring");
red when the MES set transactions aside (rejected: a shift lead must look). Refreshed
when the sender says something changed, and every ``AGE_REFRESH_MS`` for the age."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QStatusBar

from hmi.core.ports import OutboxMonitor
from hmi.gui.coalesce import Coalesced

AGE_REFRESH_MS = 15_000
MAX_WIDTH = 760  # px of the status bar the line may take
LATE_S = 300.0  # the oldest waiting longer than this: amber


def age_text(seconds: float) -> str:
    if seconds < 90:
        return f"{max(0, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def describe(counts: dict[str, int], oldest: float | None, problem: str,
             now: float) -> tuple[str, str]:
    """The line, and its look: "" (grey), "attention" (amber) or "abnormal" (red)."""
    pending, sent, rejected = (counts.get(k, 0) for k in ("pending", "sent", "rejected"))
    if pending:
        text = f"MES: {pending} waiting to send"
        if oldest is not None:
            text += f", oldest {age_text(now - oldest)}"
    else:
        text = f"MES: all sent ({sent})"
    look = ""
    if problem:
        text += f" — held: {problem}" if not problem.startswith("held") else f" — {problem}"
        look = "attention"
    elif pending and oldest is not None and now - oldest > LATE_S:
        look = "attention"
    if rejected:
        text += f" · {rejected} rejected by the MES: see Production"
        look = "abnormal"
    return text, look


class OutboxIndicator:
    def __init__(self, status_bar: QStatusBar, outbox: OutboxMonitor) -> None:
        self._outbox = outbox
        self.label = QLabel("MES: …")
        self.label.setObjectName("outboxIndicator")
        self.label.setWordWrap(False)
        self.full_text = ""
        status_bar.addPermanentWidget(self.label)
        self.refresh = Coalesced(self._read)  # a burst of notifications: one read
        self._remove = outbox.add_listener(self.refresh)
        self._timer = QTimer(self.label)
        self._timer.setInterval(AGE_REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.refresh()

    async def _read(self) -> None:
        counts = await self._outbox.counts()
        oldest = await self._outbox.oldest_pending()
        text, look = describe(counts, oldest, self._outbox.problem(), time.time())
        # the whole reason in the tooltip; the bar keeps its width (the window must
        # not grow past the screen for a long reason)
        shown = self.label.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight,
                                                    MAX_WIDTH)
        self.label.setText(shown)
        self.label.setToolTip(text)
        self.full_text = text
        for name in ("attention", "abnormal"):
            if self.label.property(name) != (look == name):
                self.label.setProperty(name, look == name)
                self.label.style().polish(self.label)


    def close(self) -> None:
        self._timer.stop()
        self._remove()
        self.refresh.cancel()
