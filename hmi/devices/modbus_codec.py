"""Modbus tag addressing, block planning, value conversion and the deadband filter.

Pure functions over Tags and register values: no I/O, so each is tested on its own.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymodbus.constants import ExcCodes

from hmi.core.datatypes import (
    STRUCT_FORMATS,
    ByteOrder,
    DataType,
    DecodeError,
    decode_registers,
    encode_value,
)
from hmi.core.samples import Quality, Sample, Value
from hmi.core.site import Device, ModbusAddress, RegisterTable, Scaling, Tag

MAX_REGISTERS_PER_REQUEST = 125  # Modbus application protocol spec, FC 3/4
MAX_BITS_PER_REQUEST = 2000  # FC 1/2
MAX_GAP = 16  # read through holes up to this size rather than issue another request

_EXCEPTION_NAMES = {
    ExcCodes.ILLEGAL_FUNCTION: "illegal function",
    ExcCodes.ILLEGAL_ADDRESS: "illegal data address",
    ExcCodes.ILLEGAL_VALUE: "illegal data value",
    ExcCodes.DEVICE_FAILURE: "server device failure",
    ExcCodes.ACKNOWLEDGE: "acknowledge",
    ExcCodes.DEVICE_BUSY: "server device busy",
    ExcCodes.NEGATIVE_ACKNOWLEDGE: "negative acknowledge",
    ExcCodes.MEMORY_PARITY_ERROR: "memory parity error",
    ExcCodes.GATEWAY_PATH_UNAVIABLE: "gateway path unavailable",
    ExcCodes.GATEWAY_NO_RESPONSE: "gateway target failed to respond",
}

# Exceptions that say something about the addresses asked for, so splitting the
# request finds the tags at fault. Busy, acknowledge and the gateway codes (10, 11)
# concern the whole unit: splitting would only multiply the timeouts behind them.
ADDRESS_EXCEPTIONS = frozenset({1, 2, 3, 4})

# Relative precision of each float type: read-backs within it count as equal.
_FLOAT_EPSILON = {DataType.FLOAT32: 2.0**-23, DataType.FLOAT64: 2.0**-52}


def exception_name(code: int) -> str:
    """Human name of a Modbus exception code, as the spec words it."""
    try:
        return _EXCEPTION_NAMES[ExcCodes(code)]
    except ValueError:
        return "unknown exception"


def describe_exception(code: int) -> str:
    return f"{exception_name(code)} (exception {code})"


def address_of(tag: Tag) -> ModbusAddress:
    if not isinstance(tag.address, ModbusAddress):
        raise TypeError(f"tag {tag.name} has no Modbus address")
    return tag.address


def span_of(tag: Tag) -> int:
    """Registers (or bits) one read of the tag covers; a bit of a register is one register."""
    address = address_of(tag)
    if address.table.is_bit or tag.bit is not None:
        return 1
    return tag.register_count


def byte_order_of(tag: Tag, device: Device) -> ByteOrder:
    return tag.byte_order or device.byte_order


@dataclass(frozen=True, slots=True)
class _FastTag:
    """A numeric tag decoded straight from the block's bytes when its order is ABCD."""

    name: str
    byte: int  # offset of its first byte in the block
    end: int  # registers the block must hold for it
    unpack: Callable[[bytes | bytearray, int], tuple[Any, ...]]
    is_float: bool
    order: ByteOrder | None  # the tag's override
    scaling: Scaling | None


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One request: a contiguous range of one table covering one or more tags."""

    table: RegisterTable
    start: int
    count: int
    tags: tuple[Tag, ...]
    # per tag, planned once: the fast decoder, or None for the general path
    fast: tuple[_FastTag | None, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fast", tuple(_fast(tag, self.start) for tag in self.tags))

    def __str__(self) -> str:
        return f"{self.table.value}:{self.start}..{self.start + self.count - 1}"


def _fast(tag: Tag, start: int) -> _FastTag | None:
    fmt = STRUCT_FORMATS.get(tag.data_type)
    address = tag.address
    if fmt is None or tag.bit is not None or not isinstance(address, ModbusAddress):
        return None
    if address.table.is_bit:
        return None
    index = address.offset - start
    return _FastTag(
        tag.name,
        2 * index,
        index + tag.data_type.register_count,
        struct.Struct(">" + fmt).unpack_from,
        tag.data_type in (DataType.FLOAT32, DataType.FLOAT64),
        tag.byte_order,
        tag.scaling,
    )


def block_of(tags: Sequence[Tag]) -> ReadBlock:
    """The smallest block covering these tags (all of one table)."""
    table = address_of(tags[0]).table
    start = min(address_of(t).offset for t in tags)
    end = max(address_of(t).offset + span_of(t) for t in tags)
    return ReadBlock(table, start, end - start, tuple(tags))


def plan_blocks(
    tags: Sequence[Tag],
    max_registers: int = MAX_REGISTERS_PER_REQUEST,
    max_bits: int = MAX_BITS_PER_REQUEST,
    max_gap: int = MAX_GAP,
) -> list[ReadBlock]:
    """Group tags by table and coalesce nearby addresses into as few requests as fit.

    max_registers=max_bits=1, max_gap=-1 gives one request per tag (a benchmark baseline).
    """
    blocks: list[ReadBlock] = []
    by_table: dict[RegisterTable, list[Tag]] = {}
    for tag in tags:
        by_table.setdefault(address_of(tag).table, []).append(tag)
    for table, table_tags in by_table.items():
        limit = max_bits if table.is_bit else max_registers
        ordered = sorted(table_tags, key=lambda t: (address_of(t).offset, span_of(t)))
        start = end = -1
        members: list[Tag] = []
        for tag in ordered:
            offset, span = address_of(tag).offset, span_of(tag)
            fits = members and offset - end <= max_gap and max(end, offset + span) - start <= limit
            if fits:
                members.append(tag)
                end = max(end, offset + span)
                continue
            if members:
                blocks.append(ReadBlock(table, start, end - start, tuple(members)))
            start, end, members = offset, offset + span, [tag]
        if members:
            blocks.append(ReadBlock(table, start, end - start, tuple(members)))
    return blocks


# -- reading --------------------------------------------------------------------------


def to_engineering(tag: Tag, raw: Value) -> Value:
    """Apply the tag's linear scaling to a decoded numeric value (result float)."""
    if tag.scaling is None or isinstance(raw, bool) or not isinstance(raw, int | float):
        return raw
    return float(tag.scaling.to_engineering(raw))


