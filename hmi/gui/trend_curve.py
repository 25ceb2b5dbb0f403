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
    """Points to draw (NaN = a gap) with their paths and bounds, ready to show. The path
    is in two parts: the body (the first ``body_len`` points, and maybe a few older ones
    that have scrolled out of the plot to the left) and the tail (the rest, from the
    body's last point on), so a live frame whose older points have not changed keeps
    the body it had and builds, and repaints, only the tail."""

    x: FloatArray
    y: FloatArray
    body: QPainterPath
    tail: QPainterPath
    body_len: int
    body_y_range: tuple[float, float]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    tail_rect: QRectF  # the tail's points' bounds, in data coordinates
    tail_x0: float  # where the tail begins (the body's last point)

    @property
    def path(self) -> QPainterPath:
        """The whole line (body and tail)."""
        whole = QPainterPath(self.body)
        whole.addPath(self.tail)
        return whole


EMPTY_X: FloatArray = np.empty(0)
NO_RANGE = (math.nan, math.nan)
TAIL_POINTS = 32  # a body is made of all but this many points...
TAIL_MAX = 512  # ...and kept while the points after it are no more than this many


def _finite_range(y: FloatArray) -> tuple[float, float]:
    finite = y[np.isfinite(y)]
    return (float(finite.min()), float(finite.max())) if len(finite) else NO_RANGE


