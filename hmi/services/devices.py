"""Device diagnostics as people read them: the columns the device view and
`hmi devices status` share, so the screen and the terminal say the same thing."""

from __future__ import annotations

import math

from hmi.core.diagnostics import DeviceDiagnostics
from hmi.core.status import ConnectionState, DeviceStatus

COLUMNS = (
    "Device", "State", "Last error", "Req/s", "p50 ms", "p99 ms", "Reconnects", "Errors",
    "Sent", "Received",
)
LAST_ERROR = COLUMNS.index("Last error")
NO_VALUE = "—"


def state_text(state: ConnectionState) -> str:
    """Normal states in lower case; the abnormal one shouts."""
    return {
        ConnectionState.CONNECTED: "connected",
        ConnectionState.CONNECTING: "connecting",
        ConnectionState.DISCONNECTED: "DISCONNECTED",
        ConnectionState.STOPPED: "stopped",
    }[state]


def is_down(diagnostics: DeviceDiagnostics) -> bool:
    return diagnostics.state in (ConnectionState.DISCONNECTED, ConnectionState.STOPPED)


def _number(value: float, digits: int) -> str:
    return NO_VALUE if math.isnan(value) else f"{value:.{digits}f}"


def _milliseconds(seconds: float) -> str:
    if math.isnan(seconds):
        return NO_VALUE
    ms = seconds * 1000.0
    return f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def format_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover (the loop always returns)


def cells(diagnostics: DeviceDiagnostics) -> tuple[str, ...]:
    """One device's row, in COLUMNS order."""
    d = diagnostics
    return (
        d.device,
        state_text(d.state),
        d.last_error or "",
        _number(d.requests_per_s, 1),
        _milliseconds(d.latency_p50),
        _milliseconds(d.latency_p99),
        str(d.reconnects),
        str(d.errors),
        format_bytes(d.bytes_sent),
        format_bytes(d.bytes_received),
    )


def as_json(diagnostics: DeviceDiagnostics) -> dict[str, object]:
    """One device as a JSON object: numbers stay numbers; NaN (no data yet) is null."""
    d = diagnostics

    def finite(value: float, scale: float = 1.0) -> float | None:
        return None if math.isnan(value) else round(value * scale, 3)

    return {
        "device": d.device,
        "state": d.state.value,
        "last_error": d.last_error,
        "requests_per_s": finite(d.requests_per_s),
        "latency_p50_ms": finite(d.latency_p50, 1000.0),
        "latency_p99_ms": finite(d.latency_p99, 1000.0),
        "reconnects": d.reconnects,
        "errors": d.errors,
        "requests": d.requests,
        "bytes_sent": d.bytes_sent,
        "bytes_received": d.bytes_received,
    }


def from_status(status: DeviceStatus) -> DeviceDiagnostics:
    """What is known of a device from its status alone (no counters)."""
    nan = math.nan
    return DeviceDiagnostics(
        device=status.device, state=status.state, last_error=status.last_error,
        requests_per_s=nan, latency_p50=nan, latency_p99=nan, reconnects=status.reconnects,
        errors=0, requests=0, bytes_sent=0, bytes_received=0,
    )
