"""Modbus simulators (TCP, RTU over TCP, RTU serial): the demo filler
(ModbusPlantServer) and a bare register bank.

Built on pymodbus's SimDevice/SimData API with four non-shared tables; the deprecated
ModbusDeviceContext/ModbusServerContext datastore is not used (it logs a warning in
3.16 and is gone in 4.0). Our own register image is the source of truth: the SimDevice
``action`` callback copies it into pymodbus's runtime registers on every request and
copies written values back, so the plant and the wire always agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import cast

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType as SimDataType
from pymodbus.simulator import SimData, SimDevice

from hmi.core.datatypes import ByteOrder, DataType, encode_value
from hmi.core.site import RegisterTable
from hmi.sim.plant import FillingLine

_log = logging.getLogger(__name__)

# Function code -> table, as pymodbus's SimRuntime maps them.
_FC_TABLE = {
    1: RegisterTable.COIL,
    5: RegisterTable.COIL,
    15: RegisterTable.COIL,
    2: RegisterTable.DISCRETE_INPUT,
    3: RegisterTable.HOLDING_REGISTER,
    6: RegisterTable.HOLDING_REGISTER,
    16: RegisterTable.HOLDING_REGISTER,
    22: RegisterTable.HOLDING_REGISTER,
    23: RegisterTable.HOLDING_REGISTER,
    4: RegisterTable.INPUT_REGISTER,
}

# Demo register map (0-based wire offsets), shared with the demo site config and tests.
HR_SPEED = 0
HR_TANK_LEVEL = 2
HR_PRODUCT_TEMP = 4
HR_GOOD_COUNT = 6
HR_REJECT_COUNT = 8
HR_STATE = 10
HR_FILL_PRESSURE = 11
HOLDING_COUNT = 12
IR_VALVE_POSITION = 0
COIL_FAULT = 0
COIL_RUN_COMMAND = 1
DI_TANK_LOW = 0


class ModbusSimServer:
    """A pymodbus server over four in-memory tables per unit, held as plain lists.

    Bit tables are held packed, 16 bits a register, bit 0 first, as SimRuntime does.
    ``unit_ids`` serves several units, each with its own tables, as a gateway does;
    ``framer="rtu"`` speaks RTU frames over TCP; ``serial_port`` serves RTU on a serial
    line (or a pty) instead of TCP. Faults for tests: ``refuse`` (addresses answered with
    exception 2), ``read_only`` (writes answered with exception 2), ``clamp`` (writes
    limited, as a PLC program limits a setpoint).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        unit_id: int = 1,
        *,
        coils: int = 16,
        discrete_inputs: int = 16,
        holding_count: int = 16,
        input_count: int = 16,
        unit_ids: Sequence[int] = (),
        framer: str = "socket",
        serial_port: str = "",
    ) -> None:
        if framer not in ("socket", "rtu"):
            raise ValueError(f"framer must be 'socket' or 'rtu', not {framer!r}")
        self._host = host
        self._requested_port = port
        self._port = port
        self._units = tuple(unit_ids) or (unit_id,)
        self._unit_id = self._units[0]
        self._framer = FramerType.RTU if framer == "rtu" or serial_port else FramerType.SOCKET
        self._serial_port = serial_port
        self._sizes = {
            RegisterTable.COIL: max(16, coils),
            RegisterTable.DISCRETE_INPUT: max(16, discrete_inputs),
            RegisterTable.HOLDING_REGISTER: max(1, holding_count),
            RegisterTable.INPUT_REGISTER: max(1, input_count),
        }
        self._images: dict[int, dict[RegisterTable, list[int]]] = {
            unit: {
                table: [0] * (-(-size // 16) if table.is_bit else size)
                for table, size in self._sizes.items()
            }
            for unit in self._units
        }
        self._image = self._images[self._unit_id]
        self._refused: list[tuple[RegisterTable, range, ExcCodes]] = []
        self._read_only: list[tuple[RegisterTable, range]] = []
        self._clamps: dict[tuple[RegisterTable, int], tuple[int, int]] = {}
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self.requests = 0  # requests served, for benchmarks
        self.function_codes: Counter[int] = Counter()  # requests served per function code
        # function codes answered with exception 1, as a PLC that lacks them does
        self.unsupported_functions: set[int] = set()
        self.connections = 0  # client connections accepted since start

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0)."""
        return self._port

    @property
    def running(self) -> bool:
        return self._server is not None

    def _sim_device(self, unit: int) -> SimDevice:
        bits = self._sizes[RegisterTable.COIL]
        inputs = self._sizes[RegisterTable.DISCRETE_INPUT]
        return SimDevice(
            id=unit,
            simdata=(
                [SimData(0, values=[False] * bits, datatype=SimDataType.BITS)],
                [SimData(0, values=[False] * inputs, datatype=SimDataType.BITS)],
                [
                    SimData(
                        0,
                        count=self._sizes[RegisterTable.HOLDING_REGISTER],
                        datatype=SimDataType.REGISTERS,
                    )
                ],
                [
                    SimData(
                        0,
                        count=self._sizes[RegisterTable.INPUT_REGISTER],
                        datatype=SimDataType.REGISTERS,
                    )
                ],
            ),
            action=functools.partial(self._on_request, unit),
        )

    def _on_connect(self, connected: bool) -> None:
        if connected:
            self.connections += 1

    async def start(self) -> None:
        """Listen on host:port (or open the serial port); with port 0 the OS picks one."""
        if self._server is not None:
            return
        devices = [self._sim_device(unit) for unit in self._units]
        server: ModbusTcpServer | ModbusSerialServer
        if self._serial_port:
            server = ModbusSerialServer(
                devices, port=self._serial_port, framer=FramerType.RTU, baudrate=19200,
                trace_connect=self._on_connect,
            )
        else:
            port = self._port if self._port else self._requested_port
            server = ModbusTcpServer(
                devices, address=(self._host, port), framer=self._framer,
                trace_connect=self._on_connect,
            )
        await server.serve_forever(background=True)
        self._server = server
        sockets = getattr(server.transport, "sockets", None)
        if sockets:
            self._port = int(sockets[0].getsockname()[1])
        _log.debug("modbus simulator listening on %s:%d", self._host, self._port)

    async def stop(self) -> None:
        """Close the listener and every client connection, releasing the port."""
        server, self._server = self._server, None
        if server is None:
            return
        listener = server.transport
        await server.shutdown()  # type: ignore[no-untyped-call]
        wait_closed = getattr(listener, "wait_closed", None)
        if wait_closed is not None:
            # asyncio.Server.wait_closed also waits for client connections to go
            with contextlib.suppress(Exception):
                await asyncio.wait_for(wait_closed(), timeout=1.0)

    # -- faults ---------------------------------------------------------------------

    def refuse(
        self,
        table: RegisterTable,
        offset: int,
        count: int = 1,
        code: ExcCodes = ExcCodes.ILLEGAL_ADDRESS,
    ) -> None:
        """Answer any request touching these registers with ``code``: exception 2 is
        what a PLC says of addresses its program does not map (register tables only)."""
        self._refused.append((table, range(offset, offset + count), code))

    def read_only(self, table: RegisterTable, offset: int, count: int = 1) -> None:
        """Answer writes to these registers (or coils) with exception 2."""
        self._read_only.append((table, range(offset, offset + count)))

    def clamp(self, table: RegisterTable, offset: int, low: int, high: int) -> None:
        """Limit what a client writes to one register (unsigned raw value)."""
        self._clamps[(table, offset)] = (low, high)

    @staticmethod
    def _hits(ranges: list[tuple[RegisterTable, range]], table: RegisterTable, span: range) -> bool:
        return any(t is table and r.start < span.stop and span.start < r.stop for t, r in ranges)

    # -- register image -------------------------------------------------------------

    def _unit_image(self, unit: int | None) -> dict[RegisterTable, list[int]]:
        return self._images[self._unit_id if unit is None else unit]

    def set_registers(
        self,
        table: RegisterTable,
        offset: int,
        registers: Sequence[int],
        *,
        unit: int | None = None,
    ) -> None:
        """Set 16-bit registers of a register table (holding or input)."""
        if table.is_bit:
            raise ValueError(f"{table.value} is a bit table; use set_bits")
        image = self._unit_image(unit)[table]
        if offset < 0 or offset + len(registers) > len(image):
            raise IndexError(f"{table.value}:{offset}..{offset + len(registers) - 1} not served")
        image[offset : offset + len(registers)] = [r & 0xFFFF for r in registers]

    def set_holding(
        self, offset: int, registers: Sequence[int], *, unit: int | None = None
    ) -> None:
        self.set_registers(RegisterTable.HOLDING_REGISTER, offset, registers, unit=unit)

    def set_input(self, offset: int, registers: Sequence[int], *, unit: int | None = None) -> None:
        self.set_registers(RegisterTable.INPUT_REGISTER, offset, registers, unit=unit)

    def set_bits(
        self, table: RegisterTable, offset: int, bits: Sequence[bool], *, unit: int | None = None
    ) -> None:
        """Set bits of a bit table (coils or discrete inputs)."""
        if not table.is_bit:
            raise ValueError(f"{table.value} is a register table; use set_registers")
        image = self._unit_image(unit)[table]
        if offset < 0 or offset + len(bits) > self._sizes[table]:
            raise IndexError(f"{table.value}:{offset}..{offset + len(bits) - 1} not served")
        for i, bit in enumerate(bits):
            word, shift = divmod(offset + i, 16)
            if bit:
                image[word] |= 1 << shift
            else:
                image[word] &= ~(1 << shift) & 0xFFFF

    def registers(
        self, table: RegisterTable, offset: int, count: int, *, unit: int | None = None
    ) -> list[int]:
        return list(self._unit_image(unit)[table][offset : offset + count])

    def bit(self, table: RegisterTable, offset: int, *, unit: int | None = None) -> bool:
        word, shift = divmod(offset, 16)
        return bool(self._unit_image(unit)[table][word] >> shift & 1)

    def _on_write(self, table: RegisterTable, address: int, values: Sequence[int | bool]) -> None:
        """Hook for subclasses: a client wrote ``values`` at ``address`` (first unit)."""

    async def _on_request(
        self,
        unit: int,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """SimDevice action: sync pymodbus's registers with our image, apply writes."""
        self.requests += 1
        self.function_codes[function_code] += 1
        table = _FC_TABLE.get(function_code)
        if table is None or function_code in self.unsupported_functions:
            return ExcCodes.ILLEGAL_FUNCTION
        image = self._images[unit][table]
        if table.is_bit:
            # for bit tables pymodbus passes the bit address and a count of registers
            first = address // 16 - start_address
            span = range(address, address + len(set_values) if set_values else address + 1)
        else:
            first = address - start_address
            span = range(address, address + count)
            for refused, addresses, code in self._refused:
                if self._hits([(refused, addresses)], table, span):
                    return code
        if set_values and self._hits(self._read_only, table, span):
            return ExcCodes.ILLEGAL_ADDRESS
        current_registers[first : first + count] = image[first : first + count]
        if set_values:
            if table.is_bit:
                self.set_bits(table, address, [bool(v) for v in set_values], unit=unit)
            else:
                words = cast(list[int], set_values)  # pymodbus changes registers from it
                for i, value in enumerate(words):
                    low, high = self._clamps.get((table, address + i), (0, 0xFFFF))
                    words[i] = min(high, max(low, int(value) & 0xFFFF))
                image[first : first + len(words)] = list(words)
            if unit == self._unit_id:
                self._on_write(table, address, list(set_values))
        return None


class ModbusRegisterServer(ModbusSimServer):
    """A bare bank of holding registers whose values a test or benchmark sets."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, holding_count: int = 1000) -> None:
        super().__init__(host, port, holding_count=holding_count)


class ModbusPlantServer(ModbusSimServer):
    """The demo filler served over Modbus TCP, stepping the plant at ~10 Hz."""

    def __init__(
        self,
        plant: FillingLine,
        host: str = "127.0.0.1",
        port: int = 0,
        unit_id: int = 1,
        step_interval: float = 0.1,
    ) -> None:
        super().__init__(host, port, unit_id, holding_count=HOLDING_COUNT, input_count=1)
        self.plant = plant
        self._step_interval = step_interval
        self._task: asyncio.Task[None] | None = None
        self.update_image()

    async def start(self) -> None:
        await super().start()
        if self._task is None:
            self._task = asyncio.create_task(self._run_plant(), name="modbus-plant")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await super().stop()

    async def _run_plant(self) -> None:
        while True:
            try:
                self.plant.step(time.time())
                self.update_image()
            except Exception:
                _log.exception("plant step failed")
            await asyncio.sleep(self._step_interval)

    def update_image(self) -> None:
        """Write the plant's current values into the register image."""
        plant = self.plant
        f32, u32 = DataType.FLOAT32, DataType.UINT32
        big = ByteOrder.ABCD
        holding = (
            encode_value(plant.speed, f32, big)
            + encode_value(plant.tank_level, f32, big)
            + encode_value(plant.product_temp, f32, big)
            + encode_value(plant.good_count, u32, big)
            + encode_value(plant.reject_count, u32, big)
            + encode_value(int(plant.machine_state), DataType.UINT16, big)
            + encode_value(max(-32768, min(32767, plant.fill_pressure)), DataType.INT16, big)
        )
        self.set_holding(HR_SPEED, holding)
        self.set_input(IR_VALVE_POSITION, [plant.valve_position])
        self.set_bits(RegisterTable.COIL, COIL_FAULT, [plant.fault, plant.run_command])
        self.set_bits(RegisterTable.DISCRETE_INPUT, DI_TANK_LOW, [plant.tank_low])

    def _on_write(self, table: RegisterTable, address: int, values: Sequence[int | bool]) -> None:
        if table is RegisterTable.COIL and address <= COIL_RUN_COMMAND < address + len(values):
            self.plant.run_command = bool(values[COIL_RUN_COMMAND - address])
            _log.info("run command set to %s by a client", self.plant.run_command)
            # take effect now, not at the next 10 Hz step, so a read right after sees it
            self.plant.step(time.time())
            self.update_image()
