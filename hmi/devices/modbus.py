"""Modbus TCP device worker: block-coalesced polling, decoding, reconnect with backoff.

pymodbus's own reconnect is disabled (reconnect_delay=0) so this worker alone decides
when to reconnect, and the operator sees every tag go BAD the moment the link drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from hmi.core.bus import TagBus
from hmi.core.datatypes import DataType, DecodeError, decode_registers
from hmi.core.samples import Quality, Sample, Value
from hmi.core.site import Device, ModbusAddress, RegisterTable, Tag
from hmi.core.status import ConnectionState, DeviceStatus, DeviceStatusListener
from hmi.devices.connection import (
    Clock,
    CommError,
    ReconnectBackoff,
    StatusTracker,
    bad_samples,
)

_log = logging.getLogger(__name__)


MAX_REGISTERS_PER_REQUEST = 125  # Modbus application protocol spec, FC 3/4
MAX_BITS_PER_REQUEST = 2000  # FC 1/2
MAX_GAP = 16  # read through holes up to this size rather than issue another request

_EXCEPTION_NAMES = {
    ExcCodes.ILLEGAL_FUNCTION: "illegal function",
    ExcCodes.ILLEGAL_ADDRESS: "illegal data address",
    ExcCodes.ILLEGAL_VALUE: "illegal data value",
    ExcCodes.DEVICE_FAILURE: "server device failure",
    ExcCodes.ACKNOWLEDGE: "acknowledge",
    ExcCodes.DEVICE_BUSY: "server device busy",
    ExcCodes.NEGATIVE_ACKNOWLEDGE: "negative acknowledge",
    ExcCodes.MEMORY_PARITY_ERROR: "memory parity error",
    ExcCodes.GATEWAY_PATH_UNAVIABLE: "gateway path unavailable",
    ExcCodes.GATEWAY_NO_RESPONSE: "gateway target failed to respond",
}


def exception_name(code: int) -> str:
    """Human name of a Modbus exception code, as the spec words it."""
    try:
        return _EXCEPTION_NAMES[ExcCodes(code)]
    except ValueError:
        return "unknown exception"


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One request: a contiguous range of one table covering one or more tags."""

    table: RegisterTable
    start: int
    count: int
    tags: tuple[Tag, ...]

    def __str__(self) -> str:
        return f"{self.table.value}:{self.start}..{self.start + self.count - 1}"


def _span(tag: Tag) -> int:
    return 1 if _address(tag).table.is_bit else tag.register_count


def _address(tag: Tag) -> ModbusAddress:
    if not isinstance(tag.address, ModbusAddress):
        raise TypeError(f"tag {tag.name} has no Modbus address")
    return tag.address


def plan_blocks(
    tags: Sequence[Tag],
    max_registers: int = MAX_REGISTERS_PER_REQUEST,
    max_bits: int = MAX_BITS_PER_REQUEST,
    max_gap: int = MAX_GAP,
) -> list[ReadBlock]:
    """Group tags by table and coalesce nearby addresses into as few requests as fit."""
    blocks: list[ReadBlock] = []
    by_table: dict[RegisterTable, list[Tag]] = {}
    for tag in tags:
        by_table.setdefault(_address(tag).table, []).append(tag)
    for table, table_tags in by_table.items():
        limit = max_bits if table.is_bit else max_registers
        ordered = sorted(table_tags, key=lambda t: (_address(t).offset, _span(t)))
        start = end = -1
        members: list[Tag] = []
        for tag in ordered:
            offset, span = _address(tag).offset, _span(tag)
            fits = members and offset - end <= max_gap and max(end, offset + span) - start <= limit
            if fits:
                members.append(tag)
                end = max(end, offset + span)
                continue
            if members:
                blocks.append(ReadBlock(table, start, end - start, tuple(members)))
            start, end, members = offset, offset + span, [tag]
        if members:
            blocks.append(ReadBlock(table, start, end - start, tuple(members)))
    return blocks


