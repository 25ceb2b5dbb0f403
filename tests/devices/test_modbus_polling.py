"""Scan classes, deadband, bit-of-register, scaling and split-on-exception, against the
pymodbus simulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections import Counter

from pymodbus.constants import ExcCodes

from hmi.core.datatypes import ByteOrder, DataType
from hmi.core.samples import Quality, Sample
from hmi.core.site import Device, DeviceKind, ModbusAddress, RegisterTable, Scaling, Tag
from hmi.devices import modbus_blocks
from hmi.devices.modbus import ModbusWorker
from hmi.sim.modbus_server import ModbusSimServer
from tests.conftest import TappedBus, all_quality, wait_for

HR, IR = RegisterTable.HOLDING_REGISTER, RegisterTable.INPUT_REGISTER


def _device(port: int, poll: float = 0.1, **kwargs: object) -> Device:
    return Device(
        "plc", DeviceKind.MODBUS_TCP, port=port, poll_interval=poll, timeout=0.5,
        **kwargs,  # type: ignore[arg-type]
    )


def _tag(name: str, table: RegisterTable, offset: int, data_type: DataType, **kw: object) -> Tag:
    return Tag(name, "plc", ModbusAddress(table, offset), data_type, **kw)  # type: ignore[arg-type]


def test_fast_scan_class_polls_ten_times_as_often_as_slow() -> None:
    async def scenario() -> None:
        server = ModbusSimServer(holding_count=200)
        await server.start()
        fast = _tag("Fast", HR, 0, DataType.UINT16, scan_interval=0.1)
        slow = _tag("Slow", HR, 100, DataType.UINT16)  # device's 1 s
        bus = TappedBus()
        counts: Counter[str] = Counter()
        bus.tap(lambda batch: counts.update(s.tag for s in batch))
        worker = ModbusWorker(_device(server.port, poll=1.0), [fast, slow], bus)
        assert [(s.interval, len(s.plan)) for s in worker.scan_classes] == [(0.1, 1), (1.0, 1)]
        task = asyncio.create_task(worker.run())
        try:
            await asyncio.sleep(2.05)
        finally:
            await worker.stop()
            await server.stop()
        assert task.done()
        assert 2 <= counts["Slow"] <= 3
        assert 15 <= counts["Fast"] <= 22
        assert counts["Fast"] >= 6 * counts["Slow"]

    asyncio.run(scenario())


def test_deadband_publishes_big_changes_and_every_quality_change() -> None:
    async def scenario() -> None:
        server = ModbusSimServer()
        await server.start()
        scaled = Scaling(0, 1000, 0.0, 100.0)  # 10 raw counts per engineering unit
        level = _tag("Level", HR, 0, DataType.INT16, scaling=scaled, deadband=0.5)
        server.set_holding(0, [500])  # 50.0
        bus = TappedBus()
        published: list[Sample] = []
        bus.tap(published.extend)
        worker = ModbusWorker(_device(server.port, poll=0.05), [level], bus)
        task = asyncio.create_task(worker.run())

        def values() -> list[object]:
            return [s.value for s in published]

        try:
            await wait_for(lambda: len(published) == 1, 2.0)
            assert published[0].value == 50.0
            assert isinstance(published[0].value, float)
            server.set_holding(0, [504])  # +0.4: under the deadband
            await asyncio.sleep(0.3)
            assert values() == [50.0]
            server.set_holding(0, [510])  # +1.0 from the last published: over it
            await wait_for(lambda: values() == [50.0, 51.0], 2.0)
            server.set_holding(0, [516])  # +0.6
            await wait_for(lambda: values() == [50.0, 51.0, 51.6], 2.0)
            await server.stop()  # a quality change is always published
            await wait_for(lambda: published[-1].quality is Quality.BAD, 2.0)
            port = server.port
            server = ModbusSimServer(port=port)
            await server.start()
            server.set_holding(0, [516])  # same value, but GOOD again: published
            await wait_for(lambda: published[-1].quality is Quality.GOOD, 5.0)
            assert published[-1].value == 51.6
        finally:
            await worker.stop()
            await server.stop()
        assert task.done()

    asyncio.run(scenario())


def test_bits_of_registers_scaling_and_byte_orders() -> None:
    async def scenario() -> None:
        server = ModbusSimServer()
        await server.start()
        server.set_holding(0, [0b1000_0000_0000_0101])
        server.set_holding(1, [0xE979, 0x42F6])  # 123.456 as float32, CDAB
        server.set_holding(3, [0x79E9, 0xF642])  # and DCBA
        server.set_input(0, [13824])  # half of 27648: a Siemens analog input
        tags = [
            _tag("Bit0", HR, 0, DataType.BOOL, bit=0),
            _tag("Bit1", HR, 0, DataType.BOOL, bit=1),
            _tag("Bit2", HR, 0, DataType.BOOL, bit=2),
            _tag("Bit15", HR, 0, DataType.BOOL, bit=15),
            _tag("Device order", HR, 1, DataType.FLOAT32),
            _tag("Own order", HR, 3, DataType.FLOAT32, byte_order=ByteOrder.DCBA),
            _tag("Analog", IR, 0, DataType.INT16, scaling=Scaling(0, 27648, 0.0, 10.0)),
        ]
        device = _device(server.port, byte_order=ByteOrder.CDAB)
        worker = ModbusWorker(device, tags, TappedBus())
        try:
            value = {s.tag: s.value for s in await worker.read_once()}
        finally:
            await worker.stop()
            await server.stop()
        assert value["Bit0"] is True
        assert value["Bit1"] is False
        assert value["Bit2"] is True
        assert value["Bit15"] is True
        assert abs(value["Device order"] - 123.456) < 1e-4  # type: ignore[operator]
        assert abs(value["Own order"] - 123.456) < 1e-4  # type: ignore[operator]
        assert value["Analog"] == 5.0

    asyncio.run(scenario())


def test_refused_addresses_inside_a_block_go_bad_alone_and_the_split_is_kept() -> None:
    async def scenario() -> None:
        server = ModbusSimServer(holding_count=30)
        server.refuse(HR, 10, 10)  # serves 0-9 and 20-29 only
        await server.start()
        tags = [_tag(f"R{i}", HR, i, DataType.UINT16) for i in range(30)]
        server.set_holding(0, list(range(100, 130)))
        bus = TappedBus()
        worker = ModbusWorker(_device(server.port), tags, bus, max_gap=16)
        assert [(b.start, b.count) for b in worker.blocks] == [(0, 30)]
        try:
            samples = {s.tag: s for s in await worker.read_once()}
            for i in range(30):
                sample = samples[f"R{i}"]
                if 10 <= i < 20:
                    assert sample.quality is Quality.BAD
                    assert sample.detail == (
                        f"modbus: illegal data address (exception 2) at holding_register:{i}"
                    )
                else:
                    assert sample.quality is Quality.GOOD
                    assert sample.value == 100 + i
            good_blocks = sorted((b.start, b.start + b.count) for b in worker.blocks)
            assert all(end <= 10 or start >= 20 for start, end in good_blocks)
            # the next scan reads only the good blocks: no re-bisecting
            before = worker.requests
            samples = {s.tag: s for s in await worker.read_once()}
            assert worker.requests - before == len(worker.blocks)
            assert samples["R15"].quality is Quality.BAD
            assert samples["R25"].value == 125
        finally:
            await worker.stop()
            await server.stop()

    asyncio.run(scenario())


def test_refused_tags_are_reprobed_and_come_back(monkeypatch: object) -> None:
    async def scenario() -> None:
        server = ModbusSimServer(holding_count=30)
        server.refuse(HR, 10, 10)
        await server.start()
        tags = [_tag(f"R{i}", HR, i, DataType.UINT16) for i in range(30)]
        bus = TappedBus()
        worker = ModbusWorker(_device(server.port, poll=0.05), tags, bus)
        task = asyncio.create_task(worker.run())
        try:
            await wait_for(lambda: all_quality(bus, tags[:10], Quality.GOOD), 2.0)
            assert all_quality(bus, tags[10:20], Quality.BAD)
            server._refused.clear()  # a program download maps the registers
            await wait_for(lambda: all_quality(bus, tags, Quality.GOOD), 3.0)
            assert [(b.start, b.count) for b in worker.blocks] == [(0, 30)]
        finally:
            await worker.stop()
            await server.stop()
        assert task.done()

    setattr(modbus_blocks, "PROBE_INTERVAL", 0.5)  # noqa: B010
    try:
        asyncio.run(scenario())
    finally:
        setattr(modbus_blocks, "PROBE_INTERVAL", 30.0)  # noqa: B010


def test_gateway_no_response_is_not_bisected_and_is_retried_every_scan() -> None:
    async def scenario() -> None:
        server = ModbusSimServer(holding_count=30)
        server.refuse(HR, 5, 1, code=ExcCodes.GATEWAY_NO_RESPONSE)
        await server.start()
        tags = [_tag(f"R{i}", HR, i, DataType.UINT16) for i in range(10)]
        worker = ModbusWorker(_device(server.port), tags, TappedBus())
        try:
            samples = await worker.read_once()
            assert worker.requests == 1  # no split: the unit, not an address, failed
            assert all(s.quality is Quality.BAD for s in samples)
            assert "gateway target failed to respond (exception 11) reading" in samples[0].detail
            server._refused.clear()
            samples = await worker.read_once()
            assert all(s.quality is Quality.GOOD for s in samples)
            assert worker.diagnostics().errors == 1
        finally:
            await worker.stop()
            await server.stop()

    asyncio.run(scenario())
