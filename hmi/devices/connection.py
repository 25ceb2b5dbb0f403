"""What every device worker shares: capped reconnect backoff and status reporting."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from hmi.core.samples import Sample
from hmi.core.site import Tag
from hmi.core.status import ConnectionState, DeviceStatus, DeviceStatusListener

_log = logging.getLogger(__name__)

Clock = Callable[[], float]


class CommError(Exception):
    """The link to the device is unusable; every tag of the device goes BAD."""


def bad_samples(tags: Sequence[Tag], detail: str, now: float) -> list[Sample]:
    return [Sample.bad(tag.name, detail, now) for tag in tags]


class ReconnectBackoff:
    """Capped exponential backoff: 0.5 s doubling to 10 s, reset after a success."""

    def __init__(self, initial: float = 0.5, maximum: float = 10.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self._next = initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self.maximum, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self.initial


class StatusTracker:
    """Holds a worker's DeviceStatus and tells the listener about every change."""

    def __init__(self, device: str, on_status: DeviceStatusListener | None, clock: Clock) -> None:
        self._on_status = on_status
        self._clock = clock
        self.status = DeviceStatus(device, ConnectionState.STOPPED, clock())
        self._ever_connected = False

    def set(
        self, state: ConnectionState, last_error: str | None = None, retry_in: float = 0.0
    ) -> None:
        old = self.status
        reconnects = old.reconnects
        if state is ConnectionState.CONNECTED and old.state is not ConnectionState.CONNECTED:
            if self._ever_connected:
                reconnects += 1
            self._ever_connected = True
        new = DeviceStatus(
            device=old.device,
            state=state,
            since=old.since if state is old.state else self._clock(),
            last_error=old.last_error if last_error is None else last_error,
            reconnects=reconnects,
            retry_in=retry_in,
        )
        if new == old:
            return
        self.status = new
        if self._on_status is not None:
            try:
                self._on_status(new)
            except Exception:
                _log.exception("status listener failed for %s", old.device)
