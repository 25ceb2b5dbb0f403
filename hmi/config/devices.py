"""The [[devices]] section: PLC connections."""

from __future__ import annotations

from typing import Any

from hmi.config.checker import Checker
from hmi.config.locate import Path
from hmi.core.datatypes import ByteOrder
from hmi.core.site import (
    Device,
    DeviceKind,
    OpcUaSecurity,
    SecurityMode,
    SecurityPolicy,
    SerialLine,
)

_COMMON = frozenset({"name", "kind", "poll_interval", "timeout"})
_MODBUS = frozenset(
    {
        "unit_id", "byte_order", "max_registers", "max_bits", "max_gap", "max_outstanding",
        "write_multiple",
    }
)
KEYS = {
    DeviceKind.MODBUS_TCP: _COMMON | _MODBUS | {"host", "port"},
    DeviceKind.MODBUS_RTU_OVER_TCP: _COMMON | _MODBUS | {"host", "port"},
    DeviceKind.MODBUS_RTU: _COMMON
    | _MODBUS
    | {"serial_port", "baudrate", "parity", "stopbits", "bytesize"},
    DeviceKind.OPCUA: _COMMON
    | {
        "endpoint",
        "security_policy",
        "security_mode",
        "username",
        "password_secret",
        "subscriptions",
        "alarms_and_conditions",
    },
}
ALL_KEYS = frozenset().union(*KEYS.values())
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)


def parse_devices(check: Checker, raw: dict[str, Any]) -> list[Device]:
    devices: list[Device] = []
    seen: set[str] = set()
    for i, entry in enumerate(check.array(raw, "devices")):
        path: Path = ("devices", i)
        name = check.name(entry, path, "device", seen)
        kind = check.choice(entry, (*path, "kind"), DeviceKind, None, "device kind")
        check.unknown_keys(entry, path, KEYS[kind] if kind else ALL_KEYS, _where(kind))
        if name is None or kind is None:
            continue
        common: dict[str, Any] = {
            "poll_interval": check.number(entry, (*path, "poll_interval"), 1.0, 0.05, 3600.0),
            "timeout": check.number(entry, (*path, "timeout"), 2.0, 0.1, 60.0),
        }
        device = (
            _opcua(check, entry, path, name, common)
            if kind is DeviceKind.OPCUA
            else _modbus(check, entry, path, name, kind, common)
        )
        if device is not None:
            _check_shared_line(check, path, device, devices)
            devices.append(device)
    return devices


def _check_shared_line(check: Checker, path: Path, device: Device, others: list[Device]) -> None:
    """Devices on one serial port share one line: its settings must agree."""
    if device.serial is None:
        return
    for other in others:
        if other.serial is not None and other.serial.port == device.serial.port:
            if other.serial != device.serial:
                check.error(
                    (*path, "serial_port"),
                    f"device {device.name!r} shares {device.serial.port} with "
                    f"{other.name!r} but not its baudrate/parity/stopbits/bytesize: "
                    "one serial line has one setting",
                )
            return


def _where(kind: DeviceKind | None) -> str:
    if kind is None:
        return "[[devices]]"
    article = "an" if kind.value[0] in "aeiou" else "a"
    return f"{article} {kind.value} device"


def _modbus(
    check: Checker,
    entry: dict[str, Any],
    path: Path,
    name: str,
    kind: DeviceKind,
    common: dict[str, Any],
) -> Device | None:
    serial = None
    host, port = "", 0
    if kind is DeviceKind.MODBUS_RTU:
        serial = _serial(check, entry, path, name)
        if serial is None:
            return None
    else:
        host = check.text(entry, (*path, "host"))
        if not host:
            check.error(
                (*path, "host"), f'device {name!r}: host is required, e.g. host = "192.168.0.10"'
            )
            return None
        port = int(check.number(entry, (*path, "port"), 502, 1, 65535, integer=True))
    order = check.choice(entry, (*path, "byte_order"), ByteOrder, ByteOrder.ABCD, "byte_order")
    return Device(
        name,
        kind,
        host=host,
        port=port,
        unit_id=int(check.number(entry, (*path, "unit_id"), 1, 0, 255, integer=True)),
        byte_order=order or ByteOrder.ABCD,
        serial=serial,
        max_registers=int(check.number(entry, (*path, "max_registers"), 125, 1, 125, integer=True)),
        max_bits=int(check.number(entry, (*path, "max_bits"), 2000, 1, 2000, integer=True)),
        max_gap=int(check.number(entry, (*path, "max_gap"), 16, 0, 124, integer=True)),
        max_outstanding=int(
            check.number(entry, (*path, "max_outstanding"), 1, 1, 16, integer=True)
        ),
        write_multiple=check.flag(entry, (*path, "write_multiple"), default=False),
        **common,
    )


