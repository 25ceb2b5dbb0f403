"""The trend: pens and axes, live scroll and pause, history fill (fast and slow), BAD
shown as BAD. A fake HistoryReader serves Buckets from numpy arrays."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from hmi.core.datatypes import DataType
from hmi.core.history import BAD, UNCERTAIN, Buckets, HistoryError, Resolution
from hmi.core.markers import MarkerKind, TrendMarker
from hmi.core.samples import Quality, Sample
from hmi.core.site import ModbusAddress, RegisterTable, Tag
from hmi.gui.trend import TrendView
from hmi.gui.uiloader import theme_stylesheet
from tests.conftest import wait_for

T0 = 1_700_000_000.0  # a fixed "now" for the tests' clocks


def make_tag(name: str, units: str = "", description: str = "") -> Tag:
    return Tag(name, "plc", ModbusAddress(RegisterTable.HOLDING_REGISTER, 0), DataType.FLOAT32,
               units=units, description=description)


class FakeHistory:
    """A HistoryReader over in-memory arrays: min/max/worst-quality buckets computed with
    numpy, raw points when the range holds no more than ``count``; optionally slow."""

    def __init__(self, series: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                 delay: float = 0.0) -> None:
        self.series = series
        self.delay = delay
        self.calls: list[tuple[tuple[str, ...], float, float, int]] = []
        self.cancelled = 0
        self.completed = 0

    async def buckets(self, tags: Sequence[str], start: float, end: float,
                      count: int) -> dict[str, Buckets]:
        self.calls.append((tuple(tags), start, end, count))
        if not end > start:
            raise HistoryError("empty range")
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        self.completed += 1
        return {tag: bucketize(tag, *self.series[tag], start, end, count)
                for tag in tags if tag in self.series}


def bucketize(tag: str, times: np.ndarray, values: np.ndarray, quality: np.ndarray,
              start: float, end: float, count: int) -> Buckets:
    i, j = np.searchsorted(times, [start, end], side="left")
    t, v, q = times[i:j], values[i:j], quality[i:j]
    if len(t) <= count:
        return Buckets(tag, start, end, t.copy(), v.copy(), v.copy(), q.astype(np.int8),
                       Resolution.RAW)
    edges = np.linspace(start, end, count + 1)
    starts = np.searchsorted(t, edges[:-1])
    ends = np.searchsorted(t, edges[1:])
    full = ends > starts
    mins = np.full(count, np.nan)
    maxs = np.full(count, np.nan)
    worst = np.zeros(count, dtype=np.int8)
    mins[full] = np.fmin.reduceat(v, starts[full])
    maxs[full] = np.fmax.reduceat(v, starts[full])
    worst[full] = np.maximum.reduceat(q, starts[full])
    return Buckets(tag, start, end, edges[:-1].copy(), mins, maxs, worst, Resolution.MINUTE)


def sine_series(start: float, end: float, step: float = 1.0, period: float = 600.0,
                offset: float = 50.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    times = np.arange(start, end, step)
    values = offset + 10.0 * np.sin(2 * math.pi * times / period)
    return times, values, np.zeros(len(times), dtype=np.int8)


def sample(tag: str, t: float, value: float | None, quality: Quality = Quality.GOOD,
           detail: str = "") -> Sample:
    return Sample(tag, value, quality, t, t, detail)


def trend(qtbot, tags: Sequence[Tag], clock: list[float], **kwargs) -> TrendView:
    """A shown trend. With a history reader it is made inside a running qasync loop,
    where processEvents() would run the loop's callbacks inside the current task."""
    view = TrendView(tags, kwargs.pop("window", 300.0), clock=lambda: clock[0],
                     all_tags=kwargs.pop("all_tags", tags), **kwargs)
    view.setStyleSheet(theme_stylesheet())
    view.resize(1400, 600)
    qtbot.addWidget(view)
    view.show()
    if view.filler is None:
        QApplication.processEvents()
    return view


