"""The trend's drawing surface: one time axis, any number of Y axes.

The main view box owns time (pan and zoom with the mouse or a finger) and holds the
overlays (cursor, markers, quality strips) in a fixed 0..1 Y range. Each Y axis is its
own view box stacked behind it, X-linked to it, autoscaling on what it shows; pens with
the same units share one (the taurus_pyqtgraph y2axis idea, for N axes).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QWidget

BACKGROUND = "#e6e6e6"
AXIS_TEXT = "#1e1e1e"
GRID_ALPHA = 0.22
PLOT_COLUMN = 64  # layout column of the plot; Y axes fill the columns to its left


def _opaque(colour: QColor, background: QColor) -> QColor:
    """``colour`` composited over ``background``: the same shade without alpha."""
    a = colour.alphaF()
    return QColor.fromRgbF(*(a * c + (1 - a) * b for c, b in zip(
        (colour.redF(), colour.greenF(), colour.blueF()),
        (background.redF(), background.greenF(), background.blueF()), strict=True)))


@functools.lru_cache(maxsize=64)
def _solid_pen(rgba: int, width: float) -> QPen:
    """A cosmetic pen of ``rgba`` already blended over the background (a few shades
    occur, each a frame: made once)."""
    pen = QPen(_opaque(QColor.fromRgba(rgba), QColor(BACKGROUND)))
    pen.setCosmetic(True)
    pen.setWidthF(width)
    return pen


class _OpaqueGrid:
    """Grid lines in solid colours. pyqtgraph draws them as translucent 1 px lines,
    and Qt's raster engine strokes translucent aliased lines ~25x slower than opaque
    ones: two grids across a 1920x1080 plot cost 40-50 ms a frame (bench_render.py),
    more than the 32 curves. The background is flat, so the blend is done once here."""

    def generateDrawSpecs(self, p):  # type: ignore[no-untyped-def]  # noqa: N802 (pyqtgraph's API)
        specs = super().generateDrawSpecs(p)  # type: ignore[misc]
        if specs is None:
            return None
        axis, ticks, text = specs
        solid = []
        for pen, p1, p2 in ticks:
            if pen.color().alpha() < 255:
                pen = _solid_pen(pen.color().rgba(), pen.widthF())  # noqa: PLW2901
            solid.append((pen, p1, p2))
        return axis, solid, text


class GridAxis(_OpaqueGrid, pg.AxisItem):  # type: ignore[misc]
    """A Y axis whose grid lines are cheap to draw."""


class GridDateAxis(_OpaqueGrid, pg.DateAxisItem):  # type: ignore[misc]
    """The time axis, likewise."""


@dataclass
class AxisGroup:
    """One Y axis and its view box, shared by the pens listed in ``members``."""

    key: str
    label: str
    view: pg.ViewBox
    axis: pg.AxisItem
    members: list[str] = field(default_factory=list)


class TrendCanvas(pg.GraphicsLayoutWidget):  # type: ignore[misc]  # pyqtgraph is untyped
    """Time on X for everything; Y axes added and removed as pens come and go."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trendCanvas")
        self.setBackground(BACKGROUND)
        self.ci.setContentsMargins(4, 6, 10, 4)
        self.ci.setSpacing(0)
        self.time_axis = GridDateAxis(orientation="bottom")
        self.plot = pg.PlotItem(axisItems={"bottom": self.time_axis})
        self.plot.hideAxis("left")
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, y=False, alpha=GRID_ALPHA)
        self.view: pg.ViewBox = self.plot.getViewBox()
        self.view.setMouseEnabled(x=True, y=False)
        self.view.enableAutoRange(enable=False)
        self.view.setYRange(0.0, 1.0, padding=0.0)
        self.view.setLimits(yMin=0.0, yMax=1.0)
        self.time_axis.setPen(pg.mkPen(AXIS_TEXT))
        self.time_axis.setTextPen(pg.mkPen(AXIS_TEXT))
        self.groups: dict[str, AxisGroup] = {}
        self.ci.addItem(self.plot, row=0, col=PLOT_COLUMN)
        self.view.sigResized.connect(self._on_resized)

    # -- axes ---------------------------------------------------------------------------

    def set_groups(self, groups: list[tuple[str, str, str]]) -> None:
        """Make the Y axes exactly ``(key, label, colour)``, leftmost first; keeps the
        view boxes of groups that stay (and the curves in them)."""
        groups = groups[-PLOT_COLUMN:]
        wanted = {key for key, _, _ in groups}
        for group in self.groups.values():
            if group.axis in self.ci.items:
                self.ci.removeItem(group.axis)
        for key in [k for k in self.groups if k not in wanted]:
            self.scene().removeItem(self.groups.pop(key).view)
        first = PLOT_COLUMN - len(groups)
        for column, (key, label, colour) in enumerate(groups, start=first):
            group = self.groups.get(key) or self._new_group(key)
            group.label = label
            group.axis.setLabel(label, color=colour)
            group.axis.setTextPen(pg.mkPen(colour))
            group.axis.setGrid(int(255 * GRID_ALPHA) if column == first else False)
            self.ci.addItem(group.axis, row=0, col=column)
        self._on_resized()

    def _new_group(self, key: str) -> AxisGroup:
        view = pg.ViewBox(enableMenu=False)
        view.setMouseEnabled(x=False, y=False)
        view.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        view.setZValue(-100)  # behind the main view box, which takes the mouse
        view.setXLink(self.view)
        view.enableAutoRange(axis=pg.ViewBox.YAxis, enable=True)
        self.scene().addItem(view)
        axis = GridAxis("left")
        axis.setPen(pg.mkPen("#6e6e6e"))
        axis.setWidth(58)
        axis.linkToView(view)
        group = AxisGroup(key, key, view, axis)
        self.groups[key] = group
        return group

    def _on_resized(self) -> None:
        rect = self.view.sceneBoundingRect()
        for group in self.groups.values():
            group.view.setGeometry(rect)
            group.view.linkedViewChanged(self.view, group.view.XAxis)

    # -- time -----------------------------------------------------------------------------

    def x_range(self) -> tuple[float, float]:
        (t0, t1), _ = self.view.viewRange()
        return float(t0), float(t1)

    def set_x_range(self, t0: float, t1: float) -> None:
        self.view.setXRange(t0, t1, padding=0.0)

    def columns(self) -> int:
        """Pixel columns of the plot area: how many min/max pairs the screen can show."""
        return max(int(self.view.width()), 16)
