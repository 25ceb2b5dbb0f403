"""One redraw of the trend, made a few pens at a time between other events (the trend
view shows it when every pen is ready)."""

from __future__ import annotations

import time

from hmi.core.decimate import QualityArray
from hmi.gui.trend_curve import CurveData, prepare
from hmi.gui.trend_pens import TrendPen


class Frame:
    """One redraw of [t0, t1] at ``columns`` pixels: each pen decimated (curve points
    and path, quality per column), made a few pens at a time by ``step``."""

    def __init__(self, t0: float, t1: float, columns: int, pens: list[TrendPen],
                 scroll: bool) -> None:
        self.t0, self.t1, self.columns, self.scroll = t0, t1, columns, scroll
        self._todo = list(pens)
        self.curves: dict[str, CurveData] = {}
        self.levels: dict[str, QualityArray] = {}

    def step(self, budget_s: float) -> bool:
        """Prepare pens until ``budget_s`` has passed; True when all are ready."""
        started = time.perf_counter()
        while self._todo:
            pen = self._todo.pop(0)
            times, values, self.levels[pen.name] = pen.series.draw(
                self.t0, self.t1, self.columns)
            self.curves[pen.name] = prepare(times, values, pen.curve.data)
            if time.perf_counter() - started >= budget_s:
                break
        return not self._todo