class StallProbe:
    """A call_later chain every 5 ms; the worst lateness is the loop's longest stall."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + 0.005

        def tick(due: float = due) -> None:
            now = loop.time()
            self.worst = max(self.worst, now - due)
            self._handle = loop.call_at(now + 0.005, tick, now + 0.005)

        self._handle = loop.call_at(due, tick)

    def stop(self) -> float:
        if self._handle is not None:
            self._handle.cancel()
        return self.worst


# -- pens, axes, visibility ---------------------------------------------------------------------


def test_pens_with_the_same_units_share_an_axis_unless_given_their_own(qtbot):
    tags = [make_tag("A.Speed", "bpm"), make_tag("A.Level", "%"), make_tag("B.Level", "%")]
    view = trend(qtbot, tags, [T0])
    groups = view.canvas.groups
    assert set(groups) == {"units:bpm", "units:%"}
    assert groups["units:%"].members == ["A.Level", "B.Level"]
    assert groups["units:%"].axis.labelText == "%"

    view.set_own_axis("B.Level", True)
    assert set(groups) == {"units:bpm", "units:%", "pen:B.Level"}
    assert view.pens["B.Level"].curve.getViewBox() is groups["pen:B.Level"].view
    assert groups["units:%"].members == ["A.Level"]

    view.set_own_axis("B.Level", False)
    assert set(groups) == {"units:bpm", "units:%"}
    assert view.pens["B.Level"].curve.getViewBox() is groups["units:%"].view


def test_the_pen_list_checkbox_hides_and_shows_a_pen(qtbot):
    tags = [make_tag("A.Speed", "bpm"), make_tag("A.Level", "%")]
    view = trend(qtbot, tags, [T0])
    item = view.panel.list.item(0)
    assert item.checkState() == Qt.CheckState.Checked
    # big enough for a gloved finger: rows at least 40 px, like the theme's buttons
    assert view.panel.list.visualItemRect(item).height() >= 40
    item.setCheckState(Qt.CheckState.Unchecked)
    assert view.pens["A.Speed"].visible is False
    assert view.pens["A.Speed"].curve.getViewBox() is None
    assert "units:bpm" not in view.canvas.groups  # an axis with no visible pen goes
    assert "A.Speed" not in view.cursor_tool.readings()
    view.panel.list.item(0).setCheckState(Qt.CheckState.Checked)
    assert view.pens["A.Speed"].curve.getViewBox() is view.canvas.groups["units:bpm"].view


def test_own_axis_and_remove_buttons_act_on_the_selected_pen(qtbot):
    tags = [make_tag("A.Speed", "bpm"), make_tag("A.Level", "%")]
    view = trend(qtbot, tags, [T0])
    assert not view.panel.remove_button.isEnabled()
    view.panel.list.setCurrentRow(1)
    qtbot.mouseClick(view.panel.axis_button, Qt.MouseButton.LeftButton)
    assert view.pens["A.Level"].own_axis
    assert "pen:A.Level" in view.canvas.groups
    view.panel.list.setCurrentRow(0)
    qtbot.mouseClick(view.panel.remove_button, Qt.MouseButton.LeftButton)
    assert list(view.pens) == ["A.Level"]


# -- live mode ------------------------------------------------------------------------------------


def test_live_view_scrolls_and_pause_holds_it_while_the_rings_keep_filling(qtbot):
    tags = [make_tag("A.Speed", "bpm")]
    clock = [T0]
    view = trend(qtbot, tags, clock, window=60.0)
    for i in range(30):
        clock[0] = T0 + i
        view.add_samples([sample("A.Speed", T0 + i, float(i))])
        view.refresh()
        view.finish_drawing()
    column = 60.0 / view.canvas.columns()  # the live view moves by whole pixel columns
    t0, t1 = view.canvas.x_range()
    assert T0 + 29 <= t1 < T0 + 29 + column
    assert t1 - t0 == pytest.approx(60.0)
    x, y = view.pens["A.Speed"].curve.getData()
    assert x[-1] == T0 + 29
    assert y[-1] == 29.0

    qtbot.mouseClick(view.toolbar.pause, Qt.MouseButton.LeftButton)
    assert view.paused
    assert "PAUSED" in view.toolbar.status.text()
    held = view.canvas.x_range()
    for i in range(30, 50):
        clock[0] = T0 + i
        view.add_samples([sample("A.Speed", T0 + i, float(i))])
        view.refresh()
        view.finish_drawing()
    assert view.canvas.x_range() == held
    assert len(view.pens["A.Speed"].ring) == 50  # data went on arriving

    qtbot.mouseClick(view.toolbar.live, Qt.MouseButton.LeftButton)
    assert not view.paused
    view.finish_drawing()
    assert view.canvas.x_range() == pytest.approx((T0 + 49 - 60, T0 + 49), abs=column)
    assert view.pens["A.Speed"].curve.getData()[0][-1] == T0 + 49


def test_panning_by_hand_pauses_a_live_view_and_the_window_choice_resumes(qtbot):
    clock = [T0]
    view = trend(qtbot, [make_tag("A.Speed", "bpm")], clock, window=300.0)
    view.canvas.view.sigRangeChangedManually.emit([True, False])
    assert view.paused
    combo = view.toolbar.window_combo
    combo.setCurrentIndex(combo.findText("1 h"))
    assert not view.paused
    assert view.span == 3600.0
    assert view.canvas.x_range() == pytest.approx((T0 - 3600, T0),
                                                  abs=3600.0 / view.canvas.columns())


def test_a_long_live_window_redraws_when_it_moves_a_pixel_or_data_is_a_second_old(qtbot):
    clock = [T0]
    view = trend(qtbot, [make_tag("A.Speed", "bpm")], clock, window=86_400.0)
    column = 86_400.0 / view.canvas.columns()  # ~60 s a pixel
    start = math.floor(T0 / column) * column + 0.01  # just past a column's start
    clock[0] = start
    view.refresh()
    view.finish_drawing()
    drawn = view.redraws
    for i in range(1, 10):  # 10 Hz ticks with data: shown once it is a second old
        clock[0] = start + i * 0.1
        view.add_samples([sample("A.Speed", clock[0], 1.0)])
        view.refresh()
        view.finish_drawing()
    assert view.redraws == drawn
    clock[0] = start + 1.0
    view.refresh()
    view.finish_drawing()
    assert view.redraws == drawn + 1
    edge = start - 0.01 + column  # the view ends at the column holding now
    assert view.canvas.x_range()[1] == pytest.approx(edge, abs=1e-6)
    clock[0] = start + 1.5  # no new data, not a pixel further: nothing to repaint
    view.refresh()
    view.finish_drawing()
    assert view.redraws == drawn + 1
    clock[0] = start + column  # the next column: the view moves a pixel
    view.refresh()
    view.finish_drawing()
    assert view.redraws == drawn + 2
    assert view.canvas.x_range()[1] == pytest.approx(edge + column, abs=1e-6)


def test_the_curve_holds_at_most_two_points_per_pixel_column(qtbot):
    clock = [T0]
    view = trend(qtbot, [make_tag("A.Speed", "bpm")], clock, window=3600.0,
                 ring_capacity=10_000)
    for i in range(7200):
        view.add_samples([sample("A.Speed", T0 - 7200 + i, math.sin(i / 30.0))])
    clock[0] = T0 + 1  # new data shows within a second (refresh's redraw cadence)
    view.refresh()
    view.finish_drawing()
    x, _ = view.pens["A.Speed"].curve.getData()
    assert len(x) <= 2 * view.canvas.columns() + 2
    assert x.min() >= T0 - 3601


# -- history --------------------------------------------------------------------------------------


def test_opening_fills_from_history_at_screen_resolution_then_joins_live(qloop, qtbot):
    tags = [make_tag("A.Speed", "bpm"), make_tag("A.Level", "%")]
    clock = [T0]
    history = FakeHistory({t.name: sine_series(T0 - 86_400, T0) for t in tags})

    async def scenario() -> None:
        view = trend(qtbot, tags, clock, window=3600.0, history=history)
        await wait_for(lambda: view.filler.covered is not None and not view.filler.busy,
                       5, "history fill")
        wanted_tags, start, end, count = history.calls[-1]
        columns = view.canvas.columns()
        assert set(wanted_tags) == {"A.Speed", "A.Level"}
        assert end == T0
        assert start < T0 - 3600
        assert (end - start) / count == pytest.approx(3600 / columns, rel=0.05)
        x, y = view.pens["A.Speed"].curve.getData()
        assert len(x) <= 2 * columns + 2
        assert x.min() <= T0 - 3590
        assert np.nanmax(y) == pytest.approx(60.0, abs=0.1)

        for i in range(1, 11):  # live samples newer than the history's end join it
            clock[0] = T0 + i
            view.add_samples([sample("A.Speed", T0 + i, 99.0)])
        view.refresh()
        view.finish_drawing()
        x, y = view.pens["A.Speed"].curve.getData()
        assert x[-1] == T0 + 10
        assert y[-1] == 99.0
        assert x.min() <= T0 - 3580  # history still under the older part
        calls = len(history.calls)
        for i in range(11, 30):  # scrolling live stays covered: no new requests
            clock[0] = T0 + i
            view.add_samples([sample("A.Speed", T0 + i, 99.0)])
            view.refresh()
            view.finish_drawing()
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        assert len(history.calls) == calls

    qloop.run_until_complete(scenario())


def test_zooming_in_asks_again_after_the_debounce_only(qloop, qtbot):
    tags = [make_tag("A.Speed", "bpm")]
    clock = [T0]
    history = FakeHistory({"A.Speed": sine_series(T0 - 86_400, T0)})

    async def scenario() -> None:
        view = trend(qtbot, tags, clock, window=3600.0, history=history)
        await wait_for(lambda: view.filler.covered is not None, 5, "first fill")
        view.set_paused(True)
        calls = len(history.calls)
        for k in range(10):  # a zoom gesture: many range changes in quick succession
            view.canvas.set_x_range(T0 - 3000 + 100 * k, T0 - 600)
            await asyncio.sleep(0.02)
        assert len(history.calls) == calls  # still moving: nothing asked yet
        await wait_for(lambda: len(history.calls) == calls + 1 and not view.filler.busy,
                       3, "one request after the gesture")
        _, start, end, _ = history.calls[-1]
        assert start <= T0 - 2100
        assert end >= T0 - 600

    qloop.run_until_complete(scenario())


def test_slow_history_keeps_the_gui_responsive_and_stale_requests_are_cancelled(qloop, qtbot):
    tags = [make_tag("A.Speed", "bpm")]
    clock = [T0]
    history = FakeHistory({"A.Speed": sine_series(T0 - 86_400, T0)}, delay=1.0)

    async def scenario() -> None:
        probe = StallProbe()
        probe.start()
        view = trend(qtbot, tags, clock, window=3600.0, history=history)
        await asyncio.sleep(0.1)
        assert view.filler.busy
        assert "loading history" in view.toolbar.status.text()
        view.show_history(T0 - 20_000, T0 - 10_000)  # the first answer is stale now
        await asyncio.sleep(0.05)
        assert history.cancelled == 1
        started = asyncio.get_running_loop().time()
        for _ in range(10):  # the GUI still paints and handles input meanwhile
            view.canvas.set_x_range(T0 - 20_000, T0 - 10_000)
            assert not view.grab().isNull()
            await asyncio.sleep(0.01)
        assert asyncio.get_running_loop().time() - started < 0.9
        await wait_for(lambda: history.completed == 1 and not view.filler.busy, 5,
                       "the newer request answered")
        assert probe.stop() < 0.05  # never a stall over DESIGN.md's 50 ms
        assert view.filler.covered.start <= T0 - 20_000
        history_end = view.pens["A.Speed"].series.history.end
        assert history_end >= T0 - 10_000
        assert history_end < T0 - 4000

    qloop.run_until_complete(scenario())


def test_a_failing_historian_is_said_in_the_status_line(qloop, qtbot):
    class Broken(FakeHistory):
        async def buckets(self, tags, start, end, count):
            raise HistoryError("database is locked; retry in a moment")

    async def scenario() -> None:
        view = trend(qtbot, [make_tag("A.Speed", "bpm")], [T0], history=Broken({}))
        await wait_for(lambda: "database is locked" in view.toolbar.status.text(), 3,
                       "the error shown")
        assert view.toolbar.status.property("abnormal") is True

    qloop.run_until_complete(scenario())


# -- cursor, quality, markers ------------------------------------------------------------------


def test_cursor_reads_every_pens_value_units_and_quality_at_one_time(qtbot):
    tags = [make_tag("A.Speed", "bpm"), make_tag("A.Level", "%"), make_tag("A.Temp", "°C")]
    clock = [T0 + 100]
    view = trend(qtbot, tags, clock, window=300.0)
    for i in range(100):
        t = T0 + i
        view.add_samples([
            sample("A.Speed", t, 10.0 + i),
            sample("A.Level", t, None, Quality.BAD, "comm: timeout") if 40 <= i < 60
            else sample("A.Level", t, 50.0),
            sample("A.Temp", t, 20.5, Quality.UNCERTAIN if i >= 45 else Quality.GOOD),
        ])
    view.refresh()
    view.finish_drawing()
    qtbot.mouseClick(view.toolbar.cursor_button, Qt.MouseButton.LeftButton)
    view.cursor_tool.set_time(T0 + 45.5)
    rows = {row.pen: row for row in view.readout.rows}
    assert (rows["A.Speed"].value, rows["A.Speed"].units, rows["A.Speed"].quality) == \
        ("55.00", "bpm", "GOOD")
    assert (rows["A.Level"].value, rows["A.Level"].quality) == ("—", "BAD")
    assert (rows["A.Temp"].value, rows["A.Temp"].quality) == ("20.50", "UNCERTAIN")
    assert "At cursor" in view.readout.heading.text()
    table = view.readout.table
    bad_row = [table.item(r, 0).text() for r in range(table.rowCount())].index("A.Level")
    assert table.item(bad_row, 3).background().color().name() == "#c62828"

    view.cursor_tool.set_time(T0 + 10.2)
    rows = {row.pen: row for row in view.readout.rows}
    assert (rows["A.Level"].value, rows["A.Level"].quality) == ("50.00", "GOOD")
    view.toolbar.cursor_button.click()  # off: the readout shows the latest values
    rows = {row.pen: row for row in view.readout.rows}
    assert rows["A.Speed"].value == "109.0"
    assert view.readout.heading.text() == "Latest values"


def test_cursor_over_history_reads_the_bucket(qloop, qtbot):
    tags = [make_tag("A.Speed", "bpm")]
    history = FakeHistory({"A.Speed": sine_series(T0 - 86_400, T0)})

    async def scenario() -> None:
        view = trend(qtbot, tags, [T0], history=history)
        view.show_history(T0 - 86_400, T0)
        await wait_for(lambda: view.filler.covered is not None and not view.filler.busy and
                       view.filler.covered.start <= T0 - 86_400, 5, "history")
        view.cursor_tool.set_time(T0 - 43_000)
        row = view.readout.rows[0]
        assert " … " in row.value
        assert row.quality == "GOOD"

    qloop.run_until_complete(scenario())


def test_bad_and_uncertain_periods_are_drawn_as_such(qtbot):
    tags = [make_tag("A.Speed", "bpm"), make_tag("A.Level", "%")]
    clock = [T0 + 300]
    view = trend(qtbot, tags, clock, window=300.0)
    for i in range(300):
        t = T0 + i
        bad = 100 <= i < 150
        view.add_samples([
            sample("A.Speed", t, None, Quality.BAD, "comm") if bad else sample("A.Speed", t, 1.0),
            sample("A.Level", t, 5.0, Quality.UNCERTAIN if 200 <= i < 220 else Quality.GOOD),
        ])
    view.refresh(force=True)  # the clock stood still: draw now
    view.finish_drawing()
    bad = view.quality.spans_of("A.Speed", BAD)
    assert len(bad) == 1
    assert bad[0].start == pytest.approx(T0 + 100, abs=1.0)
    assert bad[0].end == pytest.approx(T0 + 150, abs=1.0)
    uncertain = view.quality.spans_of("A.Level", UNCERTAIN)
    assert len(uncertain) == 1
    assert uncertain[0].start == pytest.approx(T0 + 200, abs=1.0)
    assert not view.quality.spans_of("A.Level", BAD)
    assert len(view.quality.items()) == 2
    # the BAD period is a gap in the line: nothing finite drawn inside it
    x, y = view.pens["A.Speed"].curve.getData()
    inside = (x > T0 + 101) & (x < T0 + 149)
    assert not np.isfinite(y[inside]).any()
    assert np.isnan(y).any()
    view.set_pen_visible("A.Speed", False)
    assert not view.quality.spans_of("A.Speed")


def test_bad_periods_from_history_quality(qloop, qtbot):
    times, values, quality = sine_series(T0 - 7200, T0)
    quality[(times >= T0 - 3000) & (times < T0 - 2400)] = BAD
    values[quality == BAD] = np.nan
    history = FakeHistory({"A.Speed": (times, values, quality)})

    async def scenario() -> None:
        view = trend(qtbot, [make_tag("A.Speed", "bpm")], [T0], window=3600.0,
                     history=history)
        await wait_for(lambda: bool(view.quality.spans_of("A.Speed", BAD)), 5, "BAD strip")
        (span,) = view.quality.spans_of("A.Speed", BAD)
        assert span.start == pytest.approx(T0 - 3000, abs=10)
        assert span.end == pytest.approx(T0 - 2400, abs=10)

    qloop.run_until_complete(scenario())


def test_markers_are_added_replaced_removed_and_cleared(qtbot):
    view = trend(qtbot, [make_tag("A.Speed", "bpm")], [T0])
    layer = view.markers
    layer.add_marker(TrendMarker(T0 - 100, MarkerKind.ALARM, "HI Tank level", key="alarm-1"))
    layer.add_marker(TrendMarker(T0 - 250, MarkerKind.PRODUCTION, "1,234 bottles",
                                 end=T0 - 150, key="event-7"))
    note = layer.add_marker(TrendMarker(T0 - 50, MarkerKind.NOTE, "filter changed"))
    assert len(layer) == 3
    assert note
    line = layer.item("alarm-1")
    assert line.getViewBox() is view.canvas.view
    assert "HI Tank level" in line.toolTip()
    assert not line.label.isVisible()
    assert layer.item("event-7").getRegion() == (T0 - 250, T0 - 150)

    layer.add_marker(TrendMarker(T0 - 90, MarkerKind.ALARM, "HIHI Tank level", key="alarm-1"))
    assert len(layer) == 3
    assert layer.item("alarm-1").value() == T0 - 90
    assert line.scene() is None

    assert layer.remove_marker("event-7")
    assert not layer.remove_marker("event-7")
    assert layer.clear_markers(MarkerKind.ALARM) == 1
    assert [m.kind for m in layer.markers()] == [MarkerKind.NOTE]
    assert layer.clear_markers() == 1
    assert len(layer) == 0
