"""The [[alarms]] blocks and the [alarming] section: each alarm's rule, checked against
the tags and devices, and the station's alarm handling settings.

    [[alarms]]
    name = "Filler.TankLow"
    tag = "Filler.TankLevel"
    type = "lo"                # hihi, hi, lo, lolo, discrete, deviation, rate, bad_quality
    limit = 20.0               # deviation: the band; rate: units per second
    deadband = 1.0
    on_delay = 2               # seconds
    priority = "high"          # critical, high, medium, low
    message = "Filler tank low"
    area = "Filling"
    equipment = "Filler"
    cause = "..."              # guidance for the operator
    consequence = "..."
    action = "..."
    suppress_when = "not Line.Running"

    [alarming]
    max_shelve_minutes = 480
    ack_comment_required = ["critical"]
    # operator positions and the areas each watches, for the alarm rates and floods of
    # `hmi alarms report` (default: one position, "Station", watching every area)
    positions = { "Filling console" = ["Filling"], "Packing console" = ["Packing"] }
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from typing import Any

from hmi.config.checker import Checker, declared, sorted_keys
from hmi.config.locate import Path
from hmi.core.alarm_expr import ExpressionError, parse_expression
from hmi.core.alarm_kpi import NO_POSITION
from hmi.core.alarm_rules import AlarmKind, AlarmRule, Guidance, Priority
from hmi.core.datatypes import DataType
from hmi.core.samples import Value
from hmi.core.site import AlarmSettings, Tag

_KEYS = frozenset({
    "name", "tag", "device", "type", "limit", "deadband", "on_delay", "off_delay",
    "priority", "message", "area", "equipment", "cause", "consequence", "action",
    "latching", "when", "setpoint_tag", "suppress_when",
})
_SETTINGS_KEYS = frozenset({"max_shelve_minutes", "ack_comment_required", "positions"})
_ANALOG_ORDER = (AlarmKind.LOLO, AlarmKind.LO, AlarmKind.HI, AlarmKind.HIHI)
MAX_DELAY_S = 3600.0


def parse_alarms(check: Checker, raw: dict[str, Any], tags: Collection[Tag],
                 devices: Collection[str]) -> list[AlarmRule]:
    by_name = {tag.name: tag for tag in tags}
    declared_tags = declared(raw, "tags")
    rules: list[AlarmRule] = []
    seen: set[str] = set()
    limits: dict[str, dict[AlarmKind, tuple[float, Path, str]]] = {}
    for i, entry in enumerate(check.array(raw, "alarms")):
        path: Path = ("alarms", i)
        check.unknown_keys(entry, path, _KEYS, "[[alarms]]")
        name = check.name(entry, path, "alarm", seen)
        kind = check.choice(entry, (*path, "type"), AlarmKind, None, "alarm type")
        priority = check.choice(entry, (*path, "priority"), Priority, Priority.MEDIUM,
                                "priority")
        rule = _rule(check, entry, path, name or "?", kind, priority, by_name,
                     declared_tags, devices)
        if rule is None or name is None:
            continue
        if kind in _ANALOG_ORDER and rule.limit is not None:
            limits.setdefault(rule.tag, {})[kind] = (rule.limit, (*path, "limit"), name)
        rules.append(rule)
    _check_order(check, limits)
    return rules


def _rule(check: Checker, entry: dict[str, Any], path: Path, name: str,
          kind: AlarmKind | None, priority: Priority | None, tags: Mapping[str, Tag],
          declared_tags: set[str], devices: Collection[str]) -> AlarmRule | None:
    before = len(check.issues)
    tag_name, device = _watched(check, entry, path, name, kind, tags, declared_tags,
                                devices)
    limit = _limit(check, entry, path, name, kind)
    deadband = check.number(entry, (*path, "deadband"), 0.0, 0.0, 1e12)
    on_delay = check.number(entry, (*path, "on_delay"), 0.0, 0.0, MAX_DELAY_S)
    off_delay = check.number(entry, (*path, "off_delay"), 0.0, 0.0, MAX_DELAY_S)
    states = _states(check, entry, path, name, kind)
    setpoint = _setpoint(check, entry, path, name, kind, declared_tags)
    suppress = _suppression(check, entry, path, name, declared_tags)
    message = check.text(entry, (*path, "message"), name)
    if len(check.issues) != before or kind is None or priority is None:
        return None
    return AlarmRule(
        name=name, tag=tag_name, kind=kind, priority=priority, message=message,
        limit=limit, deadband=deadband, on_delay=on_delay, off_delay=off_delay,
        states=states, setpoint_tag=setpoint,
        latching=check.flag(entry, (*path, "latching"), default=False),
        area=check.text(entry, (*path, "area")),
        equipment=check.text(entry, (*path, "equipment")),
        guidance=Guidance(check.text(entry, (*path, "cause")),
                          check.text(entry, (*path, "consequence")),
                          check.text(entry, (*path, "action"))),
        suppress_when=suppress, device=device,
    )


def _watched(check: Checker, entry: dict[str, Any], path: Path, name: str,
             kind: AlarmKind | None, tags: Mapping[str, Tag], declared_tags: set[str],
             devices: Collection[str]) -> tuple[str, str]:
    """(tag, device): what the alarm watches; a device only for a bad_quality alarm."""
    tag_name = entry.get("tag", "")
    device = entry.get("device", "")
    if kind is AlarmKind.BAD_QUALITY and device and not tag_name:
        if device not in devices:
            check.error((*path, "device"), f"alarm {name!r}: device {device!r} is not a "
                        f"defined device; defined: {sorted_keys(set(devices)) or 'none'}")
        return "", str(device)
    if not isinstance(tag_name, str) or not tag_name:
        what = "tag = (or device = for a bad_quality alarm)" if \
            kind is AlarmKind.BAD_QUALITY else "tag ="
        check.error(path, f"alarm {name!r}: {what} is required: the tag it watches")
    elif tag_name not in declared_tags:
        check.error((*path, "tag"), f"alarm {name!r}: tag {tag_name!r} is not a defined tag")
    elif device:
        check.error((*path, "device"), f"alarm {name!r}: give tag or device, not both")
    elif kind is not None and kind.analog and tag_name in tags and \
            tags[tag_name].data_type is DataType.STRING:
        check.error((*path, "type"), f"alarm {name!r}: a {kind.value} alarm needs a number, "
                    f"and tag {tag_name!r} holds text; use type = \"discrete\" with when = "
                    "the texts that are abnormal")
    return str(tag_name), ""


def _setpoint(check: Checker, entry: dict[str, Any], path: Path, name: str,
              kind: AlarmKind | None, declared_tags: set[str]) -> str:
    setpoint = entry.get("setpoint_tag", "")
    if kind is AlarmKind.DEVIATION and not setpoint:
        check.error(path, f"alarm {name!r}: a deviation alarm needs setpoint_tag = the tag "
                    "it is compared with")
    elif setpoint and kind is not AlarmKind.DEVIATION:
        check.error((*path, "setpoint_tag"), f"alarm {name!r}: setpoint_tag is for "
                    "deviation alarms only")
    elif setpoint and setpoint not in declared_tags:
        check.error((*path, "setpoint_tag"), f"alarm {name!r}: setpoint_tag {setpoint!r} "
                    "is not a defined tag")
    return str(setpoint)


def _suppression(check: Checker, entry: dict[str, Any], path: Path, name: str,
                 declared_tags: set[str]) -> str:
    suppress = check.text(entry, (*path, "suppress_when"))
    if not suppress:
        return ""
    try:
        expression = parse_expression(suppress)
    except ExpressionError as exc:
        check.error((*path, "suppress_when"), f"alarm {name!r}: suppress_when does not "
                    f"read: {exc}; e.g. suppress_when = \"not Line.Running\"")
        return ""
    for unknown in sorted(expression.tags - declared_tags):
        check.error((*path, "suppress_when"), f"alarm {name!r}: suppress_when names "
                    f"{unknown!r}, which is not a defined tag")
    return suppress


def _limit(check: Checker, entry: dict[str, Any], path: Path, name: str,
           kind: AlarmKind | None) -> float | None:
    if kind is None:  # reported already
        return None
    if not kind.analog:
        if "limit" in entry:
            check.error((*path, "limit"), f"alarm {name!r}: a {kind.value} alarm has no limit")
        return None
    if "limit" not in entry:
        check.error(path, f"alarm {name!r}: a {kind.value} alarm needs limit = a number")
        return None
    low = 0.0 if kind in (AlarmKind.DEVIATION, AlarmKind.RATE) else -1e300
    return check.number(entry, (*path, "limit"), 0.0, low, 1e300)


def _states(check: Checker, entry: dict[str, Any], path: Path, name: str,
            kind: AlarmKind | None) -> tuple[Value, ...]:
    if kind is not AlarmKind.DISCRETE:
        if "when" in entry:
            check.error((*path, "when"), f"alarm {name!r}: when = is for discrete alarms")
        return ()
    when = entry.get("when")
    values = when if isinstance(when, list) else [when]
    if when is None or not values or not all(
            isinstance(v, bool | int | float | str) for v in values):
        check.error((*path, "when") if "when" in entry else path,
                    f"alarm {name!r}: a discrete alarm needs when = the abnormal state: "
                    'true (a bit ON), a number, a text, or a list, e.g. when = ["FAULT", '
                    '"STOP"]')
        return ()
    return tuple(values)


def _check_order(check: Checker,
                 limits: dict[str, dict[AlarmKind, tuple[float, Path, str]]]) -> None:
    """On one tag: LOLO <= LO < HI <= HIHI."""
    for tag, kinds in limits.items():
        present = [(kind, *kinds[kind]) for kind in _ANALOG_ORDER if kind in kinds]
        for (low_kind, low, _, low_name), (high_kind, high, path, high_name) in \
                itertools.pairwise(present):
            strict = not low_kind.high_side and high_kind.high_side  # a low one, a high one
            if high < low or (strict and high == low):
                check.error(path, f"alarm {high_name!r}: its {high_kind.name} limit {high:g} "
                            f"on {tag!r} is below the {low_kind.name} limit {low:g} of alarm "
                            f"{low_name!r}; on one tag LOLO <= LO < HI <= HIHI")


def parse_alarm_settings(check: Checker, raw: dict[str, Any]) -> AlarmSettings:
    table = check.table(raw, "alarming")
    check.unknown_keys(table, ("alarming",), _SETTINGS_KEYS, "[alarming]")
    default = AlarmSettings()
    minutes = check.number(table, ("alarming", "max_shelve_minutes"),
                           default.max_shelve_minutes, 1, 7 * 24 * 60)
    required = table.get("ack_comment_required", list(default.ack_comment_required))
    priorities: list[str] = []
    if not isinstance(required, list):
        required = [required]
    for value in required:
        try:
            priorities.append(Priority(value).value)
        except ValueError:
            check.error(("alarming", "ack_comment_required"),
                        f"alarming.ack_comment_required: unknown priority {value!r}; "
                        f"allowed: {', '.join(p.value for p in Priority)}")
    positions = _positions(check, table, _areas(raw))
    return AlarmSettings(minutes, tuple(priorities), positions)


def _areas(raw: dict[str, Any]) -> set[str]:
    """The areas [[alarms]] blocks name, valid blocks or not (each is reported apart)."""
    entries = raw.get("alarms", [])
    if not isinstance(entries, list):
        return set()
    return {e["area"] for e in entries if isinstance(e, dict) and isinstance(e.get("area"), str)}


def _positions(check: Checker, table: dict[str, Any], areas: set[str]
               ) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``positions = { "Filling console" = ["Filling"], ... }``: each area at most once,
    and only areas some [[alarms]] block names (a misspelt one would watch nothing)."""
    if "positions" not in table:
        return ()
    path: Path = ("alarming", "positions")
    example = 'e.g. positions = { "Filling console" = ["Filling"] }'
    positions = table["positions"]
    if not isinstance(positions, dict) or not positions:
        check.error(path, f"alarming.positions must name operator positions and the areas "
                    f"each watches, {example}")
        return ()
    owner: dict[str, str] = {}
    parsed: list[tuple[str, tuple[str, ...]]] = []
    in_use = ", ".join(repr(a) for a in sorted(areas - {""})) or "none"
    for name, listed in positions.items():
        where: Path = (*path, name)
        if not name.strip() or name == NO_POSITION:
            check.error(where, f"alarming.positions: {name!r} cannot name a position")
            continue
        if not isinstance(listed, list) or not listed or \
                not all(isinstance(area, str) and area for area in listed):
            check.error(where, f"alarming.positions: position {name!r} needs a list of the "
                        f"areas it watches, {example}")
            continue
        for area in listed:
            if area in owner:
                check.error(where, f"alarming.positions: area {area!r} is listed twice (by "
                            f"{owner[area]!r} and {name!r}); give each area one position")
            elif area not in areas:
                check.error(where, f"alarming.positions: position {name!r}: no alarm has "
                            f"area {area!r}; areas in use: {in_use}")
            owner.setdefault(area, name)
        parsed.append((name, tuple(dict.fromkeys(listed))))
    return tuple(parsed)
