"""Live trend: one strip chart per pen on a shared, scrolling time axis.

Samples go into preallocated ring buffers as they arrive; the curves are redrawn once
per display tick, and only for pens that changed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from hmi.core.ring import TrendRing
from hmi.core.samples import Quality, Sample
from hmi.core.site import Tag
from hmi.gui.formatting import format_value

# Distinct on grey and readable by the common colour-blindnesses (Okabe-Ito, darkened).
PEN_COLOURS = ("#0b5394", "#8a4b08", "#1b7a5a", "#7a1f5c", "#4a4a4a", "#a35f00", "#3d6e9e")
RING_CAPACITY = 20_000


class TrendPen:
    """One tag on the trend: its ring buffer, curve and header label."""

    def __init__(self, tag: Tag, plot: pg.PlotItem, colour: str) -> None:
        self.tag = tag
        self.plot = plot
        self.colour = colour
        self.ring = TrendRing(RING_CAPACITY)
        self.curve = plot.plot(pen=pg.mkPen(colour, width=2), connect="finite")
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.latest: Sample | None = None
        self.dirty = False

    def add(self, sample: Sample) -> None:
        good = sample.quality is not Quality.BAD and isinstance(sample.value, int | float)
        value = float(sample.value) if good else math.nan  # type: ignore[arg-type]
        self.ring.append(sample.source_time, value)
        self.latest = sample
        self.dirty = True

    def title(self) -> str:
        units = f" {self.tag.units}" if self.tag.units else ""
        sample = self.latest
        if sample is None:
            reading, colour = "waiting for data", "#555555"
        elif sample.quality is Quality.BAD:
            reading, colour = f"BAD — {sample.detail}", "#c62828"
        elif sample.quality is Quality.UNCERTAIN:
            reading, colour = f"{format_value(sample)}{units} (uncertain)", "#8a6d00"
        else:
            reading, colour = f"{format_value(sample)}{units}", "#1e1e1e"
        return (
            f"<span style='color:{self.colour};font-size:14pt'>■</span>"
            f"<span style='font-size:12pt'> {self.tag.name} </span>"
            f"<span style='color:{colour};font-size:12pt;font-weight:600'>{reading}</span>"
        )

    def redraw(self) -> None:
        times, values = self.ring.view()
        self.curve.setData(times, values)
        self.plot.setTitle(self.title())
        self.dirty = False


class TrendView(QWidget):
    """Stacked strip charts, X linked, scrolling over the last ``window`` seconds."""

    def __init__(
        self,
        tags: Sequence[Tag],
        window: float = 300.0,
        clock: Callable[[], float] = time.time,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trendView")
        self.span = window
        self._clock = clock
        self._graphics = pg.GraphicsLayoutWidget()
        self._graphics.setBackground("#e6e6e6")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._graphics)
        self.pens: dict[str, TrendPen] = {}
        first: pg.PlotItem | None = None
        for i, tag in enumerate(tags):
            axis = pg.DateAxisItem(orientation="bottom")
            plot = self._graphics.addPlot(row=i, col=0, axisItems={"bottom": axis})
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
            plot.getAxis("left").setWidth(64)
            plot.getAxis("left").setLabel(units=None, text=tag.units or "")
            plot.getAxis("bottom").setStyle(showValues=i == len(tags) - 1)
            plot.enableAutoRange(axis="y")
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            self.pens[tag.name] = TrendPen(tag, plot, PEN_COLOURS[i % len(PEN_COLOURS)])
            self.pens[tag.name].plot.setTitle(self.pens[tag.name].title())

    def add_samples(self, samples: Sequence[Sample]) -> None:
        for sample in samples:
            pen = self.pens.get(sample.tag)
            if pen is not None:
                pen.add(sample)

    def refresh(self) -> None:
        """Redraw changed pens and scroll the time axis to now."""
        for pen in self.pens.values():
            if pen.dirty:
                pen.redraw()
        if self.pens:
            now = self._clock()
            next(iter(self.pens.values())).plot.setXRange(now - self.span, now, padding=0)
