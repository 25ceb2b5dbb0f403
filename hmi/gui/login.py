"""Logging in (first login, and switching user at shift change) and, on a new station,
creating the first administrator. Both dialogs are opened with ``open()``, never
``exec()`` (qasync); the password is checked on a worker thread."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from hmi.core.security import MAX_NAME, MAX_PASSWORD, MAX_TEXT, ROLE_TITLES
from hmi.gui.access import AccessController

log = logging.getLogger(__name__)

FIELD_HEIGHT = 52  # px: the theme's QDialog QLineEdit min-height
DIALOG_WIDTH = 560  # px, inside the margins


def text_field(name: str, placeholder: str, password: bool = False) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    edit.setMaxLength(MAX_PASSWORD if password else MAX_NAME)
    if password:
        edit.setEchoMode(QLineEdit.EchoMode.Password)
    return edit


def _button(text: str, name: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setAutoDefault(False)  # Enter is handled by the fields, once
    return button


def set_message(label: QLabel, text: str, refused: bool) -> None:
    """A refusal reads on red (abnormal); progress ("Checking…") on the normal grey."""
    label.setText(text)
    label.setVisible(bool(text))
    if label.property("abnormal") != refused:
        label.setProperty("abnormal", refused)
        label.style().polish(label)


class AccountDialog(QDialog):
    """A heading, a short explanation, a form, a message line and two buttons."""

    def __init__(self, title: str, heading: str, explanation: str, submit: str,
                 parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setObjectName("accountDialog")
        self.setWindowTitle(title)
        self.setModal(True)
        self.heading = QLabel(heading)
        self.heading.setObjectName("dialogHeading")
        self.explanation = QLabel(explanation)
        self.explanation.setObjectName("dialogExplanation")
        self.explanation.setWordWrap(True)
        self.explanation.setVisible(bool(explanation))
        self.form = QFormLayout()
        self.form.setVerticalSpacing(12)
        self.form.setHorizontalSpacing(16)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.message = QLabel()
        self.message.setObjectName("dialogMessage")
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        self.cancel_button = _button("Cancel", "cancelButton")
        self.submit_button = _button(submit, "submitButton")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.submit_button)
        layout = QVBoxLayout(self)
        # always the size of what it shows: grows with a message or the password rules
        # (never squeezes the fields), shrinks back when they go
        layout.setSizeConstraint(QLayout.SizeConstraint.SetFixedSize)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(14)
        layout.addWidget(self.heading)
        layout.addWidget(self.explanation)
        layout.addLayout(self.form)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.cancel_button.clicked.connect(self.reject)
        # the layout sets the dialog's size (above); this sets its width
        self.heading.setMinimumWidth(DIALOG_WIDTH)

    def add_row(self, text: str, field: QWidget) -> None:
        """A form row whose label sits level with a tall (touch-size) field."""
        label = QLabel(text)
        label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if isinstance(field, QLineEdit):
            label.setMinimumHeight(FIELD_HEIGHT)
        self.form.addRow(label, field)

    def _busy(self, busy: bool) -> None:
        for widget in (self.submit_button, self.cancel_button, *self._fields()):
            widget.setEnabled(not busy)

    def _fields(self) -> list[QLineEdit]:
        return [w for w in self.findChildren(QLineEdit) if w.parent() is self]


class LoginDialog(AccountDialog):
    """User name and password; emits ``loggedIn(actor)`` and closes when accepted."""

    loggedIn = Signal(object)  # noqa: N815 (Qt signal)

    def __init__(self, access: AccessController, parent: QWidget | None = None, *,
                 switching: bool = False) -> None:
        current = access.actor
        if switching and current is not None:
            heading = "Switch user"
            who = current.full_name or current.name
            explanation = (f"{who} ({ROLE_TITLES[current.role]}) is logged in now. The next "
                           f"person logs in here; {who} is logged out.")
        else:
            heading, explanation = "Log in", ""
        super().__init__(heading, heading, explanation, "Log in", parent)
        self.setObjectName("loginDialog")
        self._access = access
        self.name = text_field("loginName", "e.g. j.smith")
        self.password = text_field("loginPassword", "password", password=True)
        self.add_row("User name", self.name)
        self.add_row("Password", self.password)
        self.name.returnPressed.connect(self._on_name_entered)
        self.password.returnPressed.connect(self._on_submit)
        self.submit_button.clicked.connect(self._on_submit)
        self.name.setFocus()

    def _on_name_entered(self) -> None:
        if self.password.text():
            self._on_submit()
        else:
            self.password.setFocus()

    @asyncSlot()
    async def _on_submit(self) -> None:
        if not self.submit_button.isEnabled():
            return  # already checking
        if not self.name.text().strip():
            set_message(self.message, "Type your user name.", refused=True)
            self.name.setFocus()
            return
        self._busy(True)
        set_message(self.message, "Checking…", refused=False)
        try:
            actor = await self._access.login(self.name.text(), self.password.text())
        except Exception as exc:  # the session's refusal is a screen-ready sentence
            log.info("login refused: %s", exc)
            self._busy(False)
            set_message(self.message, str(exc), refused=True)
            self.password.clear()
            self.password.setFocus()
            return
        self.password.clear()
        self.loggedIn.emit(actor)
        self.accept()


class FirstAdminDialog(AccountDialog):
    """First run: no users exist. There is no default password anywhere: whoever sets up
    the station chooses it here; then they are logged in."""

    loggedIn = Signal(object)  # noqa: N815 (Qt signal)

    def __init__(self, access: AccessController, parent: QWidget | None = None) -> None:
        super().__init__(
            "First run", "Create the first administrator",
            "This station has no users yet. The administrator manages the other users "
            "(operators, shift leads, maintenance, engineers). Choose the password now: "
            "there is no default password.", "Create and log in", parent)
        self.setObjectName("firstAdminDialog")
        self._access = access
        self._rules = access.settings.password
        self.name = text_field("adminName", "e.g. j.smith")
        self.full_name = text_field("adminFullName", "e.g. Jane Smith")
        self.full_name.setMaxLength(MAX_TEXT)
        self.password = text_field("adminPassword", "password", password=True)
        self.again = text_field("adminPasswordAgain", "the same password again", password=True)
        self.rules_label = QLabel()
        self.rules_label.setObjectName("passwordRules")
        self.rules_label.setWordWrap(True)
        self.add_row("User name", self.name)
        self.add_row("Full name", self.full_name)
        self.add_row("Password", self.password)
        self.add_row("Again", self.again)
        self.add_row("", self.rules_label)
        for edit in (self.name, self.full_name, self.password, self.again):
            edit.textChanged.connect(self._on_typed)
        self.name.returnPressed.connect(self.full_name.setFocus)
        self.full_name.returnPressed.connect(self.password.setFocus)
        self.password.returnPressed.connect(self.again.setFocus)
        self.again.returnPressed.connect(self._on_submit)
        self.submit_button.clicked.connect(self._on_submit)
        self._on_typed()
        self.name.setFocus()

    def problems(self) -> list[str]:
        """What still stops the account being created, each in words."""
        found = []
        if not self.name.text().strip():
            found.append("Type a user name.")
        rules = self._rules.problems(self.password.text(), self.name.text().strip())
        if rules:
            found.append("The password needs " + "; ".join(rules) + ".")
        elif self.password.text() != self.again.text():
            found.append("The two passwords differ.")
        return found

    def _on_typed(self) -> None:
        problems = self.problems()
        self.rules_label.setText("\n".join(problems) if problems else "Ready to create.")
        self.submit_button.setEnabled(not problems)

    @asyncSlot()
    async def _on_submit(self) -> None:
        if self.problems() or not self.submit_button.isEnabled():
            return
        self._busy(True)
        set_message(self.message, "Creating the administrator…", refused=False)
        try:
            actor = await self._access.create_first_admin(
                self.name.text(), self.full_name.text(), self.password.text())
        except Exception as exc:  # InputRejectedError, a second first run, the store
            log.warning("first administrator not created: %s", exc)
            self._busy(False)
            self._on_typed()
            set_message(self.message, f"Not created: {exc}", refused=True)
            return
        self.password.clear()
        self.again.clear()
        self.loggedIn.emit(actor)
        self.accept()
