"""Everything but the window: bus, device thread, consumers, store, services, MES sender.

Built by the composition root (hmi/app.py) and by CLI commands that need no GUI. The
devices run on their own loop and thread (hmi.devices.host); their Samples arrive on this
loop's TagBus, and every consumer (historian, production recorder; the screens' feed is
added by the app) reads them through the one ConsumerRunner. From start to stop the
runtime holds the data folder's station lock (hmi.store.station_lock): one station per
folder, and `hmi alarms ack/shelve` hand their requests to it (AlarmRequestDesk) instead
of writing the alarm states behind its engine's back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

from hmi.core.bus import TagBus
from hmi.core.consumers import ConsumerRunner
from hmi.core.outbox import OutboxItem, OutboxStatus
from hmi.core.security import Actor, Signature
from hmi.core.site import DeviceKind, Site
from hmi.core.status import DeviceStatus
from hmi.devices.opcua_conditions import ConditionSource
from hmi.folders import DATABASE_FILE, PKI_FOLDER
from hmi.mes.secrets import SecretError, has_usable_backend, read_api_key, read_password
from hmi.mes.sender import OutboxSender
from hmi.security.session import Session
from hmi.services.alarm_actions import AlarmActions
from hmi.services.alarm_requests import AlarmRequestDesk
from hmi.services.alarms import AlarmEngine
from hmi.services.historian import HistorianService, RetentionPolicy
from hmi.services.history import History
from hmi.services.production import OutboxQueue, ProductionRecorder, ProductionService
from hmi.services.security import StationSecurity
from hmi.services.server_alarms import ServerAlarmActions
from hmi.services.writes import WriteService
from hmi.station import build_devices
from hmi.store.alarm_requests import AlarmRequestRepository
from hmi.store.alarms import AlarmRepository
from hmi.store.database import Database, open_database
from hmi.store.events import EventRepository
from hmi.store.historian_query import HistorianQuery
from hmi.store.outbox import OutboxRepository
from hmi.store.station_lock import StationLock

log = logging.getLogger(__name__)
STATION_ID_FILE = "station.id"



class MesMonitor:
    """The outbox as the GUI shows it: counts plus the latest reason nothing is moving."""

    def __init__(self, queue: OutboxQueue, sender: OutboxSender | None, problem: str) -> None:
        self._queue = queue
        self._sender = sender
        self._problem = problem

    async def counts(self) -> dict[str, int]:
        return await self._queue.counts()

    async def oldest_pending(self) -> float | None:
        return await self._queue.oldest_pending()

    async def rejected(self) -> list[OutboxItem]:
        """What the MES set aside, newest first, with its reasons."""
        return await self._queue.items(OutboxStatus.REJECTED)

    async def retry(self, item_id: str, actor: Actor | None, reason: str = "",
                    signature: Signature | None = None) -> None:
        await self._queue.retry(item_id, actor, reason, signature)

    def problem(self) -> str:
        if self._problem:
            return self._problem
        return self._sender.last_error if self._sender else ""

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """The sender's notifications (queued, sent, rejected, retried, MES lost or back);
        without a sender nothing moves, so nothing is ever said."""
        if self._sender is None:
            return _nothing
        return self._sender.add_listener(listener)


class Runtime:
    def __init__(self, site: Site, data_dir: Path) -> None:
        self.site = site
        self.data_dir = data_dir
        self.bus = TagBus(known_tags=(tag.name for tag in site.tags))
        self.runner = ConsumerRunner(self.bus)
        self.devices = build_devices(site, self.bus, data_dir)
        self.database: Database = open_database(data_dir / DATABASE_FILE)
        # the site's [historian] section (defaults: raw 90 days, roll-ups 3 years, 60 s)
        settings = site.historian
        retention = RetentionPolicy.days(raw=settings.raw_days, minutes=settings.rollup_days)
        self.history = History(
            HistorianQuery(self.database, retention_seconds=_kept_for(retention))
        )
        # every sample kept: subscribes now, so nothing published before start() is missed
        self.historian = HistorianService(
            self.database, site.tags, heartbeat=settings.heartbeat, retention=retention
        )
        self.runner.add(self.historian, overflow=self.historian.overflow,
                        maxsize=self.historian.queue_size)
        # who may do what, and the audit trail that says who did (hmi/security)
        security = StationSecurity.build(self.database, site.security)
        self.audit, self.user_store = security.audit, security.user_store
        self.auth, self.guard, self.users = security.auth, security.guard, security.users
        self.session = Session(self.auth, site.security.idle_lock_minutes)
        self.writes = WriteService(site, self.devices.write, self.guard, self.audit.record,
                                   self.bus.latest)
        self.events = EventRepository(self.database)
        self.outbox = OutboxRepository(self.database)
        self.sender: OutboxSender | None = None
        problem = ""
        if site.mes is not None:
            link = site.mes
            # the station's identity claims the outbox: a restart takes its claims back
            self.sender = OutboxSender(self.outbox, link, lambda: read_api_key(link),
                                       owner=station_identity(data_dir))
            if not has_usable_backend():
                try:
                    read_api_key(link)
                except SecretError as exc:
                    problem = str(exc)
                    log.error("MES sending is held: %s", exc)
        notify = self.sender.notify if self.sender else _nothing
        self.production = ProductionService(self.events, notify, self.guard)
        self.outbox_queue = OutboxQueue(self.outbox, notify, self.guard)
        self.mes_monitor = MesMonitor(self.outbox_queue, self.sender, problem)
        self.recorder = ProductionRecorder(
            site.production_rules, self.events, self.production.on_new_event
        )
        # few samples (the counters only), and none may go: a full queue keeps its oldest
        self.runner.add(self.recorder, overflow=self.recorder.overflow, maxsize=100_000,
                        tags=self.recorder.tags)
        # the site's [[alarms]]: on the tags its rules and suppression conditions read,
        # and on the devices' connections
        self.alarm_store = AlarmRepository(self.database)
        self.alarms = AlarmEngine(site.alarms, site.alarm_settings, self.alarm_store)
        self.runner.add(self.alarms, overflow=self.alarms.overflow,
                        maxsize=self.alarms.queue_size, tags=self.alarms.tags)
        self._alarm_statuses = self.devices.add_status_listener(self.alarms.on_device_status)
        self.alarm_actions = AlarmActions(self.alarms, self.guard)
        # the alarms OPC UA servers raise themselves (Part 9), for the devices that say
        # alarms_and_conditions = true: a session each, on this loop (events are few)
        self.condition_sources = {
            d.name: ConditionSource(d, pki_dir=data_dir / PKI_FOLDER,
                                    password_provider=read_password)
            for d in site.devices if d.kind is DeviceKind.OPCUA and d.alarms_and_conditions
        }
        self.server_alarms = ServerAlarmActions(self.condition_sources, self.guard,
                                                self.audit.record, site.alarm_settings)
        # `hmi alarms ack/shelve` while this station runs: performed as at the screen
        self.alarm_requests = AlarmRequestDesk(
            self.alarm_actions, AlarmRequestRepository(self.database), self.user_store)
        self.station_lock = StationLock(data_dir, "the HMI app")
        self._tasks: list[asyncio.Task[None]] = []
        self._desk: asyncio.Task[None] | None = None

    def add_status_listener(self, listener: Callable[[DeviceStatus], None]
                            ) -> Callable[[], None]:
        """``listener(status)`` on this loop at every device status change; returns the
        function that removes it."""
        return self.devices.add_status_listener(listener)

    async def start(self) -> None:
        """Raises StationBusyError (a StoreError) when another station runs on the data
        folder; ``stop`` is still to be called."""
        await asyncio.to_thread(self.station_lock.acquire)
        self.bus.attach(asyncio.get_running_loop())
        if self.sender is not None:
            self._tasks.append(asyncio.create_task(self.sender.run(), name="mes-sender"))
        self.runner.start()
        self._desk = asyncio.create_task(self.alarm_requests.run(), name="alarm-requests")
        await self.devices.start()
        for source in self.condition_sources.values():
            source.start()

    async def stop(self) -> None:
        """Stop the devices, let the consumers store what they were handed, stop the
        tasks, close the database, release the station lock; bounded in time."""
        self._alarm_statuses()  # the devices stopping is not a communication alarm
        for source in self.condition_sources.values():
            await source.stop()
        self.alarm_requests.stop()  # the request in hand is finished, none taken after
        if self._desk is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._desk, timeout=5)
            self._desk = None
        await self.devices.stop()
        self.bus.flush()  # samples handed over as the devices stopped reach the queues
        await self.runner.stop()  # the historian writes what it has (bounded)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=5)
        self._tasks.clear()
        self.database.close()
        self.station_lock.release()  # last: nobody acts on the store before it is closed


def station_identity(data_dir: Path) -> str:
    """This station's name for its claims on the outbox: the host and a random id kept
    in the data folder (made at the first start), the same after every restart and
    never another station's, even on a cloned disk with the same host name and path."""
    path = data_dir / STATION_ID_FILE
    try:
        known = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        known = ""
    if len(known) != 32 or not all(c in "0123456789abcdef" for c in known):
        known = uuid.uuid4().hex
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(known + "\n", encoding="ascii")
    return f"{socket.gethostname()[:60]}:{known}"


def _kept_for(policy: RetentionPolicy) -> float | None:
    """How far back any history reaches: the longer of raw and roll-ups (None: for ever)."""
    spans = (policy.raw_seconds, policy.minutes_seconds)
    return None if None in spans else max(s for s in spans if s is not None)


def _nothing() -> None:
    return None