def decode_tag(tag: Tag, words: Sequence[int], order: ByteOrder) -> Value:
    """Engineering value of a register tag from its own registers; DecodeError if not."""
    if tag.bit is not None:
        return bool(words[0] >> tag.bit & 1)
    value = decode_registers(words, tag.data_type, order)
    if tag.data_type is DataType.BOOL:
        return bool(value)
    return to_engineering(tag, value)


def samples_from_registers(
    block: ReadBlock, registers: Sequence[int], device_order: ByteOrder, now: float
) -> list[Sample]:
    """Every tag of a register block: ABCD numerics straight from the block's bytes
    (one pack, one unpack each: the hot path at 10,000 tags a second), the rest
    through decode_tag."""
    count = len(registers)
    raw = struct.pack(f">{count}H", *registers)
    samples: list[Sample] = []
    for tag, fast in zip(block.tags, block.fast, strict=True):
        order = tag.byte_order or device_order
        if fast is None or order is not ByteOrder.ABCD or fast.end > count:
            samples.append(sample_from_registers(tag, block, registers, order, now))
            continue
        value = fast.unpack(raw, fast.byte)[0]
        if fast.is_float and not math.isfinite(value):
            samples.append(sample_from_registers(tag, block, registers, order, now))
            continue
        if fast.scaling is not None:
            value = float(fast.scaling.to_engineering(value))
        samples.append(Sample(fast.name, value, Quality.GOOD, now, now))
    return samples


