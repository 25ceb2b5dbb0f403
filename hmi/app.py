"""Composition root: builds the loop, the runtime (devices, store, services), the demo
plant when asked, and the main window, and wires them together."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import qasync
from PySide6.QtCore import QMessageLogContext, QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication, QWidget

from hmi.core.bus import OverflowPolicy
from hmi.core.site import Site
from hmi.gui.access import AccessController
from hmi.gui.alarm_view import AlarmScreenParts
from hmi.gui.feed import TagFeed
from hmi.gui.main_window import MainWindow
from hmi.runtime import Runtime
from hmi.services.alarm_journal import AlarmJournal
from hmi.services.alarm_report import read_alarm_report
from hmi.services.audit import AuditService
from hmi.services.station_alarms import StationAlarms
from hmi.store.audit import AuditFilter

log = logging.getLogger(__name__)
FULL_COLLECTION_EVERY = 100  # middle-generation collections (Python's default: 10)
SCREEN_QUEUE = 500_000  # samples: ~9 s of the 55,000-tag benchmark load between ticks


@dataclass(frozen=True, slots=True)
class AppOptions:
    site: Site
    data_dir: Path
    user: str
    demo: bool = False
    headless: bool = False
    duration: float | None = None  # seconds, then close by itself
    screenshot: Path | None = None


class AppError(Exception):
    """The app could not do its job; the message says why (exit code 2)."""


def run_app(options: AppOptions) -> int:
    """Run the Qt application on a qasync loop until the window closes. Returns 0."""
    if options.headless:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    qInstallMessageHandler(_on_qt_message)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setApplicationName("hmi")
    app.setQuitOnLastWindowClosed(False)  # the main coroutine decides when to stop
    try:
        return int(qasync.run(_main(options)))
    finally:
        app.processEvents()


async def _main(options: AppOptions) -> int:
    # Blocking work (SQLite, keyring, asyncua's address space) runs on plain threads;
    # the tests run on the same kind of executor.
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hmi-worker")
    asyncio.get_running_loop().set_default_executor(executor)
    try:
        return await _run_window(options)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


async def _run_window(options: AppOptions) -> int:
    plant = None
    if options.demo:
        from hmi.sim.demo import DEMO_API_KEY, DemoPlant  # noqa: PLC0415

        _demo_keyring(options.site, DEMO_API_KEY)
        plant = DemoPlant(options.site)
        await plant.start()
    runtime = Runtime(options.site, options.data_dir)
    window: MainWindow | None = None
    failure: BaseException | None = None
    try:
        await runtime.start()
        window = build_main_window(runtime, options.user)
        closed = asyncio.Event()
        window.closed.connect(closed.set)
        _present(window, options.headless)
        _close_on_interrupt(window)
        if options.duration is not None:
            finished = asyncio.get_running_loop().create_future()

            def finish() -> None:
                try:
                    if options.screenshot is not None:
                        _save_screenshot(window, options.screenshot)
                except BaseException as exc:
                    finished.set_exception(exc)
                else:
                    finished.set_result(None)
                window.close()

            QTimer.singleShot(int(options.duration * 1000), finish)
            await closed.wait()
            await finished
        else:
            await closed.wait()
    except BaseException as exc:
        failure = exc
        raise
    finally:
        if window is not None and window.isVisible():
            window.close()
        await runtime.stop()
        if plant is not None:
            await plant.stop()
        if window is not None:
            window.deleteLater()
        if failure is None:
            log.info("stopped cleanly")
    return 0


_QT_NOISE = ("This plugin does not support propagateSizeHints",)  # offscreen platform
_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def _on_qt_message(kind: QtMsgType, _context: QMessageLogContext, message: str) -> None:
    """Qt's own messages go to the log like ours, minus known platform noise."""
    if not message.startswith(_QT_NOISE):
        logging.getLogger("qt").log(_QT_LEVELS.get(kind, logging.WARNING), "%s", message)


