"""Ports: what the GUI needs from the services, as Protocols the services implement."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from hmi.core.alarm_rules import AlarmRule
from hmi.core.alarm_states import AlarmEvent, AlarmRecord, AlarmState, AlarmTransition
from hmi.core.events import ProductionEvent
from hmi.core.listeners import Listeners
from hmi.core.outbox import OutboxItem
from hmi.core.security import Actor, Signature


class ProductionQueue(Protocol):
    """Production events awaiting an operator, and the act of confirming one."""

    async def pending(self) -> list[ProductionEvent]: ...

    async def between(self, start: float, end: float) -> list[ProductionEvent]:
        """Events (pending or confirmed) whose period overlaps [start, end)."""
        ...

    async def confirm(self, event_id: str, actor: Actor | None, comment: str = "",
                      signature: Signature | None = None) -> str: ...

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]: ...


class OutboxMonitor(Protocol):
    """How many MES transactions are pending, sent or rejected, and why none move."""

    async def counts(self) -> dict[str, int]: ...

    async def oldest_pending(self) -> float | None:
        """When the oldest transaction still waiting was queued (None: none waits)."""
        ...

    async def rejected(self) -> list[OutboxItem]:
        """What the MES set aside, newest first, each with the MES's reason."""
        ...

    async def retry(self, item_id: str, actor: Actor | None, reason: str = "",
                    signature: Signature | None = None) -> None:
        """Send a rejected transaction again (permission retry_mes, audited)."""
        ...

    def problem(self) -> str:
        """Why sending is held or failing ('' when all is well)."""
        ...

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` on the loop whenever the counts or the problem may have
        changed (queued, sent, rejected, retried, the MES lost or back); returns its
        remover. A view refreshes on this, never on a timer."""
        ...


class AlarmBoard(Protocol):
    """A station's alarms as they are now: its own and its PLCs' servers'
    (hmi.services.station_alarms.StationAlarms)."""

    @property
    def rules(self) -> Mapping[str, AlarmRule]: ...

    def records(self) -> dict[str, AlarmRecord]: ...

    def problems(self) -> dict[str, str]:
        """Sources of alarms (a PLC's alarm server) that cannot be reached now: name ->
        why. Their alarms are shown as last known until they are back."""
        ...

    @property
    def changes(self) -> Listeners[[Sequence[AlarmTransition]]]:
        """Fired on the loop with each batch of transitions, as they are applied."""
        ...


class AlarmHandling(Protocol):
    """What people do with alarms (hmi.services.alarm_actions.AlarmActions): each
    answers {alarm: why refused, "" if done}, or raises with a screen-ready reason
    (permission, a missing comment) having changed nothing."""

    def comment_required(self, names: Sequence[str]) -> bool: ...

    async def acknowledge(self, names: Sequence[str], actor: Actor | None,
                          comment: str = "") -> dict[str, str]: ...

    async def shelve(self, name: str, actor: Actor | None, minutes: float, reason: str,
                     signature: Signature | None = None) -> str: ...

    async def unshelve(self, name: str, actor: Actor | None, comment: str = "",
                       signature: Signature | None = None) -> str: ...

    async def remove_from_service(self, name: str, actor: Actor | None, reason: str,
                                  signature: Signature | None = None) -> str: ...

    async def return_to_service(self, name: str, actor: Actor | None, comment: str = "",
                                signature: Signature | None = None) -> str: ...


class JournalLine(Protocol):
    """One row of the alarm journal as read back (hmi.store.alarms.JournalRow)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def time(self) -> float: ...
    @property
    def event(self) -> AlarmEvent: ...
    @property
    def before(self) -> AlarmState: ...
    @property
    def after(self) -> AlarmState: ...
    @property
    def occurrence(self) -> int: ...
    @property
    def user(self) -> str: ...
    @property
    def comment(self) -> str: ...
    @property
    def value(self) -> str: ...


class AlarmJournalReader(Protocol):
    """The alarm journal, read off the loop (every alarm, whoever reads it)."""

    async def journal(self, start: float, end: float,
                      names: Sequence[str] | None = None) -> Sequence[JournalLine]: ...
