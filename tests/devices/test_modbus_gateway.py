"""Several units behind one gateway: one connection, each device its own unit id."""

from __future__ import annotations

import asyncio

from hmi.core.bus import TagBus
from hmi.core.datatypes import DataType
from hmi.core.samples import Quality
from hmi.core.site import Device, DeviceKind, ModbusAddress, RegisterTable, Tag
from hmi.core.status import ConnectionState
from hmi.devices.modbus import ModbusTcpWorker, build_modbus_workers
from hmi.sim.modbus_server import ModbusSimServer
from tests.conftest import all_quality, wait_for

POLL = 0.1
HR = RegisterTable.HOLDING_REGISTER


def _unit(unit: int, port: int, kind: DeviceKind = DeviceKind.MODBUS_TCP) -> Device:
    return Device(
        f"unit{unit}", kind, port=port, unit_id=unit, poll_interval=POLL, timeout=0.5
    )


def _tags(unit: int) -> tuple[Tag, ...]:
    return (
        Tag(f"U{unit}.Level", f"unit{unit}", ModbusAddress(HR, 0), DataType.UINT16),
        Tag(f"U{unit}.Flow", f"unit{unit}", ModbusAddress(HR, 1), DataType.FLOAT32),
    )


def test_three_units_share_one_connection_and_read_their_own_values() -> None:
    async def scenario() -> None:
        server = ModbusSimServer(unit_ids=(1, 2, 3))
        await server.start()
        for unit in (1, 2, 3):
            server.set_holding(0, [100 * unit], unit=unit)
        bus = TagBus()
        entries = [(_unit(u, server.port), _tags(u)) for u in (1, 2, 3)]
        workers = build_modbus_workers(entries, bus, None)
        links = {id(w.link) for w in workers.values()}
        tasks = [asyncio.create_task(w.run()) for w in workers.values()]
        every_tag = [t for _, tags in entries for t in tags]
        try:
            await wait_for(lambda: all_quality(bus, every_tag, Quality.GOOD), 3.0)
            await asyncio.sleep(3 * POLL)
            for unit in (1, 2, 3):
                assert bus.latest(f"U{unit}.Level").value == 100 * unit  # type: ignore[union-attr]
            assert len(links) == 1
            assert server.connections == 1
            link = workers["unit1"].link
            assert link.connects == 1
            assert link.shared
            # requests are per device, bytes are the connection's
            diagnostics = [w.diagnostics() for w in workers.values()]
            assert all(d.requests >= 3 for d in diagnostics)
            assert sum(d.requests for d in diagnostics) <= server.requests
            assert all(d.bytes_sent == link.bytes_sent > 0 for d in diagnostics)
            assert all(d.bytes_received == link.bytes_received > 0 for d in diagnostics)
        finally:
            for worker in workers.values():
                await worker.stop()
            await server.stop()
        assert all(t.done() for t in tasks)
        assert not workers["unit1"].link.connected

    asyncio.run(scenario())


def test_lost_gateway_takes_every_unit_bad_and_all_recover() -> None:
    async def scenario() -> None:
        server = ModbusSimServer(unit_ids=(1, 2, 3))
        await server.start()
        port = server.port
        bus = TagBus()
        entries = [(_unit(u, port), _tags(u)) for u in (1, 2, 3)]
        workers = build_modbus_workers(entries, bus, None)
        tasks = [asyncio.create_task(w.run()) for w in workers.values()]
        every_tag = [t for _, tags in entries for t in tags]
        try:
            await wait_for(lambda: all_quality(bus, every_tag, Quality.GOOD), 3.0)
            await server.stop()
            took = await wait_for(lambda: all_quality(bus, every_tag, Quality.BAD), 2 * POLL)
            assert took <= 2 * POLL
            assert all(
                w.status.state is ConnectionState.DISCONNECTED for w in workers.values()
            )
            server = ModbusSimServer(port=port, unit_ids=(1, 2, 3))
            await server.start()
            await wait_for(lambda: all_quality(bus, every_tag, Quality.GOOD), 5.0)
            assert server.connections == 1
            assert all(w.status.state is ConnectionState.CONNECTED for w in workers.values())
        finally:
            for worker in workers.values():
                await worker.stop()
            await server.stop()
        assert all(t.done() for t in tasks)

    asyncio.run(scenario())


def test_unit_that_does_not_exist_goes_bad_alone() -> None:
    async def scenario() -> None:
        server = ModbusSimServer(unit_ids=(1, 2))  # no unit 3 behind this gateway
        await server.start()
        bus = TagBus()
        entries = [(_unit(u, server.port), _tags(u)) for u in (1, 2, 3)]
        workers = build_modbus_workers(entries, bus, None)
        tasks = [asyncio.create_task(w.run()) for w in workers.values()]
        good = [*_tags(1), *_tags(2)]
        try:
            await wait_for(lambda: all_quality(bus, _tags(3), Quality.BAD), 3.0)
            await wait_for(lambda: all_quality(bus, good, Quality.GOOD), 3.0)
            await asyncio.sleep(1.0)  # unit 3 keeps failing; 1 and 2 keep going
            assert all_quality(bus, good, Quality.GOOD)
            assert all_quality(bus, _tags(3), Quality.BAD)
            assert server.connections == 1
        finally:
            for worker in workers.values():
                await worker.stop()
            await server.stop()
        assert all(t.done() for t in tasks)

    asyncio.run(scenario())


def test_max_outstanding_bounds_requests_in_flight() -> None:
    async def scenario() -> None:
        server = ModbusSimServer(unit_ids=(1, 2, 3))
        await server.start()
        in_flight = peak = 0
        original = server._on_request

        async def slow(*args: object) -> object:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            return await original(*args)  # type: ignore[arg-type]

        server._on_request = slow  # type: ignore[method-assign]
        await server.stop()
        await server.start()  # rebuilt with the slow action
        bus = TagBus()
        entries = [(_unit(u, server.port), _tags(u)) for u in (1, 2, 3)]
        workers = build_modbus_workers(entries, bus, None)
        try:
            for _ in range(3):
                batches = await asyncio.gather(*(w.read_once() for w in workers.values()))
                assert all(s.quality is Quality.GOOD for batch in batches for s in batch)
            assert peak == 1
            assert workers["unit1"].link.max_outstanding == 1
        finally:
            for worker in workers.values():
                await worker.stop()
            await server.stop()

    asyncio.run(scenario())


def test_link_takes_the_smallest_max_outstanding_of_its_devices() -> None:
    first = Device("a", DeviceKind.MODBUS_TCP, port=1502, unit_id=1, max_outstanding=4)
    second = Device("b", DeviceKind.MODBUS_TCP, port=1502, unit_id=2, max_outstanding=2)
    other = Device("c", DeviceKind.MODBUS_RTU_OVER_TCP, port=1502, unit_id=3)
    workers = build_modbus_workers([(first, ()), (second, ()), (other, ())], TagBus())
    assert workers["a"].link is workers["b"].link
    assert workers["a"].link.max_outstanding == 2
    assert workers["c"].link is not workers["a"].link  # another framing is another link


def test_plain_constructor_still_works_with_its_own_link() -> None:
    async def scenario() -> None:
        server = ModbusSimServer()
        await server.start()
        server.set_holding(0, [7])
        worker = ModbusTcpWorker(_unit(1, server.port), _tags(1), TagBus())
        try:
            samples = {s.tag: s for s in await worker.read_once()}
            assert samples["U1.Level"].value == 7
        finally:
            await worker.stop()
            await server.stop()

    asyncio.run(scenario())
