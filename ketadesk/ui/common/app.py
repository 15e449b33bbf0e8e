"""The QApplication: created once, named, and able to tell the user about a fatal problem."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget

from ketadesk import APP_NAME, __version__
from ketadesk.ui.common import garbage
from ketadesk.ui.common.qt_workarounds import keep_none_alive, read_sources_lightly

#: Platforms with no screen to show a dialog on: a modal box there would wait forever.
HEADLESS_PLATFORMS = frozenset({"offscreen", "minimal"})


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """The application object (the existing one if there is one, as under pytest-qt)."""
    read_sources_lightly()
    keep_none_alive()
    existing = QCoreApplication.instance()
    if isinstance(existing, QApplication):
        garbage.install(existing)
        return existing
    app = QApplication(list(argv) if argv else [APP_NAME.lower()])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_NAME)
    app.setDesktopFileName("ketadesk")
    garbage.install(app)  # never on a worker: a Qt object freed there crashes the process
    return app


def has_screen() -> bool:
    return QGuiApplication.platformName() not in HEADLESS_PLATFORMS


def show_error(title: str, message: str, parent: QWidget | None = None) -> None:
    """A modal error box, when there is a screen to show it on (the caller also prints it)."""
    if QCoreApplication.instance() is None or not has_screen():
        return
    from PySide6.QtWidgets import QMessageBox  # only ever needed on the way out

    QMessageBox.critical(parent, title, message)