def build_main_window(runtime: Runtime, os_user: str = "") -> MainWindow:
    """The main window wired to a started runtime: the one place the app (and the tests
    that stand in for it) connect views to services. Who acts is whoever logs in to
    ``runtime.session`` (nobody at first: the window is view-only); ``os_user`` is only
    the operating-system account, for the log."""
    access = AccessController(runtime.session, runtime.guard.settings, runtime.users)
    # The screens' one source of samples: a consumer of the bus like the historian (a
    # display wants the newest: drop the oldest), the bus's latest values for a new view
    feed = TagFeed(current=runtime.bus.latest)
    runtime.runner.add(feed, overflow=OverflowPolicy.DROP_OLDEST, maxsize=SCREEN_QUEUE)
    # one alarm list: the station's own and its PLCs' servers' (OPC UA Part 9)
    station_alarms = StationAlarms(runtime.alarms, runtime.alarm_actions,
                                   runtime.server_alarms)
    window = MainWindow(
        runtime.site,
        feed,
        runtime.production,
        runtime.mes_monitor,
        os_user,
        list(runtime.devices.statuses().values()),
        diagnostics=runtime.devices.diagnostics,
        history=runtime.history,
        shift_starts=runtime.site.shift_starts,
        trend_sets=runtime.data_dir / "trends",
        access=access,
        audit=AuditService(runtime.audit, runtime.guard, lambda: runtime.session.actor),
        audit_filter=AuditFilter,
        alarms=AlarmScreenParts(station_alarms, station_alarms,
                                AlarmJournal(runtime.alarm_store),
                                runtime.site.alarm_settings.max_shelve_minutes,
                                report=partial(read_alarm_report, runtime.alarm_store,
                                               runtime.site)),
    )
    window.closed.connect(station_alarms.close)
    feed.setParent(window)
    window.closed.connect(lambda: _stop_feed(runtime, feed))
    for remove in (runtime.add_status_listener(window.on_device_status),
                   runtime.runner.add_listener(window.on_consumer_stats)):
        window.closed.connect(remove)
    return window


def _stop_feed(runtime: Runtime, feed: TagFeed) -> None:
    """The window closed: its feed stops reading the bus, then ends its subscriptions."""
    removing = asyncio.ensure_future(runtime.runner.remove(feed.name))
    removing.add_done_callback(lambda _done: feed.close())


def _present(window: MainWindow, headless: bool) -> None:
    """Show the built window, settle the garbage collector, then ask who logs in."""
    if headless:  # the offscreen "screen" is 800x800: use the designed size
        window.resize(window.designed_size)
    window.show()
    settle_gc()  # start-up is over: what it built lives as long as the app
    if not headless:  # headless: nobody to type; the window stays view-only
        window.header.prompt()  # log in; on a new station, create the administrator


def settle_gc() -> None:
    """Once start-up has built everything (runtime, devices' address spaces, window):
    collect its garbage, freeze what is left out of the garbage collector, and make full
    collections rarer.

    Those start-up objects live as long as the app, yet every full collection used to
    walk them all: at 12,000 tags about ten full collections in 41 s, each pausing the
    GUI loop 54-68 ms. Frozen, a full collection walks only what was made since.
    At plant scale the samples themselves are the next burden: 55,000 a second each live
    about a second (until the next one of their tag replaces them), long enough to reach
    the oldest generation, so with Python's thresholds (700, 10, 10) a full collection
    ran every 0.3 s (71 in 20 s, 2.4 s in all: tests/bench/bench_data_path.py). A full
    collection is now considered every 100 middle-generation ones instead of 10 (9 in
    20 s, 0.26 s in all); the young generations, whose pauses are short, are unchanged,
    and cyclic garbage still goes, a little later."""
    gc.collect()
    gc.freeze()
    young, middle, _old = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    log.info("garbage collector: %d start-up objects frozen, no longer scanned; a full "
             "collection every %d middle ones", gc.get_freeze_count(), FULL_COLLECTION_EVERY)


def _save_screenshot(window: QWidget, path: Path) -> None:
    if not window.grab().save(str(path), "PNG"):
        raise AppError(f"could not write the screenshot to {path}")


def _close_on_interrupt(window: QWidget) -> None:
    """Ctrl+C in the terminal closes the window the same way the operator would."""
    signal.signal(signal.SIGINT, lambda *_: window.close())


def _demo_keyring(site: Site, api_key: str) -> None:
    """The demo's MES key lives in an in-memory keyring: it never touches the user's own."""
    from hmi.mes.secrets import BACKEND_ADVICE, has_usable_backend, install_memory_keyring  # noqa: PLC0415

    if not has_usable_backend():
        print(
            "note: no keyring backend on this computer; the demo keeps its MES API key in "
            f"memory. {BACKEND_ADVICE}",
            file=sys.stderr,
        )
    if site.mes is not None:
        install_memory_keyring({site.mes.api_key_secret: api_key})
