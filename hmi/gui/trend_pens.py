"""Pens on the trend and the pen list beside the plot (the legend tool).

A pen is one of the model's pens (hmi.core.trend_model): its colour, its curve and the
Y axis it is drawn against. Pens with the same units share an axis unless a pen is given
its own. The list shows every pen with a checkbox big enough for a gloved finger.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from hmi.core.site import Tag
from hmi.core.trend_data import PenRing, PenSeries
from hmi.core.trend_model import ModelPen
from hmi.gui.trend_canvas import AXIS_TEXT, TrendCanvas
from hmi.gui.trend_curve import PathCurve

# Distinct on grey and readable by the common colour-blindnesses (Okabe-Ito, darkened);
# no red or amber: those mean BAD and UNCERTAIN on this display (ISA-101).
PEN_COLOURS = (
    "#0b5394", "#8a4b08", "#1b7a5a", "#7a1f5c", "#4a4a4a", "#3d6e9e",
    "#5b3a99", "#2f6f2f", "#006d77", "#8c564b", "#1f3b73", "#6b6b00",
)
PEN_WIDTH = 2
THIN_PENS_ABOVE = 8  # more visible pens than this are drawn 1 px: legible when crowded,
# and a 2 px line costs ~4x the paint time (32 pens: ~50 ms a frame, bench_render.py)


class TrendPen:
    """One pen of the model (hmi.core.trend_model.ModelPen: tag, data, shown, axis) with
    its colour and its curve on the plot."""

    def __init__(self, state: ModelPen, colour: str) -> None:
        self.state = state
        self.colour = colour
        self.curve = PathCurve(pg.mkPen(colour, width=PEN_WIDTH))

    @property
    def tag(self) -> Tag:
        return self.state.tag

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def series(self) -> PenSeries:
        return self.state.series

    @property
    def ring(self) -> PenRing:
        return self.state.ring

    @property
    def visible(self) -> bool:
        return self.state.visible

    @property
    def own_axis(self) -> bool:
        return self.state.own_axis

    @property
    def axis_key(self) -> str:
        return self.state.axis_key

    def axis_label(self) -> str:
        return self.state.axis_label()


class PenSet:
    """The pens in plot order, and which axis each is drawn against."""

    def __init__(self, canvas: TrendCanvas) -> None:
        self._canvas = canvas
        self.pens: dict[str, TrendPen] = {}

    def sync(self, states: Iterable[ModelPen]) -> None:
        """Exactly the model's pens, in its order; pens that stay keep colour and curve."""
        wanted = {state.name: state for state in states}
        for name in [n for n in self.pens if n not in wanted]:
            self.remove(name)
        kept = self.pens
        self.pens = {}
        for name, state in wanted.items():
            pen = kept.get(name)
            if pen is None or pen.state is not state:
                if pen is not None:
                    self._detach(pen)
                pen = self._new_pen(state, kept)
            self.pens[name] = pen

    def _new_pen(self, state: ModelPen, others: dict[str, TrendPen]) -> TrendPen:
        used = {pen.colour for pen in [*others.values(), *self.pens.values()]}
        free = [c for c in PEN_COLOURS if c not in used]
        count = len({*others, *self.pens})
        return TrendPen(state, free[0] if free else PEN_COLOURS[count % len(PEN_COLOURS)])

    def remove(self, name: str) -> None:
        pen = self.pens.pop(name, None)
        if pen is not None:
            self._detach(pen)

    @staticmethod
    def _detach(pen: TrendPen) -> None:
        if pen.curve.getViewBox() is not None:
            pen.curve.getViewBox().removeItem(pen.curve)

    def regroup(self) -> None:
        """Lay the Y axes out again (first pen's axis leftmost) and put each visible
        pen's curve into its axis's view box."""
        order: dict[str, list[TrendPen]] = {}
        for pen in self.pens.values():
            if pen.visible:
                order.setdefault(pen.axis_key, []).append(pen)
        groups = []
        for key, members in order.items():
            colour = members[0].colour if len(members) == 1 else AXIS_TEXT
            groups.append((key, members[0].axis_label(), colour))
        # Curves leave a view box before it can go with its axis (it would take them).
        for pen in self.pens.values():
            view = pen.curve.getViewBox()
            group = self._canvas.groups.get(pen.axis_key)
            if view is not None and (not pen.visible or group is None or view is not group.view):
                view.removeItem(pen.curve)
        self._canvas.set_groups(groups)
        visible = [pen for pen in self.pens.values() if pen.visible]
        width = 1 if len(visible) > THIN_PENS_ABOVE else PEN_WIDTH
        for pen in visible:
            if pen.curve.pen().width() != width:
                pen.curve.setPen(pg.mkPen(pen.colour, width=width))
            if pen.curve.getViewBox() is None:
                self._canvas.groups[pen.axis_key].view.addItem(pen.curve)
        for key, members in order.items():
            self._canvas.groups[key].members = [pen.name for pen in members]


