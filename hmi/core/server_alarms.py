"""Alarms a PLC's own OPC UA server raises (OPC UA Part 9, Alarms & Conditions), as the
rest of the HMI sees them: one ``ServerCondition`` per retained condition, and the
``ConditionChanges`` a source tells its listeners. Pure: the client is in hmi.devices.

Severity (1..1000, Part 9) maps onto our ISA-18.2 priorities in fixed bands, the split
most servers' documentation suggests (four equal-ish bands, urgent at the top):
801..1000 critical, 601..800 high, 401..600 medium, 1..400 low.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hmi.core.alarm_rules import Priority

SEVERITY_BANDS = ((801, Priority.CRITICAL), (601, Priority.HIGH), (401, Priority.MEDIUM))


def priority_for_severity(severity: int) -> Priority:
    """Our priority for a Part 9 severity (see the module docstring for the bands)."""
    for lowest, priority in SEVERITY_BANDS:
        if severity >= lowest:
            return priority
    return Priority.LOW


@dataclass(frozen=True, slots=True)
class ServerCondition:
    """One condition the server retains (Part 9 Retain = true), as of its latest event."""

    device: str
    condition_id: str  # the condition's NodeId as text ("ns=1;s=TankLevelAlarm"): the key
    name: str  # ConditionName
    source_name: str
    message: str
    severity: int  # 1..1000
    priority: Priority  # from severity: priority_for_severity
    active: bool
    acked: bool
    confirmed: bool | None  # None: the condition type has no ConfirmedState
    shelved: str  # "" or the shelving state's name ("TimedShelved", "OneShotShelved")
    enabled: bool
    time: float  # POSIX seconds of the latest event (the server's Time field)
    comment: str

    @property
    def key(self) -> tuple[str, str]:
        """Unique across devices: (device, condition_id)."""
        return self.device, self.condition_id


@dataclass(frozen=True, slots=True)
class ConditionChanges:
    """What one source tells its listeners: conditions that changed or appeared, those
    the server no longer retains (as last seen), and whether it is reachable now."""

    device: str
    changed: tuple[ServerCondition, ...]
    removed: tuple[ServerCondition, ...]
    reachable: bool
    problem: str  # why it is not reachable; "" when it is


class ConditionPort(Protocol):
    """What a source of server alarms offers (hmi.devices.opcua_conditions.ConditionSource).

    Each action answers "" when the server accepted it, else why not, in words."""

    def conditions(self) -> list[ServerCondition]: ...

    def condition(self, condition_id: str) -> ServerCondition | None: ...

    @property
    def reachable(self) -> bool: ...

    @property
    def problem(self) -> str: ...

    def add_listener(self, listener: Callable[[ConditionChanges], None]
                     ) -> Callable[[], None]: ...

    async def acknowledge(self, condition_id: str, comment: str = "") -> str: ...

    async def confirm(self, condition_id: str, comment: str = "") -> str: ...

    async def shelve(self, condition_id: str, seconds: float) -> str: ...

    async def unshelve(self, condition_id: str) -> str: ...
