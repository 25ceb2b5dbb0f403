"""Writing one Modbus tag: encode, send with the right function code, read back, compare.

Range and permission checks belong to the service layer; here every failure becomes a
WriteResult, never an exception, so the operator always learns what happened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hmi.core.datatypes import ByteOrder
from hmi.core.samples import Value
from hmi.core.site import ModbusAddress, RegisterTable, Tag
from hmi.core.writes import WriteOutcome, WriteResult
from hmi.devices.connection import CommError
from hmi.devices.modbus_codec import describe_exception, encode_for_write, readback_matches

# (pymodbus client method, *args, what=...) -> response; raises CommError
Request = Callable[..., Awaitable[Any]]
# tag -> (value, "") when read GOOD, (None, why not) otherwise; raises CommError
ReadBack = Callable[[Tag], Awaitable[tuple[Value, str]]]


class _RefusedError(Exception):
    """The PLC answered a write (or its read) with an exception response."""


def _checked(response: Any) -> Any:
    if response is None or response.isError():
        code = int(getattr(response, "exception_code", 0))
        raise _RefusedError(f"PLC refused: {describe_exception(code)}")
    return response


async def write_tag(
    tag: Tag,
    value: Value,
    order: ByteOrder,
    request: Request,
    read_back: ReadBack,
    multiple: bool = False,
) -> WriteResult:
    """Write an engineering value to a tag and confirm it by reading it back.

    ``multiple``: use FC 15 / FC 16 even for one coil or register (Device.write_multiple).
    """

    def result(outcome: WriteOutcome, message: str, back: Value = None) -> WriteResult:
        return WriteResult(tag.name, outcome, value, back, message)

    address = tag.address
    if not isinstance(address, ModbusAddress):
        return result(WriteOutcome.REFUSED, f"{tag.name} is not a Modbus tag")
    if address.table is RegisterTable.INPUT_REGISTER:
        return result(WriteOutcome.REFUSED, "input registers cannot be written")
    if address.table is RegisterTable.DISCRETE_INPUT:
        return result(WriteOutcome.REFUSED, "discrete inputs cannot be written")
    try:
        raw, words = encode_for_write(tag, value, order)
    except ValueError as exc:
        return result(WriteOutcome.REFUSED, f"cannot write {value!r} to {tag.name}: {exc}")
    try:
        await _send(tag, address, raw, words, request, multiple)
    except _RefusedError as exc:
        hint = ""
        if "illegal function" in str(exc) and not multiple:
            hint = "; if this PLC only takes FC 15/16, set write_multiple = true for the device"
        return result(WriteOutcome.FAILED, f"{exc} writing {address}{hint}")
    except CommError as exc:
        return result(WriteOutcome.FAILED, f"comm: {exc}; the value may not have been written")
    try:
        back, why = await read_back(tag)
    except CommError as exc:
        why = f"comm: {exc}"
        back = None
    if why:
        return result(
            WriteOutcome.FAILED,
            f"written, but reading it back failed ({why}); check the value on the PLC",
        )
    if readback_matches(tag, value, back):
        return result(WriteOutcome.CONFIRMED, f"{tag.name} = {back!r} confirmed", back)
    return result(
        WriteOutcome.MISMATCH,
        f"wrote {value!r} to {tag.name}, but the PLC reports {back!r} "
        "(clamped or overridden by the PLC program?)",
        back,
    )


async def _send(
    tag: Tag,
    address: ModbusAddress,
    raw: Value,
    words: list[int],
    request: Request,
    multiple: bool,
) -> None:
    where = f"writing {address}"
    offset = address.offset
    if address.table is RegisterTable.COIL:
        if multiple:
            _checked(await request("write_coils", offset, [bool(raw)], what=where))  # FC 15
        else:
            _checked(await request("write_coil", offset, bool(raw), what=where))  # FC 5
        return
    if tag.bit is not None:
        # Read-modify-write, FC 3 then FC 6. Not atomic on the PLC: a change the PLC
        # program makes to the register's other bits between the two is overwritten.
        current = _checked(
            await request("read_holding_registers", offset, count=1, what=where)
        )
        word = int(current.registers[0])
        mask = 1 << tag.bit
        word = word | mask if raw else word & ~mask & 0xFFFF
        words = [word]
    if len(words) == 1 and not multiple:
        _checked(await request("write_register", offset, words[0], what=where))  # FC 6
        return
    _checked(await request("write_registers", offset, words, what=where))  # FC 16
