"""The mouse of the drag tests: events sent straight to a day or week view's canvas (as a user's
press, moves and release arrive), and a block grabbed by its top edge and dragged."""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget


class HasCanvas(Protocol):
    def canvas(self) -> QWidget: ...


def send_mouse(view: HasCanvas, kind: QEvent.Type, pos: QPoint, held: bool = True) -> None:
    """A press, move or release at ``pos`` on the view's canvas, the left button ``held``."""
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
    buttons = Qt.MouseButton.LeftButton if held else Qt.MouseButton.NoButton
    canvas = view.canvas()
    event = QMouseEvent(
        kind,
        QPointF(pos),
        QPointF(canvas.mapToGlobal(pos)),
        button,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(canvas, event)
