"""Misbehaving Modbus TCP peers for fault tests: silent, garbage, truncated, exception.

Each is a bare asyncio server on 127.0.0.1 that speaks just enough Modbus TCP (MBAP
framing, the read function codes 1-4) to answer correctly while ``active`` is False and
to misbehave in one specific way while it is True, so a test can watch a worker go from
GOOD to BAD and back. Frames are built by hand here, not with pymodbus, so the faults are
exactly the bytes a broken PLC or gateway puts on the wire. NaN and infinite floats need
no peer of their own: ``ModbusRegisterServer.set_holding(offset, NAN_FLOAT32)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass

_log = logging.getLogger(__name__)

MBAP = struct.Struct(">HHHB")  # transaction id, protocol id (0 = Modbus), length, unit id
MAX_PDU = 253  # Modbus application protocol spec: 256-byte serial ADU less address and CRC
READ_FUNCTIONS = (1, 2, 3, 4)  # coils, discrete inputs, holding registers, input registers

# float32 registers (ABCD) a PLC sends for a failed sensor or an uninitialised value
NAN_FLOAT32 = (0x7FC0, 0x0000)
INF_FLOAT32 = (0x7F80, 0x0000)
NEG_INF_FLOAT32 = (0xFF80, 0x0000)


class ExceptionCode(enum.IntEnum):
    """Modbus exception codes (Modbus application protocol spec V1.1b3, section 7)."""

    ILLEGAL_FUNCTION = 1
    ILLEGAL_DATA_ADDRESS = 2
    ILLEGAL_DATA_VALUE = 3
    SERVER_DEVICE_FAILURE = 4
    ACKNOWLEDGE = 5
    SERVER_DEVICE_BUSY = 6
    MEMORY_PARITY_ERROR = 8
    GATEWAY_PATH_UNAVAILABLE = 10
    GATEWAY_TARGET_FAILED_TO_RESPOND = 11


@dataclass(frozen=True, slots=True)
class ModbusRequest:
    """One request as received: the MBAP fields and the PDU (function code first)."""

    transaction_id: int
    unit_id: int
    pdu: bytes

    @property
    def function_code(self) -> int:
        return self.pdu[0] if self.pdu else 0

    @property
    def read_range(self) -> tuple[int, int] | None:
        """(start, count) of a read request (FC 1-4), None for anything else."""
        if self.function_code not in READ_FUNCTIONS or len(self.pdu) < 5:
            return None
        start, count = struct.unpack(">HH", self.pdu[1:5])
        return start, count


def mbap_frame(transaction_id: int, unit_id: int, pdu: bytes, length: int | None = None) -> bytes:
    """An MBAP header and PDU; ``length`` overrides the header's length field (a lie)."""
    declared = len(pdu) + 1 if length is None else length
    return MBAP.pack(transaction_id, 0, declared, unit_id) + pdu


def exception_pdu(function_code: int, code: int) -> bytes:
    """An exception response: the function code with its high bit set, then the code."""
    return bytes((function_code | 0x80, code))


