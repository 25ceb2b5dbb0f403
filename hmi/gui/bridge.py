"""The bus-to-Qt bridge: samples are gathered as they come and handed to the views in
one batch per display tick, so a burst of samples never costs a repaint per sample."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from hmi.core.bus import TagBus
from hmi.core.samples import Sample

DISPLAY_INTERVAL_MS = 100  # 10 Hz: smooth for an operator, cheap for the loop


class BusBridge(QObject):
    samplesArrived = Signal(list)  # noqa: N815 (Qt signal naming)

    def __init__(self, bus: TagBus, interval_ms: int = DISPLAY_INTERVAL_MS) -> None:
        super().__init__()
        self._pending: list[Sample] = []
        self._remove = bus.add_listener(self._on_samples)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_tick)
        self._timer.start()

    def _on_samples(self, samples: list[Sample]) -> None:
        self._pending.extend(samples)

    def _on_tick(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self.samplesArrived.emit(batch)

    def close(self) -> None:
        self._timer.stop()
        self._remove()
