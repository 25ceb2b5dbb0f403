"""A refresh that many notifications may ask for at once: one run at a time, and one
more after it if it was asked for meanwhile, so the screen never stays behind the last
change and a burst of changes is not a burst of reads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class Coalesced:
    def __init__(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._work = work
        self._task: asyncio.Future[None] | None = None
        self._again = False

    def __call__(self, *_: object) -> None:
        """Ask for a run (any arguments, as a signal or listener passes, are ignored)."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        self._again = True
        while self._again:
            self._again = False
            await self._work()

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
