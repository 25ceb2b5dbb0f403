"""WriteService: every refusal says what to do; a good write reaches the simulator."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest

from hmi.core.bus import TagBus
from hmi.core.datatypes import DataType
from hmi.core.samples import Quality, Sample, Value
from hmi.core.site import Device, DeviceKind, ModbusAddress, RegisterTable, Site, Tag
from hmi.core.writes import WriteOutcome, WriteResult
from hmi.devices.host import DeviceHost
from hmi.services.writes import WriteService, parse_value
from hmi.sim.modbus_server import COIL_RUN_COMMAND, ModbusPlantServer, ModbusRegisterServer
from hmi.sim.plant import FillingLine
from tests.security_helpers import GUARD, engineer

AUDITED: list[object] = []  # the audit rows the write service hands over


HR, COIL = RegisterTable.HOLDING_REGISTER, RegisterTable.COIL


def _site(port: int = 502) -> Site:
    return Site(
        name="writes",
        devices=(Device("filler", DeviceKind.MODBUS_TCP, port=port, timeout=0.5),),
        tags=(
            Tag("Filler.Speed", "filler", ModbusAddress(HR, 0), DataType.FLOAT32, units="bpm"),
            Tag("Filler.Level", "filler", ModbusAddress(HR, 2), DataType.FLOAT32, units="%",
                low=0, high=100, writable=True),
            Tag("Filler.Batch", "filler", ModbusAddress(HR, 4), DataType.UINT16, writable=True),
            Tag("Filler.Recipe", "filler", ModbusAddress(HR, 5), DataType.STRING, length=4,
                writable=True),
            Tag("Filler.RunCommand", "filler", ModbusAddress(COIL, COIL_RUN_COMMAND),
                DataType.BOOL, writable=True),
        ),
    )


class RecordingWriter:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Value]] = []

    async def __call__(self, tag: str, value: Value) -> WriteResult:
        self.calls.append((tag, value))
        return WriteResult(tag, WriteOutcome.CONFIRMED, value, read_back=value)


REFUSALS = [
    ("unknown-tag", "Filler.Nope", 1, ["no tag 'Filler.Nope'", "check its name"]),
    ("read-only", "Filler.Speed", 10.0,
     ["Filler.Speed is read-only in the site config (writable = false)"]),
    ("above-high", "Filler.Level", 120, ["120 is above the high limit 100 %"]),
    ("below-low", "Filler.Level", -5.5, ["-5.5 is below the low limit 0 %"]),
    ("text-for-number", "Filler.Level", "fifty", ["takes a number (float32)", "'fifty'"]),
    ("bool-for-number", "Filler.Level", True, ["takes a number"]),
    ("not-finite", "Filler.Level", float("nan"), ["finite number"]),
    ("fraction-for-integer", "Filler.Batch", 2.5, ["whole numbers (uint16)", "2.5"]),
    ("integer-overflow", "Filler.Batch", 70000, ["70000 does not fit", "0 to 65535"]),
    ("number-for-bool", "Filler.RunCommand", 1, ["ON or OFF", "not 1"]),
    ("text-for-bool", "Filler.RunCommand", "maybe", ["ON or OFF"]),
    ("number-for-text", "Filler.Recipe", 5, ["takes text"]),
    ("text-too-long", "Filler.Recipe", "ABCDEFGHIJ", ["at most 8 characters"]),
]


@pytest.mark.parametrize(("tag", "value", "words"),
                         [pytest.param(t, v, w, id=case) for case, t, v, w in REFUSALS])
def test_refusals_name_the_reason_and_send_nothing(tag: str, value: Value, words: list[str],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    writer = RecordingWriter()
    service = WriteService(_site(), writer, GUARD, AUDITED.append)
    with caplog.at_level(logging.INFO, logger="hmi.services.writes"):
        result = asyncio.run(service.write(tag, value, engineer("alice")))
    assert result.outcome is WriteOutcome.REFUSED
    for word in words:
        assert word in result.message, (word, result.message)
    assert writer.calls == []
    assert any("alice" in r.message and tag in r.message and "refused" in r.message
               for r in caplog.records)


def test_an_allowed_write_is_sent_and_logged_with_old_and_new_value(
        caplog: pytest.LogCaptureFixture) -> None:
    writer = RecordingWriter()
    bus = TagBus()
    bus.put([Sample("Filler.Level", 40.0, Quality.GOOD, 1.0, 1.0)])
    service = WriteService(_site(), writer, GUARD, AUDITED.append, bus.latest)
    with caplog.at_level(logging.INFO, logger="hmi.services.writes"):
        result = asyncio.run(service.write("Filler.Level", 55.5, engineer("bob")))
    assert result.ok
    assert writer.calls == [("Filler.Level", 55.5)]
    [record] = caplog.records
    assert record.getMessage() == "write by bob: Filler.Level 40.0 -> 55.5: confirmed"


def test_a_writer_that_raises_becomes_failed() -> None:
    async def broken(tag: str, value: Value) -> WriteResult:
        raise ConnectionError("socket closed")

    service = WriteService(_site(), broken, GUARD, AUDITED.append)
    result = asyncio.run(service.write("Filler.Level", 1, engineer("bob")))
    assert (result.outcome, result.message) == (WriteOutcome.FAILED, "socket closed")


@pytest.mark.parametrize(("tag", "text", "value"), [
    ("Filler.Level", "12.5", 12.5), ("Filler.Batch", "7", 7), ("Filler.Batch", "7.0", 7.0),
    ("Filler.RunCommand", "on", True), ("Filler.RunCommand", "FALSE", False),
    ("Filler.RunCommand", "maybe", "maybe"), ("Filler.Level", "fifty", "fifty"),
    ("Filler.Recipe", "AB12", "AB12"),
])
def test_typed_text_becomes_the_tag_type_when_it_reads_as_one(tag: str, text: str,
                                                              value: Value) -> None:
    parsed = parse_value(_site().tag(tag), text)
    assert parsed == value
    assert type(parsed) is type(value)


def test_confirmed_writes_against_the_modbus_simulators() -> None:
    """The demo filler's run command (a coil the plant obeys) and a holding register."""

    async def scenario() -> None:
        plant = ModbusPlantServer(FillingLine())
        bank = ModbusRegisterServer(holding_count=16)
        await plant.start()
        await bank.start()
        site = _site(plant.port)
        bank_device = dataclasses.replace(site.devices[0], name="bank", port=bank.port)
        level = dataclasses.replace(site.tag("Filler.Level"), name="Bank.Level", device="bank")
        site = dataclasses.replace(site, devices=(*site.devices, bank_device),
                                   tags=(*site.tags, level))
        bus = TagBus()
        devices = DeviceHost(site, bus)  # on its own thread, as the app runs them
        await devices.start()
        service = WriteService(site, devices.write, GUARD, AUDITED.append, bus.latest)
        try:
            stop = await service.write("Filler.RunCommand", False, engineer("carol"))
            assert stop.outcome is WriteOutcome.CONFIRMED, stop.message
            assert plant.plant.run_command is False
            start = await service.write("Filler.RunCommand", True, engineer("carol"))
            assert start.outcome is WriteOutcome.CONFIRMED, start.message
            assert plant.plant.run_command is True

            result = await service.write("Bank.Level", 62.5, engineer("carol"))
            assert result.outcome is WriteOutcome.CONFIRMED, result.message
            assert result.read_back == pytest.approx(62.5)
            refused = await service.write("Bank.Level", 101, engineer("carol"))
            assert refused.outcome is WriteOutcome.REFUSED
        finally:
            await devices.stop()
            await bank.stop()
            await plant.stop()

    asyncio.run(scenario())
