"""Modbus device worker (TCP, RTU serial, RTU over TCP): scan classes of coalesced block
reads, decoding, deadband, writes with read-back, diagnostics, reconnect with backoff.

One worker per device (one unit id). Devices behind one gateway share a ModbusLink:
build them with ``build_modbus_workers`` so they get one connection between them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from hmi.core.bus import SampleSink
from hmi.core.deadband import DeadbandFilter
from hmi.core.diagnostics import DeviceDiagnostics, RequestStats
from hmi.core.samples import Sample, Value
from hmi.core.site import Device, Tag
from hmi.core.status import ConnectionState, DeviceStatus, DeviceStatusListener
from hmi.core.writes import WriteOutcome, WriteResult
from hmi.devices.connection import Clock, CommError, ReconnectBackoff, StatusTracker, bad_samples
from hmi.devices.modbus_blocks import (
    BlockLimits,
    BlockResult,
    ScanClass,
    scan_classes,
)
from hmi.devices.modbus_codec import (
    ADDRESS_EXCEPTIONS,
    MAX_BITS_PER_REQUEST,
    MAX_GAP,
    MAX_REGISTERS_PER_REQUEST,
    ReadBlock,
    address_of,
    block_of,
    byte_order_of,
    describe_exception,
    exception_name,
    plan_blocks,
    sample_from_bits,
    samples_from_registers,
)
from hmi.devices.modbus_link import LinkDownError, ModbusLink, link_key
from hmi.devices.modbus_write import write_tag

__all__ = [
    "MAX_BITS_PER_REQUEST",
    "MAX_GAP",
    "MAX_REGISTERS_PER_REQUEST",
    "ModbusLink",
    "ModbusTcpWorker",
    "ModbusWorker",
    "ReadBlock",
    "build_modbus_workers",
    "exception_name",
    "plan_blocks",
]

_log = logging.getLogger(__name__)

_READ_METHOD = {
    "coil": "read_coils",  # FC 1
    "discrete_input": "read_discrete_inputs",  # FC 2
    "holding_register": "read_holding_registers",  # FC 3
    "input_register": "read_input_registers",  # FC 4
}


class ModbusWorker:
    """Polls one Modbus device (one unit id) and hands its tags' Samples to ``sink``.

    ``link`` is the connection it talks through; by default a private one. ``stats``
    counts this device's requests; ``diagnostics()`` reports the link's bytes.
    """

    def __init__(
        self,
        device: Device,
        tags: Sequence[Tag],
        sink: SampleSink,
        on_status: DeviceStatusListener | None = None,
        clock: Clock = time.time,
        *,
        link: ModbusLink | None = None,
        max_registers: int | None = None,
        max_bits: int | None = None,
        max_gap: int | None = None,
    ) -> None:
        self.device = device
        self.tags = tuple(tags)
        self._sink = sink
        self._clock = clock
        self.link = link if link is not None else ModbusLink(device)
        self.link.add_loss_listener(self._on_link_lost)
        # max_registers=max_bits=1, max_gap=-1: one request per tag (the benchmark baseline)
        limits = BlockLimits.of(device, max_registers, max_bits, max_gap)
        self._scans = scan_classes(device, self.tags, limits)
        self._filter = DeadbandFilter({tag.name: tag.deadband for tag in self.tags})
        self._tracker = StatusTracker(device.name, on_status, clock)
        self._backoff = ReconnectBackoff()
        self._run_task: asyncio.Task[None] | None = None
        self.stats = RequestStats()

    @property
    def status(self) -> DeviceStatus:
        return self._tracker.status

    @property
    def requests(self) -> int:
        """Modbus requests sent, for benchmarks."""
        return self.stats.requests

    @property
    def blocks(self) -> tuple[ReadBlock, ...]:
        """The current read plan of every scan class."""
        return tuple(block for scan in self._scans for block in scan.plan)

    @property
    def scan_classes(self) -> tuple[ScanClass, ...]:
        return tuple(self._scans)

    def diagnostics(self) -> DeviceDiagnostics:
        """Requests, errors and latency are this device's; bytes are the connection's
        (on a gateway, every unit's traffic together)."""
        stats, status = self.stats, self._tracker.status
        return DeviceDiagnostics(
            device=self.device.name,
            state=status.state,
            last_error=status.last_error,
            requests_per_s=stats.requests_per_second(),
            latency_p50=stats.latency_percentile(0.5),
            latency_p99=stats.latency_percentile(0.99),
            reconnects=status.reconnects,
            errors=stats.errors,
            requests=stats.requests,
            bytes_sent=self.link.bytes_sent,
            bytes_received=self.link.bytes_received,
        )

    # -- life cycle -----------------------------------------------------------------------

    async def run(self) -> None:
        """Poll every scan class at its rate until cancelled; only CancelledError escapes."""
        self._run_task = asyncio.current_task()
        self.link.attach(self)
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    await self._ensure_connected()
                    for scan in self._scans:
                        if scan.next_due <= loop.time():
                            started = loop.time()
                            self._publish(await self._read_scan(scan))
                            self._mark_connected()
                            # fixed rate: one interval after this read started (at once
                            # if the read took longer than the interval)
                            scan.next_due = started + scan.interval
                except asyncio.CancelledError:
                    raise
                except CommError as exc:
                    await self._handle_comm_loss(exc)
                    continue
                except Exception as exc:  # a bug or an unexpected library error
                    _log.exception("modbus worker %s poll failed", self.device.name)
                    await self._handle_comm_loss(CommError(f"internal error: {exc!r}"))
                    continue
                self._backoff.reset()
                _raise_if_cancelling()
                due = min((scan.next_due for scan in self._scans), default=loop.time() + 1.0)
                await asyncio.sleep(max(0.0, due - loop.time()))
        finally:
            self.link.release(self)
            self._tracker.set(ConnectionState.STOPPED, retry_in=0.0)

    async def read_once(self) -> list[Sample]:
        """Connect if needed, read every tag once, return the Samples (never raises)."""
        self.link.attach(self)
        try:
            await self._ensure_connected()
            loop_time = asyncio.get_running_loop().time()
            samples: list[Sample] = []
            for scan in self._scans:
                samples.extend(await self._read_scan(scan, loop_time))
            self._mark_connected()
            return samples
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = str(exc) if isinstance(exc, CommError) else f"internal error: {exc!r}"
            self._drop_link(exc, reason)
            self._tracker.set(ConnectionState.DISCONNECTED, last_error=reason)
            return bad_samples(self.tags, f"comm: {reason}", self._clock())

    async def stop(self) -> None:
        """Cancel run() if it is running and let go of the connection."""
        task = self._run_task
        if task is not None and task is not asyncio.current_task():
            # cancel again if a library swallowed the first one (asyncio.wait_for in
            # Python 3.11 loses a cancellation that races the inner result)
            for _ in range(20):
                if task.done():
                    break
                task.cancel()
                await asyncio.wait([task], timeout=0.1)
        self.link.release(self)
        self._tracker.set(ConnectionState.STOPPED, retry_in=0.0)

    # -- writes ---------------------------------------------------------------------------

    async def write(self, tag: Tag, value: Value) -> WriteResult:
        """Write an engineering value, read it back and compare; never raises."""
        try:
            self.link.attach(self)
            try:
                await self._ensure_connected()
            except CommError as exc:
                return WriteResult(tag.name, WriteOutcome.FAILED, value, message=f"comm: {exc}")
            return await write_tag(
                tag,
                value,
                byte_order_of(tag, self.device),
                self._request,
                self._read_back,
                multiple=self.device.write_multiple,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _log.exception("modbus write of %s failed", tag.name)
            return WriteResult(
                tag.name, WriteOutcome.FAILED, value, message=f"internal error: {exc!r}"
            )

    async def _read_back(self, tag: Tag) -> tuple[Value, str]:
        result = await self._read_block(block_of([tag]))
        if result.exception in ADDRESS_EXCEPTIONS:
            assert result.exception is not None
            return None, f"modbus: {describe_exception(result.exception)} at {tag.address}"
        sample = result.samples[0]
        self._publish([sample])
        if not sample.quality.is_good:
            return None, sample.detail
        return sample.value, ""

    # -- connection -----------------------------------------------------------------------

    async def _ensure_connected(self) -> None:
        if not self.link.connected:
            self._tracker.set(ConnectionState.CONNECTING, retry_in=0.0)
            await self.link.ensure_connected()

    def _mark_connected(self) -> None:
        """CONNECTED only once the unit answered: a socket that accepts and then talks
        garbage must not flap between connected and disconnected."""
        if self._tracker.status.state is not ConnectionState.CONNECTED:
            self._tracker.set(ConnectionState.CONNECTED, last_error="", retry_in=0.0)

    def _drop_link(self, exc: BaseException, reason: str) -> None:
        """Close the connection for a link failure, or for any failure when no other
        device shares it; a unit that does not answer must not cut off its neighbours."""
        if isinstance(exc, LinkDownError) or not self.link.shared:
            self.link.close(reason)

    def _on_link_lost(self, reason: str) -> None:
        """The link dropped: make the loss visible at once, for every device on it."""
        if self._tracker.status.state is ConnectionState.CONNECTED:
            self._tracker.set(ConnectionState.DISCONNECTED, last_error=reason)
            self._publish_bad(f"comm: {reason}")

    def note_stale(self, samples: Sequence[Sample]) -> None:
        """Stale copies went out for these tags: the next read passes the deadband filter
        (a change of quality), so the tag comes back GOOD as soon as the PLC answers."""
        for sample in samples:
            self._filter.note(sample)

    def _publish_bad(self, detail: str) -> None:
        samples = bad_samples(self.tags, detail, self._clock())
        for sample in samples:
            self._filter.note(sample)
        self._sink.put(samples)

    async def _handle_comm_loss(self, exc: CommError) -> None:
        """Publish BAD for every tag, then wait out the backoff, re-publishing BAD."""
        reason = str(exc)
        self._drop_link(exc, reason)
        delay = self._backoff.next_delay()
        _log.warning("%s: %s; retrying in %.1f s", self.device.name, reason, delay)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        while True:
            remaining = deadline - loop.time()
            self._tracker.set(
                ConnectionState.DISCONNECTED, last_error=reason, retry_in=max(0.0, remaining)
            )
            self._publish_bad(f"comm: {reason}")
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, self.device.poll_interval))

    # -- polling --------------------------------------------------------------------------

    def _publish(self, samples: list[Sample]) -> None:
        self._sink.put(self._filter.select(samples))

    async def _read_scan(self, scan: ScanClass, loop_time: float | None = None) -> list[Sample]:
        if loop_time is None:
            loop_time = asyncio.get_running_loop().time()
        return await scan.read(self._read_block, self._clock(), loop_time)

    async def _request(self, method: str, *args: Any, what: str, **kwargs: Any) -> Any:
        """One request through the link for this unit, counted in ``stats``."""
        started = time.monotonic()
        ok = False
        try:
            response = await self.link.call(
                method, *args, what=what, device_id=self.device.unit_id, **kwargs
            )
            ok = response is not None and not response.isError()
            return response
        finally:
            self.stats.record(time.monotonic() - started, ok=ok)

    async def _read_block(self, block: ReadBlock) -> BlockResult:
        response = await self._request(
            _READ_METHOD[block.table.value], block.start, count=block.count,
            what=f"reading {block}",
        )
        now = self._clock()
        if response is None or response.isError():
            code = int(getattr(response, "exception_code", 0))
            if code in ADDRESS_EXCEPTIONS:
                return BlockResult([], code)
            detail = f"modbus: {describe_exception(code)} reading {block}"
            return BlockResult(bad_samples(block.tags, detail, now), code)
        if block.table.is_bit:
            bits: list[bool] = list(getattr(response, "bits", []))
            return BlockResult([sample_from_bits(t, block, bits, now) for t in block.tags])
        registers: list[int] = list(getattr(response, "registers", []))
        return BlockResult(samples_from_registers(block, registers, self.device.byte_order, now))


