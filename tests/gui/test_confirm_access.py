"""Confirm follows the permission map: disabled with the reason for a logged-out window
and for a role without confirm_event, enabled for an operator; re-checked on every
change of user; a refusal by the service is shown in words."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from hmi.core.events import EventState
from hmi.core.security import Action
from tests.conftest import wait_for
from tests.gui.accounts import run, shot, station


def _has_event(view) -> bool:
    return view.list.count() >= 1 and view.selected_event() is not None


def test_confirm_is_disabled_with_the_reason_until_an_operator_logs_in(qloop, qtbot,
                                                                       tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto", "m.maier")
        st.add_event()
        view = st.window.events
        run(qloop, wait_for(lambda: _has_event(view), 5, "the event listed"))
        permissions = st.runtime.guard.settings.permissions

        assert not view.confirm_button.isEnabled()
        assert view.confirm_button.toolTip() == "Log in to confirm production"
        assert view.permission_hint.text() == "Log in to confirm production"

        run(qloop, st.login("m.maier"))  # maintenance: no confirm_event
        assert not view.confirm_button.isEnabled()
        why = permissions.why_not(Action.CONFIRM_EVENT)
        assert view.confirm_button.toolTip() == why
        assert why.startswith("Needs the role Operator, Shift lead, Administrator")
        assert view.permission_hint.text() == why
        assert not view.comment.isEnabled()
        shot(view, "confirm-disabled-maintenance.png")

        run(qloop, st.login("o.otto"))  # switch: re-checked
        assert view.confirm_button.isEnabled()
        assert view.confirm_button.toolTip() == ""
        assert not view.permission_hint.isVisible()
        assert view.comment.isEnabled()

        run(qloop, st.access.lock())
        assert not view.confirm_button.isEnabled()
        assert view.confirm_button.toolTip() == "Log in to confirm production"


def test_operator_confirms_and_the_audit_trail_says_who(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto")
        event = st.add_event(good=500)
        view = st.window.events
        run(qloop, st.login("o.otto"))

        async def scenario() -> None:
            await wait_for(lambda: _has_event(view), 5, "the event listed")
            view.comment.setText("all good")
            qtbot.mouseClick(view.confirm_button, Qt.MouseButton.LeftButton)
            await wait_for(lambda: "Confirmed" in view.feedback.text(), 10, "confirmation")

        run(qloop, scenario())
        stored = st.runtime.events.get(event.event_id)
        assert stored is not None
        assert stored.state is EventState.CONFIRMED
        row = next(r for r in st.runtime.audit.rows() if r.action == "confirm_event")
        assert row.user == "o.otto"
        assert row.meaning == "", "not signed on this site"
        assert "Confirmed 500 bottles" in view.feedback.text()


def test_the_services_refusal_is_shown_in_words(qloop, qtbot, tmp_path: Path):
    """The GUI let the click through (the user changed under it); the service refuses."""
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto")
        event = st.add_event()
        view = st.window.events
        run(qloop, st.login("o.otto"))
        run(qloop, wait_for(lambda: _has_event(view), 5, "the event listed"))
        st.runtime.session.logout("behind the window's back")  # not through the GUI
        run(qloop, view._confirm(event, None))
        assert view.feedback.text() == "Not confirmed: Log in to confirm production."
        stored = st.runtime.events.get(event.event_id)
        assert stored is not None
        assert stored.state is EventState.PENDING


def test_a_user_change_outside_the_gui_is_picked_up(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto")
        st.runtime.session.login("o.otto", "operator pass 1")  # as a test or a tool would

        async def scenario() -> None:
            await wait_for(lambda: st.window.header.user_label.text()
                           == "Otto Operator · Operator", 3, "the header to follow")

        run(qloop, scenario())
