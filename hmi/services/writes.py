"""Writing a value to a PLC on an operator's behalf: checks, routing, and the log line.

Every write passes through ``WriteService.write``; a write the site config does not
allow is REFUSED here, before anything goes on the wire, with a message that says what
to do. The writer (the device supervisor's ``write``) is handed in by the composition
root, so this module needs no device library.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import Awaitable, Callable

from hmi.core.audit import AuditEntry
from hmi.core.datatypes import DataType
from hmi.core.samples import Sample, Value
from hmi.core.security import (
    Action,
    Actor,
    InputRejectedError,
    PermissionDeniedError,
    Signature,
    clean_text,
)
from hmi.core.site import Site, Tag
from hmi.core.writes import WriteOutcome, WriteResult
from hmi.services.guard import Guard

log = logging.getLogger(__name__)

Writer = Callable[[str, Value], Awaitable[WriteResult]]
LatestValue = Callable[[str], Sample | None]

_INTEGER_RANGES = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}
_TRUE = frozenset({"1", "true", "on", "yes"})
_FALSE = frozenset({"0", "false", "off", "no"})


class WriteService:
    """The one place a value is written to a PLC from the HMI or the CLI."""

    def __init__(self, site: Site, writer: Writer, guard: Guard,
                 record: Callable[[AuditEntry], object],
                 latest: LatestValue | None = None) -> None:
        self._site = site
        self._writer = writer
        self._guard = guard
        self._record = record  # the audit trail's append (a blocking call: run in a thread)
        self._latest = latest

    async def write(self, tag_name: str, value: Value, actor: Actor | None,
                    signature: Signature | None = None, reason: str = "") -> WriteResult:
        """Check permission and signature, check the value, send, read back; audit and
        log who wrote what, from what, why, and how it ended. Never raises: a refusal
        is a REFUSED result with the reason."""
        try:
            who = await asyncio.to_thread(self._guard.require, actor, Action.WRITE_SETPOINT,
                                          tag_name)
            meaning = self._guard.signed(who, Action.WRITE_SETPOINT, signature)
            reason = clean_text(reason, "reason")
        except (PermissionDeniedError, InputRejectedError) as exc:
            return WriteResult(tag_name, WriteOutcome.REFUSED, value, message=str(exc))
        old = self._old_value(tag_name)
        refusal = self.check(tag_name, value)
        if refusal is not None:
            result = WriteResult(tag_name, WriteOutcome.REFUSED, value, message=refusal)
        else:
            try:
                result = await self._writer(tag_name, value)
            except Exception as exc:  # the writer should not raise; an operator must not see it
                log.exception("writer failed for %s", tag_name)
                result = WriteResult(tag_name, WriteOutcome.FAILED, value, message=str(exc))
        level = logging.INFO if result.ok else logging.WARNING
        log.log(
            level,
            "write by %s: %s %r -> %r: %s%s",
            who.name, tag_name, old, value, result.outcome.value,
            f" ({result.message})" if result.message else "",
        )
        outcome = result.outcome.value + (f": {result.message}" if result.message else "")
        entry = AuditEntry(who.name, who.role, Action.WRITE_SETPOINT.value, tag_name,
                           old_value=_text(old), new_value=_text(value),
                           reason="; ".join(p for p in (reason, outcome) if p), meaning=meaning)
        try:
            await asyncio.to_thread(self._record, entry)
        except Exception as exc:  # the PLC has the value: say the audit failed, loudly
            log.exception("write of %s not audited", tag_name)
            return dataclasses.replace(result, message=(
                f"{result.message}; " if result.message else "") +
                f"NOT AUDITED: the audit trail could not be written ({exc})")
        return result

    def check(self, tag_name: str, value: Value) -> str | None:
        """Why this write is refused, or None when it may go ahead."""
        try:
            tag = self._site.tag(tag_name)
        except KeyError:
            return f"there is no tag {tag_name!r} in the site config: check its name"
        if not tag.writable:
            return f"{tag.name} is read-only in the site config (writable = false)"
        return type_problem(tag, value) or range_problem(tag, value) or None

    def _old_value(self, tag_name: str) -> Value:
        sample = self._latest(tag_name) if self._latest is not None else None
        return sample.value if sample is not None else None


def _text(value: Value) -> str:
    return "" if value is None else str(value)


def type_problem(tag: Tag, value: Value) -> str:
    """Why ``value`` does not fit the tag's data type ('' when it does)."""
    kind = tag.data_type
    if kind is DataType.BOOL:
        if isinstance(value, bool):
            return ""
        return f"{tag.name} takes ON or OFF (true/false), not {value!r}"
    if kind is DataType.STRING:
        if not isinstance(value, str):
            return f"{tag.name} takes text, not {value!r}"
        limit = 2 * tag.length if tag.length else None
        if limit is not None and len(value.encode("utf-8")) > limit:
            return f"{tag.name} holds at most {limit} characters; {value!r} is longer"
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{tag.name} takes a number ({kind.value}), not {value!r}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{tag.name} takes a finite number, not {value!r}"
    if kind in _INTEGER_RANGES and tag.scaling is None:
        if isinstance(value, float) and not value.is_integer():
            return f"{tag.name} takes whole numbers ({kind.value}); {value:g} is not one"
        low, high = _INTEGER_RANGES[kind]
        if not low <= value <= high:
            return f"{value:g} does not fit {tag.name} ({kind.value}: {low} to {high})"
    return ""


def range_problem(tag: Tag, value: Value) -> str:
    """Why ``value`` is outside the tag's engineering range ('' when inside)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    units = f" {tag.units}" if tag.units else ""
    if tag.high is not None and value > tag.high:
        return f"{value:g} is above the high limit {tag.high:g}{units}"
    if tag.low is not None and value < tag.low:
        return f"{value:g} is below the low limit {tag.low:g}{units}"
    return ""


def parse_value(tag: Tag, text: str) -> Value:
    """Text typed by a person (CLI, an entry field) into the tag's type, when it reads as
    one; otherwise the text itself, which the service then refuses with a reason."""
    cleaned = text.strip()
    kind = tag.data_type
    if kind is DataType.STRING:
        return text
    if kind is DataType.BOOL:
        lowered = cleaned.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else text
    try:
        number = float(cleaned)
    except ValueError:
        return text
    if kind in _INTEGER_RANGES:
        try:
            return int(cleaned)  # exact, even beyond 2**53
        except ValueError:
            pass
    return number
