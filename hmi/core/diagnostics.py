"""Per-device communication statistics for commissioning and maintenance."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from hmi.core.status import ConnectionState

WINDOW_SECONDS = 60.0  # rates and percentiles cover the last minute


@dataclass(frozen=True, slots=True)
class DeviceDiagnostics:
    device: str
    state: ConnectionState
    last_error: str
    requests_per_s: float
    latency_p50: float  # seconds; NaN before the first answer
    latency_p99: float
    reconnects: int
    errors: int  # requests that failed (exception responses, timeouts) since start
    requests: int  # since start
    bytes_sent: int
    bytes_received: int


class RequestStats:
    """Counts requests, failures and bytes, and keeps a minute of latencies.

    Workers call ``record`` once per request; reading is cheap enough for a 1 Hz view.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._recent: deque[tuple[float, float]] = deque()  # (finished at, latency)
        self.requests = 0
        self.errors = 0
        self.bytes_sent = 0
        self.bytes_received = 0

    def record(self, latency: float, *, ok: bool = True, sent: int = 0, received: int = 0) -> None:
        now = self._clock()
        self.requests += 1
        self.errors += 0 if ok else 1
        self.bytes_sent += sent
        self.bytes_received += received
        if ok:
            self._recent.append((now, latency))
        self._trim(now)

    def add_bytes(self, sent: int = 0, received: int = 0) -> None:
        """For transports that report bytes apart from requests."""
        self.bytes_sent += sent
        self.bytes_received += received

    def _trim(self, now: float) -> None:
        while self._recent and self._recent[0][0] < now - WINDOW_SECONDS:
            self._recent.popleft()

    def requests_per_second(self) -> float:
        now = self._clock()
        self._trim(now)
        count = len(self._recent)
        if count < 2:
            return count / WINDOW_SECONDS
        # at least a second: a burst of answers right after connecting is not a rate
        span = max(self._recent[-1][0] - self._recent[0][0], 1.0)
        return (count - 1) / span

    def latency_percentile(self, q: float) -> float:
        self._trim(self._clock())
        if not self._recent:
            return float("nan")
        ordered = sorted(latency for _, latency in self._recent)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
