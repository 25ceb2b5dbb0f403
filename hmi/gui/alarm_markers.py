"""Alarms on the trend: where an alarm on a shown tag was raised, acknowledged and
returned to normal, as markers on the time axis; touching one opens the alarm.

Raised is red (abnormal), acknowledged and returned grey (ISA-101). The markers of the
last ``LOOK_BACK`` come from the journal when the trend opens; new ones as the engine
applies them. Only alarms on the trend's pens are marked; at most ``KEEP`` markers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from PySide6.QtCore import QTimer

from hmi.core.alarm_states import AlarmEvent, AlarmTransition
from hmi.core.markers import MarkerKind, TrendMarker
from hmi.core.ports import AlarmBoard, AlarmJournalReader, JournalLine
from hmi.gui.trend import TrendView

log = logging.getLogger(__name__)
LOOK_BACK = 24 * 3600.0
KEEP = 400
PER_TURN = 1
_WORDS = {AlarmEvent.ACTIVATE: "raised", AlarmEvent.ACK: "acknowledged",
          AlarmEvent.RESET: "reset", AlarmEvent.CLEAR: "returned to normal"}


class AlarmTrendMarkers:
    def __init__(self, trend: TrendView, board: AlarmBoard, journal: AlarmJournalReader,
                 open_alarm: Callable[[str], None]) -> None:
        self._trend = trend
        self._rules = board.rules
        self._open = open_alarm
        self._keys: OrderedDict[str, None] = OrderedDict()
        # a marker costs a few ms to build: a flood's are added a few a turn of the loop
        self._waiting: deque[AlarmTransition | JournalLine] = deque()
        self._timer = QTimer()
        self._timer.setInterval(20)
        self._timer.timeout.connect(self._add_some)
        self._remove = board.changes.add(self._on_changes)
        self._task: asyncio.Future[Any] | None = asyncio.ensure_future(self._load(journal))

    def _tags(self) -> set[str]:
        return set(self._trend.pens)

    async def _load(self, journal: AlarmJournalReader) -> None:
        tags = self._tags()
        names = [name for name, rule in self._rules.items() if rule.tag in tags]
        if not names:
            return
        now = time.time()
        try:
            lines = await journal.journal(now - LOOK_BACK, now + 1, names)
        except Exception as exc:  # the trend works without them
            log.warning("alarm markers not read from the journal: %s", exc)
            return
        self.show(lines)

    def _on_changes(self, transitions: Sequence[AlarmTransition]) -> None:
        tags = self._tags()
        self.show([t for t in transitions if self._rules[t.name].tag in tags])

    def show(self, lines: Iterable[AlarmTransition | JournalLine]) -> None:
        """Mark these (a few now, the rest over the next turns of the loop)."""
        self._waiting.extend(lines)
        self._add_some()
        if self._waiting:
            self._timer.start()

    def flush(self) -> None:
        """Every marker waiting, now."""
        while self._waiting:
            self._add_some()

    def _add_some(self) -> None:
        tags = self._tags()
        for _ in range(min(PER_TURN, len(self._waiting))):
            line = self._waiting.popleft()
            words = _WORDS.get(line.event)
            rule = self._rules.get(line.name)
            if words is None or rule is None or rule.tag not in tags:
                continue
            by = f" by {line.user}" if line.event in (AlarmEvent.ACK, AlarmEvent.RESET) \
                else ""
            kind = MarkerKind.ALARM if line.event is AlarmEvent.ACTIVATE else MarkerKind.NOTE
            key = f"alarm:{line.name}:{line.occurrence}:{line.event.value}"
            marker = TrendMarker(line.time, kind, f"{rule.message}: {words}{by}", key=key)
            self._trend.markers.add_marker(marker, on_click=self._opener(line.name))
            self._keys[key] = None
            self._keys.move_to_end(key)
        while len(self._keys) > KEEP:
            key, _ = self._keys.popitem(last=False)
            self._trend.markers.remove_marker(key)
        if not self._waiting:
            self._timer.stop()

    def _opener(self, name: str) -> Callable[[], None]:
        return lambda: self._open(name)

    def close(self) -> None:
        self._timer.stop()
        self._remove()
        if self._task is not None:
            self._task.cancel()
