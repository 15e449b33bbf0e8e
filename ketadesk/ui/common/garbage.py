"""Python's cyclic garbage collector, run on the GUI thread only.

Left to itself, the collector runs in whichever thread happens to allocate when a threshold is
crossed: often a background worker reading the clinic.  A cycle that holds a Qt object (a
dialog and the lambda connected to its signal) is then destroyed on that worker, and Qt
crashes the process.  As Qt applications commonly do (qutebrowser, pyqtgraph, Spyder), the
automatic collector is switched off and the same generational rule CPython uses is applied
from a timer in the GUI thread.
"""

from __future__ import annotations

import gc
import warnings

from PySide6.QtCore import QObject, QTimer

#: How often the GUI thread looks whether a generation is due, in milliseconds.
CHECK_INTERVAL_MS = 500


class GarbageCollector(QObject):
    """Collects the generations that are due, each time its timer fires (GUI thread)."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(CHECK_INTERVAL_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> int | None:
        """Collect the oldest generation whose count is over its threshold (CPython's own
        rule); the generation collected, or None when none was due."""
        counts = gc.get_count()
        if counts[0] <= self.threshold[0]:
            return None
        generation = 0
        for level in (1, 2):
            if counts[level] > self.threshold[level]:
                generation = level
        with warnings.catch_warnings():
            # A database connection left to the collector is closed by it; its warning would
            # name whatever happens to run now, not what left it (a test suite turns it into
            # an error in some unrelated test).
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect(generation)
        return generation


_installed: GarbageCollector | None = None


def install(app: QObject) -> GarbageCollector:
    """Collect garbage on the GUI thread from now on (once per process)."""
    global _installed
    if _installed is None:
        _installed = GarbageCollector(app)
    return _installed


def installed() -> GarbageCollector | None:
    return _installed
