"""Logging in, switching user, locking (by hand and when idle), and the first run."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from hmi.core import audit as events
from hmi.gui.login import FirstAdminDialog, LoginDialog
from tests.conftest import wait_for
from tests.gui.accounts import PASSWORDS, run, shot, station


def test_login_dialog_logs_in_and_the_header_shows_name_and_role(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto")
        header = st.window.header
        assert header.user_label.text() == "Not logged in · view only"
        assert header.login_button.isVisible()
        assert not header.switch_button.isVisible()
        assert not header.lock_button.isVisible()
        shot(st.window, "header-logged-out.png")

        async def scenario() -> None:
            header.prompt()
            await wait_for(lambda: isinstance(header.dialog, LoginDialog)
                           and header.dialog.isVisible(), 5, "the login dialog")
            dialog = header.dialog
            assert isinstance(dialog, LoginDialog)
            qtbot.keyClicks(dialog.name, "o.otto")
            qtbot.keyClick(dialog.name, Qt.Key.Key_Return)  # to the password
            assert dialog.password.hasFocus()
            qtbot.keyClicks(dialog.password, PASSWORDS["o.otto"])
            shot(dialog, "login-dialog.png")
            qtbot.keyClick(dialog.password, Qt.Key.Key_Return)  # Enter submits
            await wait_for(lambda: not dialog.isVisible(), 10, "the dialog to close")

        run(qloop, scenario())
        assert st.runtime.session.actor is not None
        assert st.runtime.session.actor.name == "o.otto"
        assert header.user_label.text() == "Otto Operator · Operator"
        assert not header.login_button.isVisible()
        assert header.switch_button.isVisible()
        assert header.lock_button.isVisible()
        assert header.switch_button.minimumSizeHint().height() >= 48
        assert header.lock_button.height() >= 48
        assert ("o.otto", events.LOGIN) in st.audit_actions()
        shot(st.window, "header-logged-in.png")


def test_wrong_password_is_said_in_words_and_nobody_is_logged_in(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto")
        dialog = LoginDialog(st.access, st.window)
        dialog.open()

        async def scenario() -> None:
            dialog.name.setText("o.otto")
            dialog.password.setText("not the password 1")
            qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
            await wait_for(lambda: dialog.submit_button.isEnabled()
                           and dialog.message.text() not in ("", "Checking…"), 10, "the refusal")

        run(qloop, scenario())
        assert dialog.isVisible()
        assert dialog.message.text() == "Wrong user name or password."
        assert dialog.message.property("abnormal") is True
        assert dialog.password.text() == "", "a refused password is not left in the field"
        assert st.runtime.session.actor is None
        assert st.window.header.user_label.text() == "Not logged in · view only"
        shot(dialog, "login-refused.png")


def test_lockout_says_until_when(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path, lockout_attempts=2) as st:
        st.add_users("o.otto")
        dialog = LoginDialog(st.access, st.window)
        dialog.open()

        async def attempt(password: str) -> None:
            dialog.message.setText("")  # the next answer, not the previous one
            dialog.name.setText("o.otto")
            dialog.password.setText(password)
            qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
            await wait_for(lambda: dialog.submit_button.isEnabled()
                           and dialog.message.text() not in ("", "Checking…"), 10, "the answer")

        run(qloop, attempt("wrong password 1"))
        assert dialog.message.text() == "Wrong user name or password."
        run(qloop, attempt("wrong password 2"))
        message = dialog.message.text()
        assert "locked after 2 wrong passwords, until " in message
        assert re.search(r"until \d\d:\d\d\. An administrator can unlock it sooner", message)
        # even the right password is refused now, with the same reason
        run(qloop, attempt(PASSWORDS["o.otto"]))
        assert "locked" in dialog.message.text()
        assert st.runtime.session.actor is None
        shot(dialog, "login-locked-out.png")


def test_disabled_account_is_said_in_words(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto")
        st.runtime.users.set_disabled(st.admin, "o.otto", True, "left the company")
        dialog = LoginDialog(st.access, st.window)
        dialog.open()
        dialog.name.setText("o.otto")
        dialog.password.setText(PASSWORDS["o.otto"])

        async def scenario() -> None:
            qtbot.keyClick(dialog.password, Qt.Key.Key_Enter)
            await wait_for(lambda: "disabled" in dialog.message.text(), 10, "the refusal")

        run(qloop, scenario())
        assert "The account o.otto is disabled" in dialog.message.text()


def test_switch_user_changes_the_header_and_audits_logout_and_login(qloop, qtbot,
                                                                    tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto", "s.lead")
        run(qloop, st.login("o.otto"))
        header = st.window.header
        assert header.user_label.text() == "Otto Operator · Operator"

        async def scenario() -> None:
            qtbot.mouseClick(header.switch_button, Qt.MouseButton.LeftButton)
            dialog = header.dialog
            assert isinstance(dialog, LoginDialog)
            assert dialog.isVisible()
            assert dialog.heading.text() == "Switch user"
            assert "Otto Operator (Operator) is logged in now" in dialog.explanation.text()
            shot(dialog, "switch-user-dialog.png")
            dialog.name.setText("s.lead")
            dialog.password.setText(PASSWORDS["s.lead"])
            qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
            await wait_for(lambda: not dialog.isVisible(), 10, "the switch")

        run(qloop, scenario())
        assert header.user_label.text() == "Sam Lead · Shift lead"
        rows = st.runtime.audit.rows()
        logout = next(r for r in rows if r.action == events.LOGOUT)
        assert logout.user == "o.otto"
        assert logout.reason == "user switched to s.lead"
        assert ("s.lead", events.LOGIN) in st.audit_actions()


def test_lock_button_leaves_the_window_view_only(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto")
        run(qloop, st.login("o.otto"))
        header = st.window.header

        async def scenario() -> None:
            qtbot.mouseClick(header.lock_button, Qt.MouseButton.LeftButton)
            await wait_for(lambda: st.runtime.session.actor is None, 5, "the lock")

        run(qloop, scenario())
        assert header.user_label.text() == "Not logged in · view only"
        assert header.notice_label.text().startswith("Locked by Otto Operator at ")
        assert header.login_button.isVisible()
        assert not st.window.events.comment.isEnabled()
        logout = [r for r in st.runtime.audit.rows() if r.action == events.LOGOUT]
        assert [(r.user, r.reason) for r in logout] == [("o.otto", "screen locked by the user")]


def test_idle_lock_returns_to_view_only_and_says_why(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path, idle_lock_minutes=10.0) as st:
        st.add_users("o.otto")
        run(qloop, st.login("o.otto"))
        session = st.runtime.session
        assert session.idle_lock_minutes == 10.0, "the site's setting reaches the session"
        assert not run(qloop, st.access.check_idle()), "not idle yet"
        session.idle_lock_minutes = 0.001  # 60 ms

        async def scenario() -> None:
            await wait_for(lambda: session.idle_seconds() > 0.1, 2, "idle time")
            assert await st.access.check_idle()

        run(qloop, scenario())
        header = st.window.header
        assert session.actor is None
        assert header.user_label.text() == "Not logged in · view only"
        assert header.notice_label.text() == "Locked after 0.06 s idle"
        assert header.notice_label.isVisible()
        assert not st.window.events.confirm_button.isEnabled()
        assert ("o.otto", events.SCREEN_LOCKED) in st.audit_actions()
        shot(st.window, "header-idle-locked.png")


def test_idle_lock_message_names_the_minutes(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto")
        run(qloop, st.login("o.otto"))
        session = st.runtime.session
        session.idle_lock_minutes = 1.0
        session.touch = lambda: None  # the clock says more than a minute went by
        session.idle_seconds = lambda: 61.0
        assert run(qloop, st.access.check_idle())
        assert st.window.header.notice_label.text() == "Locked after 1 min idle"


def test_idle_lock_never_when_set_to_zero(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path, idle_lock_minutes=0.0) as st:
        st.add_users("o.otto")
        run(qloop, st.login("o.otto"))
        st.runtime.session.idle_seconds = lambda: 1e9
        assert not run(qloop, st.access.check_idle())
        assert st.runtime.session.actor is not None


def test_keys_and_clicks_anywhere_count_as_activity(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        session = st.runtime.session
        touched: list[str] = []
        original = session.touch
        session.touch = lambda: (touched.append("touch"), original())[1]

        async def scenario() -> None:
            event = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_A,
                              Qt.KeyboardModifier.NoModifier, "a")
            QApplication.sendEvent(st.window.tag_table, event)
            assert touched, "a key press touched the session"
            touched.clear()
            qtbot.mouseClick(st.window.trend, Qt.MouseButton.LeftButton)
            assert touched, "a click touched the session"

        run(qloop, scenario())


def test_first_run_asks_for_the_administrator_with_live_password_rules(qloop, qtbot,
                                                                       tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        header = st.window.header

        async def open_prompt() -> None:
            header.prompt()
            await wait_for(lambda: header.dialog is not None and header.dialog.isVisible(),
                           5, "the first-run dialog")

        run(qloop, open_prompt())
        dialog = header.dialog
        assert isinstance(dialog, FirstAdminDialog), "no users yet: create the administrator"
        assert dialog.heading.text() == "Create the first administrator"
        assert "no default password" in dialog.explanation.text()
        assert not dialog.submit_button.isEnabled()
        dialog.name.setText("j.smith")
        dialog.full_name.setText("Jane Smith")
        qtbot.keyClicks(dialog.password, "abc")
        rules = dialog.rules_label.text()
        assert "at least 10 characters (it has 3)" in rules
        assert "letters and digits" in rules
        shot(dialog, "first-admin-dialog.png")
        dialog.password.setText("j.smith is 12345")
        assert "not the user name" in dialog.rules_label.text()
        dialog.password.setText("admin pass 123")
        dialog.again.setText("admin pass 12")
        assert dialog.rules_label.text() == "The two passwords differ."
        assert not dialog.submit_button.isEnabled()
        dialog.again.setText("admin pass 123")
        assert dialog.rules_label.text() == "Ready to create."
        assert dialog.submit_button.isEnabled()

        async def create() -> None:
            qtbot.keyClick(dialog.again, Qt.Key.Key_Return)
            await wait_for(lambda: not dialog.isVisible(), 10, "the administrator created")

        run(qloop, create())
        assert st.runtime.users.has_users()
        assert header.user_label.text() == "Jane Smith · Administrator"
        assert [a for _, a in st.audit_actions()] == [events.USER_ADDED, events.LOGIN]

        async def prompt_again() -> None:
            header.prompt()
            await wait_for(lambda: isinstance(header.dialog, LoginDialog), 5, "login dialog")

        run(qloop, prompt_again())  # users exist now: a plain login


def test_window_without_a_login_stays_view_only(qloop, qtbot, tmp_path: Path):
    with station(qloop, qtbot, tmp_path) as st:
        st.add_users("o.otto")
        window = st.window
        assert window.header.user_label.property("loggedOut") is True
        assert not window.events.comment.isEnabled()
        assert window.events.permission_hint.text() == "Log in to confirm production"
