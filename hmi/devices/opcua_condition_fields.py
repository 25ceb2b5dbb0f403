"""The Part 9 (Alarms & Conditions) vocabulary of ``ConditionSource``: the event fields
it subscribes to (``FIELDS``, read by position through ``INDEX``), the event filter, the
event types a refresh is made of, and how a field's value and a server's refusal read.
Pure asyncua types; no session."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from asyncua import ua
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds

_O = ObjectIds
_BASE, _CONDITION = _O.BaseEventType, _O.ConditionType
_ACKABLE, _ALARM = _O.AcknowledgeableConditionType, _O.AlarmConditionType
# (type that defines the field, browse path); "" is the ConditionId (the NodeId attribute)
FIELDS: tuple[tuple[int, str], ...] = (
    (_BASE, "EventId"),
    (_BASE, "EventType"),
    (_BASE, "SourceName"),
    (_BASE, "Time"),
    (_BASE, "Message"),
    (_BASE, "Severity"),
    (_CONDITION, ""),
    (_CONDITION, "ConditionName"),
    (_CONDITION, "BranchId"),
    (_CONDITION, "Retain"),
    (_CONDITION, "EnabledState/Id"),
    (_CONDITION, "Comment"),
    (_ACKABLE, "AckedState/Id"),
    (_ACKABLE, "ConfirmedState/Id"),
    (_ALARM, "ActiveState/Id"),
    (_ALARM, "ShelvingState/CurrentState"),
    (_ALARM, "ShelvingState/CurrentState/Id"),
)
INDEX = {path or "ConditionId": i for i, (_type, path) in enumerate(FIELDS)}
REFRESH_START, REFRESH_END = _O.RefreshStartEventType, _O.RefreshEndEventType
REFRESH_REQUIRED = _O.RefreshRequiredEventType
QUEUE_OVERFLOW = _O.EventQueueOverflowEventType
SHELVED_NAMES = {
    _O.ShelvedStateMachineType_TimedShelved: "TimedShelved",
    _O.ShelvedStateMachineType_OneShotShelved: "OneShotShelved",
}
UNSHELVED = _O.ShelvedStateMachineType_Unshelved
EVENT_QUEUE_SIZE = 1000  # on the server: a refresh of many conditions must not overflow
# what a refusal means, for the operator (Part 9 and Part 4 result codes)
REFUSALS = {
    "BadShelvingTimeOutOfRange": "longer than the server allows",
    "BadConditionAlreadyShelved": "it is already shelved",
    "BadConditionNotShelved": "it is not shelved",
    "BadConditionBranchAlreadyAcked": "it is already acknowledged",
    "BadConditionBranchAlreadyConfirmed": "it is already confirmed",
    "BadConditionAlreadyDisabled": "it is disabled",
    "BadConditionDisabled": "it is disabled",
    "BadEventIdUnknown": "the alarm changed meanwhile: look at it again and retry",
    "BadUserAccessDenied": "the server's user for this device may not do that",
    "BadMethodInvalid": "the server does not offer that for this alarm",
    "BadNodeIdUnknown": "the server does not know this alarm any more",
    "BadNoMatch": "the server does not offer that for this alarm",
}



def ns0(identifier: int) -> ua.NodeId:
    """A numeric node id of the standard namespace (the Part 9 types and methods)."""
    return ua.NodeId(ua.Int32(identifier))


def _operand(type_id: int, path: str) -> ua.SimpleAttributeOperand:
    operand = ua.SimpleAttributeOperand()
    operand.TypeDefinitionId = ns0(type_id)
    if path:
        operand.BrowsePath = [ua.QualifiedName(part, 0) for part in path.split("/")]
        operand.AttributeId = AttributeIds.Value
    else:
        operand.BrowsePath = []
        operand.AttributeId = AttributeIds.NodeId
    return operand


def _of_types(type_ids: Sequence[int]) -> ua.ContentFilter:
    """Where clause: the event is of one of these types (OfType joined by Or)."""
    elements: list[ua.ContentFilterElement] = []
    for i, type_id in enumerate(type_ids):
        of_type = ua.ContentFilterElement(
            FilterOperator=ua.FilterOperator.OfType,
            FilterOperands=[ua.LiteralOperand(Value=ua.Variant(ns0(type_id)))],
        )
        if i < len(type_ids) - 1:
            base = len(elements)
            elements.append(ua.ContentFilterElement(
                FilterOperator=ua.FilterOperator.Or,
                FilterOperands=[ua.ElementOperand(Index=base + 1),
                                ua.ElementOperand(Index=base + 2)],
            ))
        elements.append(of_type)
    return ua.ContentFilter(Elements=elements)


def event_filter() -> ua.EventFilter:
    """The Part 9 fields of conditions, and the refresh events that frame a refresh."""
    flt = ua.EventFilter()
    flt.SelectClauses = [_operand(type_id, path) for type_id, path in FIELDS]
    flt.WhereClause = _of_types(
        (_CONDITION, REFRESH_START, REFRESH_END, REFRESH_REQUIRED, QUEUE_OVERFLOW)
    )
    return flt


def refusal_text(what: str, code: ua.StatusCode | int) -> str:
    """"the server refused the shelve: BadShelvingTimeOutOfRange (longer than ...)"."""
    name = ua.StatusCode(ua.UInt32(code)).name if isinstance(code, int) else code.name
    meaning = REFUSALS.get(name)
    return f"the server refused the {what}: {name}" + (f" ({meaning})" if meaning else "")


def text_of(value: Any) -> str:
    if isinstance(value, ua.LocalizedText):
        return value.Text or ""
    return "" if value is None else str(value)


def seconds_of(value: Any, default: float) -> float:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return float(value.timestamp())
    return default


def is_null(node_id: Any) -> bool:
    return not isinstance(node_id, ua.NodeId) or node_id.is_null()


def shelved_name(state: Any, state_id: Any) -> str:
    if isinstance(state_id, ua.NodeId) and state_id.NamespaceIndex == 0:
        identifier = state_id.Identifier
        if identifier == UNSHELVED:
            return ""
        if isinstance(identifier, int) and identifier in SHELVED_NAMES:
            return SHELVED_NAMES[identifier]
    name = text_of(state)
    return "" if name in ("", "Unshelved") else name
