"""Modbus RTU: framed over TCP (serial-to-Ethernet gateways) and on a serial line (a
pty pair on Linux stands in for the RS-485 adapter)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from hmi.core.bus import TagBus
from hmi.core.datatypes import DataType
from hmi.core.samples import Quality
from hmi.core.site import Device, DeviceKind, ModbusAddress, RegisterTable, SerialLine, Tag
from hmi.core.status import ConnectionState
from hmi.core.writes import WriteOutcome
from hmi.devices.modbus import build_modbus_workers
from hmi.sim.modbus_server import ModbusSimServer
from tests.conftest import all_quality, wait_for

HR, COIL = RegisterTable.HOLDING_REGISTER, RegisterTable.COIL


def _tags(device: str) -> tuple[Tag, ...]:
    return (
        Tag(f"{device}.Count", device, ModbusAddress(HR, 0), DataType.UINT32),
        Tag(f"{device}.Run", device, ModbusAddress(COIL, 2), DataType.BOOL),
    )


def test_rtu_over_tcp_polls_writes_and_shares_the_socket() -> None:
    async def scenario() -> None:
        server = ModbusSimServer(unit_ids=(1, 2), framer="rtu")
        await server.start()
        server.set_holding(0, [0x0001, 0x1170], unit=1)  # 70000
        server.set_holding(0, [0x0000, 0x0002], unit=2)
        server.set_bits(COIL, 2, [True], unit=2)
        devices = [
            Device(
                f"gw{unit}", DeviceKind.MODBUS_RTU_OVER_TCP, port=server.port, unit_id=unit,
                poll_interval=0.1, timeout=0.5,
            )
            for unit in (1, 2)
        ]
        bus = TagBus()
        workers = build_modbus_workers([(d, _tags(d.name)) for d in devices], bus)
        tasks = [asyncio.create_task(w.run()) for w in workers.values()]
        every_tag = [*_tags("gw1"), *_tags("gw2")]
        try:
            await wait_for(lambda: all_quality(bus, every_tag, Quality.GOOD), 3.0)
            assert bus.latest("gw1.Count").value == 70000  # type: ignore[union-attr]
            assert bus.latest("gw2.Count").value == 2  # type: ignore[union-attr]
            assert bus.latest("gw1.Run").value is False  # type: ignore[union-attr]
            assert bus.latest("gw2.Run").value is True  # type: ignore[union-attr]
            result = await workers["gw1"].write(_tags("gw1")[0], 123456)
            assert result.outcome is WriteOutcome.CONFIRMED, result.message
            assert server.registers(HR, 0, 2, unit=1) == [0x0001, 0xE240]
            assert server.connections == 1
            link = workers["gw1"].link
            assert link.bytes_sent > 0
            assert link.bytes_received > 0
        finally:
            for worker in workers.values():
                await worker.stop()
            await server.stop()
        assert all(t.done() for t in tasks)

    asyncio.run(scenario())


@asynccontextmanager
async def _null_modem() -> AsyncIterator[tuple[str, str]]:
    """Two ptys joined back to back: what one end writes, the other reads."""
    import tty

    ends = []
    for _ in range(2):
        master, slave = os.openpty()
        tty.setraw(slave)
        ends.append((master, slave, os.ttyname(slave)))
    loop = asyncio.get_running_loop()

    def relay(source: int, sink: int) -> None:
        with contextlib.suppress(OSError):
            os.write(sink, os.read(source, 4096))

    (m1, s1, p1), (m2, s2, p2) = ends
    loop.add_reader(m1, relay, m1, m2)
    loop.add_reader(m2, relay, m2, m1)
    try:
        yield p1, p2
    finally:
        loop.remove_reader(m1)
        loop.remove_reader(m2)
        for fd in (m1, s1, m2, s2):
            os.close(fd)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty pair needs Linux")
def test_rtu_serial_line_over_a_pty_pair() -> None:
    async def scenario() -> None:
        async with _null_modem() as (plc_end, hmi_end):
            server = ModbusSimServer(serial_port=plc_end, unit_ids=(7,))
            await server.start()
            server.set_holding(0, [0x0000, 0x002A], unit=7)
            line = SerialLine(hmi_end, baudrate=19200, parity="N")
            device = Device(
                "rtu", DeviceKind.MODBUS_RTU, unit_id=7, serial=line, poll_interval=0.1,
                timeout=0.5,
            )
            bus = TagBus()
            worker = build_modbus_workers([(device, _tags("rtu"))], bus)["rtu"]
            task = asyncio.create_task(worker.run())
            try:
                await wait_for(lambda: all_quality(bus, _tags("rtu"), Quality.GOOD), 3.0)
                assert bus.latest("rtu.Count").value == 42  # type: ignore[union-attr]
                result = await worker.write(_tags("rtu")[1], True)
                assert result.outcome is WriteOutcome.CONFIRMED, result.message
                assert server.bit(COIL, 2, unit=7) is True
                assert worker.status.state is ConnectionState.CONNECTED
                diagnostics = worker.diagnostics()
                assert diagnostics.errors == 0
                assert diagnostics.bytes_sent >= 8 * diagnostics.requests
            finally:
                await worker.stop()
                await server.stop()
            assert task.done()

    asyncio.run(scenario())


def test_missing_serial_port_goes_bad_and_says_so() -> None:
    async def scenario() -> None:
        line = SerialLine("/dev/does-not-exist-hmi", baudrate=19200)
        device = Device("rtu", DeviceKind.MODBUS_RTU, serial=line, timeout=0.3)
        worker = build_modbus_workers([(device, _tags("rtu"))], TagBus())["rtu"]
        samples = await worker.read_once()
        assert all(s.quality is Quality.BAD for s in samples)
        assert "/dev/does-not-exist-hmi" in samples[0].detail
        await worker.stop()

    asyncio.run(scenario())
