"""Named trend sets: which pens, on which axes, over which live window.

Stored one JSON file per set in a folder the app hands in (``<data dir>/trends``), so a
shift lead's "Filler overview" is there tomorrow and on the next workstation that shares
the folder. The dialog lists, loads, saves and deletes them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class PenSpec:
    tag: str
    own_axis: bool = False
    visible: bool = True


@dataclass(frozen=True, slots=True)
class TrendSet:
    name: str
    pens: tuple[PenSpec, ...]
    window: float  # live window, seconds

    def to_json(self) -> str:
        return json.dumps({
            "version": FORMAT_VERSION,
            "name": self.name,
            "window": self.window,
            "pens": [{"tag": p.tag, "own_axis": p.own_axis, "visible": p.visible}
                     for p in self.pens],
        }, indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, where: str = "trend set") -> TrendSet:
        try:
            raw = json.loads(text)
            pens = tuple(PenSpec(str(p["tag"]), bool(p.get("own_axis", False)),
                                 bool(p.get("visible", True))) for p in raw["pens"])
            return cls(str(raw["name"]), pens, float(raw["window"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{where} is not a valid trend set: {exc}") from exc


def _file_name(name: str) -> str:
    stem = re.sub(r"[^\w.-]+", "_", name.strip(), flags=re.UNICODE).strip("._")
    return f"{stem or 'trend'}.json"


class TrendSetStore:
    """Trend sets as JSON files in ``folder`` (created when first saved into)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, name: str) -> Path:
        return self.folder / _file_name(name)

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        found = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                found.append(TrendSet.from_json(path.read_text("utf-8"), str(path)).name)
            except (OSError, ValueError):
                continue  # a foreign or broken file is not a trend set; leave it alone
        return sorted(found, key=str.casefold)

    def save(self, trend_set: TrendSet) -> Path:
        if not trend_set.name.strip():
            raise ValueError("a trend set needs a name")
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(trend_set.name)
        partial = path.with_suffix(".json.part")
        partial.write_text(trend_set.to_json(), "utf-8")
        partial.replace(path)  # atomic: a crash never leaves half a file
        return path

    def load(self, name: str) -> TrendSet:
        path = self._path(name)
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            raise KeyError(name) from None
        return TrendSet.from_json(text, str(path))

    def delete(self, name: str) -> bool:
        path = self._path(name)
        if not path.exists():
            return False
        path.unlink()
        return True


class TrendSetsDialog(QDialog):
    """List, load, save (the current pens under a name) and delete trend sets."""

    loadRequested = Signal(object)  # noqa: N815 (Qt signal naming); a TrendSet
    saveRequested = Signal(str)  # noqa: N815 (Qt signal naming); name for the current pens

    def __init__(self, store: TrendSetStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trendSetsDialog")
        self.setWindowTitle("Trend sets")
        self.resize(560, 560)
        self.store = store
        self.list = QListWidget()
        self.list.setObjectName("trendSetList")
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("trendSetName")
        self.name_edit.setPlaceholderText("Name for the current pens")
        self.message = QLabel("")
        self.load_button = QPushButton("Load")
        self.save_button = QPushButton("Save current")
        self.delete_button = QPushButton("Delete")
        close = QPushButton("Close")
        self.load_button.clicked.connect(self._on_load)
        self.save_button.clicked.connect(self._on_save)
        self.delete_button.clicked.connect(self._on_delete)
        close.clicked.connect(self.reject)
        self.list.currentTextChanged.connect(self.name_edit.setText)
        self.list.itemDoubleClicked.connect(lambda _item: self._on_load())
        buttons = QHBoxLayout()
        for button in (self.load_button, self.save_button, self.delete_button, close):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Saved in {store.folder}"))
        layout.addWidget(self.list, 1)
        layout.addWidget(self.name_edit)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.reload()

    def reload(self) -> None:
        self.list.clear()
        for name in self.store.names():
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.list.addItem(item)

    def _selected(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def _on_load(self) -> None:
        name = self._selected()
        if name is None:
            self.message.setText("Choose a trend set to load.")
            return
        try:
            trend_set = self.store.load(name)
        except (KeyError, ValueError) as exc:
            self.message.setText(f"Cannot load {name}: {exc}")
            return
        self.loadRequested.emit(trend_set)
        self.accept()

    def _on_save(self) -> None:
        name = self.name_edit.text().strip()
        if not name:
            self.message.setText("Type a name to save the current pens under.")
            return
        self.saveRequested.emit(name)
        self.reload()
        self.message.setText(f"Saved {name}.")

    def _on_delete(self) -> None:
        name = self._selected()
        if name is not None and self.store.delete(name):
            self.reload()
            self.message.setText(f"Deleted {name}.")
