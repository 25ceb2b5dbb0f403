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
    QFrame,
    QLabel,
    QMainWindow,
    QScrollArea,
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
from hmi.gui.alarm_banner import AlarmBanner
from hmi.gui.alarm_journal_view import AlarmJournalView
from hmi.gui.alarm_kpi_view import AlarmKpiView
from hmi.gui.alarm_markers import AlarmTrendMarkers
from hmi.gui.alarm_model import AlarmSummaryModel
from hmi.gui.alarm_sound import Annunciator, platform_player
from hmi.gui.alarm_view import AlarmScreenParts, AlarmSummaryView
from hmi.gui.audit_view import AuditFilterFactory, AuditReader, AuditView
from hmi.gui.device_status import DataPathIndicator, DeviceStatusBar
from hmi.gui.device_view import DeviceView
from hmi.gui.events_view import EventQueueView
from hmi.gui.feed import TagFeed
from hmi.gui.formatting import format_clock
from hmi.gui.outbox_indicator import OutboxIndicator
from hmi.gui.production_markers import ProductionTrendMarkers
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
        alarms: AlarmScreenParts | None = None,
    ) -> None:
        """``feed`` gives each view the samples of the tags it shows; ``os_user`` is the
        operating-system account the HMI runs under (logged; who acts is ``access``'s
        user), ``history`` fills the trend from the historian
        (live data only without it), ``shift_starts`` enables "Last shift",
        ``trend_sets`` is the folder for saved trend sets (``<data dir>/trends``),
        ``audit`` and ``audit_filter`` fill the Audit tab (no tab without them),
        ``alarms`` the alarm banner and the Alarms and Alarm journal tabs."""
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
        self.production_markers = ProductionTrendMarkers(self.trend, production)
        self._host("eventBox").addWidget(self.events)
        self._split()

        self.device_status = DeviceStatusBar(self.statusBar(), [d.name for d in site.devices])
        self.data_path = DataPathIndicator(self.statusBar())
        self.outbox_indicator = OutboxIndicator(self.statusBar(), outbox)
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
        self._place_alarm_views(alarms)
        self._arrange_tabs()
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
        else:
            self._tabs.removeTab(self._tabs.indexOf(audit_tab))

    def _place_alarm_views(self, parts: AlarmScreenParts | None) -> None:
        """The banner on every screen, the Alarms and Alarm journal tabs, the horn and
        the alarm markers on the trend (none of them without an alarm engine)."""
        self.alarm_model: AlarmSummaryModel | None = None
        self.alarm_view: AlarmSummaryView | None = None
        self.alarm_banner: AlarmBanner | None = None
        self.annunciator: Annunciator | None = None
        self.alarm_journal: AlarmJournalView | None = None
        self.alarm_markers: AlarmTrendMarkers | None = None
        self.alarm_kpis: AlarmKpiView | None = None
        if parts is None or parts.report is None:
            self._tabs.removeTab(self._tabs.indexOf(_child(self, QWidget, "kpiTab")))
        else:
            self.alarm_kpis = AlarmKpiView(parts.report)
            scroll = QScrollArea()  # its figures must not make every tab as tall
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QFrame.Shape.NoFrame)
            scroll.setWidget(self.alarm_kpis)
            self._host("kpiTab").addWidget(scroll)
        if parts is None:
            for name in ("alarmsTab", "journalTab"):
                self._tabs.removeTab(self._tabs.indexOf(_child(self, QWidget, name)))
            _child(self, QWidget, "alarmBannerBox").hide()
            return
        self.alarm_model = AlarmSummaryModel(parts.board, self)
        self.alarm_view = AlarmSummaryView(self.alarm_model, parts.handling, parts.journal,
                                           self.access, parts.max_shelve_minutes)
        self._host("alarmsTab").addWidget(self.alarm_view)
        self.annunciator = Annunciator(self.alarm_model, parts.player or platform_player(),
                                       self)
        self.alarm_banner = AlarmBanner(self.alarm_model, self.annunciator)
        self._host("alarmBannerBox").addWidget(self.alarm_banner)
        self.alarm_banner.open_alarm.connect(self.alarm_view.open_details)
        self.alarm_banner.show_list.connect(self.show_alarm_list)
        self.alarm_journal = AlarmJournalView(parts.board, parts.journal)
        self._host("journalTab").addWidget(self.alarm_journal)
        self.alarm_markers = AlarmTrendMarkers(self.trend, parts.board, parts.journal,
                                               self.alarm_view.open_details)
        self.alarm_model.changed.connect(self._on_alarms_changed)
        self._on_alarms_changed()

    def _split(self) -> None:
        _child(self, QSplitter, "mainSplitter").setSizes([520, 380])
        bottom = _child(self, QSplitter, "bottomSplitter")
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)

    def _arrange_tabs(self) -> None:
        """Lists to read (alarms, their journal and figures, the audit trail) take the
        height while shown; the trend gets it back after. The overview opens on the
        tags and a full trend: the banner shows what is unacknowledged, the Alarms tab
        (its title counting them) the whole list."""
        self._trend_sizes: list[int] | None = None
        self._tall_tabs = [w for name in ("alarmsTab", "journalTab", "kpiTab", "auditTab")
                           if self._tabs.indexOf(w := _child(self, QWidget, name)) >= 0]
        self._tabs.currentChanged.connect(self._on_tab_changed)
        self._tabs.setCurrentWidget(_child(self, QWidget, "tagsTab"))

    def show_alarm_list(self) -> None:
        self._tabs.setCurrentWidget(_child(self, QWidget, "alarmsTab"))

    def _on_alarms_changed(self) -> None:
        """The Alarms tab says how many wait for acknowledgement, even while hidden."""
        if self.alarm_model is None:
            return
        unacked = self.alarm_model.counts()["unacked"]
        index = self._tabs.indexOf(_child(self, QWidget, "alarmsTab"))
        text = f"Alarms — {unacked} unacknowledged" if unacked else "Alarms"
        if self._tabs.tabText(index) != text:
            self._tabs.setTabText(index, text)
            self._tabs.tabBar().setTabTextColor(index, _DOWN_TAB_TEXT if unacked
                                                else QColor())

    def _on_tab_changed(self, index: int) -> None:
        """Reading alarms or the audit trail needs rows, not the trend: those tabs take
        the trend's place while shown (the banner stays) and give it back after."""
        tall = self._tabs.widget(index) in self._tall_tabs
        trend_box = _child(self, QWidget, "trendBox")
        splitter = _child(self, QSplitter, "mainSplitter")
        if tall and not trend_box.isHidden():
            self._trend_sizes = splitter.sizes()
            trend_box.hide()
            splitter.setSizes([0, sum(self._trend_sizes)])  # now, not at the next layout
        elif not tall and trend_box.isHidden():
            trend_box.show()
            if self._trend_sizes is not None:
                splitter.setSizes(self._trend_sizes)

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

    def _close_alarm_views(self) -> None:
        if self.annunciator is not None:
            self.annunciator.stop()
        for view in (self.alarm_view, self.alarm_journal):
            if view is not None:
                view.close_view()
        if self.alarm_markers is not None:
            self.alarm_markers.close()
        if self.alarm_model is not None:
            self.alarm_model.close()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self._tick.stop()
        self.access.stop()
        if self.header.dialog is not None:
            self.header.dialog.reject()
        self.device_view.stop()
        self.tag_model.close()
        self.events.close_view()
        self.outbox_indicator.close()
        self.production_markers.close()
        self.trend.close_view()
        self._close_alarm_views()
        super().closeEvent(event)
        self.closed.emit()
