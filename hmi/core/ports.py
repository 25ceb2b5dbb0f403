"""Ports: what the GUI needs from the services, as Protocols the services implement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from hmi.core.events import ProductionEvent
from hmi.core.security import Actor, Signature


class ProductionQueue(Protocol):
    """Production events awaiting an operator, and the act of confirming one."""

    async def pending(self) -> list[ProductionEvent]: ...

    async def confirm(self, event_id: str, actor: Actor | None, comment: str = "",
                      signature: Signature | None = None) -> str: ...

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]: ...


class OutboxMonitor(Protocol):
    """How many MES transactions are pending, sent or rejected, and why none move."""

    async def counts(self) -> dict[str, int]: ...

    def problem(self) -> str:
        """Why sending is held or failing ('' when all is well)."""
        ...

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` on the loop whenever the counts or the problem may have
        changed (queued, sent, rejected, retried, the MES lost or back); returns its
        remover. A view refreshes on this, never on a timer."""
        ...
