"""The validated site model: devices, tags, event rules and the MES link.

hmi.config builds these from TOML; every other layer only reads them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from hmi.core.datatypes import DataType, WordOrder


class DeviceKind(enum.Enum):
    MODBUS_TCP = "modbus_tcp"
    OPCUA = "opcua"


class RegisterTable(enum.Enum):
    """The four Modbus data tables."""

    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    INPUT_REGISTER = "input_register"
    HOLDING_REGISTER = "holding_register"

    @property
    def is_bit(self) -> bool:
        return self in (RegisterTable.COIL, RegisterTable.DISCRETE_INPUT)


@dataclass(frozen=True, slots=True)
class ModbusAddress:
    table: RegisterTable
    offset: int  # 0-based protocol address, as sent on the wire

    def __str__(self) -> str:
        return f"{self.table.value}:{self.offset}"


@dataclass(frozen=True, slots=True)
class OpcUaAddress:
    node_id: str  # e.g. "ns=2;s=Filler.Speed"

    def __str__(self) -> str:
        return self.node_id


@dataclass(frozen=True, slots=True)
class Device:
    """One PLC connection, served by one device worker."""

    name: str
    kind: DeviceKind
    host: str = "127.0.0.1"
    port: int = 502
    unit_id: int = 1
    endpoint: str = ""  # OPC UA only: opc.tcp://host:port/path
    poll_interval: float = 1.0  # seconds; OPC UA: the publishing interval
    timeout: float = 2.0  # seconds for one request
    word_order: WordOrder = WordOrder.BIG


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    device: str
    address: ModbusAddress | OpcUaAddress
    data_type: DataType
    units: str = ""
    description: str = ""
    length: int = 0  # registers, for strings only

    @property
    def register_count(self) -> int:
        if self.data_type is DataType.STRING:
            return max(1, self.length)
        return self.data_type.register_count


@dataclass(frozen=True, slots=True)
class ProductionCountRule:
    """Emit one production-count event per period from a good-parts counter."""

    name: str
    counter_tag: str
    period: float  # seconds
    reject_tag: str = ""
    unit: str = "pcs"
    line: str = ""


@dataclass(frozen=True, slots=True)
class MesLink:
    """Where confirmed transactions go, and the keyring entry holding the API key."""

    url: str
    api_key_secret: str  # keyring "username" under service "hmi"
    timeout: float = 5.0
    retry_interval: float = 2.0
    verify_tls: bool = True


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    devices: tuple[Device, ...]
    tags: tuple[Tag, ...]
    production_rules: tuple[ProductionCountRule, ...] = ()
    mes: MesLink | None = None
    trend_pens: tuple[str, ...] = ()
    trend_window: float = 300.0
    source: str = field(default="", compare=False)

    def device(self, name: str) -> Device:
        for device in self.devices:
            if device.name == name:
                return device
        raise KeyError(name)

    def tags_of(self, device: str) -> tuple[Tag, ...]:
        return tuple(t for t in self.tags if t.device == device)

    def tag(self, name: str) -> Tag:
        for tag in self.tags:
            if tag.name == name:
                return tag
        raise KeyError(name)