def swatch(colour: str, size: int = 22) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


class PenPanel(QWidget):
    """The pen list: a checkbox per pen (shown or hidden), its colour, name and units;
    buttons to give the selected pen its own axis, remove it, or pick pens."""

    visibilityChanged = Signal(str, bool)  # noqa: N815 (Qt signal naming)
    ownAxisChanged = Signal(str, bool)  # noqa: N815
    removeRequested = Signal(str)  # noqa: N815
    pickRequested = Signal()  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trendPenPanel")
        self.list = QListWidget()
        self.list.setObjectName("trendPenList")
        self.list.setIconSize(QSize(22, 22))
        self.list.itemChanged.connect(self._on_item_changed)
        self.list.currentItemChanged.connect(self._on_current_changed)
        self.pick_button = QPushButton("Pens…")
        self.pick_button.setObjectName("trendPickButton")
        self.axis_button = QPushButton("Own axis")
        self.axis_button.setObjectName("trendOwnAxisButton")
        self.axis_button.setCheckable(True)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("trendRemovePenButton")
        self.pick_button.clicked.connect(self.pickRequested)
        self.axis_button.clicked.connect(self._on_axis_clicked)
        self.remove_button.clicked.connect(self._on_remove_clicked)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for button in (self.pick_button, self.axis_button, self.remove_button):
            button.setMinimumWidth(0)
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self._on_current_changed(None, None)

    def show_pens(self, pens: Iterable[TrendPen]) -> None:
        current = self.current_pen()
        self.list.blockSignals(True)
        self.list.clear()
        for pen in pens:
            units = f"  [{pen.tag.units}]" if pen.tag.units else ""
            axis = "  ↕ own axis" if pen.own_axis else ""
            item = QListWidgetItem(swatch(pen.colour), f"{pen.name}{units}{axis}")
            item.setData(Qt.ItemDataRole.UserRole, pen.name)
            item.setData(Qt.ItemDataRole.UserRole + 1, pen.own_axis)
            item.setToolTip(pen.tag.description or pen.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if pen.visible else Qt.CheckState.Unchecked)
            self.list.addItem(item)
            if pen.name == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self._on_current_changed(self.list.currentItem(), None)

    def current_pen(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        checked = item.checkState() == Qt.CheckState.Checked
        self.visibilityChanged.emit(str(item.data(Qt.ItemDataRole.UserRole)), checked)

    def _on_current_changed(self, item: QListWidgetItem | None, _: object) -> None:
        self.axis_button.setEnabled(item is not None)
        self.remove_button.setEnabled(item is not None)
        self.axis_button.setChecked(bool(item is not None and
                                         item.data(Qt.ItemDataRole.UserRole + 1)))

    def _on_axis_clicked(self, checked: bool) -> None:
        name = self.current_pen()
        if name is not None:
            self.ownAxisChanged.emit(name, checked)

    def _on_remove_clicked(self) -> None:
        name = self.current_pen()
        if name is not None:
            self.removeRequested.emit(name)
