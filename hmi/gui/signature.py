"""The electronic signature (21 CFR Part 11 §11.50, §11.200) asked before a signed
action: what the signature means, who signs and when; the password (and, the first
time in a session, the user name). The caller passes the Signature to the service; a
refusal is shown in words and nothing is done."""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QLabel, QWidget
from qasync import asyncSlot

from hmi.core.security import ROLE_TITLES, Action
from hmi.gui.access import AccessController
from hmi.gui.login import AccountDialog, set_message, text_field

log = logging.getLogger(__name__)


class SignatureDialog(AccountDialog):
    """Emits ``signed(signature)`` and closes when the password is accepted; closes
    without signing when the user changes underneath it (idle lock, switch)."""

    signed = Signal(object)  # hmi.core.security.Signature

    def __init__(self, access: AccessController, action: Action, meaning: str,
                 subject: str = "", parent: QWidget | None = None) -> None:
        actor = access.actor
        if actor is None:
            raise ValueError("a signature needs a logged-in user")
        super().__init__(
            "Electronic signature", "Sign: " + meaning,
            "Your signature is recorded with this action and the time, under your name, "
            "and means what it says above.", "Sign", parent)
        self.setObjectName("signatureDialog")
        self._access = access
        self._action = action
        self._meaning = meaning
        self._signer = actor
        self.subject = QLabel(subject)
        self.subject.setObjectName("signatureSubject")
        self.subject.setWordWrap(True)
        who = f"{actor.full_name} ({actor.name})" if actor.full_name else actor.name
        self.signer = QLabel(f"{who} · {ROLE_TITLES[actor.role]}")
        self.signer.setObjectName("signatureSigner")
        self.clock = QLabel()
        self.clock.setObjectName("signatureTime")
        self.name = text_field("signatureName", "your user name")
        self.password = text_field("signaturePassword", "your password", password=True)
        if subject:
            self.add_row("Action", self.subject)
        self.add_row("Signer", self.signer)
        self.add_row("Time", self.clock)
        self.asks_name = access.needs_user_name
        if self.asks_name:  # the first signature of a session: name and password
            self.add_row("User name", self.name)
            self.name.returnPressed.connect(self.password.setFocus)
        else:
            self.name.hide()
        self.add_row("Password", self.password)
        self.password.returnPressed.connect(self._on_submit)
        self.submit_button.clicked.connect(self._on_submit)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._on_tick)
        self._on_tick()
        self._tick.start()
        access.changed.connect(self._on_user_changed)
        self.finished.connect(self._on_finished)

    def _on_tick(self) -> None:
        self.clock.setText(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime()))

    def _on_user_changed(self) -> None:
        if self._access.actor != self._signer and self.isVisible():
            log.info("signature dialog closed: the user changed")
            self.reject()

    def _on_finished(self, _result: int) -> None:
        self._tick.stop()
        self.password.clear()

    @asyncSlot()
    async def _on_submit(self) -> None:
        if not self.submit_button.isEnabled():
            return
        if not self.password.text():
            set_message(self.message, "Type your password to sign.", refused=True)
            self.password.setFocus()
            return
        self._busy(True)
        set_message(self.message, "Checking…", refused=False)
        try:
            signature = await self._access.sign(
                self._action, self._meaning, self.password.text(),
                self.name.text() if self.asks_name else None)
        except Exception as exc:  # the session's refusal is a screen-ready sentence
            log.info("signature refused: %s", exc)
            self._busy(False)
            set_message(self.message, f"Not signed: {exc}", refused=True)
            self.password.clear()
            self.password.setFocus()
            return
        self.password.clear()
        self.signed.emit(signature)
        self.accept()
