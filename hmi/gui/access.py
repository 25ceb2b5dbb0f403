"""Who is at the screen, as the views see it: the logged-in user, what they may do, and
the idle lock.

The session, the user service and the settings are handed in by hmi/app.py; the GUI
only knows them through the Protocols below. ``AccessController.changed`` fires on every
change of user (log in, switch, lock, idle lock), and every view re-checks its buttons
then. Session calls that hash a password or write the audit trail run on a worker
thread (one at a time: the session is not thread-safe), never on the GUI loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any, Protocol

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

from hmi.core.security import (
    ACTION_TITLES,
    ROLE_TITLES,
    Action,
    Actor,
    Role,
    SecuritySettings,
    Signature,
)

log = logging.getLogger(__name__)


class SessionPort(Protocol):
    """The workstation's session (hmi.security.session.Session)."""

    idle_lock_minutes: float

    @property
    def actor(self) -> Actor | None: ...

    @property
    def needs_user_name(self) -> bool: ...

    def login(self, name: str, password: str) -> Actor: ...

    def logout(self, why: str = "") -> None: ...

    def touch(self) -> None: ...

    def idle_seconds(self) -> float: ...

    def lock_if_idle(self) -> bool: ...

    def sign(self, action: Action, meaning: str, password: str,
             user_name: str | None = None) -> Signature: ...


class UserAdmin(Protocol):
    """The first-run part of the user service (hmi.services.users.UserService)."""

    def has_users(self) -> bool: ...

    def first_admin(self, name: str, password: str, full_name: str = "") -> Actor: ...


class ViewOnlySession:
    """A session nobody can log in to: for a window built without user accounts (the
    GUI benchmark); every action stays disabled."""

    idle_lock_minutes = 0.0
    actor: Actor | None = None
    needs_user_name = True

    def login(self, name: str, password: str) -> Actor:
        raise PermissionError("this window was started without user accounts: view only")

    def logout(self, why: str = "") -> None:
        return None

    def touch(self) -> None:
        return None

    def idle_seconds(self) -> float:
        return 0.0

    def lock_if_idle(self) -> bool:
        return False

    def sign(self, action: Action, meaning: str, password: str,
             user_name: str | None = None) -> Signature:
        raise PermissionError("this window was started without user accounts: view only")


def shown_user(actor: Actor) -> str:
    """"Jane Smith · Operator" (the user name when there is no full name)."""
    return f"{actor.full_name or actor.name} · {ROLE_TITLES[actor.role]}"


def minutes_text(minutes: float) -> str:
    """10 -> "10 min"; 0.5 -> "30 s" (short idle times only occur in tests and demos)."""
    return f"{minutes:g} min" if minutes >= 1 else f"{minutes * 60:.3g} s"


# Input that counts as someone at the screen. Not hover moves: a mouse left on the
# desk must not keep a session open.
_ACTIVITY = frozenset({
    QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick,
    QEvent.Type.Wheel, QEvent.Type.TouchBegin, QEvent.Type.TouchUpdate,
    QEvent.Type.TabletPress,
})


class ActivityFilter(QObject):
    """Application-wide event filter: any key, click, wheel or touch touches the session."""

    def __init__(self, session: SessionPort, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt)
        if event.type() in _ACTIVITY:
            self._session.touch()
        return False


_UNKNOWN = Actor("", Role.OPERATOR)  # never equal to a session's user: forces ``changed``


