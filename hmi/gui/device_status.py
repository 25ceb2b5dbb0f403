"""Status-bar indicators: one per device, grey when connected, red when not; and one for
the data path, shown only while a consumer of the samples is losing them."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

from hmi.core.consumers import ConsumerStats
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


def describe_data_path(stats: list[ConsumerStats]) -> str:
    """What the operator must know about the data path ('' when all is well): which
    consumer lost samples (the historian stores the span as a gap) or keeps failing."""
    troubles = []
    for consumer in stats:
        if consumer.dropped:
            troubles.append(f"{consumer.name} could not keep up: {consumer.dropped:,} samples "
                            "not processed")
        elif consumer.last_error:
            troubles.append(f"{consumer.name} failed {consumer.restarts}x "
                            f"({consumer.last_error}); restarted")
    return "Data: " + "; ".join(troubles) if troubles else ""


class DataPathIndicator:
    """Red in the status bar while a consumer drops or fails; hidden otherwise."""

    def __init__(self, status_bar: QStatusBar) -> None:
        self.label = QLabel("")
        self.label.setObjectName("dataPathStatus")
        self.label.setProperty("abnormal", True)
        self.label.setWordWrap(False)
        self.label.setVisible(False)
        status_bar.addWidget(self.label)

    def update(self, stats: list[ConsumerStats]) -> None:
        text = describe_data_path(stats)
        self.label.setText(text)
        self.label.setToolTip(text)
        self.label.setVisible(bool(text))
