"""Paint stress: many long pyqtgraph curves painted in full, offscreen.

Run: python tests/gui/paint_stress.py [--curves 32] [--points 86400] [--paints 3]

Regression guard for the PySide6 / pyqtgraph pairing pinned in pyproject.toml: PySide6
6.12.0 with pyqtgraph 0.14.0 aborts the interpreter ("Fatal Python error: none_dealloc:
deallocating None", in pyqtgraph's arrayToQPath) when painting 32 curves of 86,400
points (one day at 1 s); 6.8.3 .. 6.11.3 do not.

Cause, as measured: in 6.12.0 every call of a void C++ method (QPolygonF.resize,
QPainterPath.addPolygon, QPainter.setPen, ...) takes one reference from None instead of
returning a new one. On Python 3.11, where None is not immortal, the interpreter aborts
once about 16,000 such calls have been made. arrayToQPath with connect="finite" (as
hmi.gui.trend draws) makes two of them per NaN gap, so the gaps, not the point count,
decide how soon. Python >= 3.12 makes None immortal and does not abort.

The script builds a 1920x1080 PlotWidget with ``--curves`` PlotDataItems of ``--points``
random-walk samples each (time axis at 1 s spacing, a NaN every ``--nan-every`` samples
as a BAD sample leaves in the trend), forces ``--paints`` full paints by rendering the
widget into a QImage, shuts Qt down cleanly and prints one line: the PySide6 and
pyqtgraph versions, the paint times and None's reference count before and after (a
large fall means the leak above). Exit status 0 means no crash.

No downsampling and no clipping by default, and a 1 px pen, so every curve goes through
arrayToQPath with its full arrays. ``--hmi-style`` draws as hmi.gui.trend does
(2 px pen, peak downsampling, clip to view).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pyqtgraph as pg
from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication

WIDTH, HEIGHT = 1920, 1080


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curves", type=int, default=32)
    parser.add_argument("--points", type=int, default=86_400)
    parser.add_argument("--paints", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hmi-style", action="store_true",
                        help='connect="finite", peak downsampling, clip to view (as hmi.gui.trend)')
    parser.add_argument("--connect", default="finite",
                        help='PlotDataItem connect= ("finite" as hmi.gui.trend, "all", "pairs")')
    parser.add_argument("--nan-every", type=int, default=100,
                        help="a NaN (a BAD sample, as hmi.gui.trend stores it) every N-th value; "
                             "0: none")
    parser.add_argument("--antialias", action="store_true")
    parser.add_argument("--skip-finite-check", action="store_true")
    parser.add_argument("--grab", action="store_true",
                        help="paint with QWidget.grab() instead of render() into a QImage")
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> pg.PlotWidget:
    rng = np.random.default_rng(args.seed)
    times = np.arange(args.points, dtype=np.float64)  # 1 s spacing, one day by default
    widget = pg.PlotWidget()
    widget.resize(WIDTH, HEIGHT)
    for index in range(args.curves):
        values = np.cumsum(rng.normal(0.0, 1.0, args.points)) + 50.0 * index
        if args.nan_every:
            values[:: args.nan_every] = np.nan
        pen = pg.mkPen(pg.intColor(index, args.curves), width=2 if args.hmi_style else 1)
        connect = "finite" if args.hmi_style else args.connect
        item = pg.PlotDataItem(times, values, pen=pen, connect=connect,
                               antialias=args.antialias,
                               skipFiniteCheck=args.skip_finite_check)
        widget.addItem(item)
        if args.hmi_style:  # after addItem, as PlotItem.plot() then trend.py do
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
    widget.show()
    QCoreApplication.processEvents()
    return widget


def paint(widget: pg.PlotWidget, use_grab: bool) -> float:
    """One full paint of the widget; returns its wall time in seconds."""
    widget.viewport().update()
    start = time.perf_counter()
    if use_grab:
        pixmap = widget.grab()
        assert not pixmap.isNull()
    else:
        image = QImage(WIDTH, HEIGHT, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(0)
        painter = QPainter(image)
        try:
            widget.render(painter)
        finally:
            painter.end()
    QCoreApplication.processEvents()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    none_refs = sys.getrefcount(None)
    widget = build(args)
    times = [paint(widget, args.grab) for _ in range(args.paints)]
    widget.close()
    widget.deleteLater()
    QCoreApplication.processEvents()
    del widget
    app.quit()
    shown = ", ".join(f"{t:.2f}" for t in times)
    print(f"PySide6 {pyside_version} pyqtgraph {pg.__version__} Python {sys.version.split()[0]} "
          f"curves={args.curves} points={args.points} nan_every={args.nan_every} "
          f"paints [s]: {shown} None refs: {none_refs} -> {sys.getrefcount(None)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
