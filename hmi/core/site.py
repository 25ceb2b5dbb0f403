"""The validated site model: devices, tags, event rules, the MES link and the historian.

hmi.config builds these from TOML; every other layer only reads them.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

from hmi.core.alarm_rules import AlarmRule
from hmi.core.datatypes import ByteOrder, DataType
from hmi.core.security import SecuritySettings


class DeviceKind(enum.Enum):
    MODBUS_TCP = "modbus_tcp"
    MODBUS_RTU = "modbus_rtu"  # serial line (RS-485/RS-232) via pyserial
    MODBUS_RTU_OVER_TCP = "modbus_rtu_tcp"  # RTU frames over TCP: serial-to-Ethernet gateways
    OPCUA = "opcua"

    @property
    def is_modbus(self) -> bool:
        return self is not DeviceKind.OPCUA


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


class SecurityPolicy(enum.Enum):
    """OPC UA security policies we offer (OPC UA Part 7 profiles)."""

    NONE = "None"
    BASIC256SHA256 = "Basic256Sha256"
    AES128_SHA256_RSAOAEP = "Aes128_Sha256_RsaOaep"


class SecurityMode(enum.Enum):
    NONE = "None"
    SIGN = "Sign"
    SIGN_AND_ENCRYPT = "SignAndEncrypt"


@dataclass(frozen=True, slots=True)
class SerialLine:
    """Modbus RTU serial settings."""

    port: str  # e.g. "/dev/ttyUSB0", "COM3"
    baudrate: int = 19200
    parity: str = "E"  # N, E, O: Modbus RTU's default is 8E1
    stopbits: int = 1
    bytesize: int = 8


@dataclass(frozen=True, slots=True)
class OpcUaSecurity:
    policy: SecurityPolicy = SecurityPolicy.NONE
    mode: SecurityMode = SecurityMode.NONE
    username: str = ""  # the password is in the keyring under password_secret
    password_secret: str = ""


@dataclass(frozen=True, slots=True)
class Device:
    """One PLC (or one unit id behind a gateway), served by one device worker.

    Modbus devices with the same host and port share one connection (a gateway with
    several units behind it); ``max_outstanding`` bounds the requests in flight on it.
    """

    name: str
    kind: DeviceKind
    host: str = "127.0.0.1"
    port: int = 502
    unit_id: int = 1
    endpoint: str = ""  # OPC UA only: opc.tcp://host:port/path
    poll_interval: float = 1.0  # seconds: the default scan class; OPC UA publishing interval
    timeout: float = 2.0  # seconds for one request
    byte_order: ByteOrder = ByteOrder.ABCD
    serial: SerialLine | None = None  # MODBUS_RTU only
    max_registers: int = 125  # per read request (Modbus spec limit for FC 3/4)
    max_bits: int = 2000  # per read request (FC 1/2)
    max_gap: int = 16  # registers (or bits) read through rather than split a request
    max_outstanding: int = 1  # requests in flight per connection; many PLCs take one
    # Some PLCs implement only the "multiple" write functions: FC 15 for coils and FC 16
    # for registers, even for one item, instead of FC 5 / FC 6.
    write_multiple: bool = False
    security: OpcUaSecurity = OpcUaSecurity()
    subscriptions: bool = True  # OPC UA: False polls with Read at poll_interval
    # OPC UA: also show the server's own alarms (Part 9 Alarms & Conditions) through a
    # session of their own (hmi.devices.opcua_conditions)
    alarms_and_conditions: bool = False


@dataclass(frozen=True, slots=True)
class Scaling:
    """Linear raw -> engineering units: raw_low..raw_high maps onto eng_low..eng_high."""

    raw_low: float
    raw_high: float
    eng_low: float
    eng_high: float

    def to_engineering(self, raw: float) -> float:
        span = self.raw_high - self.raw_low
        return self.eng_low + (raw - self.raw_low) * (self.eng_high - self.eng_low) / span

    def to_raw(self, engineering: float) -> float:
        span = self.eng_high - self.eng_low
        return self.raw_low + (engineering - self.eng_low) * (self.raw_high - self.raw_low) / span


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    device: str
    address: ModbusAddress | OpcUaAddress
    data_type: DataType
    units: str = ""
    description: str = ""
    length: int = 0  # registers, for strings only
    bit: int | None = None  # bool tags: bit 0..15 of a holding or input register
    byte_order: ByteOrder | None = None  # overrides the device's
    scaling: Scaling | None = None
    deadband: float = 0.0  # engineering units; smaller changes are not published
    scan_interval: float | None = None  # seconds (from the tag's scan class); None: device's
    low: float | None = None  # engineering range: writes outside it are refused
    high: float | None = None
    writable: bool = False

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
    """Where confirmed transactions go, and how the station authenticates there."""

    url: str
    # the keyring entry ("username" under service "hmi") holding the API key, the
    # OAuth2 client secret or the basic-auth password
    api_key_secret: str
    timeout: float = 5.0
    retry_interval: float = 2.0
    verify_tls: bool = True
    auth: str = "api_key"  # api_key, basic, oauth2
    username: str = ""  # basic
    token_url: str = ""  # oauth2: the client-credentials grant
    client_id: str = ""
    scope: str = ""


@dataclass(frozen=True, slots=True)
class HistorianSettings:
    """How long history is kept and how often an unchanging value is still stored."""

    raw_days: int = 90  # raw samples
    rollup_days: int = 3 * 365  # per-minute roll-ups; never shorter than raw_days
    heartbeat: float = 60.0  # seconds


@dataclass(frozen=True, slots=True)
class AlarmSettings:
    """``[alarming]``: how long a shelve may last, which priorities need an ack comment,
    and the operator positions the alarm performance report counts per."""

    max_shelve_minutes: float = 480.0  # 8 h: a shift
    ack_comment_required: tuple[str, ...] = ("critical",)  # Priority values
    # (position, the areas it watches); empty: one position watching every area
    positions: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    devices: tuple[Device, ...]
    tags: tuple[Tag, ...]
    production_rules: tuple[ProductionCountRule, ...] = ()
    mes: MesLink | None = None
    trend_pens: tuple[str, ...] = ()
    trend_window: float = 300.0
    scan_classes: tuple[tuple[str, float], ...] = ()
    shift_starts: tuple[dt.time, ...] = ()  # local start of each shift, in the day's order
    historian: HistorianSettings = HistorianSettings()
    security: SecuritySettings = field(default_factory=SecuritySettings)
    alarms: tuple[AlarmRule, ...] = ()
    alarm_settings: AlarmSettings = AlarmSettings()
    source: str = field(default="", compare=False)
    # lookups by name, built once: the device loop asks per sample at 55,000 tags
    _tag_index: dict[str, Tag] = field(init=False, repr=False, compare=False)
    _tags_by_device: dict[str, tuple[Tag, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        grouped: dict[str, list[Tag]] = {}
        for tag in self.tags:
            grouped.setdefault(tag.device, []).append(tag)
        # the first of a duplicated name wins, as the linear search it replaces did
        index: dict[str, Tag] = {}
        for tag in self.tags:
            index.setdefault(tag.name, tag)
        object.__setattr__(self, "_tag_index", index)
        object.__setattr__(self, "_tags_by_device",
                           {device: tuple(tags) for device, tags in grouped.items()})

    def device(self, name: str) -> Device:
        for device in self.devices:
            if device.name == name:
                return device
        raise KeyError(name)

    def tags_of(self, device: str) -> tuple[Tag, ...]:
        return self._tags_by_device.get(device, ())

    def tag(self, name: str) -> Tag:
        return self._tag_index[name]