def _serial(check: Checker, entry: dict[str, Any], path: Path, name: str) -> SerialLine | None:
    port = check.text(entry, (*path, "serial_port"))
    if not port:
        check.error(
            (*path, "serial_port"),
            f'device {name!r}: serial_port is required, e.g. serial_port = "/dev/ttyUSB0" '
            'or "COM3"',
        )
        return None
    baudrate = int(check.number(entry, (*path, "baudrate"), 19200, 300, 921600, integer=True))
    if baudrate not in BAUDRATES:
        check.error(
            (*path, "baudrate"),
            f"device {name!r}: baudrate {baudrate} is unusual; allowed: "
            + ", ".join(str(b) for b in BAUDRATES),
        )
    parity = check.text(entry, (*path, "parity"), "E").upper()
    if parity not in ("N", "E", "O"):
        check.error((*path, "parity"), f'device {name!r}: parity must be "N", "E" or "O"')
    stopbits = int(check.number(entry, (*path, "stopbits"), 1, 1, 2, integer=True))
    bytesize = int(check.number(entry, (*path, "bytesize"), 8, 7, 8, integer=True))
    return SerialLine(port, baudrate, parity, stopbits, bytesize)


def _opcua(
    check: Checker, entry: dict[str, Any], path: Path, name: str, common: dict[str, Any]
) -> Device | None:
    endpoint = entry.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith("opc.tcp://"):
        check.error(
            (*path, "endpoint"),
            f"device {name!r}: endpoint must be an opc.tcp:// URL, "
            'e.g. endpoint = "opc.tcp://192.168.0.10:4840"',
        )
        return None
    policy = check.choice(
        entry, (*path, "security_policy"), SecurityPolicy, SecurityPolicy.NONE, "security_policy"
    )
    default_mode = SecurityMode.NONE
    if policy not in (None, SecurityPolicy.NONE):
        default_mode = SecurityMode.SIGN_AND_ENCRYPT
    mode = check.choice(
        entry, (*path, "security_mode"), SecurityMode, default_mode, "security_mode"
    )
    if (
        policy is not None
        and mode is not None
        and (policy is SecurityPolicy.NONE) != (mode is SecurityMode.NONE)
    ):
        check.error(
            (*path, "security_mode"),
            f"device {name!r}: security_policy {policy.value!r} does not go with "
            f"security_mode {mode.value!r}: use None with None, or a policy with "
            '"Sign" or "SignAndEncrypt"',
        )
    username = check.text(entry, (*path, "username"))
    secret = check.text(entry, (*path, "password_secret"))
    if username and not secret:
        check.error(
            (*path, "username"),
            f"device {name!r}: username needs password_secret, the keyring entry holding "
            "the password (the password itself never goes in the config)",
        )
    security = OpcUaSecurity(
        policy or SecurityPolicy.NONE, mode or SecurityMode.NONE, username, secret
    )
    subscriptions = check.flag(entry, (*path, "subscriptions"), default=True)
    alarms = check.flag(entry, (*path, "alarms_and_conditions"), default=False)
    return Device(
        name,
        DeviceKind.OPCUA,
        endpoint=endpoint,
        security=security,
        subscriptions=subscriptions,
        alarms_and_conditions=alarms,
        **common,
    )
