"""Where a window of its own (Settings, the waitlist's offer, a rebooking offer) first appears:
centred on the main window and kept on its screen, rather than wherever the window manager
puts a parentless window (a trial found them at the screen's bottom-left, over the schedule)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtWidgets import QWidget


def centred_rect(size: QSize, over: QRect, screen: QRect) -> QRect:
    """A rectangle of ``size`` centred on ``over``, moved (and if need be shrunk) to lie
    within ``screen``, the screen's available area."""
    width = min(size.width(), screen.width())
    height = min(size.height(), screen.height())
    left = over.left() + (over.width() - width) // 2
    top = over.top() + (over.height() - height) // 2
    left = max(screen.left(), min(left, screen.right() + 1 - width))
    top = max(screen.top(), min(top, screen.bottom() + 1 - height))
    return QRect(QPoint(left, top), QSize(width, height))


def place_over(window: QWidget, over: QWidget | None) -> None:
    """Put ``window`` (not shown yet) in the middle of ``over``'s window, on its screen."""
    if over is None:
        return
    host = over.window()
    screen = host.screen()
    if screen is None:
        return
    size = window.size().expandedTo(window.sizeHint()).expandedTo(window.minimumSize())
    rect = centred_rect(size, host.frameGeometry(), screen.availableGeometry())
    window.resize(rect.size())
    window.move(rect.topLeft())