class AccessController(QObject):
    """The logged-in user for the views; emits ``changed`` whenever it changes."""

    changed = Signal()

    def __init__(self, session: SessionPort, settings: SecuritySettings,
                 users: UserAdmin | None = None, parent: QObject | None = None,
                 check_every_ms: int = 1000) -> None:
        super().__init__(parent)
        self.session = session
        self.settings = settings
        self.users = users
        self.notice = ""  # why nobody is logged in, e.g. "Locked after 10 min idle"
        self._shown: Actor | None = session.actor
        self._busy = asyncio.Lock()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._filter = ActivityFilter(session, self)
        self._timer = QTimer(self)
        self._timer.setInterval(check_every_ms)
        self._timer.timeout.connect(self._on_tick)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self._filter)
        self._timer.start()

    # -- who and what -------------------------------------------------------------------------

    @property
    def actor(self) -> Actor | None:
        return self.session.actor

    @property
    def needs_user_name(self) -> bool:
        return self.session.needs_user_name

    def may(self, action: Action) -> tuple[bool, str]:
        """Whether the current user may do ``action``, and if not, why (a tooltip)."""
        actor = self.session.actor
        if actor is None:
            return False, f"Log in to {ACTION_TITLES[action]}"
        if not self.settings.permissions.allows(actor.role, action):
            return False, self.settings.permissions.why_not(action)
        return True, ""

    def sync(self) -> None:
        """Emit ``changed`` if the session's user changed behind our back."""
        if self.session.actor != self._shown:
            self._shown = self.session.actor
            self.changed.emit()

    # -- changes (each on a worker thread, one at a time) --------------------------------------

    async def _run(self, call: Any, *args: Any, notice: str | None = None) -> Any:
        """``call(*args)`` on a worker thread; then ``notice`` (when given) is what the
        header says, and ``changed`` fires if the user changed."""
        async with self._busy:
            try:
                result = await asyncio.to_thread(call, *args)
                if notice is not None and notice != self.notice:
                    self.notice = notice
                    self._shown = _UNKNOWN  # the header's text changes: emit
                return result
            finally:
                self.sync()

    async def login(self, name: str, password: str) -> Actor:
        """Log in, or switch user: the previous user is logged out. Raises the session's
        refusal (a screen-ready message) when the login is not accepted."""
        actor: Actor = await self._run(self.session.login, name, password, notice="")
        return actor

    async def create_first_admin(self, name: str, full_name: str, password: str) -> Actor:
        """First run: create the administrator, then log them in."""
        if self.users is None:
            raise PermissionError("this window was started without user accounts")
        await self._run(self.users.first_admin, name, password, full_name)
        return await self.login(name, password)

    async def has_users(self) -> bool:
        return self.users is not None and bool(await asyncio.to_thread(self.users.has_users))

    async def lock(self) -> None:
        """The Lock button: log the user out; the next person logs in."""
        actor = self.session.actor
        if actor is None:
            return
        at = time.strftime("%H:%M", time.localtime())
        await self._run(self.session.logout, "screen locked by the user",
                        notice=f"Locked by {actor.full_name or actor.name} at {at}")

    async def sign(self, action: Action, meaning: str, password: str,
                   user_name: str | None) -> Signature:
        signature: Signature = await self._run(self.session.sign, action, meaning, password,
                                               user_name)
        return signature

    async def check_idle(self) -> bool:
        """Lock when idle for the session's ``idle_lock_minutes`` (0: never); True if so."""
        session = self.session
        limit = session.idle_lock_minutes
        if session.actor is None or limit <= 0 or session.idle_seconds() < limit * 60:
            return False
        if self._busy.locked():  # a login or a signature in progress is activity
            return False
        notice = f"Locked after {minutes_text(limit)} idle"
        async with self._busy:
            try:
                locked = bool(await asyncio.to_thread(session.lock_if_idle))
                if locked:
                    self.notice = notice
                    self._shown = _UNKNOWN
                    log.info("screen locked after %s idle", minutes_text(limit))
                return locked
            finally:
                self.sync()

    def _on_tick(self) -> None:
        self.sync()
        session = self.session
        if session.actor is not None and session.idle_lock_minutes > 0 \
                and session.idle_seconds() >= session.idle_lock_minutes * 60:
            self.start(self.check_idle())

    def start(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` on the loop, keeping a reference until it is done."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("session change failed: %s", task.exception())

    def stop(self) -> None:
        """Stop the idle timer and the activity filter (the window is closing)."""
        self._timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self._filter)
