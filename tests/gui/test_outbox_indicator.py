"""The MES outbox on every screen (the status bar): all sent, how many wait and since
when, held with the reason when sending cannot go (no credential), the MES's rejections
in red. The real runtime and window on a SQLite file."""

from __future__ import annotations

from pathlib import Path

from hmi.gui.outbox_indicator import age_text, describe
from hmi.mes.secrets import install_memory_keyring
from tests.conftest import wait_for
from tests.gui.accounts import run, shot, station


def test_the_line_says_what_waits_since_when_and_why_it_is_held():
    now = 10_000.0
    assert describe({"sent": 4}, None, "", now) == ("MES: all sent (4)", "")
    assert describe({"pending": 2, "sent": 4}, now - 30, "", now) == (
        "MES: 2 waiting to send, oldest 30 s", "")
    assert describe({"pending": 2}, now - 600, "", now)[1] == "attention"  # long
    text, look = describe({"pending": 2}, now - 30, "no API key in the keyring", now)
    assert text == "MES: 2 waiting to send, oldest 30 s — held: no API key in the keyring"
    assert look == "attention"
    assert describe({}, None, "no API key", now)[0] == "MES: all sent (0) — held: no API key"
    assert describe({"rejected": 1}, None, "", now) == (
        "MES: all sent (0) · 1 rejected by the MES: see Production", "abnormal")
    assert (age_text(42), age_text(600), age_text(7200)) == ("42 s", "10 min", "2.0 h")


def test_a_confirmation_held_for_a_missing_credential_is_said_on_every_screen(
        qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto")
        indicator = st.window.outbox_indicator
        run(qloop, wait_for(lambda: indicator.label.text().startswith("MES: all sent"), 5,
                            "the first reading"))
        event = st.add_event()
        actor = run(qloop, st.login("o.otto"))
        run(qloop, st.runtime.production.confirm(event.event_id, actor))
        run(qloop, wait_for(lambda: "1 waiting to send" in indicator.label.text(), 5,
                            "the confirmation queued"))
        assert indicator.label.property("attention") is not True
        install_memory_keyring({})  # the API key gone from the keyring
        assert st.runtime.sender is not None
        run(qloop, st.runtime.sender.send_due_once())
        run(qloop, wait_for(lambda: "held:" in indicator.full_text, 5, "held said"))
        assert indicator.label.text().startswith("MES: 1 waiting to send, oldest ")
        assert "hmi secrets set demo-mes-api-key" in indicator.label.toolTip()
        assert st.window.statusBar().width() <= st.window.width()  # not widened
        assert indicator.label.property("attention") is True
        shot(st.window.statusBar(), "outbox-held.png")
