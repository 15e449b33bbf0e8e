"""Every test starts with working Qt event loops, whatever the test before it left.

A ``QEvent.Quit`` handled while no ``QApplication.exec()`` runs (one posted when a whole
application run in a test closed its last window, handled by a later test's wait) sets Qt's
"quit now" flag for the GUI thread: from then on every event loop returns -1 at once, a
dialog's ``exec()`` and pytest-qt's waits among them, so every later test on that worker
fails with a timeout (CI saw 15 such failures after one in-process ``ketadesk run``).  Only
``QCoreApplication.exec()`` clears the flag."""

from __future__ import annotations

import sys


def restore_event_loops() -> bool:
    """Drop any Quit event still queued for the application and clear a "quit now" left
    set; True if the loops had been stopped (nothing to do without a QApplication)."""
    widgets = sys.modules.get("PySide6.QtWidgets")
    app = widgets.QApplication.instance() if widgets is not None else None
    if app is None:
        return False
    from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QTimer

    QCoreApplication.removePostedEvents(app, QEvent.Type.Quit)
    probe = QEventLoop()
    QTimer.singleShot(0, probe, lambda: probe.exit(0))
    if probe.exec() != -1:
        return False
    QTimer.singleShot(0, app, app.quit)
    app.exec()  # begins and ends by clearing the flag
    return True
