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

STRUCT_FORMATS = {  # big-endian struct codes of the numeric types
    DataType.INT16: "h",
    DataType.UINT16: "H",
    DataType.INT32: "i",
    DataType.UINT32: "I",
    DataType.INT64: "q",
    DataType.UINT64: "Q",
    DataType.FLOAT32: "f",
    DataType.FLOAT64: "d",
}


class ByteOrder(enum.Enum):
    """Byte order of a multi-byte value across 16-bit registers, named by where the
    bytes of the big-endian value ABCD land. ABCD is Modbus' own; CDAB swaps words
    (common on Schneider, Siemens S7 via gateways), BADC swaps bytes within each word,
    DCBA does both. For 64-bit values the same swaps apply to all four words."""

    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"

    @property
    def swaps_words(self) -> bool:
        return self in (ByteOrder.CDAB, ByteOrder.DCBA)

    @property
    def swaps_bytes(self) -> bool:
        return self in (ByteOrder.BADC, ByteOrder.DCBA)


class DecodeError(ValueError):
    """The registers cannot hold a value of the tag's type."""


def _swap_bytes(word: int) -> int:
    return ((word & 0xFF) << 8) | ((word >> 8) & 0xFF)


def _reorder(words: list[int], order: ByteOrder) -> list[int]:
    """Between wire order and ABCD order: each swap is its own inverse."""
    if order.swaps_words:
        words = words[::-1]
    if order.swaps_bytes:
        words = [_swap_bytes(w) for w in words]
    return words


def decode_registers(
    registers: Sequence[int], data_type: DataType, order: ByteOrder = ByteOrder.ABCD
) -> Value:
    """Decode 16-bit registers, sent in ``order``, into a Python value.

    Floats that are NaN or infinite raise DecodeError: a PLC sending them is a fault
    the operator must see, not a number to plot.
    """
    if not registers:
        raise DecodeError(f"{data_type.value} needs registers, got none")
    if data_type is DataType.BOOL:
        return bool(registers[0])
    words = [w & 0xFFFF for w in registers]
    if data_type is DataType.STRING:
        if order.swaps_bytes:
            words = [_swap_bytes(w) for w in words]
        raw = b"".join(w.to_bytes(2, "big") for w in words)
        return raw.split(b"\x00", 1)[0].decode("latin-1").rstrip()
    need = data_type.register_count
    if len(words) != need:
        raise DecodeError(f"{data_type.value} needs {need} registers, got {len(words)}")
    raw = b"".join(w.to_bytes(2, "big") for w in _reorder(words, order))
    (value,) = struct.unpack(">" + STRUCT_FORMATS[data_type], raw)
    if isinstance(value, float) and not math.isfinite(value):
        raise DecodeError(f"{data_type.value} is {value}")
    return value  # type: ignore[no-any-return]


def encode_value(
    value: Value, data_type: DataType, order: ByteOrder = ByteOrder.ABCD, length: int = 0
) -> list[int]:
    """Encode a value into 16-bit registers in ``order``: the inverse of decode_registers.

    Raises ValueError for a value the type cannot hold (e.g. 70000 as int16); strings
    are padded with NUL to ``length`` registers and refused when longer.
    """
    if data_type is DataType.BOOL:
        return [1 if value else 0]
    if data_type is DataType.STRING:
        raw = str(value).encode("latin-1", errors="replace")
        if len(raw) % 2:
            raw += b"\x00"
        if length:
            if len(raw) > 2 * length:
                raise ValueError(f"{value!r} is longer than {2 * length} characters")
            raw = raw.ljust(2 * length, b"\x00")
        words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
        return [_swap_bytes(w) for w in words] if order.swaps_bytes else words
    try:
        raw = struct.pack(">" + STRUCT_FORMATS[data_type], value)
    except struct.error as exc:
        raise ValueError(f"{value!r} does not fit a {data_type.value}: {exc}") from None
    words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    return _reorder(words, order)
