"""Who is at the workstation now, when they last touched it, and their signatures.

A ``Session`` is the GUI's (and the CLI's) handle on the logged-in user. Electronic
signatures follow 21 CFR Part 11 §11.200: the first signature in a session takes both
the user name and the password, later ones the password alone; each names the signer,
the time and what the signature means.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hmi.core.security import Action, Actor, InputRejectedError, Signature, clean_user_name
from hmi.security.authentication import Authenticator, LoginRefusedError

SIGNATURE_VALID_S = 120.0  # a signature is for the action in hand, not for later


class Session:
    def __init__(self, auth: Authenticator, idle_lock_minutes: float = 0.0,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._auth = auth
        self.idle_lock_minutes = idle_lock_minutes
        self._clock = clock
        self._monotonic = monotonic
        self.actor: Actor | None = None
        self._last_activity = monotonic()
        self._signed_before = False

    # -- who ------------------------------------------------------------------------------

    def login(self, name: str, password: str, workstation: str = "") -> Actor:
        """Log in (or switch user at shift change: the previous user is logged out)."""
        actor = self._auth.login(name, password, workstation)
        if self.actor is not None and self.actor.name != actor.name:
            self._auth.logout(self.actor, f"user switched to {actor.name}")
        self.actor = actor
        self._signed_before = False
        self.touch()
        return actor

    def logout(self, why: str = "") -> None:
        if self.actor is not None:
            self._auth.logout(self.actor, why)
        self.actor = None
        self._signed_before = False

    # -- idle lock --------------------------------------------------------------------------

    def touch(self) -> None:
        """The user did something (a key, a click, a touch)."""
        self._last_activity = self._monotonic()

    def idle_seconds(self) -> float:
        return self._monotonic() - self._last_activity

    def lock_if_idle(self) -> bool:
        """Log the user out when idle for ``idle_lock_minutes`` (0: never); True if so."""
        if self.actor is None or self.idle_lock_minutes <= 0:
            return False
        if self.idle_seconds() < self.idle_lock_minutes * 60:
            return False
        self._auth.screen_locked(self.actor, self.idle_lock_minutes)
        self.actor = None
        self._signed_before = False
        return True

    # -- signatures ---------------------------------------------------------------------------

    @property
    def needs_user_name(self) -> bool:
        """The first signature of a session asks for the user name as well."""
        return not self._signed_before

    def sign(self, action: Action, meaning: str, password: str,
             user_name: str | None = None) -> Signature:
        actor = self.actor
        if actor is None:
            raise LoginRefusedError("Log in first: a signature is the logged-in user's.")
        if self.needs_user_name:
            try:
                typed = clean_user_name(user_name or "")
            except InputRejectedError as exc:
                raise LoginRefusedError(f"Type your user name to sign: {exc}.") from exc
            if typed != actor.name:
                raise LoginRefusedError(f"Sign as yourself: {actor.name} is logged in here. "
                                   "Another person must log in to sign.")
        try:
            self._auth.check(actor.name, password, purpose=f"signature: {meaning}")
        except LoginRefusedError:
            if self._auth.is_locked(actor.name):  # locked by wrong signatures: out, too
                self._auth.logout(actor, "account locked by wrong signature passwords")
                self.actor = None
                self._signed_before = False
            raise
        self._signed_before = True
        self.touch()
        return Signature(actor.name, actor.full_name, actor.role, action, meaning, self._clock())
