"""Paint stress: many long pyqtgraph curves painted in full, offscreen.

Run: python tests/gui/paint_stress.py [--curves 32] [--points 86400] [--paints 3]

Regression guard for the PySide6 / pyqtgraph pairing pinned in pyproject.toml: the
issue reported that PySide6 6.12.0 with pyqtgraph 0.14.0 aborts the interpreter
("Fatal Python error: ... deallocating None", in pyqtgraph's arrayToQPath) when
painting 32 curves of 86,400 points (one day at 1 s), while 6.8.3 .. 6.11.3 do not.

The script builds a 1920x1080 PlotWidget with ``--curves`` PlotDataItems of ``--points``
random-walk samples each (time axis at 1 s spacing), forces ``--paints`` full paints by
rendering the widget into a QImage, shuts Qt down cleanly and prints one line:
the PySide6 and pyqtgraph versions and the paint times. Exit status 0 means no crash.

By default pyqtgraph draws every point (no downsampling, no clipping), so every paint
goes through arrayToQPath with the full arrays. ``--hmi-style`` draws the curves as
hmi.gui.trend does (connect="finite", peak downsampling, clip to view).
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
    parser.add_argument("--connect", default="all",
                        help='PlotDataItem connect= ("all", "finite", "pairs")')
    parser.add_argument("--nan-every", type=int, default=0,
                        help="put a NaN in every N-th value (0: none)")
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
        if args.hmi_style:
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
        widget.addItem(item)
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
    widget = build(args)
    times = [paint(widget, args.grab) for _ in range(args.paints)]
    widget.close()
    widget.deleteLater()
    QCoreApplication.processEvents()
    del widget
    app.quit()
    shown = ", ".join(f"{t:.2f}" for t in times)
    print(f"PySide6 {pyside_version} pyqtgraph {pg.__version__} "
          f"curves={args.curves} points={args.points} paints [s]: {shown}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
