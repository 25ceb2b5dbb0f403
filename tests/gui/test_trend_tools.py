"""The trend's dialogs and exports: tag picker, trend sets, CSV and PNG, last shift; the
view drawing a model it is given."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDialog, QPushButton

from hmi.core.history import BAD
from hmi.core.samples import Quality
from hmi.gui.feed import TagFeed
from hmi.gui.trend import TrendMode, TrendModel, TrendView
from hmi.gui.trend_sets import PenSpec, TrendSet, TrendSetStore
from tests.conftest import wait_for
from tests.gui.test_trend import T0, FakeHistory, make_tag, sample, sine_series, trend

SITE_TAGS = [
    make_tag("Filler.Speed", "bpm", "Line speed, bottles per minute"),
    make_tag("Filler.TankLevel", "%", "Product tank level"),
    make_tag("Filler.ProductTemp", "°C", "Product temperature at the filler bowl"),
    make_tag("Capper.Torque", "Nm", "Cap torque"),
]


def test_picker_search_filters_the_site_tags_and_ok_sets_the_pens(qtbot):
    view = trend(qtbot, SITE_TAGS[:1], [T0], all_tags=SITE_TAGS)
    dialog = view.open_picker()
    assert dialog.isVisible()
    assert dialog.selected() == ["Filler.Speed"]
    dialog.search.setText("tank")
    assert dialog.visible_names() == ["Filler.TankLevel"]
    dialog.search.setText("filler TEMP")  # every word, any case, name or description
    assert dialog.visible_names() == ["Filler.ProductTemp"]
    dialog.search.setText("°c")
    assert dialog.visible_names() == ["Filler.ProductTemp"]
    dialog.search.setText("")
    assert len(dialog.visible_names()) == 4
    row = dialog.list.item(3)  # a tap anywhere on the row toggles it
    rect = dialog.list.visualItemRect(row)
    qtbot.mouseClick(dialog.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert dialog.selected() == ["Filler.Speed", "Capper.Torque"]
    dialog.set_checked("Filler.Speed", False)
    qtbot.mouseClick(dialog.findChild(type(view.toolbar.live), "tagPickerOk"),
                     Qt.MouseButton.LeftButton)
    assert list(view.pens) == ["Capper.Torque"]
    assert set(view.canvas.groups) == {"units:Nm"}


def test_trend_set_store_round_trip(tmp_path: Path):
    store = TrendSetStore(tmp_path / "trends")
    assert store.names() == []
    saved = TrendSet("Filler / overview", (PenSpec("Filler.Speed"),
                                           PenSpec("Filler.TankLevel", own_axis=True,
                                                   visible=False)), 3600.0)
    path = store.save(saved)
    assert path.parent == tmp_path / "trends"
    assert path.suffix == ".json"
    (tmp_path / "trends" / "notes.json").write_text("not a trend set", "utf-8")
    assert store.names() == ["Filler / overview"]
    assert store.load("Filler / overview") == saved
    assert store.delete("Filler / overview")
    assert store.names() == []
    with pytest.raises(KeyError):
        store.load("Filler / overview")


def test_trend_sets_save_and_load_through_the_view(qtbot, tmp_path: Path):
    folder = tmp_path / "trends"
    first = trend(qtbot, SITE_TAGS[:2], [T0], all_tags=SITE_TAGS, trend_sets=folder,
                  window=900.0)
    first.set_own_axis("Filler.TankLevel", True)
    first.set_pen_visible("Filler.Speed", False)
    dialog = first.open_trend_sets()
    dialog.name_edit.setText("Tank check")
    dialog.save_button.click()
    assert [dialog.list.item(i).text() for i in range(dialog.list.count())] == ["Tank check"]
    dialog.reject()

    second = trend(qtbot, SITE_TAGS[2:], [T0], all_tags=SITE_TAGS, trend_sets=folder)
    dialog = second.open_trend_sets()
    dialog.list.setCurrentRow(0)
    dialog.load_button.click()
    assert list(second.pens) == ["Filler.Speed", "Filler.TankLevel"]
    assert second.pens["Filler.TankLevel"].own_axis
    assert not second.pens["Filler.Speed"].visible
    assert second.span == 900.0
    assert second.mode is TrendMode.LIVE
    assert set(second.canvas.groups) == {"pen:Filler.TankLevel"}
    assert second.apply_trend_set(TrendSet("x", (PenSpec("Gone.Tag"),), 60.0)) == ["Gone.Tag"]

    dialog = second.open_trend_sets()
    dialog.list.setCurrentRow(0)
    dialog.delete_button.click()
    assert dialog.list.count() == 0
    assert TrendSetStore(folder).names() == []


def test_export_csv_asks_the_historian_at_full_resolution_and_png_grabs_the_plot(
        qloop, qtbot, tmp_path: Path):
    times, values, quality = sine_series(T0 - 86_400, T0)
    quality[-100:-90] = BAD
    values[-100:-90] = np.nan
    history = FakeHistory({"Filler.Speed": (times, values, quality),
                           "Filler.TankLevel": sine_series(T0 - 86_400, T0)})

    async def scenario() -> None:
        view = trend(qtbot, SITE_TAGS[:2], [T0], window=300.0, history=history,
                     all_tags=SITE_TAGS)
        await wait_for(lambda: view.filler.covered is not None and not view.filler.busy, 5,
                       "history")
        path = tmp_path / "visible.csv"
        rows = await view.export_csv(path)
        _, start, end, count = history.calls[-1]
        assert (start, end) == pytest.approx((T0 - 300, T0))
        assert count == 300
        # 1 s data over the 300 s in view (it ends at the column holding now), both
        # pens: every sample, not per pixel
        in_view = int(np.count_nonzero(times >= view.canvas.x_range()[0]))
        assert in_view >= 299
        assert rows == 2 * in_view
        with path.open(newline="", encoding="utf-8") as file:
            table = list(csv.DictReader(file))
        assert list(table[0]) == ["time_utc", "posix_time", "tag", "units", "value", "min",
                                  "max", "quality"]
        speed = [r for r in table if r["tag"] == "Filler.Speed"]
        assert speed[0]["time_utc"].endswith("Z")
        assert speed[0]["units"] == "bpm"
        assert float(speed[0]["posix_time"]) == T0 - in_view
        assert float(speed[0]["value"]) == pytest.approx(values[-in_view])
        bad = [r for r in speed if r["quality"] == "BAD"]
        assert len(bad) == 10
        assert all(r["value"] == "" for r in bad)

        png = view.export_png(tmp_path / "trend.png")
        image = QImage(str(png))
        assert not image.isNull()
        assert image.width() >= view.canvas.width()

    qloop.run_until_complete(scenario())


def test_export_csv_without_a_historian_writes_the_live_samples(qloop, qtbot, tmp_path: Path):
    clock = [T0 + 60]
    view = trend(qtbot, SITE_TAGS[:1], clock, window=60.0)
    for i in range(120):
        view.add_samples([sample("Filler.Speed", T0 - 60 + i, float(i),
                                 Quality.UNCERTAIN if i == 100 else Quality.GOOD)])
    view.refresh()
    view.finish_drawing()
    rows = qloop.run_until_complete(view.export_csv(tmp_path / "live.csv"))
    assert rows == 60  # the samples in the visible minute, T0 .. T0 + 59
    text = (tmp_path / "live.csv").read_text("utf-8")
    assert ",100.0,,,UNCERTAIN" in text


def test_last_shift_button_shows_the_last_completed_shift_from_history(qloop, qtbot):
    now = dt.datetime(2026, 3, 10, 15, 30).timestamp()
    starts = [dt.time(6), dt.time(14), dt.time(22)]
    history = FakeHistory({"Filler.Speed": sine_series(now - 86_400, now)})

    async def scenario() -> None:
        view = trend(qtbot, SITE_TAGS[:1], [now], history=history, shift_starts=starts)
        assert view.toolbar.last_shift.isEnabled()
        view.toolbar.last_shift.click()
        start = dt.datetime(2026, 3, 10, 6).timestamp()
        end = dt.datetime(2026, 3, 10, 14).timestamp()
        assert view.mode is TrendMode.HISTORY
        assert view.canvas.x_range() == pytest.approx((start, end))
        assert "HISTORY" in view.toolbar.status.text()
        await wait_for(lambda: bool(history.calls) and history.calls[-1][1] <= start
                       and history.calls[-1][2] >= end, 3, "history for the shift")
        view.toolbar.live.click()
        assert view.mode is TrendMode.LIVE
        assert view.canvas.x_range()[1] == pytest.approx(now)

    qloop.run_until_complete(scenario())


def test_no_shift_plan_disables_the_button(qtbot):
    view = trend(qtbot, SITE_TAGS[:1], [T0])
    assert not view.toolbar.last_shift.isEnabled()
    assert not view.toolbar.sets.isEnabled()  # no trend-set folder either


def test_range_dialog_shows_any_range_of_history_and_says_what_is_wrong(qloop, qtbot):
    now = dt.datetime(2026, 3, 10, 15, 30).timestamp()
    history = FakeHistory({"Filler.Speed": sine_series(now - 3 * 86_400, now)})

    async def scenario() -> None:
        view = trend(qtbot, SITE_TAGS[:1], [now], history=history)
        view.toolbar.range.click()
        dialog = view.findChild(QDialog, "trendRangeDialog")
        assert dialog is not None
        assert dialog.isVisible()
        start = dt.datetime(2026, 3, 8, 22).timestamp()  # "Sunday night"
        dialog.set_range(start, start - 3600)  # To before From
        assert "later than" in dialog.problem.text()
        assert not dialog.show_button.isEnabled()
        dialog.set_range(now + 3600, now + 7200)
        assert "future" in dialog.problem.text()
        assert not dialog.show_button.isEnabled()
        dialog.set_range(start, start + 60)
        qtbot.mouseClick(dialog.findChild(QPushButton, "trendRangeQuick8h"),
                         Qt.MouseButton.LeftButton)
        assert dialog.selected() == (start, start + 8 * 3600)
        assert dialog.problem.text() == ""
        qtbot.mouseClick(dialog.show_button, Qt.MouseButton.LeftButton)
        assert view.mode is TrendMode.HISTORY
        assert view.canvas.x_range() == pytest.approx((start, start + 8 * 3600), abs=1e-3)
        assert "2026-03-08 22:00" in view.toolbar.status.text()
        await wait_for(lambda: bool(history.calls) and history.calls[-1][1] <= start
                       and history.calls[-1][2] >= start + 8 * 3600, 3, "history for the range")
        await wait_for(lambda: view.pens["Filler.Speed"].series.history is not None, 3,
                       "the fill applied")
        view.finish_drawing()
        x, _ = view.pens["Filler.Speed"].curve.getData()
        assert x[0] <= start
        assert x[-1] >= start + 8 * 3600

    qloop.run_until_complete(scenario())


def test_range_dialog_quick_length_never_runs_past_now(qtbot):
    now = dt.datetime(2026, 3, 10, 15, 30).timestamp()
    view = trend(qtbot, SITE_TAGS[:1], [now])
    dialog = view.open_range_dialog()
    dialog.set_range(now - 3600, now - 1800)
    qtbot.mouseClick(dialog.findChild(QPushButton, "trendRangeQuick24h"),
                     Qt.MouseButton.LeftButton)
    assert dialog.selected() == (now - 3600, now)
    qtbot.mouseClick(dialog.findChild(QPushButton, "trendRangeCancel"), Qt.MouseButton.LeftButton)
    assert view.mode is TrendMode.LIVE


def test_the_view_draws_the_model_it_is_given_and_its_tools_change_that_model(qtbot):
    site = [make_tag("Filler.Speed", "bpm"), make_tag("Filler.Level", "%")]
    model = TrendModel(site[:1], 600.0, all_tags=site)
    clock = [T0]
    view = TrendView(model, clock=lambda: clock[0])
    view.resize(1400, 600)
    qtbot.addWidget(view)
    view.show()
    assert view.model is model
    assert view.canvas.x_range() == pytest.approx((T0 - 600, T0))
    assert model.range == view.canvas.x_range()  # the view reports its scroll

    model.add_pen("Filler.Level")  # the model changes: the view shows it
    assert list(view.pens) == ["Filler.Speed", "Filler.Level"]
    assert set(view.canvas.groups) == {"units:bpm", "units:%"}
    model.set_visible("Filler.Speed", False)
    assert view.pens["Filler.Speed"].curve.getViewBox() is None
    model.show_history(T0 - 7200, T0 - 3600)
    assert view.canvas.x_range() == pytest.approx((T0 - 7200, T0 - 3600))
    assert "HISTORY" in view.toolbar.status.text()

    view.toolbar.live.click()  # the view's tools change the model
    assert model.following
    view.toolbar.pause.click()
    assert model.paused
    view.toolbar.earlier.click()
    assert model.range == pytest.approx((T0 - 1200, T0 - 600))
    assert view.canvas.x_range() == pytest.approx((T0 - 1200, T0 - 600))
    view.panel.list.item(0).setCheckState(Qt.CheckState.Checked)
    assert model.pens["Filler.Speed"].visible
    view.add_samples([sample("Filler.Level", T0 - 900, 7.0)])  # paused: still stored
    assert len(model.pens["Filler.Level"].ring) == 1


def test_given_the_feed_the_trend_takes_its_pens_tags_and_follows_the_pens(qtbot):
    feed = TagFeed(interval_ms=10)
    clock = [T0]
    view = TrendView(SITE_TAGS[:1], 300.0, clock=lambda: clock[0], all_tags=SITE_TAGS,
                     feed=feed)
    qtbot.addWidget(view)
    speed, level = SITE_TAGS[0].name, SITE_TAGS[1].name
    assert (feed.subscriber_count(speed), feed.subscriber_count(level)) == (1, 0)
    feed.offer([sample(speed, T0 - 2, 1.0), sample(level, T0 - 2, 5.0)])
    qtbot.waitUntil(lambda: len(view.pens[speed].ring) == 1, timeout=2000)
    view.add_pen(level)  # its tag's latest at once, then what comes
    assert feed.subscriber_count(level) == 1
    assert len(view.pens[level].ring) == 1
    feed.offer([sample(speed, T0 - 1, 2.0), sample(level, T0 - 1, 6.0)])
    qtbot.waitUntil(lambda: len(view.pens[level].ring) == 2, timeout=2000)
    assert len(view.pens[speed].ring) == 2  # no sample twice for the pen that stayed
    view.remove_pen(speed)
    assert feed.subscriber_count(speed) == 0
    view.close_view()
    assert feed.subscriber_count(level) == 0
    feed.close()
