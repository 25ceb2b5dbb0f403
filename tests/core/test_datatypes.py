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


ABCD, CDAB, BADC, DCBA = ByteOrder.ABCD, ByteOrder.CDAB, ByteOrder.BADC, ByteOrder.DCBA

# Every numeric type in every byte order, the registers worked out by hand from the
# big-endian bytes: CDAB reverses the words, BADC swaps the bytes within each word,
# DCBA does both. 123.456 as float32 is 0x42F6E979; as float64 0x405EDD2F1A9FBE77.
EVERY_ORDER = [
    (DataType.INT16, -2, {ABCD: [0xFFFE], CDAB: [0xFFFE], BADC: [0xFEFF], DCBA: [0xFEFF]}),
    (DataType.UINT16, 0x1234, {ABCD: [0x1234], CDAB: [0x1234], BADC: [0x3412], DCBA: [0x3412]}),
    (
        DataType.INT32,
        -123456789,  # 0xF8A432EB
        {
            ABCD: [0xF8A4, 0x32EB],
            CDAB: [0x32EB, 0xF8A4],
            BADC: [0xA4F8, 0xEB32],
            DCBA: [0xEB32, 0xA4F8],
        },
    ),
    (
        DataType.UINT32,
        0x12345678,
        {
            ABCD: [0x1234, 0x5678],
            CDAB: [0x5678, 0x1234],
            BADC: [0x3412, 0x7856],
            DCBA: [0x7856, 0x3412],
        },
    ),
    (
        DataType.INT64,
        -1234567890123456789,  # 0xEEDDEF0B82167EEB
        {
            ABCD: [0xEEDD, 0xEF0B, 0x8216, 0x7EEB],
            CDAB: [0x7EEB, 0x8216, 0xEF0B, 0xEEDD],
            BADC: [0xDDEE, 0x0BEF, 0x1682, 0xEB7E],
            DCBA: [0xEB7E, 0x1682, 0x0BEF, 0xDDEE],
        },
    ),
    (
        DataType.UINT64,
        0x0123456789ABCDEF,
        {
            ABCD: [0x0123, 0x4567, 0x89AB, 0xCDEF],
            CDAB: [0xCDEF, 0x89AB, 0x4567, 0x0123],
            BADC: [0x2301, 0x6745, 0xAB89, 0xEFCD],
            DCBA: [0xEFCD, 0xAB89, 0x6745, 0x2301],
        },
    ),
    (
        DataType.FLOAT32,
        123.456,
        {
            ABCD: [0x42F6, 0xE979],
            CDAB: [0xE979, 0x42F6],
            BADC: [0xF642, 0x79E9],
            DCBA: [0x79E9, 0xF642],
        },
    ),
    (
        DataType.FLOAT64,
        123.456,
        {
            ABCD: [0x405E, 0xDD2F, 0x1A9F, 0xBE77],
            CDAB: [0xBE77, 0x1A9F, 0xDD2F, 0x405E],
            BADC: [0x5E40, 0x2FDD, 0x9F1A, 0x77BE],
            DCBA: [0x77BE, 0x9F1A, 0x2FDD, 0x5E40],
        },
    ),
]

CASES = [
    pytest.param(data_type, value, order, registers, id=f"{data_type.value}-{order.value}")
    for data_type, value, by_order in EVERY_ORDER
    for order, registers in by_order.items()
]


@pytest.mark.parametrize(("data_type", "value", "order", "registers"), CASES)
def test_every_type_in_every_byte_order(
    data_type: DataType, value: float, order: ByteOrder, registers: list[int]
) -> None:
    decoded = decode_registers(registers, data_type, order)
    if data_type is DataType.FLOAT32:
        assert decoded == pytest.approx(value, rel=1e-7)
    else:
        assert decoded == value
    assert encode_value(value, data_type, order) == registers


def test_every_order_is_covered() -> None:
    numeric = {t for t in DataType if t.is_numeric}
    assert {case[0] for case in EVERY_ORDER} == numeric
    assert all(set(by_order) == set(ByteOrder) for _, _, by_order in EVERY_ORDER)


# "HMI-01" is 48 4D 49 2D 30 31; strings are byte-swapped within words (BADC, DCBA)
# but never word-swapped: characters stay in reading order.
STRING_ORDERS = {
    ABCD: [0x484D, 0x492D, 0x3031, 0x0000],
    CDAB: [0x484D, 0x492D, 0x3031, 0x0000],
    BADC: [0x4D48, 0x2D49, 0x3130, 0x0000],
    DCBA: [0x4D48, 0x2D49, 0x3130, 0x0000],
}


@pytest.mark.parametrize("order", list(ByteOrder), ids=lambda o: o.value)
def test_strings_in_every_byte_order(order: ByteOrder) -> None:
    registers = STRING_ORDERS[order]
    assert decode_registers(registers, DataType.STRING, order) == "HMI-01"
    assert encode_value("HMI-01", DataType.STRING, order, length=4) == registers


def test_odd_length_string_with_byte_swap() -> None:
    # "ABC" -> 41 42 43 00; BADC swaps each pair: 42 41 00 43
    assert decode_registers([0x4241, 0x0043], DataType.STRING, BADC) == "ABC"
    assert encode_value("ABC", DataType.STRING, BADC) == [0x4241, 0x0043]


def test_values_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="int16"):
        encode_value(70000, DataType.INT16)
    with pytest.raises(ValueError, match="longer"):
        encode_value("TOO LONG", DataType.STRING, length=2)
