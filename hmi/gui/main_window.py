"""The main window: a shell that loads ui/main_window.ui and places the views in it.

The views take their samples from the per-tag feed handed in (each subscribes to the
tags it shows); the window routes none. Device status changes are pushed to the status
bar and the Devices tab the moment they happen.

Who is logged in comes from the AccessController handed in (hmi/app.py builds it on
the session); without one the window is view-only for good (the GUI benchmark)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QColor
from PySide6.QtWidgets import (
    QBoxLayout,
    QLabel,
    QMainWindow,
    QSplitter,
    QStatusBar,
    QTabWidget,
    QWidget,
)

from hmi.core.consumers import ConsumerStats
from hmi.core.diagnostics import DeviceDiagnostics
from hmi.core.history import HistoryReader
from hmi.core.ports import OutboxMonitor, ProductionQueue
from hmi.core.site import Site
from hmi.core.status import DeviceStatus
from hmi.gui.access import AccessController, ViewOnlySession
from hmi.gui.audit_view import AuditFilterFactory, AuditReader, AuditView
from hmi.gui.device_status import DataPathIndicator, DeviceStatusBar
from hmi.gui.device_view import DeviceView
from hmi.gui.events_view import EventQueueView
from hmi.gui.feed import TagFeed
from hmi.gui.formatting import format_clock
from hmi.gui.tag_table import TagTableModel, TagTableView
from hmi.gui.trend import TrendView
from hmi.gui.uiloader import load_ui, theme_stylesheet
from hmi.gui.user_header import UserHeader
from hmi.services.devices import from_status

log = logging.getLogger(__name__)
W = TypeVar("W", bound=QObject)
DiagnosticsProvider = Callable[[], dict[str, DeviceDiagnostics]]
_DOWN_TAB_TEXT = QColor("#c62828")


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
        feed: TagFeed,
        production: ProductionQueue,
        outbox: OutboxMonitor,
        os_user: str,
        statuses: Sequence[DeviceStatus] = (),
        diagnostics: DiagnosticsProvider | None = None,
        *,
        history: HistoryReader | None = None,
        shift_starts: Sequence[dt.time] = (),
        trend_sets: Path | None = None,
        access: AccessController | None = None,
        audit: AuditReader[Any] | None = None,
        audit_filter: AuditFilterFactory[Any] | None = None,
    ) -> None:
        """``feed`` gives each view the samples of the tags it shows; ``os_user`` is the
        operating-system account the HMI runs under (logged; who acts is ``access``'s
        user), ``history`` fills the trend from the historian
        (live data only without it), ``shift_starts`` enables "Last shift",
        ``trend_sets`` is the folder for saved trend sets (``<data dir>/trends``),
        ``audit`` and ``audit_filter`` fill the Audit tab (no tab without them)."""
        super().__init__()
        log.info("main window under OS account %s", os_user or "?")
        form = load_ui("main_window")
        self.setStyleSheet(theme_stylesheet())
        self.setCentralWidget(_child(form, QWidget, "central"))
        self.setStatusBar(_child(form, QStatusBar, "statusbar"))
        designed = form.size()
        self.designed_size = designed  # the .ui file's size, for offscreen screenshots
        self.setWindowTitle(f"{site.name} — HMI")
        _child(self, QLabel, "siteLabel").setText(site.name)
        self.access = access or AccessController(ViewOnlySession(), site.security)
        self.access.setParent(self)
        self._clock = _child(self, QLabel, "clockLabel")

        pens = [site.tag(name) for name in site.trend_pens] or list(site.tags[:4])
        self.trend = TrendView(pens, site.trend_window, all_tags=site.tags, history=history,
                               shift_starts=shift_starts, trend_sets=trend_sets, feed=feed)
        self._host("trendBox").addWidget(self.trend)
        self.tag_model = TagTableModel(site.tags, feed)
        self.tag_table = TagTableView(self.tag_model)
        self._host("tagBox").addWidget(self.tag_table)
        self.events = EventQueueView(production, outbox, self.access)
        self._host("eventBox").addWidget(self.events)
        _child(self, QSplitter, "mainSplitter").setSizes([520, 380])
        bottom = _child(self, QSplitter, "bottomSplitter")
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)

        self.device_status = DeviceStatusBar(self.statusBar(), [d.name for d in site.devices])
        self.data_path = DataPathIndicator(self.statusBar())
        self._statuses: dict[str, DeviceStatus] = {}
        self._device_names = [d.name for d in site.devices]
        for status in statuses:
            self.device_status.update(status)
            self._remember_status(status)

        # Without a provider (tests, older callers) the view still shows each device's
        # state from the status callbacks, with no counters.
        self.device_view = DeviceView(diagnostics or self._diagnostics_from_statuses)
        self._host("deviceBox").addWidget(self.device_view)
        self._tabs = _child(self, QTabWidget, "viewTabs")
        self._place_access_views(audit, audit_filter)
        self.device_view.refreshed.connect(self._on_devices_refreshed)
        self._on_devices_refreshed(*self.device_view.model.counts())
        # a status change reaches the status bar and the Devices tab at once (pushed)
        self._status_signals = _StatusSignals()
        self._status_signals.changed.connect(self._remember_status)
        self._status_signals.changed.connect(self.device_status.update)
        self._status_signals.changed.connect(self.device_view.on_status)

        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._on_clock)
        self._on_clock()
        self._tick.start()
        # Size last: views added above can ask for more width while they settle, and a
        # window never shrinks back by itself. Never larger than the screen.
        screen = self.screen().availableGeometry()
        self.resize(min(designed.width(), screen.width()), min(designed.height(), screen.height()))

    def _place_access_views(self, audit: AuditReader[Any] | None,
                            audit_filter: AuditFilterFactory[Any] | None) -> None:
        """The header's user block, and the Audit tab (removed without a reader)."""
        self.header = UserHeader(self.access)
        self._host("userBox").addWidget(self.header)
        self.audit_view: AuditView | None = None
        audit_tab = _child(self, QWidget, "auditTab")
        if audit is not None and audit_filter is not None:
            self.audit_view = AuditView(audit, audit_filter, self.access)
            self._host("auditTab").addWidget(self.audit_view)
            self._trend_sizes: list[int] | None = None
            self._tabs.currentChanged.connect(self._on_tab_changed)
        else:
            self._tabs.removeTab(self._tabs.indexOf(audit_tab))

    def _on_tab_changed(self, index: int) -> None:
        """Reading the audit trail needs rows, not the trend: the Audit tab takes the
        height while it is shown and gives it back after."""
        splitter = _child(self, QSplitter, "mainSplitter")
        if self._tabs.widget(index) is _child(self, QWidget, "auditTab"):
            if self._trend_sizes is None:
                self._trend_sizes = splitter.sizes()
                total = sum(self._trend_sizes)
                splitter.setSizes([0, total])  # the trend keeps its minimum height
        elif self._trend_sizes is not None:
            splitter.setSizes(self._trend_sizes)
            self._trend_sizes = None

    def _host(self, box: str) -> QBoxLayout:
        layout = _child(self, QWidget, box).layout()
        assert isinstance(layout, QBoxLayout)
        return layout

    def on_consumer_stats(self, stats: list[ConsumerStats]) -> None:
        """The data path's trouble, pushed by the consumer runner (on this loop)."""
        self.data_path.update(stats)

    def on_device_status(self, status: DeviceStatus) -> None:
        """Thread-agnostic entry for the supervisor's status callbacks."""
        self._status_signals.changed.emit(status)

    def _remember_status(self, status: DeviceStatus) -> None:
        self._statuses[status.device] = status

    def _diagnostics_from_statuses(self) -> dict[str, DeviceDiagnostics]:
        known = [self._statuses[name] for name in self._device_names if name in self._statuses]
        return {status.device: from_status(status) for status in known}

    def _on_devices_refreshed(self, down: int, rising: int) -> None:
        """The Devices tab says when something there is abnormal, even while hidden."""
        index = self._tabs.indexOf(_child(self, QWidget, "devicesTab"))
        if down:
            text, colour = f"Devices — {down} DOWN", _DOWN_TAB_TEXT
        elif rising:
            text, colour = f"Devices — errors on {rising}", QColor()
        else:
            text, colour = "Devices", QColor()
        if self._tabs.tabText(index) != text:
            self._tabs.setTabText(index, text)
            self._tabs.tabBar().setTabTextColor(index, colour)

    def _on_clock(self) -> None:
        self._clock.setText(format_clock(time.time()))
        self.trend.refresh()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self._tick.stop()
        self.access.stop()
        if self.header.dialog is not None:
            self.header.dialog.reject()
        self.device_view.stop()
        self.tag_model.close()
        self.events.close_view()
        self.trend.close_view()
        super().closeEvent(event)
        self.closed.emit()
