"""The pure parts of the Modbus worker: block planning, decoding, write encoding,
and read-back comparison (the deadband rule is hmi.core.deadband: tests/core)."""

from __future__ import annotations

import pytest

from hmi.core.bus import TagBus
from hmi.core.datatypes import ByteOrder, DataType
from hmi.core.samples import Quality, Sample
from hmi.core.site import Device, DeviceKind, ModbusAddress, RegisterTable, Scaling, Tag
from hmi.devices.modbus import ModbusWorker
from hmi.devices.modbus_codec import (
    decode_tag,
    encode_for_write,
    exception_name,
    raw_for_write,
    readback_matches,
)

HR, COIL = RegisterTable.HOLDING_REGISTER, RegisterTable.COIL


def _tag(offset: int, data_type: DataType = DataType.UINT16, **kw: object) -> Tag:
    table = COIL if data_type is DataType.BOOL and "bit" not in kw else HR
    return Tag(f"T{offset}", "plc", ModbusAddress(table, offset), data_type, **kw)  # type: ignore[arg-type]


def _good(tag: str, value: float) -> Sample:
    return Sample(tag, value, Quality.GOOD, 0.0, 0.0)


def test_blocks_use_the_device_limits_and_overrides_force_one_per_tag() -> None:
    tags = [_tag(i) for i in range(0, 40, 2)]  # every other register, 0..38
    device = Device("plc", DeviceKind.MODBUS_TCP, max_registers=10, max_gap=1)
    worker = ModbusWorker(device, tags, TagBus())
    assert [(b.start, b.count) for b in worker.blocks] == [(0, 9), (10, 9), (20, 9), (30, 9)]
    no_gap = ModbusWorker(Device("plc", DeviceKind.MODBUS_TCP, max_gap=0), tags, TagBus())
    assert len(no_gap.blocks) == 20
    naive = ModbusWorker(
        Device("plc", DeviceKind.MODBUS_TCP), tags, TagBus(),
        max_registers=1, max_bits=1, max_gap=-1,
    )
    assert len(naive.blocks) == 20
    assert all(b.count == 1 for b in naive.blocks)


def test_bits_of_one_register_share_one_read() -> None:
    tags = [_tag(5, DataType.BOOL, bit=b) for b in (0, 7, 15)]
    worker = ModbusWorker(Device("plc", DeviceKind.MODBUS_TCP), tags, TagBus())
    assert [(b.table, b.start, b.count) for b in worker.blocks] == [(HR, 5, 1)]


def test_decode_tag_bits_and_scaling() -> None:
    assert decode_tag(_tag(0, DataType.BOOL, bit=15), [0x8000], ByteOrder.ABCD) is True
    assert decode_tag(_tag(0, DataType.BOOL, bit=14), [0x8000], ByteOrder.ABCD) is False
    scaled = _tag(0, DataType.INT16, scaling=Scaling(0, 27648, 0.0, 100.0))
    assert decode_tag(scaled, [27648], ByteOrder.ABCD) == 100.0
    assert isinstance(decode_tag(scaled, [0], ByteOrder.ABCD), float)
    offset = _tag(0, DataType.INT16, scaling=Scaling(-100, 100, 4.0, 20.0))  # 4..20 mA
    assert decode_tag(offset, [0], ByteOrder.ABCD) == 12.0


def test_write_encoding_inverts_scaling() -> None:
    scaled = _tag(0, DataType.INT16, scaling=Scaling(0, 27648, 0.0, 100.0))
    assert encode_for_write(scaled, 50.0, ByteOrder.ABCD) == (13824, [13824])
    assert raw_for_write(_tag(0, DataType.FLOAT32, scaling=Scaling(0, 10, 0, 100)), 50) == 5.0
    assert raw_for_write(_tag(0, DataType.BOOL), 1) is True
    with pytest.raises(ValueError, match="finite"):
        raw_for_write(_tag(0, DataType.FLOAT32), float("nan"))
    with pytest.raises(ValueError, match="no value"):
        raw_for_write(_tag(0), None)


def test_readback_comparison_allows_the_types_precision_only() -> None:
    f32 = _tag(0, DataType.FLOAT32)
    assert readback_matches(f32, 123.456, 123.45600128173828)  # float32 rounding
    assert not readback_matches(f32, 123.456, 123.46)
    f64 = _tag(0, DataType.FLOAT64)
    assert readback_matches(f64, 0.1, 0.1)
    assert not readback_matches(f64, 0.1, 0.10000001)
    assert readback_matches(_tag(0), 5, 5)
    assert not readback_matches(_tag(0), 5, 6)
    scaled = _tag(0, DataType.INT16, scaling=Scaling(0, 27648, 0.0, 100.0))
    assert readback_matches(scaled, 42.5, 11750 * 100 / 27648)  # one raw count away
    assert not readback_matches(scaled, 42.5, 11760 * 100 / 27648)
    assert readback_matches(_tag(0, DataType.STRING, length=2), "AB", "AB")
    assert not readback_matches(_tag(0, DataType.BOOL), True, False)


def test_exception_names_follow_the_spec() -> None:
    assert exception_name(2) == "illegal data address"
    assert exception_name(11) == "gateway target failed to respond"
    assert exception_name(99) == "unknown exception"


def test_fast_block_decoding_matches_the_general_path() -> None:
    """samples_from_registers (bytes of the block, one unpack per tag) agrees with the
    per-tag decoder for every type, byte order, scaling, NaN and a short response."""
    import random

    from hmi.core.datatypes import ByteOrder
    from hmi.core.site import ModbusAddress, RegisterTable, Scaling, Tag
    from hmi.devices.modbus_codec import block_of, sample_from_registers, samples_from_registers

    hr = RegisterTable.HOLDING_REGISTER
    types = [
        DataType.INT16, DataType.UINT16, DataType.INT32, DataType.UINT32, DataType.INT64,
        DataType.UINT64, DataType.FLOAT32, DataType.FLOAT64,
    ]
    tags: list[Tag] = []
    offset = 0
    for i, dtype in enumerate(types * 3):
        order = [None, ByteOrder.CDAB, ByteOrder.DCBA][i // len(types)]
        scaling = Scaling(0, 1000, 0.0, 10.0) if i % 3 == 0 else None
        tags.append(Tag(f"T{i}", "d", ModbusAddress(hr, offset), dtype, byte_order=order,
                        scaling=scaling))
        offset += dtype.register_count
    block = block_of(tags)
    rng = random.Random(7)
    for _ in range(50):
        registers = [rng.randrange(0x10000) for _ in range(block.count)]
        registers[4:6] = [0x7FC0, 0x0000]  # a NaN where a float32 may sit
        for device_order in ByteOrder:
            fast = samples_from_registers(block, registers, device_order, 1.0)
            slow = [
                sample_from_registers(t, block, registers, t.byte_order or device_order, 1.0)
                for t in block.tags
            ]
            assert fast == slow
    short = samples_from_registers(block, [0] * 3, ByteOrder.ABCD, 1.0)
    assert [s.quality.value for s in short[:3]] == ["GOOD", "GOOD", "BAD"]
