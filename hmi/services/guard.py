"""The one permission check every service makes before it changes anything.

``Guard.require`` refuses a missing user (nobody logged in) and a role without the
action, audits and logs the refusal, and raises PermissionDeniedError with a message that
names the roles that may. ``Guard.signed`` does the same for a signature the site
config asks for ([security.signatures]).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hmi.core.security import (
    ACTION_TITLES,
    Action,
    Actor,
    PermissionDeniedError,
    PermissionMap,
    Role,
    SecuritySettings,
    Signature,
)
from hmi.security.authentication import Authenticator
from hmi.security.session import SIGNATURE_VALID_S


class NotLoggedInError(PermissionDeniedError):
    def __init__(self, action: Action, allowed: tuple[Role, ...]) -> None:
        Exception.__init__(self, f"Log in to {ACTION_TITLES[action]}.")
        self.user, self.role, self.action, self.allowed = "", Role.OPERATOR, action, allowed


class SignatureRequiredError(PermissionDeniedError):
    """The action must be signed (re-enter the password), and was not, or not validly."""

    def __init__(self, actor: Actor, action: Action, meaning: str, why: str) -> None:
        Exception.__init__(self, f"{ACTION_TITLES[action].capitalize()} needs your signature "
                                 f"({meaning}): {why}")
        self.user, self.role, self.action, self.allowed = actor.name, actor.role, action, ()
        self.meaning = meaning


class Guard:
    def __init__(self, settings: SecuritySettings, auth: Authenticator | None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._auth = auth
        self._clock = clock

    @property
    def permissions(self) -> PermissionMap:
        return self.settings.permissions

    def require(self, actor: Actor | None, action: Action, target: str = "") -> Actor:
        if actor is None:
            raise NotLoggedInError(action, self.permissions.roles_for(action))
        try:
            self.permissions.check(actor.name, actor.role, action)
        except PermissionDeniedError as exc:
            if self._auth is not None:
                self._auth.permission_denied(actor, action.value, target, str(exc))
            raise
        return actor

    def signed(self, actor: Actor, action: Action, signature: Signature | None) -> str:
        """The meaning to record: "" when the site does not ask this action to be signed;
        raises SignatureRequiredError when it does and ``signature`` is not valid for it."""
        meaning = self.settings.meaning(action)
        if meaning is None:
            return ""
        why = ""
        if signature is None:
            why = "re-enter your password to sign"
        elif signature.signer != actor.name:
            why = f"the signature is {signature.signer}'s, not {actor.name}'s"
        elif signature.action is not action or signature.meaning != meaning:
            why = "the signature was given for something else"
        elif not 0 <= self._clock() - signature.time <= SIGNATURE_VALID_S:
            why = "the signature is too old: sign again"
        if why:
            raise SignatureRequiredError(actor, action, meaning, why)
        return meaning
