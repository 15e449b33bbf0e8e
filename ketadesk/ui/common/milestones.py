"""Start-up milestones for the start-up bench: when the sign-in dialog and the signed-in day
were first painted, written to a file only when ``KETADESK_MILESTONES`` names one.

Off by default: without the variable nothing is watched, written or changed.  Each milestone is
one line appended to that file, ``<name> <seconds> <peak KB>``: the system's monotonic clock
(``time.monotonic``, the same clock in every process on the machine, so the bench compares it
with the moment it spawned the process) and the process's peak resident memory so far.  Each
name is written once per process.  Nothing else is written: no user, no patient, no password.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


ENV = "KETADESK_MILESTONES"
SIGN_IN_PAINTED = "sign-in-painted"
DAY_PAINTED = "signed-in-day-painted"

_written: set[str] = set()


def enabled() -> bool:
    return bool(os.environ.get(ENV))


def _peak_kb() -> int:
    if sys.platform == "win32":
        return 0
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # macOS counts bytes


def record(name: str) -> None:
    """Append the milestone ``name`` (once per process) when ``KETADESK_MILESTONES`` is set."""
    path = os.environ.get(ENV)
    if not path or name in _written:
        return
    _written.add(name)
    line = f"{name} {time.monotonic():.6f} {_peak_kb()}\n"
    with open(path, "a", encoding="utf-8") as file:
        file.write(line)


def record_after_paint(
    window: QWidget, name: str, ready: Callable[[], bool] = lambda: True
) -> None:
    """Record ``name`` once ``window`` (or any widget in it) has painted while ``ready()``
    holds; only when the milestones are on, and only the first time."""
    app = QCoreApplication.instance()
    if enabled() and name not in _written and app is not None:
        _PaintWatch(app, window, name, ready)


class _PaintWatch(QObject):
    """Watches every paint of the application (only while the milestones are on) for one in
    ``window``: a top-level window's children paint in the same pass as the window."""

    def __init__(
        self, app: QCoreApplication, window: QWidget, name: str, ready: Callable[[], bool]
    ) -> None:
        super().__init__(window)
        self._app = app
        self._window = window
        self._name = name
        self._ready = ready
        app.installEventFilter(self)

    @override
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Paint
            and isinstance(watched, QWidget)
            and watched.window() is self._window
            and self._ready()
        ):
            self._app.removeEventFilter(self)
            # Queued: runs once this paint pass is done.
            QTimer.singleShot(0, partial(record, self._name))
        return False
