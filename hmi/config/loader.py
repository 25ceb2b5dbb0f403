"""Site configuration: TOML into the frozen, validated objects of hmi.core.site.

Every problem is collected (not just the first) and reported as ``file:line: message``
naming the key and what is allowed, so a commissioning engineer fixes them in one pass.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hmi.config.locate import LineIndex
from hmi.core.datatypes import DataType, WordOrder
from hmi.core.site import (
    Device,
    DeviceKind,
    MesLink,
    ModbusAddress,
    OpcUaAddress,
    ProductionCountRule,
    RegisterTable,
    Site,
    Tag,
)

E = TypeVar("E")

_DEVICE_KEYS = {
    "name",
    "kind",
    "host",
    "port",
    "unit_id",
    "endpoint",
    "poll_interval",
    "timeout",
    "word_order",
}
_TAG_KEYS = {
    "name",
    "device",
    "table",
    "address",
    "node_id",
    "type",
    "units",
    "description",
    "length",
}
_RULE_KEYS = {"name", "counter_tag", "reject_tag", "period", "unit", "line"}
_MES_KEYS = {"url", "api_key_secret", "timeout", "retry_interval", "verify_tls"}
_TOP_KEYS = {"site", "devices", "tags", "production", "mes", "trend"}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,127}$")


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


def load_site(path: str | Path) -> Site:
    """Read and validate a site file. Raises ConfigError naming file:line of each problem."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(str(file), 0, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigIssue(str(file), 0, f"cannot read: {exc}")]) from None
    return parse_site(text, str(file))


def parse_site(text: str, file: str = "<config>") -> Site:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(match.group(1)) if match else 1
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError([ConfigIssue(file, line, f"TOML syntax error: {message}")]) from None
    return _Validator(file, LineIndex(text)).site(raw)


