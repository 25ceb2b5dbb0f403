"""How the trend makes a frame: a few pens at a time between other events, shown all
at once; one frame at a time during a drag, for the latest range; new live data
repainted where it changed, not the whole plot; grid lines drawn in solid colours
(translucent aliased lines are the slowest thing Qt's raster engine draws). The
frame-time and loop-stall figures are in tests/bench/bench_render.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication

from hmi.gui.trend import Frame
from hmi.gui.trend_canvas import BACKGROUND, _opaque
from hmi.gui.trend_curve import TAIL_POINTS, prepare
from tests.gui.test_trend import T0, make_tag, sample, trend

PENS = [f"Line{k:02d}.Value" for k in range(12)]


def filled_view(qtbot, clock, window=600.0):
    view = trend(qtbot, [make_tag(name, "u") for name in PENS], clock, window=window,
                 ring_capacity=5000)
    for i in range(3600):
        view.add_samples([sample(name, T0 - 3600 + i, float(k + np.sin(i / 50)))
                          for k, name in enumerate(PENS)])
    view.refresh(force=True)
    view.finish_drawing()
    return view


def test_a_frame_prepares_pens_within_its_budget_and_reports_when_all_are_ready(qtbot):
    clock = [T0]
    view = filled_view(qtbot, clock)
    pens = list(view.pens.values())
    frame = Frame(T0 - 600, T0, view.canvas.columns(), pens, scroll=False)
    for made in range(1, len(pens)):
        assert not frame.step(0.0)  # no time left: one pen per slice
        assert len(frame.curves) == made
    assert frame.step(0.0)
    assert set(frame.curves) == set(view.pens) == set(frame.levels)
    x, y = frame.curves[PENS[3]].x, frame.curves[PENS[3]].y
    assert x[0] <= T0 - 600
    assert x[-1] >= T0 - 1
    assert np.nanmax(y) <= 3 + 1
    assert np.nanmin(y) >= 3 - 1


def test_a_live_frame_is_made_between_events_and_shown_all_at_once(qtbot, monkeypatch):
    monkeypatch.setattr("hmi.gui.trend.FRAME_SLICE_S", 0.0)  # a pen per slice
    clock = [T0]
    view = filled_view(qtbot, clock)
    before = view.canvas.x_range()
    clock[0] = T0 + 5
    view.add_samples([sample(name, T0 + 5, 100.0) for name in PENS])
    view.refresh()
    assert view.drawing  # not made inside refresh: the loop goes on meanwhile
    assert view.canvas.x_range() == before  # nor scrolled before the frame is ready
    assert all(view.pens[name].curve.getData()[0][-1] < T0 + 5 for name in PENS)
    qtbot.waitUntil(lambda: not view.drawing, timeout=5000)
    t0, t1 = view.canvas.x_range()  # to the column holding now
    assert T0 + 5 <= t1 < T0 + 5 + 600 / view.canvas.columns()
    assert t1 - t0 == pytest.approx(600.0)
    for name in PENS:  # every pen at once, with the new sample
        x, y = view.pens[name].curve.getData()
        assert (x[-1], y[-1]) == (T0 + 5, 100.0)


def test_a_drag_shows_one_frame_at_a_time_and_ends_on_the_latest_range(qtbot):
    clock = [T0]
    view = filled_view(qtbot, clock)
    view.set_paused(True)
    drawn = view.redraws
    ranges = [(T0 - 3000 + 20 * k, T0 - 2400 + 20 * k) for k in range(20)]
    for t0, t1 in ranges:  # mouse moves faster than frames are made
        view.canvas.set_x_range(t0, t1)
    assert not view.canvas.updatesEnabled()  # no paint of stale curves meanwhile
    qtbot.waitUntil(lambda: not view.drawing, timeout=5000)
    # the first range's frame, then the latest's (and one more if the layout moved)
    assert view.redraws - drawn <= 3
    assert view.canvas.updatesEnabled()
    t0, t1 = ranges[-1]
    for name in PENS:
        x, _ = view.pens[name].curve.getData()
        assert x[0] < t0 <= x[1]
        assert x[-2] <= t1 < x[-1]


def test_grid_lines_are_drawn_in_solid_colours_that_look_the_same(qtbot):
    grey = QColor(110, 110, 110, 56)
    solid = _opaque(grey, QColor(BACKGROUND))
    assert solid.alpha() == 255
    # the same pixel as the translucent line painted over the background
    image = QImage(1, 1, QImage.Format.Format_RGB32)
    image.fill(QColor(BACKGROUND))
    painter = QPainter(image)
    painter.fillRect(0, 0, 1, 1, grey)
    painter.end()
    blended = image.pixelColor(0, 0)
    assert abs(blended.red() - solid.red()) <= 1
    assert abs(blended.blue() - solid.blue()) <= 1

    view = filled_view(qtbot, [T0])
    for axis in [view.canvas.time_axis, *(g.axis for g in view.canvas.groups.values())]:
        image = QImage(10, 10, QImage.Format.Format_RGB32)
        painter = QPainter(image)
        specs = axis.generateDrawSpecs(painter)
        painter.end()
        grid = [pen for pen, _, _ in specs[1]]
        assert grid
        assert all(pen.color().alpha() == 255 for pen in grid)


def test_a_live_frame_with_new_data_repaints_only_the_new_part_and_the_screen_is_right(qtbot):
    """Between two pixel moves the view stands still: each pen keeps its path's body and
    repaints only its tail; what is on screen then equals a full repaint."""
    clock = [T0]
    view = filled_view(qtbot, clock, window=3600.0)
    column = 3600.0 / view.canvas.columns()
    start = math.floor(T0 / column) * column + 0.01
    clock[0] = start
    view.refresh(force=True)
    view.finish_drawing()
    QApplication.processEvents()
    bodies = {name: view.pens[name].curve.data.body for name in PENS}
    for tick in range(1, 8):  # new data, the view has not moved a column
        clock[0] = start + 0.01 * tick
        view.add_samples([sample(name, clock[0], k + 0.5 * np.sin(tick))
                          for k, name in enumerate(PENS)])
        view.redraw()
        QApplication.processEvents()
    for name in PENS:
        curve = view.pens[name].curve
        assert curve.data.body is bodies[name]  # kept, not built again
        assert curve.partial_updates >= 7
        x, _ = curve.getData()
        assert x[-1] > clock[0] - column  # the newest column is drawn
    on_screen = QApplication.primaryScreen().grabWindow(view.winId()).toImage()
    rendered = view.grab().toImage()  # everything painted afresh
    assert on_screen.size() == rendered.size()
    assert on_screen.convertToFormat(QImage.Format.Format_RGB32) == \
        rendered.convertToFormat(QImage.Format.Format_RGB32)


def test_a_curve_keeps_its_body_only_while_the_older_points_are_the_same():
    x = np.arange(200, dtype=np.float64)
    y = np.sin(x / 10)
    y[50] = np.nan
    y[2] = -50.0
    first = prepare(x, y)
    assert first.body_len == 200 - TAIL_POINTS
    grown = prepare(np.append(x, 200.0), np.append(y, 5.0), first)
    assert grown.body is first.body
    assert grown.y_range == (-50.0, 5.0)
    scrolled = prepare(np.append(x, 200.0)[7:], np.append(y, 5.0)[7:], grown)
    assert scrolled.body is first.body  # the older points scrolled out: kept all the same
    assert scrolled.body_len == first.body_len - 7
    assert scrolled.x_range == (7.0, 200.0)
    assert scrolled.y_range == (pytest.approx(-1.0, abs=1e-3), 5.0)  # not the gone -50
    moved = y.copy()
    moved[3] = 9.0  # an older point changed (a scroll, a new fill): everything again
    again = prepare(x, moved, grown)
    assert again.body is not grown.body
    assert again.y_range[1] == 9.0
    whole = again.path  # body and tail joined at the body's last point
    assert whole.elementCount() == again.body.elementCount() + again.tail.elementCount()
