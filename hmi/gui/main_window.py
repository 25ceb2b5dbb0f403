"""The main window: a shell that loads ui/main_window.ui and places the views in it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TypeVar

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QSplitter, QStatusBar, QVBoxLayout, QWidget

from hmi.core.bus import TagBus
from hmi.core.ports import OutboxMonitor, ProductionQueue
from hmi.core.samples import Sample
from hmi.core.site import Site
from hmi.core.status import DeviceStatus
from hmi.gui.bridge import BusBridge
from hmi.gui.device_status import DeviceStatusBar
from hmi.gui.events_view import EventQueueView
from hmi.gui.formatting import format_clock
from hmi.gui.tag_table import TagTableModel, TagTableView
from hmi.gui.trend import TrendView
from hmi.gui.uiloader import load_ui, theme_stylesheet

W = TypeVar("W", bound=QObject)


def _child(parent: QObject, kind: type[W], name: str) -> W:
    """A named child of a Designer form; a missing one is a broken .ui file, said plainly."""
    child = parent.findChild(kind, name)
    if child is None:
        raise RuntimeError(f"ui/main_window.ui has no {kind.__name__} named {name!r}")
    return child


class _StatusSignals(QObject):
    changed = Signal(object)


class MainWindow(QMainWindow):
    """Emits ``closed`` when the operator closes it; the app then shuts down cleanly."""

    closed = Signal()

    def __init__(
        self,
        site: Site,
        bus: TagBus,
        production: ProductionQueue,
        outbox: OutboxMonitor,
        user: str,
        statuses: Sequence[DeviceStatus] = (),
    ) -> None:
        super().__init__()
        form = load_ui("main_window")
        self.setStyleSheet(theme_stylesheet())
        self.setCentralWidget(_child(form, QWidget, "central"))
        self.setStatusBar(_child(form, QStatusBar, "statusbar"))
        self.resize(form.size())
        self.setWindowTitle(f"{site.name} — HMI")
        _child(self, QLabel, "siteLabel").setText(site.name)
        _child(self, QLabel, "userLabel").setText(f"User: {user}")
        self._clock = _child(self, QLabel, "clockLabel")

        pens = [site.tag(name) for name in site.trend_pens] or list(site.tags[:4])
        self.trend = TrendView(pens, site.trend_window)
        self._host("trendBox").addWidget(self.trend)
        self.tag_model = TagTableModel(site.tags)
        self.tag_table = TagTableView(self.tag_model)
        self._host("tagBox").addWidget(self.tag_table)
        self.events = EventQueueView(production, outbox, user)
        self._host("eventBox").addWidget(self.events)
        _child(self, QSplitter, "mainSplitter").setSizes([520, 380])
        bottom = _child(self, QSplitter, "bottomSplitter")
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)

        self.device_status = DeviceStatusBar(self.statusBar(), [d.name for d in site.devices])
        self._status_signals = _StatusSignals()
        self._status_signals.changed.connect(self.device_status.update)
        for status in statuses:
            self.device_status.update(status)

        self.bridge = BusBridge(bus)
        self.bridge.samplesArrived.connect(self._on_samples)
        self.tag_model.update_samples(list(bus.snapshot().values()))
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._on_clock)
        self._on_clock()
        self._tick.start()

    def _host(self, box: str) -> QVBoxLayout:
        layout = _child(self, QWidget, box).layout()
        assert isinstance(layout, QVBoxLayout)
        return layout

    def on_device_status(self, status: DeviceStatus) -> None:
        """Thread-agnostic entry for the supervisor's status callbacks."""
        self._status_signals.changed.emit(status)

    def _on_samples(self, samples: list[Sample]) -> None:
        self.tag_model.update_samples(samples)
        self.trend.add_samples(samples)
        self.trend.refresh()

    def _on_clock(self) -> None:
        self._clock.setText(format_clock(time.time()))
        self.trend.refresh()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self._tick.stop()
        self.bridge.close()
        self.events.close_view()
        super().closeEvent(event)
        self.closed.emit()
