"""Connection state of a device worker, as the status bar and CLI show it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class ConnectionState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"  # lost; retrying with backoff
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    device: str
    state: ConnectionState
    since: float  # POSIX seconds of the last state change
    last_error: str = ""
    reconnects: int = 0
    retry_in: float = 0.0  # seconds until the next attempt, while DISCONNECTED


class DeviceStatusListener(Protocol):
    def __call__(self, status: DeviceStatus, /) -> None: ...
