"""decode_registers / encode_value against register values worked out by hand."""

from __future__ import annotations

import math

import pytest

from hmi.core.datatypes import ByteOrder, DataType, DecodeError, decode_registers, encode_value

HAND_COMPUTED = [
    (1.0, DataType.FLOAT32, [0x3F80, 0x0000]),
    (-2.5, DataType.FLOAT32, [0xC020, 0x0000]),
    (-2, DataType.INT32, [0xFFFF, 0xFFFE]),
    (70000, DataType.UINT32, [0x0001, 0x1170]),
    (-1, DataType.INT16, [0xFFFF]),
    (65535, DataType.UINT16, [0xFFFF]),
    (1500, DataType.INT16, [0x05DC]),
    (1.0, DataType.FLOAT64, [0x3FF0, 0x0000, 0x0000, 0x0000]),
    (2**32, DataType.UINT64, [0x0000, 0x0001, 0x0000, 0x0000]),
    (-3, DataType.INT64, [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFD]),
]


@pytest.mark.parametrize(("value", "data_type", "registers"), HAND_COMPUTED)
def test_big_word_order_matches_hand_computed(
    value: float, data_type: DataType, registers: list[int]
) -> None:
    assert encode_value(value, data_type) == registers
    assert decode_registers(registers, data_type) == value


def test_little_word_order_swaps_words() -> None:
    assert encode_value(70000, DataType.UINT32, ByteOrder.CDAB) == [0x1170, 0x0001]
    assert decode_registers([0x1170, 0x0001], DataType.UINT32, ByteOrder.CDAB) == 70000
    assert decode_registers([0x0000, 0x3F80], DataType.FLOAT32, ByteOrder.CDAB) == 1.0
    words = encode_value(1.0, DataType.FLOAT64, ByteOrder.CDAB)
    assert words == [0x0000, 0x0000, 0x0000, 0x3FF0]


def test_nan_and_infinity_raise_decode_error() -> None:
    with pytest.raises(DecodeError, match="nan"):
        decode_registers([0x7FC0, 0x0000], DataType.FLOAT32)
    with pytest.raises(DecodeError, match="inf"):
        decode_registers([0x7F80, 0x0000], DataType.FLOAT32)


def test_wrong_register_count_raises() -> None:
    with pytest.raises(DecodeError, match="needs 2 registers"):
        decode_registers([0x3F80], DataType.FLOAT32)


def test_strings_are_two_chars_a_register_and_stop_at_nul() -> None:
    assert decode_registers([0x4142, 0x4344], DataType.STRING) == "ABCD"
    assert decode_registers([0x4142, 0x4300, 0x5858], DataType.STRING) == "ABC"
    assert decode_registers([0x4F4B, 0x2020], DataType.STRING) == "OK"
    assert encode_value("ABC", DataType.STRING) == [0x4142, 0x4300]


def test_bool_is_any_nonzero_register() -> None:
    assert decode_registers([0], DataType.BOOL) is False
    assert decode_registers([0x0100], DataType.BOOL) is True
    assert encode_value(True, DataType.BOOL) == [1]


def test_float_round_trip_is_float32_precise() -> None:
    value = decode_registers(encode_value(math.pi, DataType.FLOAT32), DataType.FLOAT32)
    assert isinstance(value, float)
    assert value == pytest.approx(math.pi, rel=1e-7)