class _Validator:
    def __init__(self, file: str, lines: LineIndex) -> None:
        self.file = file
        self.lines = lines
        self.issues: list[ConfigIssue] = []
        self.declared_tags: set[str] = set()

    def error(self, path: tuple[str | int, ...], message: str) -> None:
        self.issues.append(ConfigIssue(self.file, self.lines.line(path), message))

    def site(self, raw: dict[str, Any]) -> Site:
        for key in raw:
            if key not in _TOP_KEYS:
                self.error((key,), f"unknown section [{key}]; allowed: {_sorted(_TOP_KEYS)}")
        site_table = self.table(raw, ("site",))
        name = str(site_table.get("name", Path(self.file).stem))
        devices = self.devices(raw)
        tags = self.tags(raw, {d.name: d for d in devices})
        tag_names = {t.name for t in tags}
        # A reference to something declared but invalid was reported where it is declared;
        # only references to names declared nowhere are errors of their own.
        self.declared_tags = _declared(raw, "tags")
        rules = self.rules(raw, tag_names)
        mes = self.mes(raw)
        trend = self.table(raw, ("trend",))
        pens = trend.get("pens", [])
        if not isinstance(pens, list):
            self.error(("trend", "pens"), "trend.pens must be a list of tag names")
            pens = []
        for pen in pens:
            if pen not in tag_names:
                self.error(("trend", "pens"), f"trend.pens names unknown tag {pen!r}")
        window = self.number(trend, ("trend", "window"), 300.0, 10.0, 86_400.0)
        if self.issues:
            raise ConfigError(self.issues)
        return Site(
            name=name,
            devices=tuple(devices),
            tags=tuple(tags),
            production_rules=tuple(rules),
            mes=mes,
            trend_pens=tuple(str(p) for p in pens if p in tag_names),
            trend_window=window,
            source=self.file,
        )

    # -- sections ---------------------------------------------------------------------

    def devices(self, raw: dict[str, Any]) -> list[Device]:
        devices: list[Device] = []
        seen: set[str] = set()
        for i, entry in enumerate(self.array(raw, "devices")):
            path: tuple[str | int, ...] = ("devices", i)
            self.unknown_keys(entry, path, _DEVICE_KEYS, "[[devices]]")
            name = self.name(entry, path, "device", seen)
            kind = self.choice(entry, (*path, "kind"), DeviceKind, None, "device kind")
            if name is None or kind is None:
                continue
            poll = self.number(entry, (*path, "poll_interval"), 1.0, 0.05, 3600.0)
            timeout = self.number(entry, (*path, "timeout"), 2.0, 0.1, 60.0)
            if kind is DeviceKind.OPCUA:
                endpoint = entry.get("endpoint")
                if not isinstance(endpoint, str) or not endpoint.startswith("opc.tcp://"):
                    self.error(
                        (*path, "endpoint"),
                        f"device {name!r}: endpoint must be an opc.tcp:// URL, "
                        f'e.g. endpoint = "opc.tcp://192.168.0.10:4840"',
                    )
                    continue
                devices.append(
                    Device(name, kind, endpoint=endpoint, poll_interval=poll, timeout=timeout)
                )
                continue
            host = entry.get("host")
            if not isinstance(host, str) or not host:
                self.error(
                    (*path, "host"),
                    f'device {name!r}: host is required, e.g. host = "192.168.0.10"',
                )
                continue
            port = int(self.number(entry, (*path, "port"), 502, 1, 65535, integer=True))
            unit = int(self.number(entry, (*path, "unit_id"), 1, 0, 255, integer=True))
            order = self.choice(
                entry, (*path, "word_order"), WordOrder, WordOrder.BIG, "word_order"
            )
            devices.append(
                Device(
                    name,
                    kind,
                    host=host,
                    port=port,
                    unit_id=unit,
                    poll_interval=poll,
                    timeout=timeout,
                    word_order=order or WordOrder.BIG,
                )
            )
        return devices

    def tags(self, raw: dict[str, Any], devices: Mapping[str, Device]) -> list[Tag]:
        tags: list[Tag] = []
        seen: set[str] = set()
        for i, entry in enumerate(self.array(raw, "tags")):
            path: tuple[str | int, ...] = ("tags", i)
            self.unknown_keys(entry, path, _TAG_KEYS, "[[tags]]")
            name = self.name(entry, path, "tag", seen)
            dtype = self.choice(entry, (*path, "type"), DataType, None, "data type")
            device_name = entry.get("device")
            device = devices.get(device_name) if isinstance(device_name, str) else None
            if device is None and device_name not in _declared(raw, "devices"):
                known = ", ".join(sorted(devices)) or "none defined"
                self.error(
                    (*path, "device"),
                    f"tag {name!r}: device {device_name!r} is not defined; known devices: {known}",
                )
            if name is None or dtype is None or device is None:
                continue
            units = str(entry.get("units", ""))
            description = str(entry.get("description", ""))
            length = int(self.number(entry, (*path, "length"), 0, 0, 123, integer=True))
            address = self.address(entry, path, name, device, dtype, length)
            if address is not None:
                tags.append(Tag(name, device.name, address, dtype, units, description, length))
        return tags

    def address(
        self,
        entry: dict[str, Any],
        path: tuple[str | int, ...],
        name: str,
        device: Device,
        dtype: DataType,
        length: int,
    ) -> ModbusAddress | OpcUaAddress | None:
        if device.kind is DeviceKind.OPCUA:
            node = entry.get("node_id")
            if not isinstance(node, str) or not node.strip():
                self.error(
                    (*path, "node_id"),
                    f"tag {name!r}: node_id is required for OPC UA device {device.name!r}, "
                    'e.g. node_id = "ns=2;s=Line1.Speed"',
                )
                return None
            return OpcUaAddress(node.strip())
        table = self.choice(entry, (*path, "table"), RegisterTable, None, "table")
        offset = entry.get("address")
        if not isinstance(offset, int) or isinstance(offset, bool):
            self.error(
                (*path, "address"),
                f"tag {name!r}: address must be a whole number 0..65535 (0-based wire address)",
            )
            return None
        if table is None:
            return None
        count = max(1, length) if dtype is DataType.STRING else dtype.register_count
        if table.is_bit:
            count = 1
            if dtype is not DataType.BOOL:
                self.error(
                    (*path, "type"),
                    f'tag {name!r}: a {table.value} holds one bit; type must be "bool"',
                )
                return None
        if dtype is DataType.STRING and length == 0:
            self.error(
                (*path, "length"), f"tag {name!r}: a string needs length = registers (1..123)"
            )
            return None
        if not 0 <= offset <= 65535 - (count - 1):
            self.error(
                (*path, "address"),
                f"tag {name!r}: address {offset} is out of range; allowed 0..{65535 - (count - 1)} "
                f"for {dtype.value} ({count} register{'s' if count > 1 else ''})",
            )
            return None
        return ModbusAddress(table, offset)

    def rules(self, raw: dict[str, Any], tag_names: set[str]) -> list[ProductionCountRule]:
        rules: list[ProductionCountRule] = []
        seen: set[str] = set()
        for i, entry in enumerate(self.array(raw, "production")):
            path: tuple[str | int, ...] = ("production", i)
            self.unknown_keys(entry, path, _RULE_KEYS, "[[production]]")
            name = self.name(entry, path, "production rule", seen)
            counter = entry.get("counter_tag")
            reject = entry.get("reject_tag", "")
            ok = counter in tag_names and (not reject or reject in tag_names)
            if counter not in self.declared_tags:
                self.error(
                    (*path, "counter_tag"),
                    f"production rule {name!r}: counter_tag {counter!r} is not a defined tag",
                )
            if reject and reject not in self.declared_tags:
                self.error(
                    (*path, "reject_tag"),
                    f"production rule {name!r}: reject_tag {reject!r} is not a defined tag",
                )
            period = self.number(entry, (*path, "period"), 3600.0, 1.0, 86_400.0)
            if name is None or not ok:
                continue
            rules.append(
                ProductionCountRule(
                    name,
                    str(counter),
                    period,
                    str(reject),
                    str(entry.get("unit", "pcs")),
                    str(entry.get("line", "")),
                )
            )
        return rules

    def mes(self, raw: dict[str, Any]) -> MesLink | None:
        if "mes" not in raw:
            return None
        entry = self.table(raw, ("mes",))
        self.unknown_keys(entry, ("mes",), _MES_KEYS, "[mes]")
        url = entry.get("url")
        secret = entry.get("api_key_secret")
        if not isinstance(url, str) or not re.match(r"^https?://", url):
            self.error(("mes", "url"), "mes.url must be an http:// or https:// URL")
            return None
        if not isinstance(secret, str) or not secret:
            self.error(
                ("mes", "api_key_secret"),
                "mes.api_key_secret must name the keyring entry holding the API key "
                "(the key itself never goes in the config)",
            )
            return None
        verify = entry.get("verify_tls", True)
        return MesLink(
            url,
            secret,
            timeout=self.number(entry, ("mes", "timeout"), 5.0, 0.5, 120.0),
            retry_interval=self.number(entry, ("mes", "retry_interval"), 2.0, 0.1, 3600.0),
            verify_tls=bool(verify),
        )

    # -- helpers ----------------------------------------------------------------------

    def table(self, raw: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
        value = raw.get(path[0], {})
        if not isinstance(value, dict):
            self.error(path, f"[{path[0]}] must be a table")
            return {}
        return value

    def array(self, raw: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.error((key,), f"{key} must be an array of tables: write [[{key}]] blocks")
            return []
        return value

    def unknown_keys(
        self, entry: dict[str, Any], path: tuple[str | int, ...], allowed: set[str], where: str
    ) -> None:
        for key in entry:
            if key not in allowed:
                self.error(
                    (*path, key), f"unknown key {key!r} in {where}; allowed: {_sorted(allowed)}"
                )

    def name(
        self, entry: dict[str, Any], path: tuple[str | int, ...], what: str, seen: set[str]
    ) -> str | None:
        name = entry.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
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
        path: tuple[str | int, ...],
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
        path: tuple[str | int, ...],
        default: float,
        low: float,
        high: float,
        *,
        integer: bool = False,
    ) -> float:
        key = str(path[-1])
        value: Any = entry.get(key, default)
        wrong_type = isinstance(value, bool) or not isinstance(value, int | float)
        if wrong_type or (integer and not isinstance(value, int)) or not low <= value <= high:
            kind = "a whole number" if integer else "a number"
            self.error(path, f"{key} = {value!r} is out of range; allowed {kind} {low:g}..{high:g}")
            return default
        return float(value)


def _declared(raw: dict[str, Any], key: str) -> set[str]:
    entries = raw.get(key, [])
    if not isinstance(entries, list):
        return set()
    return {e["name"] for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str)}


def _sorted(keys: set[str]) -> str:
    return ", ".join(sorted(keys))
