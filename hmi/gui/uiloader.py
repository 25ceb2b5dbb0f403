"""Load Qt Designer screens and the theme shipped inside the package."""

from __future__ import annotations

from importlib import resources

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtUiTools import QUiLoader
from PySide6.QtWidgets import QWidget


def load_ui(name: str, parent: QWidget | None = None) -> QWidget:
    """Build the widget tree of ``ui/<name>.ui``; children are found by objectName."""
    data = resources.files("hmi.ui").joinpath(f"{name}.ui").read_bytes()
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    widget = QUiLoader().load(buffer, parent)
    buffer.close()
    if widget is None:
        raise RuntimeError(f"ui/{name}.ui could not be loaded")
    return widget


def theme_stylesheet() -> str:
    """The ISA-101 grey theme."""
    return resources.files("hmi.resources").joinpath("theme/isa101.qss").read_text("utf-8")
