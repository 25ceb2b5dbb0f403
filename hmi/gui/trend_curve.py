"""A pen's line on the plot: a path built ahead of time, only drawn at paint time.

pyqtgraph's PlotCurveItem builds its QPainterPath inside ``paint``: for 32 pens that
is ~10 ms of one repaint, in one block on the GUI loop. Here the path is built with
the decimation (``prepare``, which the trend runs in slices between other events),
and ``paint`` only strokes it. The data is already at screen resolution
(hmi.core.decimate), so nothing else of PlotCurveItem is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QStyleOptionGraphicsItem, QWidget

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CurveData:
    """Points to draw (NaN = a gap) with their path and bounds, ready to show."""

    x: FloatArray
    y: FloatArray
    path: QPainterPath
    x_range: tuple[float, float]
    y_range: tuple[float, float]


EMPTY_X: FloatArray = np.empty(0)


def prepare(x: FloatArray, y: FloatArray) -> CurveData:
    """The path through the finite points; NaN breaks the line."""
    if not len(x):
        return CurveData(EMPTY_X, EMPTY_X, QPainterPath(), (math.nan, math.nan),
                         (math.nan, math.nan))
    path = pg.arrayToQPath(x, y, connect="finite")
    finite = y[np.isfinite(y)]
    y_range = (float(finite.min()), float(finite.max())) if len(finite) else (math.nan, math.nan)
    return CurveData(x, y, path, (float(x[0]), float(x[-1])), y_range)


class PathCurve(pg.GraphicsObject):  # type: ignore[misc]  # pyqtgraph is untyped
    """Strokes one prepared path with a cosmetic (constant pixel width) pen."""

    def __init__(self, pen: QPen) -> None:
        super().__init__()
        self._pen = QPen(pen)
        self._data = prepare(EMPTY_X, EMPTY_X)
        self._bounds: QRectF | None = None

    # -- data ---------------------------------------------------------------------------

    def set_data(self, x: FloatArray, y: FloatArray) -> None:
        self.show_data(prepare(x, y))

    def show_data(self, data: CurveData) -> None:
        self.prepareGeometryChange()
        self._data = data
        self._bounds = None
        self.informViewBoundsChanged()
        self.update()

    def getData(self) -> tuple[FloatArray, FloatArray]:  # noqa: N802 (pyqtgraph's API)
        return self._data.x, self._data.y

    # -- pen ------------------------------------------------------------------------------

    def pen(self) -> QPen:
        return QPen(self._pen)

    def setPen(self, pen: QPen) -> None:  # noqa: N802 (pyqtgraph's API)
        self.prepareGeometryChange()
        self._pen = QPen(pen)
        self._bounds = None
        self.update()

    # -- what the view box asks -------------------------------------------------------------

    def dataBounds(self, ax: int, frac: float = 1.0,  # noqa: N802 (pyqtgraph's API)
                   orthoRange: object = None) -> tuple[float, float] | None:  # noqa: N803
        low, high = self._data.x_range if ax == 0 else self._data.y_range
        return None if math.isnan(low) else (low, high)

    def pixelPadding(self) -> float:  # noqa: N802 (pyqtgraph's API)
        return self._pen.widthF() * 0.7072

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's API)
        if self._bounds is None:
            (x0, x1), (y0, y1) = self._data.x_range, self._data.y_range
            if math.isnan(x0) or math.isnan(y0):
                self._bounds = QRectF()
            else:
                # a cosmetic pen reaches past the points by half its width in pixels
                px, py = self.pixelWidth() or 0.0, self.pixelHeight() or 0.0
                pad = max(self._pen.widthF(), 1.0)
                self._bounds = QRectF(x0 - pad * px, y0 - pad * py,
                                      (x1 - x0) + 2 * pad * px, (y1 - y0) + 2 * pad * py)
        return self._bounds

    def viewTransformChanged(self) -> None:  # noqa: N802 (pyqtgraph's API)
        self.prepareGeometryChange()
        self._bounds = None

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if self._data.path.isEmpty():
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(self._pen)
        painter.drawPath(self._data.path)
