"""The alarm screens on the real runtime (engine, store, users, audit on a SQLite file),
alarms raised by samples on the bus as the devices would put them: the banner (most
urgent first, a flood counted), the Alarms tab and its filters, the horn through a real
player process (silence is not acknowledge), acknowledge with a comment where the
priority asks, shelve with a reason and a signature, permissions in words, the details
with the guidance and history, the journal's search and CSV export, trend markers."""

from __future__ import annotations

import asyncio
import csv
import sys
import time
from pathlib import Path

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QSplitter, QWidget

from hmi.core.alarm_rules import Priority
from hmi.core.alarm_states import AlarmEvent, AlarmState
from hmi.core.samples import Quality, Sample
from hmi.core.security import Action
from hmi.gui.alarm_dialogs import AlarmActionDialog, AlarmDetailsDialog
from hmi.gui.alarm_journal_view import csv_safe
from hmi.gui.alarm_sound import CommandPlayer
from hmi.gui.signature import SignatureDialog
from tests.conftest import wait_for
from tests.gui.accounts import PASSWORDS, shot, station

SHELVE_MEANING = "shelved an alarm, with the reason given"
PLAYER = """
import sys, time
with open(sys.argv[1], "a") as log:
    log.write(sys.argv[2].rsplit("/", 1)[-1] + "\\n")
time.sleep(0.3)
"""


def put(st, tag: str, value, quality: Quality = Quality.GOOD) -> None:
    now = time.time()
    st.runtime.bus.put([Sample(tag, value, quality, now, now)])


def run(loop, work):
    """Run ``work`` on the loop (the station's consumers keep running between runs)."""
    return loop.run_until_complete(work)


def live(qloop, st, body) -> None:
    """Start the station's consumers, run ``body``, stop them: all in one run of the
    loop (a consumer resumed between runs would find no running loop)."""
    async def scenario() -> None:
        st.runtime.bus.attach(qloop)
        st.runtime.runner.start()
        st.window.show_alarm_list()  # the Alarms tab, where the operator works
        try:
            await wait_for(lambda: st.runtime.alarms._loaded, 5, "the alarm states loaded")
            await body()
        finally:
            await st.runtime.runner.stop()

    run(qloop, scenario())


def state(st, name: str) -> AlarmState:
    return st.runtime.alarms.record(name).alarm.state


def shown(st) -> None:
    """Let the views take in what the engine said."""
    st.window.alarm_model.apply_pending()


async def raise_alarms(st) -> None:
    put(st, "Filler.Fault", True)  # high
    put(st, "Filler.TankLow", True)  # medium
    put(st, "Capper.State", "FAULT")  # high
    await wait_for(lambda: state(st, "Capper.Fault") is AlarmState.UNACKED, 5,
                        "the capper's fault raised")
    shown(st)


def player(tmp_path: Path) -> tuple[CommandPlayer, Path]:
    script = tmp_path / "player.py"
    script.write_text(PLAYER)
    log = tmp_path / "played.txt"
    return CommandPlayer([sys.executable, str(script), str(log)]), log


