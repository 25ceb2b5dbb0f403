"""How often the garbage collector ran and how long each collection held the interpreter
(gc.callbacks): a full collection pauses every thread, the GUI loop's included."""

from __future__ import annotations

import gc
import time
from typing import Any

GENERATIONS = 3


class GcTiming:
    """Counts collections per generation and the pause of each, while installed."""

    def __init__(self) -> None:
        self.pauses: list[list[float]] = [[] for _ in range(GENERATIONS)]  # ms, per generation
        self._started = 0.0

    def __enter__(self) -> GcTiming:
        gc.callbacks.append(self._on_gc)
        return self

    def __exit__(self, *_exc: object) -> None:
        gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self._started) * 1000)

    def take(self) -> list[list[float]]:
        """The pauses so far, per generation; starts counting afresh."""
        taken, self.pauses = self.pauses, [[] for _ in range(GENERATIONS)]
        return taken

    @staticmethod
    def describe(pauses: list[list[float]]) -> str:
        """One line: collections and longest pause per generation, full collections."""
        counts = "/".join(str(len(p)) for p in pauses)
        longest = "/".join(f"{max(p, default=0.0):.1f}" for p in pauses)
        full = pauses[-1]
        return (f"collections gen0/1/2 {counts}, max pause {longest} ms; full collections "
                f"{len(full)}, {sum(full):.0f} ms in all")
