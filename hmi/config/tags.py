"""The [[tags]] section: what the screens show, and where each value lives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hmi.config.checker import Checker, declared
from hmi.config.locate import Path
from hmi.core.datatypes import ByteOrder, DataType
from hmi.core.site import (
    Device,
    DeviceKind,
    ModbusAddress,
    OpcUaAddress,
    RegisterTable,
    Scaling,
    Tag,
)

_COMMON = frozenset(
    {
        "name",
        "device",
        "type",
        "units",
        "description",
        "deadband",
        "scan_class",
        "range",
        "writable",
    }
)
MODBUS_KEYS = _COMMON | {"table", "address", "length", "bit", "byte_order", "scaling"}
OPCUA_KEYS = _COMMON | {"node_id"}


def parse_tags(
    check: Checker,
    raw: dict[str, Any],
    devices: Mapping[str, Device],
    scan_classes: Mapping[str, float],
) -> list[Tag]:
    tags: list[Tag] = []
    seen: set[str] = set()
    for i, entry in enumerate(check.array(raw, "tags")):
        path: Path = ("tags", i)
        name = check.name(entry, path, "tag", seen)
        dtype = check.choice(entry, (*path, "type"), DataType, None, "data type")
        device_name = entry.get("device")
        device = devices.get(device_name) if isinstance(device_name, str) else None
        if device is None and device_name not in declared(raw, "devices"):
            known = ", ".join(sorted(devices)) or "none defined"
            check.error(
                (*path, "device"),
                f"tag {name!r}: device {device_name!r} is not defined; known devices: {known}",
            )
        is_opcua = device is not None and device.kind is DeviceKind.OPCUA
        where = "an OPC UA tag" if is_opcua else "a Modbus tag" if device else "[[tags]]"
        check.unknown_keys(entry, path, OPCUA_KEYS if is_opcua else MODBUS_KEYS, where)
        if name is None or dtype is None or device is None:
            continue
        tag = _tag(check, entry, path, name, device, dtype, scan_classes)
        if tag is not None:
            tags.append(tag)
    return tags


def _tag(
    check: Checker,
    entry: dict[str, Any],
    path: Path,
    name: str,
    device: Device,
    dtype: DataType,
    scan_classes: Mapping[str, float],
) -> Tag | None:
    length = int(check.number(entry, (*path, "length"), 0, 0, 123, integer=True))
    if device.kind is DeviceKind.OPCUA:
        address: ModbusAddress | OpcUaAddress | None = _node(check, entry, path, name, device)
    else:
        address = _register(check, entry, path, name, dtype, length)
    bit = _bit(check, entry, path, name, dtype, address)
    deadband = check.number(entry, (*path, "deadband"), 0.0, 0.0, 1e12)
    scan_interval = None
    if "scan_class" in entry:
        scan_class = entry["scan_class"]
        if scan_class not in scan_classes:
            known = ", ".join(sorted(scan_classes)) or "none: add a [scan_classes] table"
            check.error(
                (*path, "scan_class"),
                f"tag {name!r}: scan_class {scan_class!r} is not defined; known: {known}",
            )
        else:
            scan_interval = scan_classes[scan_class]
    value_range = check.pair(entry, (*path, "range")) if "range" in entry else None
    scaling = _scaling(check, entry, path, name, dtype) if "scaling" in entry else None
    order = None
    if "byte_order" in entry:
        order = check.choice(entry, (*path, "byte_order"), ByteOrder, None, "byte_order")
    if address is None:
        return None
    return Tag(
        name,
        device.name,
        address,
        dtype,
        units=check.text(entry, (*path, "units")),
        description=check.text(entry, (*path, "description")),
        length=length,
        bit=bit,
        byte_order=order,
        scaling=scaling,
        deadband=deadband,
        scan_interval=scan_interval,
        low=value_range[0] if value_range else None,
        high=value_range[1] if value_range else None,
        writable=check.flag(entry, (*path, "writable"), default=False),
    )


def _node(
    check: Checker, entry: dict[str, Any], path: Path, name: str, device: Device
) -> OpcUaAddress | None:
    node = entry.get("node_id")
    if not isinstance(node, str) or not node.strip():
        check.error(
            (*path, "node_id"),
            f"tag {name!r}: node_id is required for OPC UA device {device.name!r}, "
            'e.g. node_id = "ns=2;s=Line1.Speed"',
        )
        return None
    return OpcUaAddress(node.strip())


def _register(
    check: Checker, entry: dict[str, Any], path: Path, name: str, dtype: DataType, length: int
) -> ModbusAddress | None:
    table = check.choice(entry, (*path, "table"), RegisterTable, None, "table")
    offset = entry.get("address")
    if not isinstance(offset, int) or isinstance(offset, bool):
        check.error(
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
            check.error(
                (*path, "type"), f'tag {name!r}: a {table.value} holds one bit; type must be "bool"'
            )
            return None
    if dtype is DataType.STRING and length == 0:
        check.error((*path, "length"), f"tag {name!r}: a string needs length = registers (1..123)")
        return None
    if not 0 <= offset <= 65535 - (count - 1):
        plural = "s" if count > 1 else ""
        check.error(
            (*path, "address"),
            f"tag {name!r}: address {offset} is out of range; allowed 0..{65535 - (count - 1)} "
            f"for {dtype.value} ({count} register{plural})",
        )
        return None
    return ModbusAddress(table, offset)


def _bit(
    check: Checker,
    entry: dict[str, Any],
    path: Path,
    name: str,
    dtype: DataType,
    address: ModbusAddress | OpcUaAddress | None,
) -> int | None:
    if "bit" not in entry:
        return None
    bit = int(check.number(entry, (*path, "bit"), 0, 0, 15, integer=True))
    in_register = isinstance(address, ModbusAddress) and not address.table.is_bit
    if dtype is not DataType.BOOL or not in_register:
        check.error(
            (*path, "bit"),
            f'tag {name!r}: bit is for type = "bool" tags in a holding_register or '
            "input_register (bit 0 is the least significant)",
        )
        return None
    return bit


def _scaling(
    check: Checker, entry: dict[str, Any], path: Path, name: str, dtype: DataType
) -> Scaling | None:
    spec = entry["scaling"]
    example = "scaling = { raw = [0, 27648], eng = [0.0, 100.0] }"
    if not isinstance(spec, dict) or set(spec) != {"raw", "eng"}:
        check.error((*path, "scaling"), f"tag {name!r}: scaling must look like {example}")
        return None
    if not dtype.is_numeric:
        check.error((*path, "scaling"), f"tag {name!r}: only numeric types can be scaled")
        return None
    raw = check.pair(spec, (*path, "scaling", "raw"))
    eng = check.pair(spec, (*path, "scaling", "eng"))
    if raw is None or eng is None:
        return None
    return Scaling(raw[0], raw[1], eng[0], eng[1])