def sample_from_registers(
    tag: Tag, block: ReadBlock, registers: Sequence[int], order: ByteOrder, now: float
) -> Sample:
    index = address_of(tag).offset - block.start
    need = span_of(tag)
    words = registers[index : index + need]
    if len(words) < need:
        return Sample.bad(tag.name, f"modbus: short response reading {block}", now)
    try:
        value = decode_tag(tag, words, order)
    except DecodeError as exc:
        return Sample.bad(tag.name, _decode_detail(tag, str(exc)), now)
    except Exception as exc:
        return Sample.bad(tag.name, f"decode: {tag.data_type.value}: {exc}", now)
    return Sample(tag.name, value, Quality.GOOD, now, now)


def _decode_detail(tag: Tag, reason: str) -> str:
    """Say where, and for NaN or infinity say what it likely means."""
    where = f"{tag.data_type.value} at {address_of(tag)}"
    last = reason.rsplit(" ", 1)[-1]
    if last in ("nan", "inf", "-inf"):
        return f"decode: {where} is {last} (not a finite number: sensor fault?)"
    return f"decode: {where}: {reason}"


def sample_from_bits(tag: Tag, block: ReadBlock, bits: Sequence[bool], now: float) -> Sample:
    index = address_of(tag).offset - block.start
    if index >= len(bits):
        return Sample.bad(tag.name, f"modbus: short response reading {block}", now)
    return Sample(tag.name, bool(bits[index]), Quality.GOOD, now, now)


# -- writing --------------------------------------------------------------------------


def raw_for_write(tag: Tag, value: Value) -> Value:
    """The raw value to encode for an engineering value; ValueError says why not."""
    if value is None:
        raise ValueError("no value given")
    if tag.data_type is DataType.BOOL or tag.bit is not None:
        if isinstance(value, str):
            raise ValueError(f"{value!r} is not a bool")
        return bool(value)
    if tag.data_type is DataType.STRING:
        return str(value)
    if isinstance(value, str) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    raw: float = float(tag.scaling.to_raw(value)) if tag.scaling is not None else value
    if not math.isfinite(raw):
        raise ValueError(f"{value!r} is not a finite number")
    if tag.data_type in _FLOAT_EPSILON:
        return float(raw)
    if tag.scaling is not None:
        return round(raw)  # nearest raw count
    if isinstance(raw, float) and not raw.is_integer():
        raise ValueError(f"{value!r} is not a whole number, as {tag.data_type.value} needs")
    return int(raw)


def encode_for_write(tag: Tag, value: Value, order: ByteOrder) -> tuple[Value, list[int]]:
    """(raw value, registers to write) for a register tag; ValueError says why not."""
    raw = raw_for_write(tag, value)
    return raw, encode_value(raw, tag.data_type, order, tag.length)


def readback_matches(tag: Tag, requested: Value, read_back: Value) -> bool:
    """Does the read-back equal what was asked, within the type's precision?"""
    if tag.bit is not None or tag.data_type is DataType.BOOL:
        return bool(requested) == read_back
    if tag.data_type is DataType.STRING:
        return str(requested).rstrip() == read_back
    if not isinstance(requested, int | float) or not isinstance(read_back, int | float):
        return False
    epsilon = _FLOAT_EPSILON.get(tag.data_type, 0.0)
    tolerance = 4 * epsilon * max(abs(requested), abs(read_back))
    if tag.scaling is not None:
        s = tag.scaling
        gain = abs((s.eng_high - s.eng_low) / (s.raw_high - s.raw_low))
        # one raw count (integer types) or the raw value's precision (floats)
        raw_size = max(abs(s.raw_low), abs(s.raw_high), abs(s.to_raw(float(requested))))
        tolerance += gain * (4 * epsilon * raw_size if epsilon else 0.5)
        tolerance += 1e-9 * max(1.0, abs(requested))
    return abs(float(requested) - float(read_back)) <= tolerance
