"""The ISA-18.2 alarm state machine: pure, one function from (alarm, event) to the next.

An alarm is four independent facts, and its ISA-18.2 state is read from them:

- the process condition (``active``): the alarm's rule says the process is abnormal;
- ``acked``: the operator has acknowledged the latest activation;
- ``latched`` (latching alarms only): it went active and waits for a reset, even after
  the process returned to normal (OPC UA Part 9's LatchedState);
- its handling: ``shelved_until`` (a deadline), ``suppressed`` (by design: a condition
  such as "line stopped"), ``out_of_service``.

The states, as ISA-18.2 names them (letters of its state diagram):

==================  =====================================================================
NORMAL (A)          process normal, acknowledged, not latched
UNACKED (B)         process abnormal, not acknowledged: annunciated (the horn)
ACKED (C)           process abnormal, acknowledged
RTN_UNACKED (D)     process returned to normal, the activation not yet acknowledged
LATCHED (E)         a latching alarm whose process returned to normal: waits for a reset
SHELVED (F)         hidden by an operator for a time, with a reason
SUPPRESSED (G)      suppressed by design while its condition holds
OUT_OF_SERVICE (H)  removed from service (maintenance), with a reason
==================  =====================================================================

Out of service wins over suppressed, suppressed over shelved (the most deliberate
handling is shown). While shelved, suppressed or out of service the process condition
is still followed, nothing is annunciated, and acknowledging is refused; when the alarm
comes back it is re-evaluated: process normal -> NORMAL; process abnormal ->
UNACKED, except a manual unshelve (ISA-18.2 11.7.3: the operator who unshelves knows
it is there), which comes back ACKED. A shelve expiring is an automatic unshelve.

Events that do not apply in a state are refused with the reason, nothing changed:
``step`` returns the alarm unchanged and the reason; the services show it.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace


class AlarmState(enum.Enum):
    NORMAL = "normal"
    UNACKED = "unacknowledged"
    ACKED = "acknowledged"
    RTN_UNACKED = "returned to normal, unacknowledged"
    LATCHED = "latched"
    SHELVED = "shelved"
    SUPPRESSED = "suppressed by design"
    OUT_OF_SERVICE = "out of service"

    @property
    def annunciated(self) -> bool:
        """Shown to the operator as needing attention (the horn sounds while unacked)."""
        return self in (AlarmState.UNACKED, AlarmState.ACKED, AlarmState.RTN_UNACKED,
                        AlarmState.LATCHED)


class AlarmEvent(enum.Enum):
    ACTIVATE = "activate"  # the rule: the process is abnormal
    CLEAR = "clear"  # the rule: the process returned to normal
    ACK = "acknowledge"
    RESET = "reset"  # a latched alarm whose process is normal again (acknowledges too)
    SHELVE = "shelve"
    UNSHELVE = "unshelve"  # by an operator
    SHELVE_EXPIRED = "shelve expired"  # the automatic unshelve
    SUPPRESS = "suppress"  # the design condition began to hold
    UNSUPPRESS = "unsuppress"
    REMOVE_FROM_SERVICE = "remove from service"
    RETURN_TO_SERVICE = "return to service"


@dataclass(frozen=True, slots=True)
class Alarm:
    """What the state machine knows of one alarm."""

    active: bool = False
    acked: bool = True
    latched: bool = False
    shelved_until: float | None = None  # POSIX seconds; None: not shelved
    suppressed: bool = False
    out_of_service: bool = False
    latching: bool = False  # configured: a latching alarm

    @property
    def state(self) -> AlarmState:
        if self.out_of_service:
            return AlarmState.OUT_OF_SERVICE
        if self.suppressed:
            return AlarmState.SUPPRESSED
        if self.shelved_until is not None:
            return AlarmState.SHELVED
        if self.active:
            return AlarmState.ACKED if self.acked else AlarmState.UNACKED
        if self.latched:
            return AlarmState.LATCHED
        return AlarmState.NORMAL if self.acked else AlarmState.RTN_UNACKED

    @property
    def handled(self) -> bool:
        """Shelved, suppressed or out of service: followed, not annunciated."""
        return self.out_of_service or self.suppressed or self.shelved_until is not None


@dataclass(frozen=True, slots=True)
class Step:
    """The outcome of one event: the alarm after it, and why it was refused ("" if
    it was not). ``changed`` says whether the ISA-18.2 state moved (a transition to
    record)."""

    before: Alarm
    after: Alarm
    refused: str = ""

    @property
    def changed(self) -> bool:
        return self.before.state is not self.after.state

    @property
    def recorded(self) -> bool:
        """Something about the alarm changed (its state, or a fact the state hides: the
        process going abnormal while shelved, a shelve's new end): a journal row."""
        return self.before != self.after

    @property
    def ok(self) -> bool:
        return not self.refused


def step(alarm: Alarm, event: AlarmEvent, *, now: float = 0.0,
         until: float | None = None, max_shelve_s: float = math.inf) -> Step:
    """``alarm`` after ``event``. ``until`` is a SHELVE's deadline (POSIX seconds, after
    ``now`` and at most ``max_shelve_s`` later)."""
    handler = _HANDLERS[event]
    result = handler(alarm, now, until, max_shelve_s)
    if isinstance(result, str):
        return Step(alarm, alarm, result)
    return Step(alarm, result)


def _came_back(alarm: Alarm, *, acked: bool) -> Alarm:
    """Re-evaluated on leaving shelved, suppressed or out of service (when none is left)."""
    if alarm.handled:
        return alarm
    if alarm.active:
        return replace(alarm, acked=acked, latched=alarm.latching)
    return replace(alarm, acked=True, latched=False)


def _activate(alarm: Alarm, now: float, until: float | None, cap: float) -> Alarm | str:
    if alarm.active:
        return "already active"
    if alarm.handled:  # followed, not annunciated: nothing to acknowledge later
        return replace(alarm, active=True)
    return replace(alarm, active=True, acked=False, latched=alarm.latching)


def _clear(alarm: Alarm, now: float, until: float | None, cap: float) -> Alarm | str:
    if not alarm.active:
        return "not active"
    return replace(alarm, active=False)  # unacked stays unacked (D), latched stays (E)


def _ack(alarm: Alarm, now: float, until: float | None, cap: float) -> Alarm | str:
    state = alarm.state
    if alarm.handled:
        return f"{state.value}: nothing to acknowledge"
    if alarm.acked:
        return "already acknowledged" if state is not AlarmState.NORMAL else \
            "normal: nothing to acknowledge"
    return replace(alarm, acked=True)


def _reset(alarm: Alarm, now: float, until: float | None, cap: float) -> Alarm | str:
    if not alarm.latching:
        return "not a latching alarm: nothing to reset"
    if alarm.handled:
        return f"{alarm.state.value}: nothing to reset"
    if alarm.active:
        return "the condition is still present: reset when the process is normal"
    if not alarm.latched:
        return "not latched: nothing to reset"
    return replace(alarm, latched=False, acked=True)


def _shelve(alarm: Alarm, now: float, until: float | None, cap: float) -> Alarm | str:
    if alarm.out_of_service:
        return "out of service: return it to service before shelving it"
    if until is None or not until > now:
        return "a shelve needs an end in the future"
    if until - now > cap:
        return (f"a shelve may last at most {_duration(cap)} "
                f"(asked: {_duration(until - now)})")
    return replace(alarm, shelved_until=until)


def _unshelve(alarm: Alarm, now: float, until: float | None, cap: float) -> Alarm | str:
    if alarm.shelved_until is None:
        return "not shelved"
    return _came_back(replace(alarm, shelved_until=None), acked=True)


def _shelve_expired(alarm: Alarm, now: float, until: float | None, cap: float
                    ) -> Alarm | str:
    if alarm.shelved_until is None:
        return "not shelved"
    if now < alarm.shelved_until:
        return "the shelve has not expired yet"
    return _came_back(replace(alarm, shelved_until=None), acked=False)


def _suppress(alarm: Alarm, now: float, until: float | None, cap: float) -> Alarm | str:
    if alarm.suppressed:
        return "already suppressed"
    return replace(alarm, suppressed=True)


def _unsuppress(alarm: Alarm, now: float, until: float | None, cap: float) -> Alarm | str:
    if not alarm.suppressed:
        return "not suppressed"
    return _came_back(replace(alarm, suppressed=False), acked=False)


def _remove(alarm: Alarm, now: float, until: float | None, cap: float) -> Alarm | str:
    if alarm.out_of_service:
        return "already out of service"
    # a shelve ends with it: out of service is the longer, more deliberate handling
    return replace(alarm, out_of_service=True, shelved_until=None)


def _return(alarm: Alarm, now: float, until: float | None, cap: float) -> Alarm | str:
    if not alarm.out_of_service:
        return "not out of service"
    return _came_back(replace(alarm, out_of_service=False), acked=False)


def _duration(seconds: float) -> str:
    if math.isinf(seconds):
        return "for ever"
    minutes = round(seconds / 60, 1)  # (asked a moment ago: 89.9998 min is 90 min)
    if minutes < 120:
        return f"{minutes:g} min"
    return f"{round(minutes / 60, 1):g} h"


_HANDLERS = {
    AlarmEvent.ACTIVATE: _activate,
    AlarmEvent.CLEAR: _clear,
    AlarmEvent.ACK: _ack,
    AlarmEvent.RESET: _reset,
    AlarmEvent.SHELVE: _shelve,
    AlarmEvent.UNSHELVE: _unshelve,
    AlarmEvent.SHELVE_EXPIRED: _shelve_expired,
    AlarmEvent.SUPPRESS: _suppress,
    AlarmEvent.UNSUPPRESS: _unsuppress,
    AlarmEvent.REMOVE_FROM_SERVICE: _remove,
    AlarmEvent.RETURN_TO_SERVICE: _return,
}


SYSTEM_USER = "system"  # who the engine's own transitions (activate, clear, expiry) are by


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    """One alarm as stored: its facts, since when it is in its state, and how many times
    it has become active (an occurrence is raised once, also across a restart)."""

    name: str
    alarm: Alarm
    since: float  # when it entered its current state
    occurrence: int = 0


@dataclass(frozen=True, slots=True)
class AlarmTransition:
    """A journal row: what happened to an alarm, when, by whom and why."""

    name: str
    time: float
    event: AlarmEvent
    before: AlarmState
    after: Alarm
    occurrence: int
    user: str = SYSTEM_USER
    comment: str = ""
    value: str = ""  # the value that caused it (activate, clear), as text

    @property
    def state(self) -> AlarmState:
        return self.after.state
