"""Toolbar icons drawn in code: crisp at any scale, in the palette's colours, and free at
start-up (no SVG plugin to load, no icon theme to search)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap

ICON_SIZE = 16


def chevron(direction: str, color: QColor) -> QIcon:
    """A "<" (``direction`` "left") or ">" ("right") chevron, drawn at 1x and 2x."""
    icon = QIcon()
    points = [QPointF(10, 3), QPointF(5, 8), QPointF(10, 13)]
    if direction == "right":
        points = [QPointF(ICON_SIZE - p.x(), p.y()) for p in points]
    for scale in (1, 2):
        pixmap = QPixmap(ICON_SIZE * scale, ICON_SIZE * scale)
        pixmap.setDevicePixelRatio(scale)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(color, 2.0)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.drawPolyline(points)
        painter.end()
        icon.addPixmap(pixmap)
    return icon