def read_response_pdu(function_code: int, count: int, registers: Sequence[int]) -> bytes:
    """A normal response to a read: byte count, then packed bits or big-endian registers."""
    if function_code in (1, 2):
        packed = bytearray(-(-count // 8))
        for i in range(count):
            if registers[i % len(registers)] if registers else 0:
                packed[i // 8] |= 1 << (i % 8)
        return bytes((function_code, len(packed))) + bytes(packed)
    words = [registers[i % len(registers)] & 0xFFFF if registers else 0 for i in range(count)]
    body = b"".join(w.to_bytes(2, "big") for w in words)
    return bytes((function_code, len(body))) + body


class FaultyModbusServer:
    """Base of the misbehaving peers: accepts, frames requests, answers or misbehaves.

    While ``active`` is False every read is answered correctly with ``registers`` (values
    repeat when a read is longer; bits are their truthiness), so a worker starts GOOD.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        active: bool = True,
        registers: Sequence[int] = (0,),
    ) -> None:
        self._host = host
        self._port = port
        self.active = active
        self.registers = list(registers)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.requests = 0  # requests received
        self.faults = 0  # requests answered wrongly (or not at all)

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0)."""
        return self._port

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        if self._server is not None:
            return
        server = await asyncio.start_server(self._on_client, self._host, self._port)
        self._server = server
        self._port = int(server.sockets[0].getsockname()[1])
        _log.debug("%s listening on %s:%d", type(self).__name__, self._host, self._port)

    async def stop(self) -> None:
        """Stop listening and drop every client connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), timeout=1.0)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    return
                self.requests += 1
                if self.active:
                    self.faults += 1
                    answer = self.fault(request)
                else:
                    answer = self.normal_answer(request)
                if answer:
                    writer.write(answer)
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), timeout=0.5)

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> ModbusRequest | None:
        try:
            header = await reader.readexactly(MBAP.size)
        except asyncio.IncompleteReadError:
            return None  # the client hung up
        transaction_id, protocol_id, length, unit_id = MBAP.unpack(header)
        if protocol_id != 0 or not 2 <= length <= MAX_PDU + 1:
            return None  # not Modbus TCP: hang up, as a real device does
        pdu = await reader.readexactly(length - 1)
        return ModbusRequest(transaction_id, unit_id, pdu)

    def normal_answer(self, request: ModbusRequest) -> bytes:
        """A correct answer: the read's values, or illegal function for anything else."""
        read = request.read_range
        if read is None:
            pdu = exception_pdu(request.function_code, ExceptionCode.ILLEGAL_FUNCTION)
        else:
            pdu = read_response_pdu(request.function_code, read[1], self.registers)
        return mbap_frame(request.transaction_id, request.unit_id, pdu)

    def fault(self, request: ModbusRequest) -> bytes | None:
        """The bytes to send instead of a correct answer; None sends nothing."""
        raise NotImplementedError


class MuteTcpServer:
    """Any protocol: accepts TCP connections, reads and discards everything, never
    answers (an OPC UA endpoint whose server process hangs before the Hello/Acknowledge)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.connections = 0
        self.bytes_received = 0

    @property
    def port(self) -> int:
        return self._port

    async def start(self) -> None:
        if self._server is not None:
            return
        server = await asyncio.start_server(self._on_client, self._host, self._port)
        self._server = server
        self._port = int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), timeout=1.0)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        try:
            while chunk := await reader.read(4096):
                self.bytes_received += len(chunk)
        except ConnectionError:
            return
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), timeout=0.5)


class SilentServer(FaultyModbusServer):
    """Accepts the connection, reads every request, never answers (a hung PLC, a gateway
    whose serial side is dead, a firewall that lets SYN through)."""

    def fault(self, request: ModbusRequest) -> bytes | None:
        return None


class GarbageServer(FaultyModbusServer):
    """Answers every request with random bytes (a wrong protocol on the port, line noise
    on a serial gateway). With ``framed`` the MBAP header is valid (right transaction
    and unit id) and only the PDU is random, starting with an undefined function code."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        active: bool = True,
        registers: Sequence[int] = (0,),
        framed: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(host, port, active=active, registers=registers)
        self.framed = framed
        self._rng = random.Random(seed)

    def fault(self, request: ModbusRequest) -> bytes | None:
        noise = self._rng.randbytes(self._rng.randint(4, 40))
        if not self.framed:
            return noise
        # 0x5A..0x63: no public or user-defined function code lives there
        pdu = bytes((self._rng.randint(0x5A, 0x63),)) + noise
        return mbap_frame(request.transaction_id, request.unit_id, pdu)


class Truncation(enum.Enum):
    SHORT_FRAME = "short_frame"  # header length says N, fewer bytes follow; link stays open
    CUT_PDU = "cut_pdu"  # header agrees with what is sent, but the PDU's byte count lies


class TruncatedServer(FaultyModbusServer):
    """Answers with a correct response cut short, in one of two ways (see Truncation)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        active: bool = True,
        registers: Sequence[int] = (0,),
        truncation: Truncation = Truncation.SHORT_FRAME,
        missing: int = 3,
    ) -> None:
        super().__init__(host, port, active=active, registers=registers)
        self.truncation = truncation
        self.missing = max(1, missing)  # bytes left off the end

    def fault(self, request: ModbusRequest) -> bytes | None:
        frame = self.normal_answer(request)
        if self.truncation is Truncation.SHORT_FRAME:
            return frame[: max(MBAP.size, len(frame) - self.missing)]
        pdu = frame[MBAP.size :]
        cut = pdu[: max(2, len(pdu) - self.missing)]  # keeps function code and byte count
        return mbap_frame(request.transaction_id, request.unit_id, cut)


class ExceptionServer(FaultyModbusServer):
    """Answers requests of the given function codes and unit ids with one exception code;
    the rest are answered correctly. None means every function code (or unit id)."""

    def __init__(
        self,
        exception_code: int,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        function_codes: Sequence[int] | None = None,
        unit_ids: Sequence[int] | None = None,
        active: bool = True,
        registers: Sequence[int] = (0,),
    ) -> None:
        super().__init__(host, port, active=active, registers=registers)
        self.exception_code = exception_code
        self.function_codes = None if function_codes is None else frozenset(function_codes)
        self.unit_ids = None if unit_ids is None else frozenset(unit_ids)

    def _matches(self, request: ModbusRequest) -> bool:
        return (self.function_codes is None or request.function_code in self.function_codes) and (
            self.unit_ids is None or request.unit_id in self.unit_ids
        )

    def fault(self, request: ModbusRequest) -> bytes | None:
        if not self._matches(request):
            self.faults -= 1  # answered correctly: not a fault
            return self.normal_answer(request)
        pdu = exception_pdu(request.function_code, self.exception_code)
        return mbap_frame(request.transaction_id, request.unit_id, pdu)
