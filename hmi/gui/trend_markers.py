"""The marker layer: alarms, production events and notes on the trend's time axis.

A marker is a vertical line (an instant) or a shaded span (an alarm's active period, a
production period) across the plot; its label shows while the pointer is over it and
as its tooltip. Alarms are red (abnormal); everything else stays grey-blue (ISA-101).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from hmi.core.markers import MarkerKind, TrendMarker
from hmi.gui.formatting import format_clock
from hmi.gui.trend_canvas import TrendCanvas

MARKER_COLOURS = {
    MarkerKind.ALARM: "#c62828",
    MarkerKind.PRODUCTION: "#34495c",
    MarkerKind.NOTE: "#6e6e6e",
}
SPAN_ALPHA = 38


def _label_opts(colour: str) -> dict[str, Any]:
    return {"position": 0.9, "color": "#ffffff", "fill": pg.mkBrush(colour),
            "movable": False, "anchors": [(0, 0.5), (0, 0.5)]}


class _MarkerLine(pg.InfiniteLine):  # type: ignore[misc]  # pyqtgraph is untyped
    """A fixed line whose label shows only while hovered; a click calls ``on_click``."""

    on_click: Callable[[], None] | None = None

    def hoverEvent(self, ev: Any) -> None:  # noqa: N802 (pyqtgraph's API)
        self.label.setVisible(not ev.isExit())

    def mouseClickEvent(self, ev: Any) -> None:  # noqa: N802 (pyqtgraph's API)
        if self.on_click is not None and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.on_click()
        else:
            super().mouseClickEvent(ev)


class _MarkerSpan(pg.LinearRegionItem):  # type: ignore[misc]  # pyqtgraph is untyped
    """A fixed shaded span whose label (on its start line) shows only while hovered."""

    on_click: Callable[[], None] | None = None

    def hoverEvent(self, ev: Any) -> None:  # noqa: N802 (pyqtgraph's API)
        self.label.setVisible(not ev.isExit())

    def mouseClickEvent(self, ev: Any) -> None:  # noqa: N802 (pyqtgraph's API)
        if self.on_click is not None and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.on_click()
        else:
            super().mouseClickEvent(ev)


def _tooltip(marker: TrendMarker) -> str:
    when = format_clock(marker.time)
    if marker.end is not None:
        when = f"{when} – {format_clock(marker.end)}"
    return f"{marker.kind.value.title()} {when}: {marker.label}"


class MarkerLayer:
    """Holds the markers by key; ``add_marker`` with a known key replaces that marker."""

    def __init__(self, canvas: TrendCanvas) -> None:
        self._canvas = canvas
        self._items: dict[str, tuple[TrendMarker, pg.GraphicsObject]] = {}
        self._serial = 0

    def __len__(self) -> int:
        return len(self._items)

    def markers(self) -> list[TrendMarker]:
        return [marker for marker, _ in self._items.values()]

    def item(self, key: str) -> pg.GraphicsObject:
        return self._items[key][1]

    def add_marker(self, marker: TrendMarker, on_click: Callable[[], None] | None = None
                   ) -> str:
        """Show ``marker``; returns its key (a generated one if the marker has none).
        ``on_click``: called when the operator clicks (touches) the marker."""
        key = marker.key
        if not key:
            self._serial += 1
            key = f"marker-{self._serial}"
        self.remove_marker(key)
        item = self._build(marker)
        item.setToolTip(_tooltip(marker))
        item.on_click = on_click
        item.setZValue(20)
        self._canvas.view.addItem(item, ignoreBounds=True)
        self._items[key] = (marker, item)
        return key

    def remove_marker(self, key: str) -> bool:
        found = self._items.pop(key, None)
        if found is None:
            return False
        self._canvas.view.removeItem(found[1])
        return True

    def clear_markers(self, kind: MarkerKind | None = None) -> int:
        """Remove every marker, or every marker of one kind; returns how many."""
        keys = [k for k, (m, _) in self._items.items() if kind is None or m.kind is kind]
        for key in keys:
            self.remove_marker(key)
        return len(keys)

    def _build(self, marker: TrendMarker) -> pg.GraphicsObject:
        colour = MARKER_COLOURS[marker.kind]
        width = 2 if marker.kind is MarkerKind.ALARM else 1
        line_pen = pg.mkPen(colour, width=width)
        if marker.end is None or marker.end <= marker.time:
            line = _MarkerLine(pos=marker.time, angle=90, movable=False, pen=line_pen,
                               label=marker.label, labelOpts=_label_opts(colour))
            line.label.setVisible(False)
            return line
        fill = QColor(colour)
        fill.setAlpha(SPAN_ALPHA)
        span = _MarkerSpan(values=(marker.time, marker.end), movable=False,
                           brush=pg.mkBrush(fill), pen=line_pen)
        span.label = pg.InfLineLabel(span.lines[0], text=marker.label, **_label_opts(colour))
        span.label.setVisible(False)
        return span
