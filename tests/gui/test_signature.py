"""The electronic signature before a signed confirmation: meaning, signer and time shown;
user name and password the first time in a session, the password alone later; a wrong
password confirms nothing."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from hmi.core import audit as events
from hmi.core.events import EventState
from hmi.gui.signature import SignatureDialog
from tests.conftest import wait_for
from tests.gui.accounts import MEANING, PASSWORDS, run, shot, station


def _open_signature(qloop, qtbot, view) -> SignatureDialog:
    async def scenario() -> None:
        await wait_for(lambda: view.selected_event() is not None
                       and view.confirm_button.isEnabled(), 5, "an event to confirm")
        qtbot.mouseClick(view.confirm_button, Qt.MouseButton.LeftButton)
        await wait_for(lambda: view.signature_dialog is not None
                       and view.signature_dialog.isVisible(), 5, "the signature dialog")

    run(qloop, scenario())
    dialog = view.signature_dialog
    assert isinstance(dialog, SignatureDialog)
    return dialog


def _sign(qloop, qtbot, dialog: SignatureDialog, password: str, name: str = "") -> None:
    async def scenario() -> None:
        dialog.message.setText("")  # the next answer, not the previous one
        if name:
            qtbot.keyClicks(dialog.name, name)
        qtbot.keyClicks(dialog.password, password)
        qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
        await wait_for(lambda: not dialog.isVisible() or (
            dialog.submit_button.isEnabled()
            and dialog.message.text() not in ("", "Checking…")), 10, "the signature checked")

    run(qloop, scenario())


def test_first_signature_asks_name_and_password_later_only_password(qloop, qtbot,
                                                                    tmp_path: Path):
    with station(qloop, qtbot, tmp_path, signed=True) as st:
        st.add_users("o.otto")
        first = st.add_event(good=1234)
        view = st.window.events
        run(qloop, st.login("o.otto"))

        dialog = _open_signature(qloop, qtbot, view)
        assert dialog.heading.text() == f"Sign: {MEANING}"
        assert dialog.signer.text() == "Otto Operator (o.otto) · Operator"
        assert dialog.clock.text()[:2] == "20"  # a date and time, ticking
        assert "Confirm 1,234 bottles good" in dialog.subject.text()
        assert dialog.asks_name
        assert dialog.name.isVisible(), "the first signature of a session takes the name"
        assert not view.confirm_button.isEnabled(), "no second click while signing"
        shot(dialog, "signature-dialog-first.png")
        _sign(qloop, qtbot, dialog, PASSWORDS["o.otto"], name="o.otto")
        assert not dialog.isVisible()
        run(qloop, wait_for(lambda: "Confirmed" in view.feedback.text(), 10,
                                          "the confirmation"))
        assert "Signed by Otto Operator (o.otto) at " in view.feedback.text()
        assert view.feedback.text().endswith(MEANING)
        stored = st.runtime.events.get(first.event_id)
        assert stored is not None
        assert stored.state is EventState.CONFIRMED
        row = next(r for r in st.runtime.audit.rows() if r.action == "confirm_event")
        assert (row.user, row.meaning) == ("o.otto", MEANING)

        second = st.add_event(good=77)
        run(qloop, wait_for(
            lambda: view.selected_event() is not None
            and view.selected_event().event_id == second.event_id, 5, "the second event"))
        dialog = _open_signature(qloop, qtbot, view)
        assert not dialog.asks_name
        assert not dialog.name.isVisible(), "later signatures: the password alone"
        shot(dialog, "signature-dialog-password-only.png")
        _sign(qloop, qtbot, dialog, PASSWORDS["o.otto"])
        run(qloop, wait_for(lambda: "Confirmed 77" in view.feedback.text(), 10,
                                          "the second confirmation"))


def test_wrong_password_is_refused_and_nothing_is_confirmed(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path, signed=True) as st:
        st.add_users("o.otto")
        event = st.add_event()
        view = st.window.events
        run(qloop, st.login("o.otto"))
        dialog = _open_signature(qloop, qtbot, view)

        _sign(qloop, qtbot, dialog, "not my password 9", name="o.otto")
        assert dialog.isVisible()
        assert dialog.message.text() == "Not signed: Wrong user name or password."
        assert dialog.message.property("abnormal") is True
        shot(dialog, "signature-refused.png")

        dialog.name.clear()
        _sign(qloop, qtbot, dialog, PASSWORDS["o.otto"], name="j.smith")
        assert "Sign as yourself: o.otto is logged in here" in dialog.message.text()

        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        assert not dialog.isVisible()
        assert view.feedback.text() == "Not confirmed: not signed."
        assert view.confirm_button.isEnabled(), "can try again"
        stored = st.runtime.events.get(event.event_id)
        assert stored is not None
        assert stored.state is EventState.PENDING, "nothing was confirmed"
        actions = [a for _, a in st.audit_actions()]
        assert events.SIGNATURE_FAILED in actions
        assert "confirm_event" not in actions


def test_idle_lock_closes_the_signature_dialog(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path, signed=True) as st:
        st.add_users("o.otto")
        st.add_event()
        view = st.window.events
        run(qloop, st.login("o.otto"))
        dialog = _open_signature(qloop, qtbot, view)
        st.runtime.session.idle_lock_minutes = 0.001
        st.runtime.session.idle_seconds = lambda: 600.0
        assert run(qloop, st.access.check_idle())
        assert not dialog.isVisible()
        assert not view.confirm_button.isEnabled()
        assert view.confirm_button.toolTip() == "Log in to confirm production"
