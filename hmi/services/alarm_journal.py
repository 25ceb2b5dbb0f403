"""The alarm journal for the screens: read in a worker thread, never on the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from hmi.store.alarms import AlarmRepository, JournalRow


class AlarmJournal:
    """Every alarm's journal rows, whatever the reader's permissions: an alarm's
    history is what the operator needs to understand it (ISA-18.2 asks for it)."""

    def __init__(self, store: AlarmRepository) -> None:
        self._store = store

    async def journal(self, start: float, end: float,
                      names: Sequence[str] | None = None) -> list[JournalRow]:
        return await asyncio.to_thread(self._store.journal, start, end, names)
