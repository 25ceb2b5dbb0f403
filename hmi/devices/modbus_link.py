"""One Modbus connection (TCP socket, RTU-over-TCP socket or serial line), shared by
every device (unit id) behind it.

A serial-to-Ethernet gateway or an RS-485 line carries several units; they must share
one socket or port, and most gateways take one request at a time. The link owns the
pymodbus client, a semaphore of ``max_outstanding`` requests, the byte counters and
the connection-loss notification; the workers own polling, decoding and status.
pymodbus's own reconnect is disabled (reconnect_delay=0) so the workers alone decide
when to reconnect, and the operator sees every tag go BAD the moment the link drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType

from hmi.core.site import Device, DeviceKind
from hmi.devices.connection import CommError

_log = logging.getLogger(__name__)

LinkKey = tuple[DeviceKind, str, int]
LossListener = Callable[[str], None]


class LinkDownError(CommError):
    """The connection itself failed (not just one unit's answer): every device on it
    goes BAD."""


def link_key(device: Device) -> LinkKey:
    """Devices with equal keys share one connection."""
    if device.kind is DeviceKind.MODBUS_RTU:
        port = device.serial.port if device.serial is not None else ""
        return (device.kind, port, 0)
    return (device.kind, device.host, device.port)


class ModbusLink:
    """A pymodbus client shared by the devices of one (kind, host, port).

    Byte counts are the connection's: on a gateway they include every unit's traffic.
    """

    def __init__(self, device: Device, max_outstanding: int | None = None) -> None:
        self.key = link_key(device)
        self.kind = device.kind
        self._template = device
        self.timeout = device.timeout
        self.max_outstanding = max(1, max_outstanding or device.max_outstanding)
        self._semaphore: asyncio.Semaphore | None = None
        self._connect_lock: asyncio.Lock | None = None
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
        self._generation = 0
        self._listeners: list[LossListener] = []
        self._users: set[int] = set()
        self.connects = 0  # connections opened, for tests and diagnostics
        self.bytes_sent = 0
        self.bytes_received = 0

    @property
    def framing(self) -> str:
        """The protocol this link expects on the wire, as an engineer would name it."""
        return {
            DeviceKind.MODBUS_TCP: "Modbus TCP",
            DeviceKind.MODBUS_RTU_OVER_TCP: "Modbus RTU over TCP",
        }.get(self.kind, "Modbus RTU")

    def __str__(self) -> str:
        kind, host, port = self.key
        return host if kind is DeviceKind.MODBUS_RTU else f"{host}:{port}"

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    def add_loss_listener(self, listener: LossListener) -> None:
        self._listeners.append(listener)

    # -- users: the link closes when the last one lets go ---------------------------------

    def attach(self, user: object) -> None:
        self._users.add(id(user))

    def release(self, user: object) -> None:
        self._users.discard(id(user))
        if not self._users:
            self.close()

    @property
    def shared(self) -> bool:
        return len(self._listeners) > 1

    # -- connection -----------------------------------------------------------------------

    def _new_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        device = self._template
        generation = self._generation

        def on_connect(connected: bool) -> None:
            self._on_trace_connect(generation, connected)

        common: dict[str, Any] = {
            "name": f"hmi-{self}",
            "reconnect_delay": 0,  # 0 disables pymodbus's reconnect task: the workers own it
            "reconnect_delay_max": 0,
            "timeout": device.timeout,
            "retries": 0,
            "trace_packet": self._on_trace_packet,
            "trace_connect": on_connect,
        }
        if device.kind is DeviceKind.MODBUS_RTU:
            if device.serial is None:
                raise CommError(f"device {device.name} has no serial line configured")
            line = device.serial
            return AsyncModbusSerialClient(
                line.port,
                framer=FramerType.RTU,
                baudrate=line.baudrate,
                bytesize=line.bytesize,
                parity=line.parity,
                stopbits=line.stopbits,
                **common,
            )
        framer = FramerType.RTU if device.kind is DeviceKind.MODBUS_RTU_OVER_TCP else (
            FramerType.SOCKET
        )
        return AsyncModbusTcpClient(device.host, port=device.port, framer=framer, **common)

    async def ensure_connected(self) -> None:
        """Connect unless connected; CommError when the peer cannot be reached."""
        if self.connected:
            return
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            if self.connected:  # another device on this link connected meanwhile
                return
            self.close()
            self._generation += 1
            client = self._new_client()
            self._client = client
            started = time.monotonic()
            try:
                ok = await client.connect()
            except Exception as exc:  # pyserial raises for a missing port
                ok = False
                _log.debug("connect to %s raised %r", self, exc)
            if not ok or not client.connected:
                self.close()
                if time.monotonic() - started >= self.timeout * 0.9:
                    raise LinkDownError(f"connect to {self} timed out after {self.timeout:g} s")
                raise LinkDownError(f"cannot connect to {self} (refused or unreachable)")
            self.connects += 1

    def close(self, reason: str = "") -> None:
        """Close the connection; with a reason, tell every device it was lost."""
        client, self._client = self._client, None
        self._generation += 1  # the old client's disconnect callback is now stale
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        if reason and client is not None:
            self._notify(reason)

    def _notify(self, reason: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(reason)
            except Exception:
                _log.exception("link loss listener failed on %s", self)

    def _on_trace_connect(self, generation: int, connected: bool) -> None:
        """pymodbus calls this when the socket drops: make the loss visible at once."""
        if connected or generation != self._generation:
            return
        self.close("connection lost")

    def _on_trace_packet(self, sending: bool, data: bytes) -> bytes:
        if sending:
            self.bytes_sent += len(data)
        else:
            self.bytes_received += len(data)
        return data

    # -- requests -------------------------------------------------------------------------

    async def call(self, method: str, *args: Any, what: str, **kwargs: Any) -> Any:
        """Send one request through the client's ``method`` (e.g. "read_coils").

        Returns the pymodbus response (which may be an exception response); raises
        LinkDownError when the connection failed, CommError when the unit did not answer.
        """
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_outstanding)
        async with self._semaphore:
            client = self._client
            if client is None or not client.connected:
                raise LinkDownError("connection lost")
            request: Callable[..., Awaitable[Any]] = getattr(client, method)
            received_before = self.bytes_received
            try:
                # pymodbus enforces the timeout itself; the outer bound is a safety net
                async with asyncio.timeout(self.timeout + 1.0):
                    return await request(*args, **kwargs)
            except (ConnectionException, ConnectionError, OSError) as exc:
                raise LinkDownError(f"connection lost ({exc})") from exc
            except (ModbusIOException, TimeoutError) as exc:
                if self.bytes_received > received_before:
                    # the peer talked, but nothing it said decoded as the answer
                    raise CommError(
                        f"invalid or incomplete response {what}: check that the port "
                        f"speaks {self.framing} and the unit id is right"
                    ) from exc
                raise CommError(f"no response within {self.timeout:g} s {what}") from exc
            except ModbusException as exc:
                raise CommError(f"{exc}") from exc
