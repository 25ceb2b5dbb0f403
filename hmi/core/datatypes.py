"""PLC data types and their decoding from 16-bit Modbus registers.

Decoding is done here, independent of pymodbus's helpers, so that it is tested against
register values computed by hand and behaves the same for every transport.
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Sequence

from hmi.core.samples import Value


class DataType(enum.Enum):
    BOOL = "bool"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"

    @property
    def register_count(self) -> int:
        """16-bit registers one value occupies (strings: see Tag.length)."""
        return _REGISTERS[self]

    @property
    def is_numeric(self) -> bool:
        return self not in (DataType.BOOL, DataType.STRING)


_REGISTERS = {
    DataType.BOOL: 1,
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT32: 2,
    DataType.FLOAT64: 4,
    DataType.STRING: 1,
}

_STRUCT = {
    DataType.INT16: "h",
    DataType.UINT16: "H",
    DataType.INT32: "i",
    DataType.UINT32: "I",
    DataType.INT64: "q",
    DataType.UINT64: "Q",
    DataType.FLOAT32: "f",
    DataType.FLOAT64: "d",
}


class WordOrder(enum.Enum):
    """Order of 16-bit words in a multi-register value. BIG is Modbus' own (ABCD)."""

    BIG = "big"
    LITTLE = "little"


class DecodeError(ValueError):
    """The registers cannot hold a value of the tag's type."""


def decode_registers(
    registers: Sequence[int], data_type: DataType, word_order: WordOrder = WordOrder.BIG
) -> Value:
    """Decode big-endian 16-bit registers into a Python value.

    Floats that are NaN or infinite raise DecodeError: a PLC sending them is a fault
    the operator must see, not a number to plot.
    """
    if data_type is DataType.BOOL:
        return bool(registers[0])
    words = list(registers)
    if data_type is DataType.STRING:
        raw = b"".join(w.to_bytes(2, "big") for w in words)
        return raw.split(b"\x00", 1)[0].decode("latin-1").rstrip()
    need = data_type.register_count
    if len(words) != need:
        raise DecodeError(f"{data_type.value} needs {need} registers, got {len(words)}")
    if word_order is WordOrder.LITTLE:
        words.reverse()
    raw = b"".join((w & 0xFFFF).to_bytes(2, "big") for w in words)
    (value,) = struct.unpack(">" + _STRUCT[data_type], raw)
    if isinstance(value, float) and not math.isfinite(value):
        raise DecodeError(f"{data_type.value} is {value}")
    return value  # type: ignore[no-any-return]


def encode_value(
    value: Value, data_type: DataType, word_order: WordOrder = WordOrder.BIG
) -> list[int]:
    """Encode a value into 16-bit registers: the inverse of decode_registers."""
    if data_type is DataType.BOOL:
        return [1 if value else 0]
    if data_type is DataType.STRING:
        raw = str(value).encode("latin-1")
        if len(raw) % 2:
            raw += b"\x00"
        return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    raw = struct.pack(">" + _STRUCT[data_type], value)
    words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    if word_order is WordOrder.LITTLE:
        words.reverse()
    return words
