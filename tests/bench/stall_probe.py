"""The GUI loop's stall, measured the same way by every benchmark: a callback due every
PROBE_S on absolute deadlines; how late each firing ran is the loop's stall."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

PROBE_S = 0.005
BUDGET_MAX_MS, BUDGET_P99_MS = 50.0, 16.0  # DESIGN.md: never more than 50 ms, p99 < 16


class StallProbe:
    """A callback due every PROBE_S on absolute deadlines (start + k x PROBE_S, loop.time());
    records how late each firing ran (ms). One firing per deadline: one that runs before
    its deadline (qasync's QTimer counts whole milliseconds) is counted apart, not as 0
    (re-arming it would spin); deadlines that passed while the loop was busy are counted
    as missed and the probe waits for the first deadline still ahead."""

    def __init__(self) -> None:
        self.lateness: list[float] = []
        self.early: list[float] = []  # how early each early firing ran (ms)
        self.missed = 0
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._due = loop.time() + PROBE_S
        self._handle = loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        late = loop.time() - self._due
        skipped = 0
        if late < 0:
            self.early.append(-late * 1000.0)
        else:
            self.lateness.append(late * 1000.0)
            skipped = int(late / PROBE_S)  # later deadlines that passed meanwhile
            self.missed += skipped
        self._due += (skipped + 1) * PROBE_S
        self._handle = loop.call_at(self._due, self._tick)

    def stop(self) -> ProbeResult:
        if self._handle is not None:
            self._handle.cancel()
        result = ProbeResult(self.lateness, self.early, self.missed)
        self.lateness, self.early, self.missed = [], [], 0
        return result


@dataclass(frozen=True)
class ProbeResult:
    lateness: list[float]  # ms, one per firing at or after its deadline
    early: list[float]  # ms before the deadline, one per early firing
    missed: int  # deadlines that passed while the loop was busy


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")
