"""Listeners: the one way a part tells others something happened (a status changed, the
outbox moved, a consumer dropped samples). Each callback is isolated: one that raises is
logged and the others still hear of it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, ParamSpec

P = ParamSpec("P")
log = logging.getLogger(__name__)


class Listeners(Generic[P]):
    """Callbacks to call with the same arguments; ``what`` names them in the log."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._callbacks: list[Callable[P, None]] = []

    def add(self, callback: Callable[P, None]) -> Callable[[], None]:
        """Register ``callback``; returns the function that removes it (idempotent)."""
        self._callbacks.append(callback)

        def remove() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return remove

    def fire(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for callback in list(self._callbacks):
            try:
                callback(*args, **kwargs)
            except Exception:
                log.exception("%s listener %r failed; the others were told", self._what,
                              callback)

    def __len__(self) -> int:
        return len(self._callbacks)
