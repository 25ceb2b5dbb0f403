"""All of a station's alarms in one list: its own (the engine's, from [[alarms]]) and
those its PLCs' OPC UA servers raise (Part 9, hmi.services.server_alarms), read and
acted on the same way by the screens (hmi.core.ports.AlarmBoard, AlarmHandling).

A server condition appears as an alarm named ``device:condition-id`` (our own names
never hold a colon), its priority from its severity, its state from the server's
ActiveState, AckedState and ShelvingState; acknowledging or shelving it goes to the
server through ServerAlarmActions (permission, signature, audit). One that is back to normal,
acknowledged but not confirmed waits in the list; acknowledging it confirms it (Part 9's
Confirm). A server that cannot
be reached is named in ``problems``; its alarms stay listed as last known until the
ConditionRefresh on its return puts the list right.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from hmi.core.alarm_rules import AlarmKind, AlarmRule, Guidance
from hmi.core.alarm_states import (
    Alarm,
    AlarmEvent,
    AlarmRecord,
    AlarmState,
    AlarmTransition,
)
from hmi.core.listeners import Listeners
from hmi.core.security import Actor, Signature
from hmi.core.server_alarms import ConditionChanges, ServerCondition
from hmi.services.alarm_actions import AlarmActions
from hmi.services.alarms import AlarmEngine
from hmi.services.server_alarms import ServerAlarmActions, UnknownServerAlarmError


def server_name(condition: ServerCondition) -> str:
    return f"{condition.device}:{condition.condition_id}"


def server_rule(condition: ServerCondition) -> AlarmRule:
    return AlarmRule(
        server_name(condition), "", AlarmKind.DISCRETE, condition.priority,
        condition.message or condition.name, area=condition.device,
        equipment=condition.source_name.split(":", 1)[-1],  # "1:TankLevel": no index
        title=f"{condition.device}/{condition.name}",
        guidance=Guidance(cause=f"Raised by the OPC UA server of {condition.device}: "
                                f"condition {condition.name} (severity {condition.severity})"),
        source=f"OPC UA server of {condition.device}")


def server_record(condition: ServerCondition, occurrence: int = 0) -> AlarmRecord:
    """``occurrence``: how many times we have seen it become active (the horn sounds
    again for a new one, even within one update of the screen)."""
    # a server's shelve has no end we are told: it shows as shelved, with no time.
    # Back to normal, acknowledged but not confirmed (Part 9): the server keeps it until
    # an operator confirms it, so the list shows it as waiting for the operator (the
    # Acknowledge button confirms it); it does not sound.
    awaiting_confirm = (not condition.active and condition.acked
                        and condition.confirmed is False)
    alarm = Alarm(active=condition.active, acked=condition.acked and not awaiting_confirm,
                  shelved_until=math.inf if condition.shelved else None,
                  out_of_service=not condition.enabled)
    return AlarmRecord(server_name(condition), alarm, condition.time, occurrence)


class StationAlarms:
    """The screens' board and handling over the engine and the servers' alarms."""

    def __init__(self, engine: AlarmEngine, actions: AlarmActions,
                 servers: ServerAlarmActions | None = None) -> None:
        self._engine = engine
        self._actions = actions
        self._servers = servers
        self._rules: dict[str, AlarmRule] = dict(engine.rules)
        self._server: dict[str, ServerCondition] = {}
        self._occurrences: dict[str, int] = {}
        self.changes: Listeners[[Sequence[AlarmTransition]]] = Listeners("station alarms")
        self._remove_engine = engine.changes.add(self.changes.fire)
        self._remove_servers = servers.add_listener(self._on_server) if servers else None
        if servers is not None:
            for condition in servers.conditions():
                self._keep(condition)

    # -- the board ---------------------------------------------------------------------

    @property
    def rules(self) -> Mapping[str, AlarmRule]:
        return self._rules

    def records(self) -> dict[str, AlarmRecord]:
        records = self._engine.records()
        for name, condition in self._server.items():
            records[name] = server_record(condition, self._occurrences.get(name, 0))
        return records

    def problems(self) -> dict[str, str]:
        """Device -> why its server's alarms cannot be had now."""
        return self._servers.problems() if self._servers is not None else {}

    def _keep(self, condition: ServerCondition) -> None:
        name = server_name(condition)
        before = self._server.get(name)
        if condition.active and (before is None or not before.active):
            self._occurrences[name] = self._occurrences.get(name, 0) + 1
        self._server[name] = condition
        self._rules[name] = server_rule(condition)  # its message may change

    def _on_server(self, changes: ConditionChanges) -> None:
        said: list[AlarmTransition] = []
        for condition in changes.changed:
            before = self._server.get(server_name(condition))
            self._keep(condition)
            said.append(_said(condition, before))
        for condition in changes.removed:
            name = server_name(condition)
            self._occurrences.pop(name, None)
            if self._server.pop(name, None) is not None:
                said.append(AlarmTransition(name, condition.time, AlarmEvent.CLEAR,
                                            server_record(condition).alarm.state, Alarm(), 0,
                                            comment="no longer retained by the server"))
        # the problem line changes too: an empty batch says "look again"
        self.changes.fire(said)

    # -- handling ------------------------------------------------------------------------

    def comment_required(self, names: Sequence[str]) -> bool:
        own = [name for name in names if name in self._engine.rules]
        if own and self._actions.comment_required(own):
            return True
        servers = self._servers
        if servers is None:
            return False
        theirs = [self._server[name] for name in names if name in self._server]
        return any(servers.comment_required(c.device, c.condition_id) for c in theirs
                   if servers.condition_known(c.device, c.condition_id))

    async def acknowledge(self, names: Sequence[str], actor: Actor | None,
                          comment: str = "") -> dict[str, str]:
        """Each alarm answered on its own: the station's together (one transaction),
        each server's in turn; a server alarm gone meanwhile (acknowledged at the PLC,
        or refreshed away) is answered so, and the others still go ahead."""
        own = [name for name in names if name in self._engine.rules]
        said = await self._actions.acknowledge(own, actor, comment) if own else {}
        for name in names:
            if name in said:
                continue
            condition = self._server.get(name)
            if condition is None or self._servers is None:
                said[name] = "no longer held by the server (cleared or acknowledged there)"
                continue
            # acknowledged already and back to normal: what is left is to confirm it
            confirm = condition.acked and condition.confirmed is False
            act = self._servers.confirm if confirm else self._servers.acknowledge
            try:
                said[name] = await act(condition.device, condition.condition_id, actor,
                                       comment)
            except UnknownServerAlarmError:
                said[name] = "no longer held by the server (cleared or acknowledged there)"
        return {name: said[name] for name in names}

    async def shelve(self, name: str, actor: Actor | None, minutes: float, reason: str,
                     signature: Signature | None = None) -> str:
        condition = self._server.get(name)
        if condition is None or self._servers is None:
            return await self._actions.shelve(name, actor, minutes, reason, signature)
        return await self._servers.shelve(condition.device, condition.condition_id, actor,
                                          minutes, reason, signature)

    async def unshelve(self, name: str, actor: Actor | None, comment: str = "",
                       signature: Signature | None = None) -> str:
        condition = self._server.get(name)
        if condition is None or self._servers is None:
            return await self._actions.unshelve(name, actor, comment, signature)
        return await self._servers.unshelve(condition.device, condition.condition_id,
                                            actor, comment, signature)

    async def remove_from_service(self, name: str, actor: Actor | None, reason: str,
                                  signature: Signature | None = None) -> str:
        if name in self._server:
            return "an alarm of a PLC's server is enabled or disabled on the PLC"
        return await self._actions.remove_from_service(name, actor, reason, signature)

    async def return_to_service(self, name: str, actor: Actor | None, comment: str = "",
                                signature: Signature | None = None) -> str:
        if name in self._server:
            return "an alarm of a PLC's server is enabled or disabled on the PLC"
        return await self._actions.return_to_service(name, actor, comment, signature)

    def close(self) -> None:
        self._remove_engine()
        if self._remove_servers is not None:
            self._remove_servers()


def _said(condition: ServerCondition, before: ServerCondition | None) -> AlarmTransition:
    """A transition for the screens (not journalled: the server keeps its own)."""
    after = server_record(condition).alarm
    was = server_record(before).alarm.state if before is not None else AlarmState.NORMAL
    if before is None or condition.active != before.active:
        event = AlarmEvent.ACTIVATE if condition.active else AlarmEvent.CLEAR
    elif condition.acked and not before.acked:
        event = AlarmEvent.ACK
    elif bool(condition.shelved) != bool(before.shelved):
        event = AlarmEvent.SHELVE if condition.shelved else AlarmEvent.UNSHELVE
    else:
        event = AlarmEvent.ACTIVATE if condition.active else AlarmEvent.CLEAR
    return AlarmTransition(server_name(condition), condition.time, event, was, after, 0,
                           user="server", comment=condition.comment)
