"""The bus-to-Qt bridge: the screens' queue on the bus, handed to the views in one batch
per display tick, so a burst of samples never costs a repaint per sample."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from hmi.core.bus import OverflowPolicy, TagBus
from hmi.core.samples import Sample

DISPLAY_INTERVAL_MS = 100  # 10 Hz: smooth for an operator, cheap for the loop


class BusBridge(QObject):
    samplesArrived = Signal(list)  # noqa: N815 (Qt signal naming)

    def __init__(self, bus: TagBus, interval_ms: int = DISPLAY_INTERVAL_MS) -> None:
        super().__init__()
        self._bus = bus
        # the latest values matter on a screen: a full queue drops its oldest, counted
        self._queue = bus.subscribe("screens", maxsize=500_000,
                                    overflow=OverflowPolicy.DROP_OLDEST)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_tick)
        self._timer.start()

    def _on_tick(self) -> None:
        batch: list[Sample] = self._queue.drain()
        if batch:
            self.samplesArrived.emit(batch)

    def close(self) -> None:
        self._timer.stop()
        self._bus.unsubscribe(self._queue)