def _raise_if_cancelling() -> None:
    """Honour a cancellation that a library call swallowed (see ModbusWorker.stop)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


ModbusTcpWorker = ModbusWorker  # the name the supervisor and benchmarks know


def build_modbus_workers(
    devices_with_tags: Iterable[tuple[Device, Sequence[Tag]]],
    sink: SampleSink,
    on_status: DeviceStatusListener | None = None,
) -> dict[str, ModbusWorker]:
    """One worker per Modbus device; devices with the same (kind, host, port), or the
    same serial port, share one link. The link allows the smallest max_outstanding of
    its devices, and takes timeout and serial settings from the first device."""
    entries = list(devices_with_tags)
    groups: dict[tuple[object, ...], list[Device]] = {}
    for device, _tags in entries:
        if not device.kind.is_modbus:
            raise ValueError(f"device {device.name} is not a Modbus device ({device.kind})")
        groups.setdefault(link_key(device), []).append(device)
    links = {
        key: ModbusLink(members[0], min(d.max_outstanding for d in members))
        for key, members in groups.items()
    }
    for _device, tags in entries:
        for tag in tags:
            address_of(tag)  # a tag without a Modbus address is a config bug: say so now
    return {
        device.name: ModbusWorker(device, tags, sink, on_status, link=links[link_key(device)])
        for device, tags in entries
    }
