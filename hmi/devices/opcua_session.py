"""Opening and closing an OPC UA session, one way for every client of a device (the
worker that reads its tags, the source of its Alarms & Conditions): the device's
security and credentials, a deadline on connect, a login refusal said in words, a dead
server never hanging the close, and errors described the same way."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.uaerrors import UaStatusCodeError

from hmi.core.site import Device
from hmi.devices import opcua_security
from hmi.devices.connection import CommError
from hmi.devices.opcua_security import PasswordProvider

DISCONNECT_TIMEOUT = 1.0  # a dead server must not hang stop()


async def open_session(client: Client, device: Device, pki_dir: Path | None,
                       password_provider: PasswordProvider | None) -> None:
    """Configure ``client``'s security for ``device`` and connect, within twice the
    device's timeout; CommError says why not (no answer, login refused)."""
    security = device.security
    await opcua_security.configure(client, security, pki_dir=pki_dir,
                                   password_provider=password_provider,
                                   request_timeout=device.timeout)
    limit = device.timeout * 2
    try:
        # connect() has no overall deadline of its own (only per request)
        await asyncio.wait_for(client.connect(), timeout=limit)
    except TimeoutError:
        raise CommError(f"no answer from {device.endpoint} within {limit:g} s") from None
    except UaStatusCodeError as exc:
        refusal = opcua_security.login_refusal(exc, security)
        if refusal is None:
            raise
        raise CommError(refusal) from exc


async def close_session(client: Client) -> None:
    """Disconnect; a server gone already has its socket dropped without the goodbye."""
    try:
        await asyncio.wait_for(client.disconnect(), timeout=DISCONNECT_TIMEOUT)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            client.disconnect_socket()
        raise
    except Exception:
        with contextlib.suppress(Exception):
            client.disconnect_socket()


def describe(exc: BaseException, device: Device) -> str:
    """A communication error in a line an operator can read."""
    if isinstance(exc, CommError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return f"no answer from {device.endpoint} within {device.timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {device.endpoint}"
    if isinstance(exc, UaStatusCodeError):
        return f"{ua.StatusCode(exc.code).name} from {device.endpoint}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text
