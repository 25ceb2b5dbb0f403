"""The production queue's MES line follows the real sender and MES simulator by
notification: it changes when the sender posts, and no timer polls the outbox."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

from hmi.core.events import ProductionEvent
from hmi.core.outbox import OutboxStatus
from hmi.core.security import SecuritySettings
from hmi.core.site import MesLink
from hmi.gui.access import AccessController, ViewOnlySession
from hmi.gui.events_view import EventQueueView
from hmi.mes.sender import OutboxSender
from hmi.runtime import MesMonitor
from hmi.services.production import OutboxQueue, ProductionService
from hmi.sim.mes import MesSimulator
from hmi.store.database import Database, open_database
from hmi.store.events import EventRepository
from hmi.store.outbox import OutboxRepository
from tests.conftest import wait_for
from tests.security_helpers import GUARD, operator, shift_lead

API_KEY = "k3y-for-the-gui-test-1c9e"


class CountingMonitor:
    """The runtime's MesMonitor, counting how often the view reads the counts."""

    def __init__(self, monitor: MesMonitor) -> None:
        self._monitor = monitor
        self.reads = 0

    async def counts(self) -> dict[str, int]:
        self.reads += 1
        return await self._monitor.counts()

    async def oldest_pending(self) -> float | None:
        return await self._monitor.oldest_pending()

    async def rejected(self):
        return await self._monitor.rejected()

    async def retry(self, item_id, actor, reason="", signature=None) -> None:
        await self._monitor.retry(item_id, actor, reason, signature)

    def problem(self) -> str:
        return self._monitor.problem()

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        return self._monitor.add_listener(listener)


@dataclass
class Desk:
    db: Database
    events: EventRepository
    outbox: OutboxRepository
    sim: MesSimulator
    sender: OutboxSender
    production: ProductionService
    queue: OutboxQueue
    monitor: CountingMonitor

    def add_event(self) -> ProductionEvent:
        end = time.time()
        event = ProductionEvent(str(uuid.uuid4()), "filler_output", "Line 1", end - 60, end,
                                120, 3, "bottles", True)
        self.events.add(event)
        return event


@pytest.fixture
def desk(qloop, tmp_path: Path) -> Iterator[Desk]:
    db = open_database(tmp_path / "hmi.sqlite3")
    sim = MesSimulator(api_key=API_KEY)
    qloop.run_until_complete(sim.start())
    link = MesLink(url=sim.url, api_key_secret="mes", timeout=2.0, retry_interval=0.2)
    events, outbox = EventRepository(db), OutboxRepository(db)
    sender = OutboxSender(outbox, link, lambda: API_KEY)
    queue = OutboxQueue(outbox, sender.notify, GUARD)
    yield Desk(db, events, outbox, sim, sender,
               ProductionService(events, sender.notify, GUARD), queue,
               CountingMonitor(MesMonitor(queue, sender, "")))
    qloop.run_until_complete(sim.stop())
    db.close()


def _view(desk: Desk, qtbot) -> tuple[QWidget, EventQueueView]:
    host = QWidget()  # as the main window: owns the access controller and the view
    access = AccessController(ViewOnlySession(), SecuritySettings(), parent=host)
    view = EventQueueView(desk.production, desk.monitor, access, parent=host)

    def close(_host: QWidget) -> None:  # as the main window's closeEvent
        access.stop()
        view.close_view()

    qtbot.addWidget(host, before_close_func=close)
    QVBoxLayout(host).addWidget(view)
    host.show()
    return host, view  # the caller keeps the host: it owns the rest


def _polling_timers(view: EventQueueView) -> list[QTimer]:
    return [timer for timer in view.findChildren(QTimer) if timer.isActive()]


def test_the_mes_line_changes_when_the_sender_posts(desk: Desk, qloop, qtbot) -> None:
    _host, view = _view(desk, qtbot)
    label = view.outbox_label

    async def scenario() -> None:
        sender = asyncio.create_task(desk.sender.run())
        try:
            await wait_for(lambda: label.text().startswith("MES: 0 sent"), 5, "first line")
            assert _polling_timers(view) == [], "no timer polls the outbox"

            first = desk.add_event()
            await desk.production.confirm(first.event_id, operator(), "all good")
            await wait_for(lambda: desk.sim.post_count == 1, 5, "the POST at the MES")
            await wait_for(lambda: "1 sent · 0 waiting" in label.text(), 5, "'1 sent' shown")

            desk.sim.reject_next(422, "unknown order")
            second = desk.add_event()
            await desk.production.confirm(second.event_id, operator(), "")
            await wait_for(lambda: "1 rejected" in label.text(), 5, "'1 rejected' shown")
            assert label.property("attention") is True
            [rejected] = desk.outbox.list(OutboxStatus.REJECTED)
            await desk.queue.retry(rejected.id, shift_lead(), "order fixed at the MES")
            await wait_for(lambda: "2 sent · 0 waiting to send · 0 rejected" in label.text(), 5,
                           "the retried item shown sent")

            await desk.sim.stop()  # the MES goes away: the line says so and why
            third = desk.add_event()
            await desk.production.confirm(third.event_id, operator(), "")
            await wait_for(lambda: "1 waiting to send" in label.text()
                           and "cannot reach the MES" in label.text(), 5, "held, and why")
            await desk.sim.start()  # same port
            await wait_for(lambda: "3 sent · 0 waiting" in label.text(), 10, "sent once back")
            assert "cannot reach" not in label.text(), "the problem ended: not shown"
            assert _polling_timers(view) == []
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    qloop.run_until_complete(scenario())


def test_a_burst_of_notifications_makes_one_refresh(desk: Desk, qloop, qtbot) -> None:
    _host, view = _view(desk, qtbot)

    async def scenario() -> None:
        await wait_for(lambda: view.outbox_label.text().startswith("MES: 0 sent"), 5,
                       "first line")
        before = desk.monitor.reads
        for _ in range(50):  # the sender is not running: only the notifications count
            desk.sender.notify()
        await wait_for(lambda: desk.monitor.reads > before, 5, "a refresh")
        await asyncio.sleep(0.3)  # anything still queued from the burst would run now
        assert desk.monitor.reads == before + 1
        view.close_view()
        desk.sender.notify()  # a closed view no longer listens
        await asyncio.sleep(0.1)
        assert desk.monitor.reads == before + 1

    qloop.run_until_complete(scenario())
