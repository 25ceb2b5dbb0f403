"""The tag picker: every trendable tag of the site, filtered by a search box, ticked for
the pens wanted on the trend."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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

from hmi.core.datatypes import DataType
from hmi.core.site import Tag


def trendable(tags: Iterable[Tag]) -> list[Tag]:
    """Tags with a number to draw (strings have none)."""
    return [tag for tag in tags if tag.data_type is not DataType.STRING]


def matches(tag: Tag, text: str) -> bool:
    """Every word of the search is in the tag's name, description, units or device."""
    haystack = f"{tag.name} {tag.description} {tag.units} {tag.device}".casefold()
    return all(word in haystack for word in text.casefold().split())


class TagPickerDialog(QDialog):
    """Opened with ``open()``; emits ``chosen`` with the ticked tag names on OK."""

    chosen = Signal(list)

    def __init__(self, tags: Sequence[Tag], selected: Iterable[str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tagPickerDialog")
        self.setWindowTitle("Pens on the trend")
        self.resize(640, 720)
        self.search = QLineEdit()
        self.search.setObjectName("tagPickerSearch")
        self.search.setPlaceholderText("Search tags: name, description, units")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search)
        self.list = QListWidget()
        self.list.setObjectName("tagPickerList")
        self.count = QLabel("")
        wanted = set(selected)
        for tag in trendable(tags):
            units = f"  [{tag.units}]" if tag.units else ""
            text = f"{tag.name}{units}"
            if tag.description:
                text += f" — {tag.description}"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, tag.name)
            item.setData(Qt.ItemDataRole.UserRole + 1, tag)
            # not user-checkable: a tap anywhere on the row toggles it (_on_clicked), as
            # the checkbox alone is small for a gloved finger
            item.setCheckState(Qt.CheckState.Checked if tag.name in wanted
                               else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.itemClicked.connect(self._on_clicked)
        ok, cancel = QPushButton("OK"), QPushButton("Cancel")
        ok.setObjectName("tagPickerOk")
        ok.clicked.connect(self.accept)
        cancel.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.count, 1)
        buttons.addWidget(ok)
        buttons.addWidget(cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.accepted.connect(lambda: self.chosen.emit(self.selected()))
        self._on_search("")

    def _items(self) -> list[QListWidgetItem]:
        return [self.list.item(i) for i in range(self.list.count())]

    def visible_names(self) -> list[str]:
        return [str(item.data(Qt.ItemDataRole.UserRole)) for item in self._items()
                if not item.isHidden()]

    def selected(self) -> list[str]:
        return [str(item.data(Qt.ItemDataRole.UserRole)) for item in self._items()
                if item.checkState() == Qt.CheckState.Checked]

    def set_checked(self, name: str, checked: bool) -> None:
        for item in self._items():
            if item.data(Qt.ItemDataRole.UserRole) == name:
                item.setCheckState(Qt.CheckState.Checked if checked
                                   else Qt.CheckState.Unchecked)

    def _on_clicked(self, item: QListWidgetItem) -> None:
        state = item.checkState()
        item.setCheckState(Qt.CheckState.Unchecked if state == Qt.CheckState.Checked
                           else Qt.CheckState.Checked)
        self._count()

    def _on_search(self, text: str) -> None:
        for item in self._items():
            tag = item.data(Qt.ItemDataRole.UserRole + 1)
            item.setHidden(not matches(tag, text))
        self._count()

    def _count(self) -> None:
        self.count.setText(f"{len(self.selected())} pens chosen, "
                           f"{len(self.visible_names())} tags shown")