def test_raised_alarms_show_in_the_banner_the_list_and_the_tab_most_urgent_first(
        qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        async def body() -> None:
            banner = st.window.alarm_banner
            assert banner.quiet.isVisible() and banner.quiet.text() == "No active alarms"
            await raise_alarms(st)
            # newest first within a priority: the capper's fault came last
            assert banner.shown_alarms() == ["Capper.Fault", "Filler.Fault", "Filler.TankLow"]
            assert not banner.quiet.isVisible()
            tabs = st.window._tabs
            assert tabs.tabText(0) == "Alarms — 3 unacknowledged"
            view = st.window.alarm_view
            names = [row.name for row in view.proxy.shown_rows()]
            assert names == ["Capper.Fault", "Filler.Fault", "Filler.TankLow"]
            assert view.proxy.shown_rows()[0].value == "FAULT"
            # filters: priority, area, state
            view.priority_filter.setCurrentIndex(view.priority_filter.findData(Priority.MEDIUM))
            assert [row.name for row in view.proxy.shown_rows()] == ["Filler.TankLow"]
            view.priority_filter.setCurrentIndex(0)
            view.area_filter.setCurrentIndex(view.area_filter.findData("Capping"))
            assert [row.name for row in view.proxy.shown_rows()] == ["Capper.Fault"]
            view.area_filter.setCurrentIndex(0)
            # back to normal: still unacknowledged (returned to normal, unacked)
            put(st, "Filler.TankLow", False)
            await wait_for(lambda: state(st, "Filler.TankLow") is AlarmState.RTN_UNACKED,
                                5, "tank low cleared")
            shown(st)
            assert "Cleared, UNACK" in view.proxy.data(view.proxy.index(2, 1))
            # the banner's "Alarm list" opens the tab, which takes the trend's height
            splitter = st.window.findChild(QSplitter, "mainSplitter")
            st.window._tabs.setCurrentWidget(st.window.findChild(QWidget, "tagsTab"))
            trend_before = splitter.sizes()[0]
            assert trend_before > 0
            st.window.alarm_banner.list_button.click()
            assert st.window._tabs.currentWidget().objectName() == "alarmsTab"
            assert splitter.sizes()[0] < trend_before
            shot(st.window, "alarms-main-window.png")

        live(qloop, st, body)


def test_the_horn_sounds_the_most_urgent_priority_until_silenced_and_again_for_a_new_alarm(
        qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        async def body() -> None:
            horn = st.window.annunciator
            sound, log = player(tmp_path)
            horn.use_player(sound)
            put(st, "Filler.TankLow", True)
            await wait_for(lambda: state(st, "Filler.TankLow") is AlarmState.UNACKED, 5,
                                "tank low")
            shown(st)
            assert horn.sounding is Priority.MEDIUM
            await wait_for(lambda: log.exists() and "alarm-medium.wav" in log.read_text(),
                                5, "the player started")
            await raise_alarms(st)
            assert horn.sounding is Priority.HIGH  # the most urgent chooses
            # played again and again: the phrase repeats while it sounds
            await wait_for(lambda: log.read_text().count("alarm-high.wav") >= 2, 5,
                                "the high sound repeated")
            banner = st.window.alarm_banner
            assert banner.silence_button.isVisible()
            banner.silence_button.click()
            assert horn.sounding is None
            assert not banner.silence_button.isVisible()
            assert state(st, "Filler.Fault") is AlarmState.UNACKED  # silence is not ack
            played = log.read_text().count("\n")
            await asyncio.sleep(0.8)  # the horn's poll would start it again
            assert log.read_text().count("\n") <= played + 1  # at most the one ending
            # a new alarm sounds again
            put(st, "Filler.TankLevel", 2.0)
            await wait_for(lambda: state(st, "Filler.TankLevel.LoLo")
                                is AlarmState.UNACKED, 8, "tank empty after its 3 s delay")
            shown(st)
            assert horn.sounding is Priority.CRITICAL

        live(qloop, st, body)


def test_an_operator_acknowledges_with_the_comment_a_critical_alarm_asks_for(
        qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto")
        async def body() -> None:
            view = st.window.alarm_view
            assert not view.ack_button.isEnabled()
            assert "Log in to acknowledge, shelve or take alarms out of service" in view.hint.text()
            put(st, "Filler.TankLevel", 2.0)
            put(st, "Filler.Fault", True)
            await wait_for(lambda: state(st, "Filler.TankLevel.LoLo")
                                is AlarmState.UNACKED, 8, "tank empty")
            shown(st)
            await st.login("o.otto")
            # the high one: one touch, no comment asked
            view.select("Filler.Fault")
            assert view.ack_button.isEnabled()
            view.ack_button.click()
            await wait_for(lambda: state(st, "Filler.Fault") is AlarmState.ACKED, 5,
                                "fault acknowledged")
            assert view.feedback.text() == "Acknowledged."
            # the critical one: a comment is required; empty is refused in the dialog
            view.select("Filler.TankLevel.LoLo")
            view.ack_button.click()
            dialog = view.dialog
            assert isinstance(dialog, AlarmActionDialog) and dialog.isVisible()
            assert dialog.text.placeholderText() == "Comment (required)"
            dialog.submit_button.click()
            assert "required" in dialog.message.text()
            dialog.text.setText("bad\x07comment")
            dialog.submit_button.click()
            await wait_for(lambda: dialog.submit_button.isEnabled(), 5, "the refusal")
            assert "control character (U+0007)" in dialog.message.text()
            assert state(st, "Filler.TankLevel.LoLo") is AlarmState.UNACKED  # nothing changed
            shot(dialog, "alarm-ack-comment-refused.png")
            dialog.text.setText("refill valve opened by hand")
            dialog.submit_button.click()
            await wait_for(lambda: state(st, "Filler.TankLevel.LoLo") is AlarmState.ACKED,
                                5, "critical acknowledged")
            assert not dialog.isVisible()
            rows = [r for r in st.runtime.alarm_store.journal() if r.event is AlarmEvent.ACK]
            assert [(r.name, r.user, r.comment) for r in rows] == [
                ("Filler.Fault", "o.otto", ""),
                ("Filler.TankLevel.LoLo", "o.otto", "refill valve opened by hand")]
            audit = [a for u, a in st.audit_actions() if u == "o.otto"]
            assert audit.count("ack_alarm:acknowledge") == 2

        live(qloop, st, body)


def test_a_double_tap_on_acknowledge_acknowledges_once(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto")

        async def body() -> None:
            await raise_alarms(st)
            await st.login("o.otto")
            view = st.window.alarm_view
            view.select("Filler.Fault")
            view.ack_button.click()
            assert not view.ack_button.isEnabled()  # on its way: a second tap waits
            view.ack_button.click()
            await wait_for(lambda: state(st, "Filler.Fault") is AlarmState.ACKED, 5, "ack")
            await wait_for(lambda: view.feedback.text() != "", 5, "the answer")
            assert view.feedback.text() == "Acknowledged."
            rows = [r for r in st.runtime.alarm_store.journal()
                    if r.event is AlarmEvent.ACK]
            assert [r.name for r in rows] == ["Filler.Fault"]

        live(qloop, st, body)


def test_acknowledge_all_shown_asks_first_and_takes_only_what_the_filter_shows(
        qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto")
        async def body() -> None:
            await raise_alarms(st)
            await st.login("o.otto")
            view = st.window.alarm_view
            view.area_filter.setCurrentIndex(view.area_filter.findData("Filling"))
            assert view.ack_all_button.text() == "Acknowledge all shown (2)"
            view.ack_all_button.click()
            dialog = view.dialog
            assert isinstance(dialog, AlarmActionDialog)
            assert dialog.subject.text() == "2 alarms\n(1 high, 1 medium)"
            assert state(st, "Filler.Fault") is AlarmState.UNACKED  # not before the answer
            dialog.submit_button.click()
            await wait_for(lambda: state(st, "Filler.TankLow") is AlarmState.ACKED, 5,
                                "both acknowledged")
            assert state(st, "Filler.Fault") is AlarmState.ACKED
            assert state(st, "Capper.Fault") is AlarmState.UNACKED  # filtered out: untouched
            assert view.feedback.text() == "Acknowledged: 2 alarms."

        live(qloop, st, body)


def test_shelving_needs_the_permission_a_reason_and_the_signature_and_is_capped(
        qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path, signed={Action.SHELVE_ALARM: SHELVE_MEANING}) as st:
        st.add_users("o.otto", "m.maier")
        async def body() -> None:
            await raise_alarms(st)
            view = st.window.alarm_view
            await st.login("o.otto")
            view.select("Filler.Fault")
            assert not view.shelve_button.isEnabled()
            assert "Shelve: Needs the role" in view.hint.text()  # operators may not, in words
            await st.login("m.maier")
            view.select("Filler.Fault")
            assert view.shelve_button.isEnabled() and not view.hint.isVisible()
            view.shelve_button.click()
            dialog = view.dialog
            assert isinstance(dialog, AlarmActionDialog)
            # the site's cap (480 min by default) bounds the choices
            assert sorted(dialog.minute_buttons) == [15, 30, 60, 120, 240, 480]
            dialog.minute_buttons[60].click()
            dialog.submit_button.click()
            assert "required" in dialog.message.text()  # a reason is
            dialog.text.setText("sensor being replaced, work order 4711")
            shot(dialog, "alarm-shelve-dialog.png")
            dialog.submit_button.click()
            signing = view.signature_dialog
            assert isinstance(signing, SignatureDialog) and signing.isVisible()
            assert "shelved an alarm" in signing.heading.text()
            signing.password.setText(PASSWORDS["m.maier"])
            if signing.asks_name:  # the session's first signature: name and password
                signing.name.setText("m.maier")
            signing.submit_button.click()
            await wait_for(lambda: state(st, "Filler.Fault") is AlarmState.SHELVED, 5,
                           "shelved")
            until = st.runtime.alarms.record("Filler.Fault").alarm.shelved_until
            assert until is not None and 3590 < until - time.time() <= 3600
            shown(st)
            # not in the active list any more; in the Shelved filter, with its end
            assert "Filler.Fault" not in [r.name for r in view.proxy.shown_rows()]
            view.state_filter.setCurrentIndex(view.state_filter.findData("Shelved"))
            assert [r.name for r in view.proxy.shown_rows()] == ["Filler.Fault"]
            assert view.proxy.data(view.proxy.index(0, 1)).startswith("Shelved to ")
            audit = [r for r in st.runtime.audit.rows() if r.action == "shelve_alarm:shelve"]
            assert len(audit) == 1 and audit[0].reason == "sensor being replaced, work order 4711"
            assert audit[0].meaning.startswith("shelved an alarm")
            # unshelve: by hand it comes back acknowledged (ISA-18.2 11.7.3)
            view.select("Filler.Fault")
            assert view.unshelve_button.isEnabled()
            view.unshelve_button.click()
            unshelving = view.dialog
            assert unshelving is not dialog
            unshelving.submit_button.click()
            signing = view.signature_dialog  # unshelving is signed like shelving
            assert isinstance(signing, SignatureDialog) and signing.isVisible()
            signing.password.setText(PASSWORDS["m.maier"])
            signing.submit_button.click()
            await wait_for(lambda: state(st, "Filler.Fault") is AlarmState.ACKED, 5,
                           "unshelved")

        live(qloop, st, body)


def test_the_banner_announces_critical_alarms_one_by_one_in_a_flood_and_counts_the_rest(
        qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        async def body() -> None:
            put(st, "Filler.TankLevel", 2.0)
            await raise_alarms(st)
            put(st, "Capper.Temperature", 99.0)
            put(st, "Filler.ProductTemp", 20.0)
            await wait_for(lambda: state(st, "Capper.Temperature.High")
                                is AlarmState.UNACKED and state(st, "Filler.TankLevel.LoLo")
                                is AlarmState.UNACKED, 12, "the delayed alarms")
            shown(st)
            banner = st.window.alarm_banner
            lines = banner.shown_alarms()
            assert lines[0] == "Filler.TankLevel.LoLo"  # the critical one first
            assert len(lines) == 3
            assert banner.more.isVisible()
            unacked = st.window.alarm_model.counts()["unacked"]
            assert banner.more.text().startswith(f"{unacked - 3} more unacknowledged")
            shot(banner, "alarm-banner-flood.png")
            # a line opens the alarm's details, with the guidance and the history
            line = next(b for b in banner._lines if b.property("alarm") == "Filler.Fault")
            line.click()
            await wait_for(lambda: isinstance(st.window.alarm_view.dialog,
                                                   AlarmDetailsDialog), 5, "the details")
            details = st.window.alarm_view.dialog
            assert details.fact_labels["What to do"].text().startswith("Clear the jam")
            assert details.fact_labels["Condition"].text() == "Filler.Fault is ON"
            await wait_for(lambda: details.history.rowCount() >= 1, 5, "its history")
            assert details.history.item(0, 1).text().startswith("activate")
            shot(details, "alarm-details.png")

        live(qloop, st, body)


def test_the_journal_searches_filters_and_exports_every_alarm_to_csv(
        qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto")
        async def body() -> None:
            await raise_alarms(st)
            await st.login("o.otto")
            st.window.alarm_view.select("Filler.Fault")
            st.window.alarm_view.ack_button.click()
            await wait_for(lambda: state(st, "Filler.Fault") is AlarmState.ACKED, 5, "ack")
            journal = st.window.alarm_journal
            # three raised, the torque deviation suppressed (the capper is not running), one
            # acknowledged
            await wait_for(lambda: len(st.runtime.alarm_store.journal()) >= 5, 5,
                                "the journal written")
            assert await journal.reload() == 5
            journal.search.setText("otto")
            assert journal._apply_filter() == 1
            assert journal.model.lines[0].event is AlarmEvent.ACK
            journal.search.setText("")
            journal.area.setCurrentIndex(journal.area.findData("Capping"))
            assert journal._apply_filter() == 2
            journal.area.setCurrentIndex(0)
            journal._apply_filter()
            st.window._tabs.setCurrentWidget(st.window.findChild(type(journal.parent()),
                                                                 "journalTab"))
            shot(st.window, "alarm-journal.png")
            # logged out (no permission at all): the export still has every alarm
            await st.access.lock()
            out = tmp_path / "journal.csv"
            assert await journal.export_to(out) == 5
            with out.open(newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            assert {r["alarm"] for r in rows} == {"Filler.Fault", "Filler.TankLow",
                                                 "Capper.Fault", "Capper.Torque.Deviation"}
            ack = next(r for r in rows if r["event"] == "acknowledge")
            assert (ack["user"], ack["priority"], ack["area"]) == ("o.otto", "high", "Filling")
            assert csv_safe("=cmd()") == "'=cmd()" and csv_safe("ok") == "ok"

        live(qloop, st, body)


def test_alarms_on_a_trend_pen_are_marked_and_a_marker_opens_the_alarm(
        qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        async def body() -> None:
            trend = st.window.trend
            trend.set_pens(["Capper.State", "Filler.Speed"])
            st.window.alarm_markers.show([])  # pens changed: the markers follow from now
            put(st, "Capper.State", "FAULT")
            put(st, "Filler.Fault", True)  # not on the trend: no marker
            await wait_for(lambda: state(st, "Filler.Fault") is AlarmState.UNACKED, 5,
                                "raised")
            keys = [m.key for m in trend.markers.markers()]
            assert [k for k in keys if k.startswith("alarm:")] == ["alarm:Capper.Fault:1:activate"]
            put(st, "Capper.State", "RUNNING")
            await wait_for(lambda: len(trend.markers) >= 2, 5, "the return marked")
            assert trend.markers.markers()[-1].label.endswith("returned to normal")
            # a click on the marker's line opens the alarm's details
            trend.refresh(force=True)
            item = trend.markers.item("alarm:Capper.Fault:1:activate")
            view = trend.canvas.view
            scene = view.mapViewToScene(QPointF(item.value(), sum(view.viewRange()[1]) / 2))
            widget = trend.canvas
            point = widget.mapFromScene(scene)
            QTest.mouseClick(widget.viewport(), Qt.MouseButton.LeftButton, pos=point)
            await wait_for(lambda: isinstance(st.window.alarm_view.dialog,
                                                   AlarmDetailsDialog), 5, "the details")
            assert st.window.alarm_view.dialog.rule.name == "Capper.Fault"

        live(qloop, st, body)