class ModbusTcpWorker:
    """Polls one Modbus TCP device and publishes its tags' Samples to the TagBus."""

    def __init__(
        self,
        device: Device,
        tags: Sequence[Tag],
        bus: TagBus,
        on_status: DeviceStatusListener | None = None,
        clock: Clock = time.time,
        *,
        max_registers: int = MAX_REGISTERS_PER_REQUEST,
        max_bits: int = MAX_BITS_PER_REQUEST,
        max_gap: int = MAX_GAP,
    ) -> None:
        self.device = device
        self.tags = tuple(tags)
        self._bus = bus
        self._clock = clock
        # max_registers=max_bits=1, max_gap=-1: one request per tag (the benchmark baseline)
        self._blocks = plan_blocks(self.tags, max_registers, max_bits, max_gap)
        self._tracker = StatusTracker(device.name, on_status, clock)
        self._backoff = ReconnectBackoff()
        self._client: AsyncModbusTcpClient | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._closing = False
        self.requests = 0  # Modbus requests sent, for benchmarks and diagnostics

    @property
    def status(self) -> DeviceStatus:
        return self._tracker.status

    @property
    def blocks(self) -> tuple[ReadBlock, ...]:
        return tuple(self._blocks)

    async def run(self) -> None:
        """Poll until cancelled; only CancelledError escapes."""
        self._run_task = asyncio.current_task()
        self._closing = False
        loop = asyncio.get_running_loop()
        interval = self.device.poll_interval
        try:
            while True:
                poll_start = loop.time()
                try:
                    await self._ensure_connected()
                    samples = await self._poll()
                except asyncio.CancelledError:
                    raise
                except CommError as exc:
                    await self._handle_comm_loss(str(exc))
                    continue
                except Exception as exc:  # a bug or an unexpected library error
                    _log.exception("modbus worker %s poll failed", self.device.name)
                    await self._handle_comm_loss(f"internal error: {exc!r}")
                    continue
                self._backoff.reset()
                self._bus.publish_many(samples)
                # fixed rate: the next poll starts one interval after this one started
                # (at once if the poll took longer than the interval)
                await asyncio.sleep(max(0.0, poll_start + interval - loop.time()))
        finally:
            self._close_client()
            self._tracker.set(ConnectionState.STOPPED, retry_in=0.0)

    async def read_once(self) -> list[Sample]:
        """Connect if needed, poll every tag once, return the Samples (never raises)."""
        try:
            await self._ensure_connected()
            return await self._poll()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = str(exc) if isinstance(exc, CommError) else f"internal error: {exc!r}"
            self._close_client()
            self._tracker.set(ConnectionState.DISCONNECTED, last_error=reason)
            return bad_samples(self.tags, f"comm: {reason}", self._clock())

    async def stop(self) -> None:
        """Cancel run() if it is running and close the connection."""
        self._closing = True
        task = self._run_task
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout=2.0)
        self._close_client()
        self._tracker.set(ConnectionState.STOPPED, retry_in=0.0)

    # -- connection -------------------------------------------------------------------

    def _new_client(self) -> AsyncModbusTcpClient:
        return AsyncModbusTcpClient(
            self.device.host,
            port=self.device.port,
            name=f"hmi-{self.device.name}",
            reconnect_delay=0,  # 0 disables pymodbus's reconnect task: our loop owns it
            reconnect_delay_max=0,
            timeout=self.device.timeout,
            retries=0,
            trace_connect=self._on_trace_connect,
        )

    async def _ensure_connected(self) -> None:
        client = self._client
        if client is not None and client.connected:
            return
        self._close_client()
        self._tracker.set(ConnectionState.CONNECTING, retry_in=0.0)
        client = self._new_client()
        self._client = client
        started = time.monotonic()
        ok = await client.connect()
        if not ok or not client.connected:
            self._close_client()
            where = f"{self.device.host}:{self.device.port}"
            if time.monotonic() - started >= self.device.timeout * 0.9:
                raise CommError(f"connect to {where} timed out after {self.device.timeout:g} s")
            raise CommError(f"cannot connect to {where} (refused or unreachable)")
        self._tracker.set(ConnectionState.CONNECTED, last_error="", retry_in=0.0)

    def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def _on_trace_connect(self, connected: bool) -> None:
        """pymodbus calls this when the socket drops: make the loss visible at once."""
        if connected or self._closing:
            return
        if self._tracker.status.state is ConnectionState.CONNECTED:
            reason = "connection lost"
            self._tracker.set(ConnectionState.DISCONNECTED, last_error=reason)
            self._bus.publish_many(bad_samples(self.tags, f"comm: {reason}", self._clock()))

    async def _handle_comm_loss(self, reason: str) -> None:
        """Publish BAD for every tag, then wait out the backoff, re-publishing BAD."""
        self._close_client()
        delay = self._backoff.next_delay()
        _log.warning("%s: %s; retrying in %.1f s", self.device.name, reason, delay)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        detail = f"comm: {reason}"
        while True:
            remaining = deadline - loop.time()
            self._tracker.set(
                ConnectionState.DISCONNECTED, last_error=reason, retry_in=max(0.0, remaining)
            )
            self._bus.publish_many(bad_samples(self.tags, detail, self._clock()))
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, self.device.poll_interval))

    # -- polling ------------------------------------------------------------------------

    async def _poll(self) -> list[Sample]:
        samples: list[Sample] = []
        for block in self._blocks:
            samples.extend(await self._read_block(block))
        return samples

    async def _request(self, block: ReadBlock) -> object:
        client = self._client
        if client is None or not client.connected:
            raise CommError("connection lost")
        unit = self.device.unit_id
        calls = {
            RegisterTable.COIL: client.read_coils,
            RegisterTable.DISCRETE_INPUT: client.read_discrete_inputs,
            RegisterTable.HOLDING_REGISTER: client.read_holding_registers,
            RegisterTable.INPUT_REGISTER: client.read_input_registers,
        }
        self.requests += 1
        try:
            # pymodbus enforces device.timeout itself; the outer bound is a safety net
            return await asyncio.wait_for(
                calls[block.table](block.start, count=block.count, device_id=unit),
                timeout=self.device.timeout + 1.0,
            )
        except (ConnectionException, ConnectionError, OSError) as exc:
            raise CommError(f"connection lost ({exc})") from exc
        except (ModbusIOException, TimeoutError) as exc:
            raise CommError(
                f"no response within {self.device.timeout:g} s reading {block}"
            ) from exc
        except ModbusException as exc:
            raise CommError(f"{exc}") from exc

    async def _read_block(self, block: ReadBlock) -> list[Sample]:
        response = await self._request(block)
        now = self._clock()
        is_error = getattr(response, "isError", None)
        if is_error is None or is_error():
            code = int(getattr(response, "exception_code", 0))
            detail = f"modbus: {exception_name(code)} (exception {code}) reading {block}"
            return bad_samples(block.tags, detail, now)
        if block.table.is_bit:
            bits: list[bool] = list(getattr(response, "bits", []))
            return [self._bit_sample(tag, block, bits, now) for tag in block.tags]
        registers: list[int] = list(getattr(response, "registers", []))
        return [self._register_sample(tag, block, registers, now) for tag in block.tags]

    def _bit_sample(self, tag: Tag, block: ReadBlock, bits: list[bool], now: float) -> Sample:
        index = _address(tag).offset - block.start
        if index >= len(bits):
            return Sample.bad(tag.name, f"modbus: short response reading {block}", now)
        return Sample(tag.name, bool(bits[index]), Quality.GOOD, now, now)

    def _register_sample(
        self, tag: Tag, block: ReadBlock, registers: list[int], now: float
    ) -> Sample:
        index = _address(tag).offset - block.start
        words = registers[index : index + tag.register_count]
        if len(words) < tag.register_count:
            return Sample.bad(tag.name, f"modbus: short response reading {block}", now)
        try:
            value: Value = decode_registers(
                words, tag.data_type, tag.byte_order or self.device.byte_order
            )
        except DecodeError as exc:
            return Sample.bad(tag.name, f"decode: {exc}", now)
        except Exception as exc:
            return Sample.bad(tag.name, f"decode: {tag.data_type.value}: {exc}", now)
        if tag.data_type is DataType.BOOL:
            value = bool(value)
        return Sample(tag.name, value, Quality.GOOD, now, now)
