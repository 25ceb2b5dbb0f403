"""Production on the trend: each event's period a span on the time axis with its count
and state; a new period and a confirmation show without reopening the window. The real
runtime and window on a SQLite file."""

from __future__ import annotations

from pathlib import Path

from hmi.core.markers import MarkerKind
from hmi.gui.production_markers import marker_for
from tests.conftest import wait_for
from tests.gui.accounts import run, shot, station


def _production(window) -> dict[str, str]:
    return {m.key: m.label for m in window.trend.markers.markers()
            if m.kind is MarkerKind.PRODUCTION}


def test_production_periods_are_spans_on_the_trend_and_follow_confirmation(
        qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto")
        event = st.add_event(good=1234, reject=3)  # stored and announced as the recorder does
        key = f"production:{event.event_id}"
        run(qloop, wait_for(lambda: key in _production(st.window), 5, "the span shown"))
        assert _production(st.window)[key] == "Line 1: 1,234 bottles good, 3 rejected " \
                                              "(to confirm)"
        [marker] = [m for m in st.window.trend.markers.markers() if m.key == key]
        assert (marker.time, marker.end) == (event.period_start, event.period_end)
        actor = run(qloop, st.login("o.otto"))
        run(qloop, st.runtime.production.confirm(event.event_id, actor))
        run(qloop, wait_for(lambda: _production(st.window)[key].endswith("(confirmed)"), 5,
                            "the confirmation shown"))
        drawn = st.window.trend.markers.item(key)
        run(qloop, st.window.production_markers._read())  # nothing changed: not redrawn
        assert st.window.trend.markers.item(key) is drawn
        st.window.trend.show_history(event.period_start - 600, event.period_end + 600)
        st.window.trend.refresh(force=True)
        shot(st.window.trend, "production-markers.png")


def test_a_period_with_the_counter_offline_says_so():
    from hmi.core.events import ProductionEvent

    event = ProductionEvent("e1", "rule", "", 0.0, 60.0, 5, 0, "pcs", False)
    assert marker_for(event).label == ("5 pcs good, 0 rejected (to confirm) — counter "
                                       "offline part of the period")
