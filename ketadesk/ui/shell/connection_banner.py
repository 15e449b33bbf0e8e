"""The banner above the views while the clinic server cannot be reached.

It says what happened and what it means for the user's work (what they confirmed is saved; new
changes wait), counts down to the next automatic retry, and offers "Retry now".  It follows a
``ChangeWatcher``: shown on ``connection_lost``, its countdown set by ``retrying``, hidden on
``connection_restored``.
"""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

if TYPE_CHECKING:
    from typing_extensions import override

    from ketadesk.ui.shell.change_watch import ChangeWatcher
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


def banner_colors(palette: QPalette) -> tuple[QColor, QColor]:
    """(background, text) of the warning banner, readable on a light or a dark palette."""
    dark = palette.color(QPalette.ColorRole.Window).lightness() < 128
    if dark:
        return QColor("#5c1d18"), QColor("#ffdad5")
    return QColor("#fde3df"), QColor("#7a1410")


def banner_text(reason: str, seconds: int | None) -> str:
    """What the banner says: the reason, when it tries again, and what is safe."""
    reason = reason.strip().rstrip(".") or "no answer"
    if seconds is None:
        when = ""
    elif seconds <= 0:
        when = " Retrying now…"
    else:
        when = f" Retrying in {seconds} s…"
    return (
        f"Connection to the clinic server lost: {reason}.{when} "
        "Changes you confirmed are saved; new changes wait until the server is back."
    )


class ConnectionBanner(QFrame):
    """A warning strip: the clinic server is away, when it is tried again, "Retry now".

    Signals:
        retry_requested(): the user pressed "Retry now".

    Attributes:
        label: the message.
        retry_button: "Retry now".
    """

    retry_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("connection_banner")
        self.setAccessibleName("Connection to the clinic server lost")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAutoFillBackground(True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._reason = ""
        self._retry_at: float | None = None
        self.label = QLabel(self)
        self.label.setObjectName("connection_banner_text")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.retry_button = QPushButton("&Retry now", self)
        self.retry_button.setAccessibleName("Retry the connection to the clinic server now")
        self.retry_button.setToolTip("Try to reach the clinic server at once")
        self.retry_button.clicked.connect(self._on_retry_button_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 8, 6)
        layout.setSpacing(12)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.retry_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._on_tick_timeout)
        self._apply_colors()
        self.hide()

    # -- following a watcher ----------------------------------------------------------------

    def follow(self, watcher: ChangeWatcher) -> None:
        """Show and hide with ``watcher``'s connection; "Retry now" asks it to retry."""
        watcher.connection_lost.connect(self.show_lost)
        watcher.retrying.connect(self.set_retry_in)
        watcher.connection_restored.connect(self.show_restored)
        self.retry_requested.connect(watcher.retry_now)
        if watcher.is_lost():
            self.show_lost(watcher.lost_reason())
            self.set_retry_in(watcher.seconds_to_retry() * 1000)

    # -- what it says -----------------------------------------------------------------------

    def show_lost(self, reason: str) -> None:
        """The server cannot be reached, because of ``reason``."""
        self._reason = reason
        self._retry_at = None
        self._update_text()
        self.show()

    def set_retry_in(self, msecs: int) -> None:
        """The next automatic attempt is in ``msecs``: counted down on the banner."""
        self._retry_at = time.monotonic() + msecs / 1000
        self.retry_button.setEnabled(True)
        self._update_text()
        self._tick.start()

    def show_restored(self) -> None:
        self._tick.stop()
        self._retry_at = None
        self.hide()

    def text(self) -> str:
        """The message as plain text."""
        return banner_text(self._reason, self.seconds_to_retry())

    def seconds_to_retry(self) -> int | None:
        if self._retry_at is None:
            return None
        return max(0, round(self._retry_at - time.monotonic()))

    # -- inside -----------------------------------------------------------------------------

    def _update_text(self) -> None:
        plain = self.text()
        head, _, rest = plain.partition(": ")
        self.label.setText(f"<b>{html.escape(head)}:</b> {html.escape(rest)}")
        self.label.setAccessibleName(plain)
        self.setAccessibleDescription(plain)

    def _apply_colors(self) -> None:
        background, text = banner_colors(self.palette())
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, background)
        palette.setColor(QPalette.ColorRole.WindowText, text)
        self.setPalette(palette)
        label_palette = self.label.palette()
        label_palette.setColor(QPalette.ColorRole.WindowText, text)
        self.label.setPalette(label_palette)

    def _on_tick_timeout(self) -> None:
        self._update_text()
        if self.seconds_to_retry() == 0:
            self._tick.stop()

    def _on_retry_button_clicked(self) -> None:
        self._retry_at = time.monotonic()
        self._update_text()
        self.retry_requested.emit()

    @override
    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ApplicationPaletteChange:
            # The user switched between light and dark: start again from the new palette.
            self.setPalette(QPalette())
            self._apply_colors()
