"""Benchmark: does Qt's painting let other Python threads run? (It does not.)

Run: python tests/bench/bench_gil_paint.py [--paints 50 --loops 3000000]

A thread strokes a 4,000-point path into an image ``--paints`` times (QPainter.drawPath,
as a trend curve); the main thread counts in a pure-Python loop. Each is timed alone,
then both at once. If PySide6 released the interpreter lock while Qt paints, together
they would take about as long as the longer of the two on two cores; holding it, they
take at least as long as both one after the other. This is why a device thread cannot
keep the GUI loop free at plant scale (bench_data_path.py), and why painting curves in
another thread would not either.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--paints", type=int, default=50)
    parser.add_argument("--loops", type=int, default=3_000_000)
    args = parser.parse_args()

    import numpy as np
    import pyqtgraph as pg
    from PySide6.QtGui import QColor, QImage, QPainter, QPen
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    x = np.arange(4000.0) / 2
    y = np.random.default_rng(1).random(4000) * 500
    path = pg.arrayToQPath(x, y, connect="finite")
    image = QImage(1920, 1080, QImage.Format.Format_ARGB32_Premultiplied)

    def paint() -> None:
        for _ in range(args.paints):
            painter = QPainter(image)
            painter.setPen(QPen(QColor("red"), 0))
            painter.drawPath(path)
            painter.end()

    def count() -> None:
        total = 0
        for i in range(args.loops):
            total += i

    def timed(work: object) -> float:
        started = time.perf_counter()
        work()  # type: ignore[operator]
        return time.perf_counter() - started

    painting, counting = timed(paint), timed(count)

    def both() -> None:
        thread = threading.Thread(target=paint)
        thread.start()
        count()
        thread.join()

    together = timed(both)
    print(f"paint alone {painting:.3f} s, Python alone {counting:.3f} s, "
          f"one after the other {painting + counting:.3f} s, together {together:.3f} s")
    print(f"together / one after the other: {together / (painting + counting):.2f} "
          f"(about {max(painting, counting) / (painting + counting):.2f} if painting let "
          "Python run; 1.0 or more: it holds the interpreter lock)")
    del app


if __name__ == "__main__":
    main()
