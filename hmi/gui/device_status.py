"""Status-bar indicators: one per device, grey when connected, red when not."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

from hmi.core.status import ConnectionState, DeviceStatus


def describe(status: DeviceStatus) -> tuple[str, bool]:
    """The indicator text, and whether it is abnormal."""
    name = status.device
    if status.state is ConnectionState.CONNECTED:
        return f"{name}: connected", False
    if status.state is ConnectionState.CONNECTING:
        return f"{name}: connecting…", False
    if status.state is ConnectionState.STOPPED:
        return f"{name}: stopped", True
    retry = f", retry in {status.retry_in:.0f} s" if status.retry_in >= 1 else ""
    reason = f" — {status.last_error}" if status.last_error else ""
    return f"{name}: DISCONNECTED{reason}{retry}", True


class DeviceStatusBar:
    def __init__(self, status_bar: QStatusBar, devices: list[str]) -> None:
        self.labels: dict[str, QLabel] = {}
        for name in devices:
            label = QLabel(f"{name}: connecting…")
            label.setObjectName(f"deviceStatus_{name}")
            status_bar.addWidget(label)
            self.labels[name] = label

    def update(self, status: DeviceStatus) -> None:
        label = self.labels.get(status.device)
        if label is None:
            return
        text, abnormal = describe(status)
        label.setText(text)
        label.setToolTip(text)
        if label.property("abnormal") != abnormal:
            label.setProperty("abnormal", abnormal)
            label.style().unpolish(label)
            label.style().polish(label)
