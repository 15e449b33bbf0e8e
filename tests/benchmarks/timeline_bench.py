"""What the timeline benches share: the signed-in main window on a demo clinic, a watch on the
view's paints, and the figures (median, 95th percentile, the machine's load).

A sample ends when the window has *painted* what it was asked for: the frame (the top-level
window's UpdateRequest, every widget that changed repainted and the picture handed to the
platform) in which the view's canvas painted the new day (or week, or ghost) has ended.  An
event filter runs those frames itself to note when they end; the wait is a real ``QEventLoop``
(as the application's), so a worker that reads the day gets the interpreter while the GUI
thread waits, as it does for a user.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

from ketadesk.commands.run import open_day_window
from ketadesk.services.access.accounts import sign_in
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.store.database import Database
from ketadesk.ui.shell.main_window import MainWindow
from tests.benchmarks.test_desk_bench import TODAY

#: The demo's front desk user and their documented demo password (services/demo/users.py).
USER, PASSWORD = "frontdesk", "demo-frontdesk"
NOW = dt.datetime.combine(TODAY, dt.time(17), tzinfo=dt.UTC)
#: How long a sample may take before the bench gives up on it (a hang, not a slow paint).
GIVE_UP_MS = 10_000


def signed_in_window(path: Path, day: dt.date) -> tuple[MainWindow, Database]:
    """The main window on the clinic at ``path``, signed in as the front desk (a real account:
    the password is checked as at the sign-in dialog), showing ``day``."""
    db = open_clinic(str(path)).db
    actor = sign_in(db, USER, PASSWORD, now=NOW)
    window = open_day_window(db, day, now=lambda: NOW, actor=actor)
    return window, db


class PaintWatch(QObject):
    """Watches a view's canvas and the frames of its window: ``wait_for(done)`` runs the event
    loop until a frame in which the canvas was painted ends with ``done()`` true, and returns
    when that frame ended (``time.perf_counter``): every widget that changed repainted and the
    window's picture handed to the platform, what the user sees."""

    def __init__(self, view: QAbstractScrollArea, canvas: QWidget) -> None:
        super().__init__(view)
        self.view = view
        self.canvas = canvas
        self.window = view.window()
        self.paints = 0
        self.last_end = 0.0
        self._canvas_painted = False
        self._done: Callable[[], bool] | None = None
        self._loop: QEventLoop | None = None
        canvas.installEventFilter(self)
        self.window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if watched is self.canvas and kind == QEvent.Type.Paint:
            self._canvas_painted = True
        elif watched is self.window and kind == QEvent.Type.UpdateRequest:
            # The frame: run it here, to know when it ended.
            self._canvas_painted = False
            self.window.event(event)
            if self._canvas_painted:
                self.paints += 1
                self.last_end = time.perf_counter()
                if self._loop is not None and self._done is not None and self._done():
                    self._loop.quit()
            return True
        return False

    def wait_for(self, done: Callable[[], bool]) -> float:
        """Run the event loop until a frame painting the canvas ends with ``done()`` true;
        when that frame ended."""
        loop = QEventLoop()
        self._done, self._loop = done, loop
        given_up = QTimer()
        given_up.setSingleShot(True)
        given_up.timeout.connect(loop.quit)
        given_up.start(GIVE_UP_MS)
        mark = self.paints
        loop.exec()
        given_up.stop()
        self._done, self._loop = None, None
        assert self.paints > mark, "the view never painted"
        assert done(), "the view never painted what was asked"
        return self.last_end


@dataclass(frozen=True)
class Figures:
    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.samples, n=20, method="inclusive")[-1]

    @property
    def worst(self) -> float:
        return max(self.samples)


def machine() -> str:
    """The machine and its load, printed with every figure."""
    one, five, fifteen = os.getloadavg()
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, load {one:.2f} / {five:.2f} / "
        f"{fifteen:.2f} (1/5/15 min), Python {platform.python_version()}, SQLite"
    )


def table(rows: list[tuple[str, Figures, str]]) -> None:
    print("| measure | samples | median | 95th percentile | worst | target |")
    print("|---|---|---|---|---|---|")
    for name, f, target in rows:
        print(
            f"| {name} | {len(f.samples)} | {f.median:.1f} ms | {f.p95:.1f} ms "
            f"| {f.worst:.1f} ms | {target} |"
        )
