"""DeviceHost: the device loop, in a thread of its own, owned by the app.

Protocol work (Modbus polling and decoding, OPC UA subscriptions, deadband, stale
detection) runs on this loop, so it never stalls the screen's loop. What crosses the
thread boundary is small and one-way each:

- Samples go out through the ``SampleSink`` handed in (the owner's TagBus), in batches;
- device statuses go out as notifications on the owner's loop (``add_status_listener``),
  and a diagnostics snapshot once a second (``diagnostics``);
- a write goes in with ``write`` and its WriteResult comes back awaitable on the
  caller's loop; it never hangs (bounded, and answered FAILED if the thread ends).

If the thread dies (a bug that escapes the supervisor), that is logged, every device
shows it, every tag goes BAD, and the thread is started again with backoff.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from hmi.core.bus import SampleSink
from hmi.core.diagnostics import DeviceDiagnostics
from hmi.core.listeners import Listeners
from hmi.core.samples import Value
from hmi.core.site import DeviceKind, Site
from hmi.core.status import ConnectionState, DeviceStatus, DeviceStatusListener
from hmi.core.writes import WriteOutcome, WriteResult
from hmi.devices.connection import bad_samples
from hmi.devices.supervisor import (
    STOP_TIMEOUT,
    DeviceSupervisor,
    WorkerContext,
    WorkerFactory,
    diagnostics_from,
)

_log = logging.getLogger(__name__)

DIAGNOSTICS_INTERVAL = 1.0  # seconds between two diagnostics snapshots
THREAD_RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0)  # after each crash in a row; the last repeats
THREAD_NAME = "hmi-devices"
_UNANSWERED = ("the device thread stopped before answering; the value may or may not be "
               "written: check it before writing again")

T = TypeVar("T")


class DeviceThreadError(RuntimeError):
    """The device thread is not running (stopped, or restarting after a crash)."""


class DeviceHost:
    """Runs a site's DeviceSupervisor on a loop in its own thread.

    Call ``start``, ``write`` and ``stop`` from the owner's loop (the
    one that called ``start``); listeners are called there too.
    """

    def __init__(
        self,
        site: Site,
        sink: SampleSink,
        *,
        context: WorkerContext | None = None,
        factories: Mapping[DeviceKind, WorkerFactory] | None = None,
        restart_delay: float = 1.0,
        thread_restart_delays: tuple[float, ...] = THREAD_RESTART_DELAYS,
        diagnostics_interval: float = DIAGNOSTICS_INTERVAL,
    ) -> None:
        self.site = site
        self._sink = sink
        self._context = context or WorkerContext()
        self._factories = factories
        self._restart_delay = restart_delay
        self._thread_restart_delays = thread_restart_delays
        self._diagnostics_interval = diagnostics_interval
        self._owner: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the device loop, while it runs
        self._supervisor: DeviceSupervisor | None = None
        self._stop_event: asyncio.Event | None = None
        self._started: asyncio.Future[None] | None = None
        self._stopping = False
        self._restart: asyncio.TimerHandle | None = None
        self._calls: set[concurrent.futures.Future[Any]] = set()
        self._status_listeners: Listeners[[DeviceStatus]] = Listeners("device status")
        now = time.time()
        self._statuses = {
            d.name: DeviceStatus(d.name, ConnectionState.CONNECTING, now) for d in site.devices
        }
        self._diagnostics = {
            name: diagnostics_from(status, None) for name, status in self._statuses.items()
        }
        self.crashes = 0  # device threads that died since start
        self.crashes_in_a_row = 0
        self.last_crash = ""
        self._ever_started = False
        self._start_failed = False
        self._thread_started_at = 0.0

    # -- what the owner sees ----------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._loop is not None and self._supervisor is not None

    def statuses(self) -> dict[str, DeviceStatus]:
        """The latest status of each device (as last notified)."""
        return dict(self._statuses)

    def diagnostics(self) -> dict[str, DeviceDiagnostics]:
        """The latest diagnostics snapshot (taken on the device loop once a second)."""
        return dict(self._diagnostics)

    def add_status_listener(self, listener: DeviceStatusListener) -> Callable[[], None]:
        """``listener(status)`` on the owner's loop at every device status change."""
        return self._status_listeners.add(listener)

    # -- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Start the device thread; returns once every worker is built and started
        (raises what building them raised, e.g. a config the workers refuse)."""
        self._owner = asyncio.get_running_loop()
        self._stopping = self._start_failed = False
        await self._start_thread()

    async def _start_thread(self) -> None:
        owner = self._owner
        assert owner is not None
        self._started = owner.create_future()
        self._thread = threading.Thread(target=self._thread_main, name=THREAD_NAME, daemon=True)
        self._thread.start()
        await self._started

    async def stop(self) -> None:
        """Stop the workers and the thread (bounded in time). Every Sample the workers
        handed over before this returns has reached the sink."""
        self._stopping = True
        if self._restart is not None:
            self._restart.cancel()
            self._restart = None
        started = self._started
        if started is not None and not started.done():  # still building the workers
            await asyncio.wait([started], timeout=STOP_TIMEOUT)
        loop, stop_event, thread = self._loop, self._stop_event, self._thread
        if loop is not None and stop_event is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stop_event.set)
        if thread is not None:
            await asyncio.to_thread(thread.join, STOP_TIMEOUT + 2.0)
            if thread.is_alive():
                _log.error("the device thread did not stop within %.0f s; left behind",
                           STOP_TIMEOUT + 2.0)
        self._thread = None

    # -- calls into the device loop ---------------------------------------------------

    async def write(self, tag_name: str, value: Value) -> WriteResult:
        """Write through the device thread; the result comes back here. Never raises,
        never hangs: a stopped or crashed thread answers FAILED with the reason."""
        try:
            timeout = self.site.device(self.site.tag(tag_name).device).timeout
        except KeyError:
            timeout = 1.0  # the supervisor answers REFUSED for an unknown tag at once
        limit = timeout * 3 + 3.0  # the supervisor's own limit is timeout * 3 + 1
        try:
            return await asyncio.wait_for(
                self._call(lambda s: s.write(tag_name, value)), timeout=limit)
        except DeviceThreadError as exc:
            return WriteResult(tag_name, WriteOutcome.FAILED, value, message=str(exc))
        except TimeoutError:
            return WriteResult(tag_name, WriteOutcome.FAILED, value,
                               message=f"no answer from the device thread within {limit:g} s; "
                               "the value may or may not be written: check it before writing "
                               "again")

    async def diagnostics_now(self) -> dict[str, DeviceDiagnostics]:
        """A diagnostics snapshot taken now on the device loop (commands; the screens
        take the pushed ones)."""
        async def take(supervisor: DeviceSupervisor) -> dict[str, DeviceDiagnostics]:
            return supervisor.diagnostics()

        try:
            return await asyncio.wait_for(self._call(take), STOP_TIMEOUT)
        except (DeviceThreadError, TimeoutError):
            return self.diagnostics()

    async def _call(self, work: Callable[[DeviceSupervisor], Coroutine[Any, Any, T]]) -> T:
        loop, supervisor = self._loop, self._supervisor
        if loop is None or supervisor is None:
            raise DeviceThreadError(self._not_running())
        try:
            future = asyncio.run_coroutine_threadsafe(work(supervisor), loop)
        except RuntimeError:  # the loop closed between the check and the call
            raise DeviceThreadError(self._not_running()) from None
        self._calls.add(future)
        future.add_done_callback(self._calls.discard)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not future.cancelled() or (task is not None and task.cancelling()):
                raise  # our caller was cancelled, not the call
            # the device loop was torn down under it (the thread stopped or crashed)
            raise DeviceThreadError(_UNANSWERED) from None

    def _not_running(self) -> str:
        if self.last_crash and not self._stopping:
            return f"the device thread is restarting after a crash ({self.last_crash})"
        return "the device thread is not running"

    # -- the device thread ------------------------------------------------------------

    def _thread_main(self) -> None:
        # the platform's own loop, not the policy's: under Qt the policy makes qasync loops
        loop = asyncio.DefaultEventLoopPolicy().new_event_loop()
        crash: BaseException | None = None
        try:
            loop.run_until_complete(self._serve(loop))
        except BaseException as exc:  # anything that kills the loop is reported
            crash = exc
        finally:
            self._loop = None
            self._supervisor = None
            with contextlib.suppress(BaseException):
                _cancel_remaining(loop)
            loop.close()
            self._notify(self._on_thread_end, crash)

    async def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        self._stop_event = asyncio.Event()
        try:
            supervisor = DeviceSupervisor(
                self.site, self._sink, context=self._context, factories=self._factories,
                restart_delay=self._restart_delay)
            supervisor.add_status_listener(lambda status: self._notify(self._on_status, status))
            await supervisor.start()
        except Exception as exc:
            self._notify(self._on_started, exc)
            raise
        self._supervisor = supervisor
        self._loop = loop
        self._notify(self._on_started, None)
        if self._stopping:  # stop() came while the workers were being built
            self._stop_event.set()
        diagnostics = loop.create_task(self._push_diagnostics(supervisor), name="diagnostics")
        try:
            await self._stop_event.wait()
        finally:
            diagnostics.cancel()
            self._supervisor = None
            await supervisor.stop()
            self._notify(self._on_diagnostics, supervisor.diagnostics())

    async def _push_diagnostics(self, supervisor: DeviceSupervisor) -> None:
        while True:
            self._notify(self._on_diagnostics, supervisor.diagnostics())
            await asyncio.sleep(self._diagnostics_interval)

    def _notify(self, callback: Callable[..., None], *args: Any) -> None:
        """Run ``callback(*args)`` on the owner's loop."""
        owner = self._owner
        if owner is not None and not owner.is_closed():
            with contextlib.suppress(RuntimeError):
                owner.call_soon_threadsafe(callback, *args)

    # -- on the owner's loop ----------------------------------------------------------

    def _on_started(self, error: BaseException | None) -> None:
        started = self._started
        if started is None or started.done():
            return
        if error is None:
            self._ever_started = True
            self._thread_started_at = time.monotonic()
            started.set_result(None)
        else:
            self._start_failed = not self._ever_started  # start() raises it; no restarts
            started.set_exception(error)

    def _on_status(self, status: DeviceStatus) -> None:
        self._statuses[status.device] = status
        # the last snapshot was taken before this change: it must not show the old state
        shown = self._diagnostics.get(status.device)
        if shown is not None:
            self._diagnostics[status.device] = dataclasses.replace(
                shown, state=status.state, last_error=status.last_error,
                reconnects=status.reconnects)
        self._status_listeners.fire(status)

    def _on_diagnostics(self, snapshot: dict[str, DeviceDiagnostics]) -> None:
        self._diagnostics = dict(snapshot)

    def _on_thread_end(self, crash: BaseException | None) -> None:
        for future in list(self._calls):  # a write in flight answers FAILED, never hangs
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                future.set_exception(DeviceThreadError(_UNANSWERED))
        if self._started is not None and not self._started.done():
            self._started.set_exception(crash or DeviceThreadError("the device thread ended"))
            return
        if self._stopping or self._start_failed:
            return
        if time.monotonic() - self._thread_started_at > 60.0:
            self.crashes_in_a_row = 0  # it ran a good while: start the backoff afresh
        self.crashes += 1
        self.crashes_in_a_row += 1
        self.last_crash = f"{type(crash).__name__}: {crash}" if crash else "it ended by itself"
        delays = self._thread_restart_delays
        delay = delays[min(self.crashes_in_a_row - 1, len(delays) - 1)]
        _log.error("the device thread crashed (%s); every device is offline until it is "
                   "restarted in %.0f s", self.last_crash, delay, exc_info=crash)
        now = time.time()
        reason = f"device thread crashed ({self.last_crash}); restarting"
        for name in list(self._statuses):
            old = self._statuses[name]
            self._on_status(DeviceStatus(name, ConnectionState.DISCONNECTED, now, reason,
                                         old.reconnects, delay))
        self._sink.put(bad_samples(self.site.tags, f"comm: {reason}", now))
        owner = self._owner
        assert owner is not None
        self._restart = owner.call_later(delay, self._restart_thread)

    def _restart_thread(self) -> None:
        self._restart = None
        if self._stopping:
            return
        task = asyncio.ensure_future(self._start_thread())
        task.add_done_callback(_log_failed_restart)


def _log_failed_restart(task: asyncio.Future[None]) -> None:
    # the thread's end is reported (and the next restart scheduled) by _on_thread_end
    if not task.cancelled() and task.exception() is not None:
        _log.debug("restarting the device thread failed: %s", task.exception())


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks, timeout=STOP_TIMEOUT))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
