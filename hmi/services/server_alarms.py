"""What people do with the alarms a PLC's OPC UA server raises (Part 9): acknowledge,
confirm, shelve, unshelve; the same rules as our own alarms (hmi.services.alarm_actions).

Every action checks the actor's permission first (acknowledge and confirm:
``ack_alarm``; shelve and unshelve: ``shelve_alarm``; a refusal is audited by the guard
and raises PermissionDeniedError naming the roles that may), its signature where the
site asks ([security.signatures]) and its text (clean_text: a comment is required to
acknowledge the priorities in [alarming] ack_comment_required, a reason always to
shelve). Then the server is asked; what it accepted is audited (who, what, which
alarm, from which state to which, why, the signature's meaning). A server's refusal is
returned in words and changes nothing, so it is not audited as a change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from hmi.core.alarm_rules import Priority
from hmi.core.audit import AuditEntry
from hmi.core.security import Action, Actor, InputRejectedError, Signature, clean_text
from hmi.core.server_alarms import ConditionChanges, ConditionPort, ServerCondition
from hmi.core.site import AlarmSettings
from hmi.services.guard import Guard

log = logging.getLogger(__name__)


class UnknownServerAlarmError(LookupError):
    """No such device with server alarms, or the server does not retain that alarm."""


def _state(condition: ServerCondition) -> str:
    words = ["active" if condition.active else "inactive",
             "acked" if condition.acked else "unacked"]
    if condition.confirmed is not None:
        words.append("confirmed" if condition.confirmed else "unconfirmed")
    if condition.shelved:
        words.append(condition.shelved)
    return " ".join(words)


class ServerAlarmActions:
    """The one way operators act on server alarms; ``sources`` by device name."""

    def __init__(self, sources: Mapping[str, ConditionPort], guard: Guard,
                 record: Callable[[AuditEntry], object], settings: AlarmSettings,
                 clock: Callable[[], float] = time.time) -> None:
        self._sources = dict(sources)
        self._guard = guard
        self._record = record  # the audit trail's append (blocking: run in a thread)
        self._settings = settings
        self._clock = clock
        self._comment_for = frozenset(Priority(p) for p in settings.ack_comment_required)

    # -- what the screen reads -------------------------------------------------------------

    def conditions(self) -> list[ServerCondition]:
        """Every device's retained conditions, most urgent first, newest first."""
        found = [c for source in self._sources.values() for c in source.conditions()]
        return sorted(found, key=lambda c: (c.priority.rank, -c.time))

    def problems(self) -> dict[str, str]:
        """Device -> why its alarms cannot be had now (only the unreachable ones)."""
        return {name: source.problem or "not reachable"
                for name, source in self._sources.items() if not source.reachable}

    def add_listener(self, listener: Callable[[ConditionChanges], None]
                     ) -> Callable[[], None]:
        """``listener(changes)`` at each change of any device; returns the remover."""
        removers = [source.add_listener(listener) for source in self._sources.values()]

        def remove() -> None:
            for remover in removers:
                remover()

        return remove

    def condition_known(self, device: str, condition_id: str) -> bool:
        """Whether that device's server holds that condition now."""
        source = self._sources.get(device)
        return source is not None and source.condition(condition_id) is not None

    def comment_required(self, device: str, condition_id: str) -> bool:
        """Whether acknowledging this alarm needs a comment (the GUI asks for one)."""
        return self._find(device, condition_id).priority in self._comment_for

    # -- what people do ----------------------------------------------------------------------

    async def acknowledge(self, device: str, condition_id: str, actor: Actor | None,
                          comment: str = "", signature: Signature | None = None) -> str:
        """Acknowledge on the server; "" or why it was refused."""
        condition = self._find(device, condition_id)
        comment = clean_text(comment, "comment",
                             required=condition.priority in self._comment_for)
        source = self._sources[device]
        return await self._do(condition, actor, Action.ACK_ALARM, "ack", comment, signature,
                              lambda: source.acknowledge(condition_id, comment), "acked")

    async def confirm(self, device: str, condition_id: str, actor: Actor | None,
                      comment: str = "", signature: Signature | None = None) -> str:
        """Confirm on the server (the operator saw it return to normal); "" or why not."""
        condition = self._find(device, condition_id)
        comment = clean_text(comment, "comment")
        source = self._sources[device]
        return await self._do(condition, actor, Action.ACK_ALARM, "confirm", comment,
                              signature, lambda: source.confirm(condition_id, comment),
                              "confirmed")

    async def shelve(self, device: str, condition_id: str, actor: Actor | None,
                     minutes: float, reason: str, signature: Signature | None = None) -> str:
        """Shelve for ``minutes`` (at most [alarming] max_shelve_minutes; the server may
        allow less, and says so); a reason is required."""
        condition = self._find(device, condition_id)
        reason = clean_text(reason, "reason", required=True)
        if not minutes > 0:
            raise InputRejectedError("a shelve needs a length in minutes, more than 0")
        most = self._settings.max_shelve_minutes
        if minutes > most:
            raise InputRejectedError(f"a shelve may last at most {most:g} minutes on this "
                                     f"site ([alarming] max_shelve_minutes), not {minutes:g}")
        until = time.strftime("%Y-%m-%d %H:%M:%S UTC",
                              time.gmtime(self._clock() + minutes * 60))
        source = self._sources[device]
        return await self._do(condition, actor, Action.SHELVE_ALARM, "shelve", reason,
                              signature, lambda: source.shelve(condition_id, minutes * 60),
                              f"TimedShelved until {until}")

    async def unshelve(self, device: str, condition_id: str, actor: Actor | None,
                       comment: str = "", signature: Signature | None = None) -> str:
        condition = self._find(device, condition_id)
        comment = clean_text(comment, "comment")
        source = self._sources[device]
        return await self._do(condition, actor, Action.SHELVE_ALARM, "unshelve", comment,
                              signature, lambda: source.unshelve(condition_id), "unshelved")

    # -- the one path ---------------------------------------------------------------------

    def _find(self, device: str, condition_id: str) -> ServerCondition:
        source = self._sources.get(device)
        if source is None:
            raise UnknownServerAlarmError(
                f"device {device!r} has no server alarms (alarms_and_conditions = true "
                "in its [[devices]] entry)")
        condition = source.condition(condition_id)
        if condition is None:
            raise UnknownServerAlarmError(
                f"{device} does not hold alarm {condition_id} any more (cleared and "
                "acknowledged, or the list is being refreshed)")
        return condition

    async def _do(self, condition: ServerCondition, actor: Actor | None, action: Action,
                  verb: str, text: str, signature: Signature | None,
                  ask: Callable[[], Awaitable[str]], new_value: str) -> str:
        target = f"server alarm {condition.device}/{condition.name}"
        # in a thread: a refusal writes its audit row (a durable commit, not on the loop)
        who = await asyncio.to_thread(self._guard.require, actor, action, target)
        meaning = self._guard.signed(who, action, signature)
        said = await ask()
        if said:
            log.warning("%s of %s by %s not done: %s", verb, target, who.name, said)
            return said
        entry = AuditEntry(who.name, who.role, f"{action.value}:{verb}",
                           f"{target} ({condition.condition_id})",
                           old_value=_state(condition), new_value=new_value, reason=text,
                           meaning=meaning)
        try:
            await asyncio.to_thread(self._record, entry)
        except Exception as exc:  # the server has done it: say the audit failed, loudly
            log.exception("%s of %s not audited", verb, target)
            return f"done, but NOT AUDITED: the audit trail could not be written ({exc})"
        return ""
