"""The trend's state without a widget (hmi.core.trend_model): live and history, pause
(data keeps arriving), span, paging, pens, and what listeners are told."""

from __future__ import annotations

import math

import pytest

from hmi.core.datatypes import DataType
from hmi.core.samples import Quality, Sample
from hmi.core.site import ModbusAddress, RegisterTable, Tag
from hmi.core.trend_model import (
    MAX_SPAN,
    MIN_SPAN,
    PenState,
    TrendChange,
    TrendMode,
    TrendModel,
)

T0 = 1_700_000_000.0


def tag(name: str, units: str = "") -> Tag:
    return Tag(name, "plc", ModbusAddress(RegisterTable.HOLDING_REGISTER, 0), DataType.FLOAT32,
               units=units)


SITE = [tag("A.Speed", "bpm"), tag("A.Level", "%"), tag("B.Level", "%"), tag("B.Temp", "°C")]


def model_with(*names: str, span: float = 300.0) -> tuple[TrendModel, list[TrendChange]]:
    model = TrendModel([t for t in SITE if t.name in names], span, all_tags=SITE,
                       ring_capacity=100)
    heard: list[TrendChange] = []
    model.subscribe(heard.append)
    return model, heard


def sample(name: str, t: float, value: float | None,
           quality: Quality = Quality.GOOD) -> Sample:
    return Sample(name, value, quality, t, t)


def test_a_new_model_follows_now_over_its_span_clamped_to_the_offered_windows():
    model, _ = model_with("A.Speed")
    assert (model.mode, model.paused, model.span) == (TrendMode.LIVE, False, 300.0)
    assert model.following
    assert TrendModel(span=5.0).span == MIN_SPAN
    assert TrendModel(span=10 * 86_400).span == MAX_SPAN


def test_pause_holds_the_view_while_samples_keep_arriving():
    model, heard = model_with("A.Speed")
    model.set_range(T0 - 300, T0)  # the view's live scroll
    model.set_paused(True)
    assert model.paused
    assert not model.following
    assert heard[-1] == TrendChange.PAUSED  # no NOW: a paused view stays where it is
    model.add_samples([sample("A.Speed", T0 + i, float(i)) for i in range(10)])
    model.add_samples([sample("B.Temp", T0, 1.0)])  # not a pen: ignored
    assert model.range == (T0 - 300, T0)
    times, values = model.pens["A.Speed"].ring.values.view()
    assert list(times) == [T0 + i for i in range(10)]
    assert values[-1] == 9.0
    assert model.new_data_since == T0  # the oldest sample not drawn yet
    model.data_drawn()
    assert model.new_data_since == math.inf

    model.set_paused(False)
    assert model.following
    assert heard[-1] == TrendChange.PAUSED | TrendChange.NOW  # jump to now at once


def test_pause_means_nothing_in_history_and_a_repeat_says_nothing():
    model, heard = model_with("A.Speed")
    model.set_paused(True)
    count = len(heard)
    model.set_paused(True)
    assert len(heard) == count
    model.show_history(T0 - 3600, T0)
    model.set_paused(True)
    assert not model.paused
    assert model.mode is TrendMode.HISTORY


def test_history_is_a_fixed_range_and_going_live_leaves_it_with_the_span_asked():
    model, heard = model_with("A.Speed")
    model.set_paused(True)
    heard.clear()
    model.show_history(T0 - 8 * 3600, T0 - 3600)
    assert model.mode is TrendMode.HISTORY
    assert not model.paused
    assert model.range == (T0 - 8 * 3600, T0 - 3600)
    assert heard == [TrendChange.MODE | TrendChange.PAUSED | TrendChange.RANGE]
    with pytest.raises(ValueError, match="reversed"):
        model.show_history(T0, T0 - 1)
    assert model.range == (T0 - 8 * 3600, T0 - 3600)

    heard.clear()
    model.go_live(3600.0)
    assert model.following
    assert model.span == 3600.0
    assert heard == [TrendChange.NOW | TrendChange.SPAN | TrendChange.MODE]
    heard.clear()
    model.go_live()  # already live: still "jump to now" (the operator pressed Live)
    assert heard == [TrendChange.NOW]


