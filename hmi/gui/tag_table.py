"""The tag table: name, value, units, quality and time of every configured tag; it takes
its samples from the per-tag feed (hmi.gui.feed), subscribed to the tags it shows: the
rows on screen and a margin around them, so a site of 55,000 tags costs what its visible
rows cost, and a row scrolled into view gets its latest value at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from hmi.core.samples import Quality, Sample
from hmi.core.site import Tag
from hmi.gui.feed import Subscription, TagFeed
from hmi.gui.formatting import format_clock, format_quality, format_value

COLUMNS = ("Tag", "Value", "Units", "Quality", "Time", "Description")
_VALUE, _QUALITY = 1, 3
# ISA-101: colour only for the abnormal. BAD is the alarm-grade colour, UNCERTAIN amber.
_BAD_BRUSH = QBrush(QColor("#c62828"))
_UNCERTAIN_BRUSH = QBrush(QColor("#f2c200"))
_WHITE = QBrush(QColor("#ffffff"))
ModelIndex = QModelIndex | QPersistentModelIndex
FIRST_ROWS = 60  # watched before the view has laid out
MARGIN_ROWS = 20  # watched above and below what is on screen: a short scroll is live


class TagTableModel(QAbstractTableModel):
    def __init__(self, tags: Sequence[Tag], feed: TagFeed) -> None:
        super().__init__()
        self._tags = list(tags)
        self._row = {tag.name: i for i, tag in enumerate(self._tags)}
        self._samples: dict[str, Sample] = {}
        self._bold = QFont()
        self._bold.setBold(True)
        self._feed = feed
        self._closed = False
        self._subscription: Subscription | None = None
        self.watched = range(0)  # the rows whose tags are subscribed
        self.watch_rows(0, FIRST_ROWS - 1)

    def watch_rows(self, first: int, last: int) -> None:
        """Subscribe to the tags of rows ``first``..``last`` (and a margin), instead of
        the rows watched so far."""
        first = max(0, first - MARGIN_ROWS)
        last = min(len(self._tags) - 1, last + MARGIN_ROWS)
        rows = range(first, last + 1)
        if rows == self.watched or self._closed:
            return
        old = self._subscription
        # the new one first: tags in both stay subscribed, with no gap in between
        self._subscription = self._feed.subscribe(
            [tag.name for tag in self._tags[first:last + 1]], self.update_samples,
            name="tag table")
        self.watched = rows
        if old is not None:
            old.close()

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._tags)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        tag = self._tags[index.row()]
        sample = self._samples.get(tag.name)
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(tag, sample, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == _VALUE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and column == _VALUE:
            return self._bold
        quality = sample.quality if sample else None
        if role == Qt.ItemDataRole.BackgroundRole and column in (_VALUE, _QUALITY):
            if quality is Quality.BAD:
                return _BAD_BRUSH
            if quality is Quality.UNCERTAIN:
                return _UNCERTAIN_BRUSH
        if role == Qt.ItemDataRole.ForegroundRole and column in (_VALUE, _QUALITY):
            return _WHITE if quality is Quality.BAD else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{tag.name} ({tag.device} {tag.address})\n{format_quality(sample)}"
        return None

    @staticmethod
    def _text(tag: Tag, sample: Sample | None, column: int) -> str:
        if column == 0:
            return tag.name
        if column == _VALUE:
            return format_value(sample)
        if column == 2:
            return tag.units
        if column == _QUALITY:
            return format_quality(sample)
        if column == 4:
            return format_clock(sample.source_time) if sample else ""
        return tag.description

    def update_samples(self, samples: Sequence[Sample]) -> None:
        """Take the newest sample per tag and repaint only the rows that changed."""
        rows: set[int] = set()
        for sample in samples:
            row = self._row.get(sample.tag)
            if row is not None:
                self._samples[sample.tag] = sample
                rows.add(row)
        if rows:
            top, bottom = min(rows), max(rows)
            self.dataChanged.emit(self.index(top, 0), self.index(bottom, len(COLUMNS) - 1))

    def sample(self, tag: str) -> Sample | None:
        return self._samples.get(tag)

    def close(self) -> None:
        """Stop taking samples (the window is closing)."""
        self._closed = True
        if self._subscription is not None:
            self._subscription.close()


class TagTableView(QTableView):
    def __init__(self, model: TagTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tagTable")
        self.setModel(model)
        self.setAlternatingRowColors(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(34)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((190, 110, 70, 250, 90)):
            self.setColumnWidth(column, width)
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)

    def _on_scrolled(self, *_: object) -> None:
        """The model watches the rows on screen (and a margin): scrolled, resized."""
        model = self.model()
        if not isinstance(model, TagTableModel) or model.rowCount() == 0:
            return
        first = self.rowAt(0)
        last = self.rowAt(self.viewport().height() - 1)
        model.watch_rows(max(first, 0), model.rowCount() - 1 if last < 0 else last)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._on_scrolled()