def _union(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    if math.isnan(a[0]):
        return b
    if math.isnan(b[0]):
        return a
    return min(a[0], b[0]), max(a[1], b[1])


def _kept_body(x: FloatArray, y: FloatArray, previous: CurveData | None) -> int:
    """How many of the new points the previous body draws, 0 if it is not to be kept.
    It is kept while the new points begin with its points, after skipping those that
    scrolled out to the left (the body still holds them: outside the plot, clipped), as
    long as neither the skipped points nor the points after the body are too many."""
    if previous is None or previous.body_len < 2:
        return 0
    n, end = len(x), previous.body_len
    skipped = int(np.searchsorted(previous.x[:end], x[0], side="left"))
    k = end - skipped
    if skipped > TAIL_MAX or k < 2 or k >= n or n - k > TAIL_MAX:
        return 0
    if not (_same(x[:k], previous.x[skipped:end]) and _same(y[:k], previous.y[skipped:end])):
        return 0
    return k


def _same(a: FloatArray, b: FloatArray) -> bool:
    """Equal to the bit (NaN included: a gap made the same way is the same gap); a
    NaN with other bits only costs the kept body, never a wrong picture."""
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def prepare(x: FloatArray, y: FloatArray, previous: CurveData | None = None) -> CurveData:
    """The paths through the finite points; NaN breaks the line. With the ``previous``
    data of the same curve, its body is kept when the new points go on from its points
    (a live frame: only the newest columns changed, and maybe some scrolled out)."""
    n = len(x)
    if not n:
        return CurveData(EMPTY_X, EMPTY_X, QPainterPath(), QPainterPath(), 0, NO_RANGE,
                         NO_RANGE, NO_RANGE, QRectF(), math.nan)
    k = _kept_body(x, y, previous)
    if k and previous is not None:
        body = previous.body
        body_y_range = (previous.body_y_range if previous.x[0] == x[0]
                        else _finite_range(y[:k]))  # without the points scrolled out
    else:
        k = n - TAIL_POINTS if n > 2 * TAIL_POINTS else 0
        body = pg.arrayToQPath(x[:k], y[:k], connect="finite") if k else QPainterPath()
        body_y_range = _finite_range(y[:k])
    tail_x, tail_y = (x[k - 1:], y[k - 1:]) if k else (x, y)  # joined at the body's end
    tail = pg.arrayToQPath(tail_x, tail_y, connect="finite")
    tail_y_range = _finite_range(tail_y)
    tail_rect = QRectF() if math.isnan(tail_y_range[0]) else QRectF(
        float(tail_x[0]), tail_y_range[0], float(tail_x[-1] - tail_x[0]),
        tail_y_range[1] - tail_y_range[0])
    return CurveData(x, y, body, tail, k, body_y_range, (float(x[0]), float(x[-1])),
                     _union(body_y_range, tail_y_range), tail_rect, float(tail_x[0]))


def _first_change(old: CurveData, new: CurveData) -> int:
    """Index of the first point that differs between two data of a curve."""
    m = min(len(old.x), len(new.x))
    a, b = old.y[:m], new.y[:m]
    differs = (old.x[:m] != new.x[:m]) | ((a != b) & ~(np.isnan(a) & np.isnan(b)))
    found = np.flatnonzero(differs)
    return int(found[0]) if len(found) else m


class PathCurve(pg.GraphicsObject):  # type: ignore[misc]  # pyqtgraph is untyped
    """Strokes one prepared path with a cosmetic (constant pixel width) pen. New data
    that kept the body and stays inside the curve's bounds repaints only where the tail
    was and is (the rest of the plot is not painted again)."""

    def __init__(self, pen: QPen) -> None:
        super().__init__()
        self._pen = QPen(pen)
        self._data = prepare(EMPTY_X, EMPTY_X)
        self._bounds: QRectF | None = None
        self.partial_updates = 0  # new data shown by repainting the tail alone
        # paint() gets the exposed rectangle, to skip the body when only the tail is
        self.setFlag(self.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    # -- data ---------------------------------------------------------------------------

    @property
    def data(self) -> CurveData:
        return self._data

    def set_data(self, x: FloatArray, y: FloatArray) -> None:
        self.show_data(prepare(x, y))

    def show_data(self, data: CurveData, whole: bool = False) -> None:
        """Show ``data``; repaint only its changed part when it kept the body, unless
        ``whole`` (the view moves: everything is repainted anyway)."""
        old = self._data
        if not whole and data.body is old.body and data.body_len and self._holds(data):
            self._data = data
            self.partial_updates += 1
            if data.y_range != old.y_range:  # the Y autorange may move (a full repaint);
                self.informViewBoundsChanged()  # else the view box need not hear of it
            px, py = self.pixelWidth() or 0.0, self.pixelHeight() or 0.0
            pad = 2 * max(self._pen.widthF(), 1.0)
            # from the segment that leads to the first point that changed, to the end
            start = max(_first_change(old, data) - 1, data.body_len - 1)
            area = old.tail_rect.united(data.tail_rect)
            x0 = float(data.x[start])
            self.update(QRectF(x0 - pad * px, area.top() - pad * py,
                               area.right() - x0 + 2 * pad * px, area.height() + 2 * pad * py))
            return
        self.prepareGeometryChange()
        self._data = data
        self._bounds = None
        self.informViewBoundsChanged()
        self.update()

    def _holds(self, data: CurveData) -> bool:
        """Whether the bounds Qt has for this item still hold all of ``data``."""
        bounds = self._bounds
        (x0, x1), (y0, y1) = data.x_range, data.y_range
        return bounds is not None and not bounds.isEmpty() and not math.isnan(y0) and \
            bounds.left() <= x0 and x1 <= bounds.right() and \
            bounds.top() <= y0 and y1 <= bounds.bottom()

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
                # a cosmetic pen reaches past the points by half its width in pixels;
                # and room to the right, so a live curve's newest points stay inside
                # (its bounds unchanged, only its tail is repainted)
                px, py = self.pixelWidth() or 0.0, self.pixelHeight() or 0.0
                pad = max(self._pen.widthF(), 1.0)
                ahead = 0.05 * (x1 - x0)
                self._bounds = QRectF(x0 - pad * px, y0 - pad * py,
                                      (x1 - x0) + ahead + 2 * pad * px,
                                      (y1 - y0) + 2 * pad * py)
        return self._bounds

    def viewTransformChanged(self) -> None:  # noqa: N802 (pyqtgraph's API)
        self.prepareGeometryChange()
        self._bounds = None

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        data = self._data
        if data.tail.isEmpty() and data.body.isEmpty():
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(self._pen)
        exposed = option.exposedRect
        reach = 2 * max(self._pen.widthF(), 1.0) * (self.pixelWidth() or 0.0)
        if not data.body_len or not exposed.left() >= data.tail_x0 + reach:
            painter.drawPath(data.body)  # else only the tail is exposed
        painter.drawPath(data.tail)
