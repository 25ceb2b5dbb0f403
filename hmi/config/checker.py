"""The bookkeeping of validation: read a typed value, or record an error at file:line."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from hmi.config.locate import LineIndex, Path

E = TypeVar("E")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,127}$")


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        # line 0: about the file as a whole (missing, unreadable), not a line of it
        where = f"{self.file}:{self.line}" if self.line > 0 else self.file
        return f"{where}: {self.message}"


class ConfigError(Exception):
    """The configuration is not valid; ``issues`` lists every problem found."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class Checker:
    """Collects every issue (not just the first) so one pass fixes them all."""

    def __init__(self, file: str, lines: LineIndex) -> None:
        self.file = file
        self.lines = lines
        self.issues: list[ConfigIssue] = []

    def error(self, path: Path, message: str) -> None:
        self.issues.append(ConfigIssue(self.file, self.lines.line(path), message))

    def table(self, raw: dict[str, Any], key: str) -> dict[str, Any]:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            self.error((key,), f"[{key}] must be a table")
            return {}
        return value

    def array(self, raw: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.error((key,), f"{key} must be an array of tables: write [[{key}]] blocks")
            return []
        return value

    def unknown_keys(
        self, entry: dict[str, Any], path: Path, allowed: set[str] | frozenset[str], where: str
    ) -> None:
        for key in entry:
            if key not in allowed:
                self.error(
                    (*path, key), f"unknown key {key!r} in {where}; allowed: {sorted_keys(allowed)}"
                )

    def name(self, entry: dict[str, Any], path: Path, what: str, seen: set[str]) -> str | None:
        name = entry.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            self.error(
                (*path, "name"),
                f"{what} name {name!r} is not valid: start with a letter; letters, digits, "
                "'_', '.', '-' only; at most 128 characters",
            )
            return None
        if name in seen:
            self.error((*path, "name"), f"duplicate {what} name {name!r}: names must be unique")
            return None
        seen.add(name)
        return name

    def choice(
        self,
        entry: dict[str, Any],
        path: Path,
        enum_type: Callable[[Any], E],
        default: E | None,
        what: str,
    ) -> E | None:
        key = str(path[-1])
        if key not in entry:
            if default is None:
                self.error(path, f"{key} is required")
            return default
        try:
            return enum_type(entry[key])
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in enum_type)  # type: ignore[attr-defined]
            self.error(path, f"unknown {what} {entry[key]!r}; allowed: {allowed}")
            return None

    def number(
        self,
        entry: dict[str, Any],
        path: Path,
        default: float,
        low: float,
        high: float,
        *,
        integer: bool = False,
    ) -> float:
        key = str(path[-1])
        value: Any = entry.get(key, default)
        if not _is_number(value, integer) or not low <= value <= high:
            kind = "a whole number" if integer else "a number"
            self.error(path, f"{key} = {value!r} is out of range; allowed {kind} {low:g}..{high:g}")
            return default
        return float(value)

    def optional_number(self, entry: dict[str, Any], path: Path) -> float | None:
        key = str(path[-1])
        if key not in entry:
            return None
        value = entry[key]
        if not _is_number(value, integer=False):
            self.error(path, f"{key} = {value!r} must be a number")
            return None
        return float(value)

    def flag(self, entry: dict[str, Any], path: Path, default: bool) -> bool:
        key = str(path[-1])
        value = entry.get(key, default)
        if not isinstance(value, bool):
            self.error(path, f"{key} = {value!r} must be true or false")
            return default
        return value

    def text(self, entry: dict[str, Any], path: Path, default: str = "") -> str:
        key = str(path[-1])
        value = entry.get(key, default)
        if not isinstance(value, str):
            self.error(path, f'{key} = {value!r} must be text in quotes, e.g. {key} = "..."')
            return default
        return value

    def pair(self, entry: dict[str, Any], path: Path) -> tuple[float, float] | None:
        """``key = [low, high]`` with low < high."""
        key = str(path[-1])
        value: Any = entry.get(key)
        ok = isinstance(value, list) and len(value) == 2
        if not ok or not all(_is_number(v, integer=False) for v in value):
            self.error(path, f"{key} must be two numbers [low, high], e.g. {key} = [0, 100]")
            return None
        low, high = float(value[0]), float(value[1])
        if not low < high:
            self.error(path, f"{key} = {value!r}: low must be less than high")
            return None
        return low, high


def _is_number(value: Any, integer: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or not integer


def sorted_keys(keys: set[str] | frozenset[str]) -> str:
    return ", ".join(sorted(keys))


def declared(raw: dict[str, Any], key: str) -> set[str]:
    """Names declared in ``[[key]]`` blocks, valid or not."""
    entries = raw.get(key, [])
    if not isinstance(entries, list):
        return set()
    return {e["name"] for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str)}
