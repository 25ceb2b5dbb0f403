"""How an alarm looks: each priority has a colour, a shape and a number, so an operator
who cannot tell red from orange still tells a critical alarm from a high one.

ISA-101: these colours mean "alarm" and nothing else on the screens; a normal screen is
grey. An unacknowledged alarm's mark is filled, an acknowledged one's is an outline
(the word says it too: "UNACK").
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

from hmi.core.alarm_rules import Priority
from hmi.core.alarm_states import AlarmState


@dataclass(frozen=True, slots=True)
class PriorityLook:
    colour: str
    text_colour: str  # on the colour
    shape: str  # diamond, triangle, square, circle
    number: int
    title: str


LOOKS = {
    Priority.CRITICAL: PriorityLook("#d50000", "#ffffff", "diamond", 1, "Critical"),
    Priority.HIGH: PriorityLook("#ff6d00", "#000000", "triangle", 2, "High"),
    Priority.MEDIUM: PriorityLook("#ffd600", "#000000", "square", 3, "Medium"),
    Priority.LOW: PriorityLook("#8e24aa", "#ffffff", "circle", 4, "Low"),
}

STATE_WORDS = {
    AlarmState.NORMAL: "Normal",
    AlarmState.UNACKED: "UNACK",
    AlarmState.ACKED: "Active",
    AlarmState.RTN_UNACKED: "Cleared, UNACK",
    AlarmState.LATCHED: "Latched: reset",
    AlarmState.SHELVED: "Shelved",
    AlarmState.SUPPRESSED: "Suppressed",
    AlarmState.OUT_OF_SERVICE: "Out of service",
}


def needs_ack(state: AlarmState) -> bool:
    return state in (AlarmState.UNACKED, AlarmState.RTN_UNACKED, AlarmState.LATCHED)


def _outline(shape: str, box: QRectF) -> QPainterPath:
    path = QPainterPath()
    x, y, w, h = box.x(), box.y(), box.width(), box.height()
    if shape == "diamond":
        path.addPolygon(QPolygonF([QPointF(x + w / 2, y), QPointF(x + w, y + h / 2),
                                   QPointF(x + w / 2, y + h), QPointF(x, y + h / 2)]))
    elif shape == "triangle":
        path.addPolygon(QPolygonF([QPointF(x + w / 2, y), QPointF(x + w, y + h),
                                   QPointF(x, y + h)]))
    elif shape == "square":
        inset = w * 0.1
        path.addRect(box.adjusted(inset, inset, -inset, -inset))
    else:
        path.addEllipse(box.adjusted(1, 1, -1, -1))
    path.closeSubpath()
    return path


_CACHE: dict[tuple[Priority, bool, int], QPixmap] = {}


def priority_pixmap(priority: Priority, filled: bool = True, size: int = 28) -> QPixmap:
    """The priority's mark: its shape in its colour with its number inside; ``filled``
    False draws the outline only (acknowledged)."""
    key = (priority, filled, size)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    look = LOOKS[priority]
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    path = _outline(look.shape, QRectF(1.5, 1.5, size - 3, size - 3))
    colour = QColor(look.colour)
    painter.setPen(QPen(QColor("#1e1e1e"), 1.5))
    painter.setBrush(colour if filled else QColor("#e6e6e6"))
    painter.drawPath(path)
    if not filled:  # a thick ring in the colour inside the dark edge
        painter.setPen(QPen(colour, 3))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(_outline(look.shape, QRectF(4, 4, size - 8, size - 8)))
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(size * 0.42))
    painter.setFont(font)
    painter.setPen(QColor(look.text_colour if filled else "#1e1e1e"))
    text_box = QRectF(0, size * 0.12 if look.shape == "triangle" else 0, size, size)
    painter.drawText(text_box, Qt.AlignmentFlag.AlignCenter, str(look.number))
    painter.end()
    _CACHE[key] = pixmap
    return pixmap


def priority_icon(priority: Priority, filled: bool = True) -> QIcon:
    return QIcon(priority_pixmap(priority, filled))
