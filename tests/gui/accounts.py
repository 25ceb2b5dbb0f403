"""A station for the security screens: the real runtime (store, users, session, audit,
production service) on a temp folder, not started (no PLCs), and its main window."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from hmi.app import build_main_window
from hmi.core.events import ProductionEvent
from hmi.core.security import Action, Actor, Role
from hmi.core.site import Site
from hmi.gui.main_window import MainWindow
from hmi.mes.secrets import install_memory_keyring
from hmi.runtime import Runtime
from tests.conftest import demo_site

T = TypeVar("T")
SHOTS = Path("/tmp/gui-shots")
MEANING = "confirmed production quantity"
PASSWORDS = {
    "j.smith": "admin pass 123",
    "o.otto": "operator pass 1",
    "m.maier": "maintenance 22",
    "s.lead": "shift lead 333",
}
ROLES = {"o.otto": Role.OPERATOR, "m.maier": Role.MAINTENANCE, "s.lead": Role.SHIFT_LEAD}
FULL_NAMES = {"j.smith": "Jane Smith", "o.otto": "Otto Operator", "m.maier": "Max Maier",
              "s.lead": "Sam Lead"}


async def settle(timeout: float = 10.0) -> None:
    """Wait until every other task on the loop is done: qasync runs the loop once more
    after run_until_complete with no running loop, where a task's next step would fail."""
    me = asyncio.current_task()
    loop = asyncio.get_running_loop()
    start = loop.time()
    while any(not t.done() for t in asyncio.all_tasks() if t is not me):
        if loop.time() - start > timeout:
            raise AssertionError(f"tasks still running after {timeout} s")
        await asyncio.sleep(0.01)


def run(loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, T]) -> T:
    """``loop.run_until_complete(work)``, then the work it started, in the same run."""

    async def work_then_settle() -> T:
        result = await work
        await settle()
        return result

    return loop.run_until_complete(work_then_settle())


def shot(widget: Any, name: str) -> Path:
    """Save what the widget looks like, for a person to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    assert widget.grab().save(str(path)), f"could not write {path}"
    return path


class Station:
    def __init__(self, runtime: Runtime, window: MainWindow) -> None:
        self.runtime = runtime
        self.window = window
        self.access = window.access
        self.admin: Actor | None = None

    def add_users(self, *names: str) -> None:
        """The administrator j.smith (first run), then the named users."""
        users = self.runtime.users
        if self.admin is None:
            self.admin = users.first_admin("j.smith", PASSWORDS["j.smith"], "Jane Smith")
        for name in names:
            users.add(self.admin, name, ROLES[name], PASSWORDS[name], FULL_NAMES[name])

    async def login(self, name: str) -> Actor:
        return await self.access.login(name, PASSWORDS[name])

    def add_event(self, good: int = 1234, reject: int = 3) -> ProductionEvent:
        end = time.time()
        event = ProductionEvent(str(uuid.uuid4()), "filler_output", "Line 1", end - 3600, end,
                                good, reject, "bottles", True)
        self.runtime.events.add(event)
        self.runtime.production.on_new_event(event)
        return event

    def audit_actions(self) -> list[tuple[str, str]]:
        """(user, action) of every audit row, oldest first."""
        return [(r.user, r.action) for r in self.runtime.audit.rows()]


@contextmanager
def station(loop: Any, qtbot: Any, tmp_path: Path, *,
            signed: bool | dict[Action, str] = False, site: Site | None = None,
            **security: Any) -> Iterator[Station]:
    """``signed``: True asks for a signature to confirm production; a dict, for those
    actions with those meanings. ``site``: the demo site unless given."""
    site = site or demo_site()
    settings = dataclasses.replace(
        site.security, **security,
        signed={Action.CONFIRM_EVENT: MEANING} if signed is True else (signed or {}))
    site = dataclasses.replace(site, security=settings)
    assert site.mes is not None
    install_memory_keyring({site.mes.api_key_secret: "test-key"})
    runtime = Runtime(site, tmp_path)
    runtime.session.idle_lock_minutes = settings.idle_lock_minutes
    window = build_main_window(runtime, "os-account")
    qtbot.addWidget(window)
    window.resize(window.designed_size)
    window.show()
    run(loop, asyncio.sleep(0.05))  # the views' first refresh
    try:
        yield Station(runtime, window)
    finally:
        window.close()
        loop.run_until_complete(runtime.stop())
