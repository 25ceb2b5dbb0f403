"""What people do with alarms: acknowledge, reset, shelve, take out of service.

Every action checks the actor's permission first (hmi.services.guard: a refusal is
audited and raises PermissionDeniedError naming the roles that may), its signature where
the site asks for one ([security.signatures]), and its text (a comment required for the
priorities in [alarming] ack_comment_required; a reason always for shelving and for out
of service). The alarm's journal row, its state and the audit row commit together
(AlarmEngine.act), with the answer of the command line's request when the action is one
(``request``: hmi.services.alarm_requests). Alarms the state machine refuses (already
acknowledged, not latched, ...) are answered with the reason and change nothing; the
others go ahead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence

from hmi.core.alarm_rules import AlarmRule, Priority
from hmi.core.alarm_states import AlarmEvent, AlarmState, AlarmTransition
from hmi.core.audit import AuditEntry
from hmi.core.security import Action, Actor, InputRejectedError, Signature, clean_text
from hmi.core.site import AlarmSettings
from hmi.services.alarms import AlarmEngine
from hmi.services.guard import Guard

_ACTIONS = {  # event -> (permission, audit action)
    AlarmEvent.ACK: Action.ACK_ALARM,
    AlarmEvent.RESET: Action.ACK_ALARM,
    AlarmEvent.SHELVE: Action.SHELVE_ALARM,
    AlarmEvent.UNSHELVE: Action.SHELVE_ALARM,
    AlarmEvent.REMOVE_FROM_SERVICE: Action.ALARM_OUT_OF_SERVICE,
    AlarmEvent.RETURN_TO_SERVICE: Action.ALARM_OUT_OF_SERVICE,
}


class UnknownAlarmError(LookupError):
    """No alarm of that name is configured."""


def comment_required(rules: Mapping[str, AlarmRule], settings: AlarmSettings,
                     names: Sequence[str]) -> bool:
    """Whether acknowledging these alarms needs a comment ([alarming]
    ack_comment_required names their priority)."""
    needed = frozenset(Priority(p) for p in settings.ack_comment_required)
    return any(rules[name].priority in needed for name in names)


class AlarmActions:
    def __init__(self, engine: AlarmEngine, guard: Guard,
                 clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._guard = guard
        self._clock = clock

    def comment_required(self, names: Sequence[str]) -> bool:
        """Whether acknowledging these alarms needs a comment (the GUI asks for one)."""
        return comment_required(self._engine.rules, self._engine.settings, names)

    async def acknowledge(self, names: Sequence[str], actor: Actor | None,
                          comment: str = "", signature: Signature | None = None, *,
                          request: int | None = None) -> dict[str, str]:
        """Acknowledge each alarm; {name: why it was refused, "" if acknowledged}.
        A latched alarm whose process is normal is reset too (one action).
        ``request``: the command line's request this answers (one alarm)."""
        self._known(names)
        if request is not None and len(names) != 1:
            raise ValueError("a request is about one alarm")
        comment = clean_text(comment, "comment", required=self.comment_required(names))
        latched = [n for n in names
                   if self._engine.record(n).alarm.state is AlarmState.LATCHED]
        plain = [n for n in names if n not in latched]
        said = (await self._do(plain, AlarmEvent.ACK, actor, comment, signature,
                               request=request) if plain else {})
        if latched:
            said |= await self._do(latched, AlarmEvent.RESET, actor, comment, signature,
                                   request=request)
        return {name: said[name] for name in names}

    async def shelve(self, name: str, actor: Actor | None, minutes: float, reason: str,
                     signature: Signature | None = None, *,
                     request: int | None = None) -> str:
        """Shelve for ``minutes`` (at most [alarming] max_shelve_minutes); a reason is
        required. Returns "" or why the state machine refused."""
        self._known([name])
        reason = clean_text(reason, "reason", required=True)
        if not minutes > 0:
            raise InputRejectedError("a shelve needs a length in minutes, more than 0")
        until = self._clock() + minutes * 60
        said = await self._do([name], AlarmEvent.SHELVE, actor, reason, signature,
                              until=until, request=request)
        return said[name]

    async def unshelve(self, name: str, actor: Actor | None, comment: str = "",
                       signature: Signature | None = None, *,
                       request: int | None = None) -> str:
        self._known([name])
        said = await self._do([name], AlarmEvent.UNSHELVE, actor,
                              clean_text(comment, "comment"), signature, request=request)
        return said[name]

    async def remove_from_service(self, name: str, actor: Actor | None, reason: str,
                                  signature: Signature | None = None) -> str:
        self._known([name])
        reason = clean_text(reason, "reason", required=True)
        said = await self._do([name], AlarmEvent.REMOVE_FROM_SERVICE, actor, reason,
                              signature)
        return said[name]

    async def return_to_service(self, name: str, actor: Actor | None, comment: str = "",
                                signature: Signature | None = None) -> str:
        """Signed like the removal where the site asks (one permission, one meaning)."""
        self._known([name])
        said = await self._do([name], AlarmEvent.RETURN_TO_SERVICE, actor,
                              clean_text(comment, "comment"), signature)
        return said[name]

    # -- the one path ---------------------------------------------------------------------

    def _known(self, names: Sequence[str]) -> None:
        unknown = [name for name in names if name not in self._engine.rules]
        if unknown:
            raise UnknownAlarmError(f"no alarm named {', '.join(map(repr, unknown))} is "
                                    "configured (see [[alarms]] in the site file)")
        if not names:
            raise InputRejectedError("no alarm chosen")

    async def _do(self, names: Sequence[str], event: AlarmEvent, actor: Actor | None,
                  text: str, signature: Signature | None = None,
                  until: float | None = None, request: int | None = None,
                  ) -> dict[str, str]:
        action = _ACTIONS[event]
        target = f"alarm {names[0]}" if len(names) == 1 else f"{len(names)} alarms"
        # in a thread: a refusal writes its audit row (a durable commit, not on the loop)
        who = await asyncio.to_thread(self._guard.require, actor, action, target)
        meaning = self._guard.signed(who, action, signature)

        def audit_for(transition: AlarmTransition) -> AuditEntry:
            new_value = transition.state.value
            if transition.after.shelved_until is not None and event is AlarmEvent.SHELVE:
                new_value += f" until {_utc(transition.after.shelved_until)}"
            return AuditEntry(who.name, who.role, f"{action.value}:{event.value}",
                              f"alarm {transition.name}", old_value=transition.before.value,
                              new_value=new_value, reason=text, meaning=meaning)

        steps = await self._engine.act(names, event, user=who.name, comment=text,
                                       until=until, audit_for=audit_for,
                                       request=request)
        return {name: result.refused for name, result in steps.items()}


def _utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))
