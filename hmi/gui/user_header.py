"""The header's user block: who is logged in and their role, Switch user and Lock; or
"Not logged in" and Log in (the window is view-only then)."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from hmi.gui.access import AccessController, shown_user
from hmi.gui.login import FirstAdminDialog, LoginDialog


class UserHeader(QWidget):
    def __init__(self, access: AccessController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("userHeader")
        self._access = access
        self.dialog: LoginDialog | FirstAdminDialog | None = None
        self.user_label = QLabel()
        self.user_label.setObjectName("userLabel")
        self.notice_label = QLabel()
        self.notice_label.setObjectName("userNotice")
        self.login_button = QPushButton("Log in")
        self.login_button.setObjectName("loginButton")
        self.switch_button = QPushButton("Switch user")
        self.switch_button.setObjectName("switchUserButton")
        self.switch_button.setToolTip("Shift change: the next person logs in; "
                                      "the current user is logged out")
        self.lock_button = QPushButton("Lock")
        self.lock_button.setObjectName("lockButton")
        self.lock_button.setToolTip("Log out and leave the screen view-only")

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.notice_label)
        layout.addWidget(self.user_label)
        layout.addWidget(self.login_button)
        layout.addWidget(self.switch_button)
        layout.addWidget(self.lock_button)

        self.login_button.clicked.connect(self.prompt)
        self.switch_button.clicked.connect(self._on_switch)
        self.lock_button.clicked.connect(self._on_lock)
        access.changed.connect(self._on_changed)
        self._on_changed()

    def _on_changed(self) -> None:
        actor = self._access.actor
        logged_in = actor is not None
        if actor is not None:
            self.user_label.setText(shown_user(actor))
            self.user_label.setToolTip(f"Logged in as {actor.name}")
        else:
            self.user_label.setText("Not logged in · view only")
            self.user_label.setToolTip("Log in to confirm production or change anything")
        if self.user_label.property("loggedOut") != (not logged_in):
            self.user_label.setProperty("loggedOut", not logged_in)
            self.user_label.style().polish(self.user_label)
        notice = "" if logged_in else self._access.notice
        self.notice_label.setText(notice)
        self.notice_label.setVisible(bool(notice))
        self.login_button.setVisible(not logged_in)
        self.switch_button.setVisible(logged_in)
        self.lock_button.setVisible(logged_in)

    def prompt(self) -> None:
        """Log in; on a station without users yet, create the first administrator."""
        self._access.start(self._prompt())

    async def _prompt(self) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            return
        if await self._access.has_users():
            self._open(LoginDialog(self._access, self.window()))
        elif self._access.users is not None:
            self._open(FirstAdminDialog(self._access, self.window()))

    def _on_switch(self) -> None:
        self._open(LoginDialog(self._access, self.window(), switching=True))

    def _on_lock(self) -> None:
        self._access.start(self._access.lock())

    def _open(self, dialog: LoginDialog | FirstAdminDialog) -> None:
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = dialog
        dialog.open()  # never exec() under qasync