def test_paging_moves_a_screen_and_pauses_a_live_view():
    model, heard = model_with("A.Speed")
    model.page(-1)  # nothing on screen yet: nothing to page
    assert model.range is None
    assert not heard
    model.set_range(T0 - 300, T0)
    model.page(-1)
    assert model.range == (T0 - 600, T0 - 300)
    assert model.paused
    assert heard[-1] == TrendChange.RANGE | TrendChange.PAUSED
    model.page(+1)
    assert model.range == (T0 - 300, T0)
    assert heard[-1] == TrendChange.RANGE  # already paused

    model.show_history(T0 - 7200, T0 - 3600)
    model.page(-1)
    assert model.range == (T0 - 10_800, T0 - 7200)
    assert model.mode is TrendMode.HISTORY
    assert not model.paused


def test_set_range_tells_only_a_real_change():
    model, heard = model_with("A.Speed")
    model.set_range(T0 - 300, T0)
    model.set_range(T0 - 300, T0)
    model.set_range(T0, T0 - 300)  # reversed: not a range
    assert heard == [TrendChange.RANGE]
    assert model.following  # a live scroll does not pause


def test_pens_are_added_removed_and_reordered_keeping_their_data():
    model, heard = model_with("A.Speed", "A.Level")
    assert model.tags() == ["A.Speed", "A.Level"]
    model.add_samples([sample("A.Level", T0, 5.0)])
    added = model.add_pen("B.Temp")
    assert added.tag.units == "°C"
    assert model.add_pen("B.Temp") is added  # once
    assert heard == [TrendChange.PENS]
    with pytest.raises(KeyError):
        model.add_pen("No.Such")
    level = model.pens["A.Level"]

    missing = model.set_pens(["B.Temp", "A.Level", "No.Such"])
    assert missing == ["No.Such"]
    assert model.tags() == ["B.Temp", "A.Level"]
    assert model.pens["A.Level"] is level
    assert len(level.ring) == 1  # kept its live data
    model.remove_pen("B.Temp")
    model.remove_pen("B.Temp")
    assert model.tags() == ["A.Level"]
    assert heard.count(TrendChange.PENS) == 3


def test_visibility_and_own_axis_and_a_saved_set():
    model, heard = model_with("A.Level", "B.Level")
    assert model.pens["A.Level"].axis_key == model.pens["B.Level"].axis_key == "units:%"
    model.set_own_axis("B.Level", True)
    assert model.pens["B.Level"].axis_key == "pen:B.Level"
    assert model.pens["B.Level"].axis_label() == "B.Level [%]"
    model.set_visible("A.Level", False)
    model.set_visible("A.Level", False)  # no change, no word
    assert [p.name for p in model.visible_pens()] == ["B.Level"]
    assert heard == [TrendChange.PENS, TrendChange.PENS]

    states = [PenState("B.Temp", own_axis=True), PenState("A.Level", visible=True),
              PenState("Gone.Tag")]
    assert model.apply_pens(states) == ["Gone.Tag"]
    assert [p.state() for p in model.pens.values()] == [
        PenState("B.Temp", True, True), PenState("A.Level", False, True)]


def test_bad_samples_are_gaps_and_a_listener_can_leave():
    model, heard = model_with("A.Speed")
    model.add_samples([sample("A.Speed", T0, 1.0),
                       sample("A.Speed", T0 + 1, None, Quality.BAD)])
    _, values = model.pens["A.Speed"].ring.values.view()
    assert values[0] == 1.0
    assert math.isnan(values[1])
    other: list[TrendChange] = []
    leave = model.subscribe(other.append)
    model.go_live(900.0)
    leave()
    leave()
    model.go_live(3600.0)
    assert len(other) == 1
    assert len(heard) == 2
