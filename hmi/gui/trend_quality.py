"""Quality strips: each pen's BAD and UNCERTAIN periods along the bottom of the plot.

A BAD period is already a gap in the pen's line; the strip says it was BAD (not just
quiet) and for which pen: a row per pen with anything abnormal in view, red for
BAD, amber for UNCERTAIN, outlined in the pen's colour. From the history buckets' and
the live samples' quality, decimated to the screen's columns like the curves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from hmi.core.decimate import QualityArray, quality_spans
from hmi.core.history import BAD, UNCERTAIN
from hmi.gui.formatting import format_clock
from hmi.gui.trend_canvas import TrendCanvas
from hmi.gui.trend_pens import TrendPen

ROW_PX = 9
BAD_COLOUR = QColor("#c62828")
UNCERTAIN_COLOUR = QColor("#e0a800")


@dataclass(frozen=True, slots=True)
class QualitySpan:
    pen: str
    start: float
    end: float
    quality: int  # UNCERTAIN or BAD


def _brushes() -> dict[int, QBrush]:
    # Solid fills: a hatch pattern brush costs ~50 ms a frame on a 1920 px strip
    # (bench_render.py); the pen-coloured outline and the red say enough.
    return {
        BAD: QBrush(BAD_COLOUR, Qt.BrushStyle.SolidPattern),
        UNCERTAIN: QBrush(UNCERTAIN_COLOUR, Qt.BrushStyle.SolidPattern),
    }


class QualityLayer:
    """Draws the strips in the main view box (Y 0..1), bottom row first."""

    def __init__(self, canvas: TrendCanvas) -> None:
        self._canvas = canvas
        self._items: list[QGraphicsPathItem] = []
        self._brushes = _brushes()
        self.spans: list[QualitySpan] = []
        self._shown: tuple[object, ...] = ()

    def update(self, pens: Sequence[TrendPen], levels: dict[str, QualityArray],
               t0: float, t1: float) -> None:
        """``levels``: each visible pen's worst quality per pixel column over [t0, t1]."""
        spans: list[QualitySpan] = []
        for pen in pens:
            if pen.visible and pen.name in levels:
                spans.extend(QualitySpan(pen.name, a, b, q)
                             for a, b, q in quality_spans(levels[pen.name], t0, t1))
        shown = (tuple(spans), tuple((p.name, p.colour) for p in pens),
                 self._canvas.view.height())
        if self.spans == spans and shown == self._shown:
            return  # the same strips: repainting them would repaint the plot under them
        self.spans, self._shown = spans, shown
        self._draw(pens)

    def spans_of(self, pen: str, quality: int | None = None) -> list[QualitySpan]:
        return [s for s in self.spans if s.pen == pen and (quality is None or
                                                          s.quality == quality)]

    def _draw(self, pens: Sequence[TrendPen]) -> None:
        height = max(self._canvas.view.height(), 1.0)
        row = ROW_PX / height
        rows = [pen for pen in pens if any(s.pen == pen.name for s in self.spans)]
        wanted: list[tuple[QPainterPath, QBrush, QPen, str]] = []
        for index, pen in enumerate(rows):
            y = index * row
            for quality in (BAD, UNCERTAIN):
                mine = self.spans_of(pen.name, quality)
                if not mine:
                    continue
                path = QPainterPath()
                for span in mine:
                    path.addRect(QRectF(span.start, y, span.end - span.start, row))
                outline = QPen(QColor(pen.colour))
                outline.setCosmetic(True)
                outline.setWidth(1)
                first = mine[0]
                word = "BAD" if quality == BAD else "UNCERTAIN"
                tip = (f"{pen.name}: {word} {format_clock(first.start)}–"
                       f"{format_clock(first.end)}"
                       + (f" and {len(mine) - 1} more" if len(mine) > 1 else ""))
                wanted.append((path, self._brushes[quality], outline, tip))
        while len(self._items) < len(wanted):
            item = QGraphicsPathItem()
            item.setZValue(30)
            self._canvas.view.addItem(item, ignoreBounds=True)
            self._items.append(item)
        for item, (path, brush, outline, tip) in zip(self._items, wanted, strict=False):
            item.setPath(path)
            item.setBrush(brush)
            item.setPen(outline)
            item.setToolTip(tip)
            item.setVisible(True)
        for item in self._items[len(wanted):]:
            item.setVisible(False)

    def items(self) -> list[QGraphicsPathItem]:
        """The strips on screen (for tests and exports)."""
        return [item for item in self._items if item.isVisible()]

