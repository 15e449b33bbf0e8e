"""Python's cyclic garbage collector, run on the GUI thread only.

Left to itself, the collector runs in whichever thread happens to allocate when a threshold is
crossed: often a background worker reading the clinic.  A cycle that holds a Qt object (a
dialog and the lambda connected to its signal) is then destroyed on that worker, and Qt
crashes the process.  As Qt applications commonly do (qutebrowser, pyqtgraph, Spyder), the
automatic collector is switched off and the same generational rule CPython uses is applied
from a timer in the GUI thread.

The collector does not free a Qt object tree itself either.  When a cycle holds a window or
dialog that Python owns (made with no parent) and one of its child widgets refers back to it,
the collector's clearing of the cycle deletes the window's C++ side, which deletes the child,
while the collector is still clearing that child: a crash (reproduced with plain PySide6 6.x and
seen twice in CI).  So each collection first keeps what it found (``DEBUG_SAVEALL``), has Qt
delete every parentless Python-owned QObject among it (its whole tree goes with it, as on a
``deleteLater``), and only then lets the collector free the Python objects.

During start-up (``ketadesk run``, from the start to the signed-in day loaded) nearly everything
allocated lives as long as the process: modules, classes, the catalogue, the window.  A
collection then would scan all of it on the GUI thread, on the way to the first paint, and find
next to nothing; instead what is due is moved to the permanent generation (``gc.freeze``),
where no later collection scans it either.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject, QTimer

#: How often the GUI thread looks whether a generation is due, in milliseconds.
CHECK_INTERVAL_MS = 500


class GarbageCollector(QObject):
    """Collects the generations that are due, each time its timer fires (GUI thread)."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        # Start-up (``start_up``): while on, due generations are frozen, not collected; it ends
        # at the first check at which ``_started()`` says so.
        self.starting = False
        self._started: Callable[[], bool] = lambda: False
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
        if self.starting:
            try:
                started = self._started()
            except RuntimeError:  # what it asks (the window) is gone: start-up is over
                started = True
            if not started:
                gc.freeze()
                return None
            self.starting = False
            self._started = lambda: False  # it may hold the window: let it go
        generation = 0
        for level in (1, 2):
            if counts[level] > self.threshold[level]:
                generation = level
        with warnings.catch_warnings():
            # A database connection left to the collector is closed by it; its warning would
            # name whatever happens to run now, not what left it (a test suite turns it into
            # an error in some unrelated test).
            warnings.simplefilter("ignore", ResourceWarning)
            collect(generation)
        return generation


def collect(generation: int = 2) -> int:
    """``gc.collect(generation)``, with the Qt object trees in the garbage deleted by Qt first
    (see the module's docstring); the number of unreachable objects found.

    What a young collection found and kept moves one generation up, where a later collection
    looks at it again; a full one then frees everything (nothing unreachable is left that was
    not looked at), so young cycles live until the next full collection."""
    debug = gc.get_debug()
    kept = len(gc.garbage)
    gc.set_debug(debug | gc.DEBUG_SAVEALL)
    try:
        found = gc.collect(generation)
    finally:
        gc.set_debug(debug)
    garbage = gc.garbage[kept:]
    del gc.garbage[kept:]
    tops = [
        obj
        for obj in garbage
        if isinstance(obj, QObject)
        and shiboken6.isValid(obj)
        and shiboken6.ownedByPython(obj)
        and obj.parent() is None
    ]
    del garbage
    if trace is not None and tops:
        trace(generation, [f"{type(t).__module__}.{type(t).__qualname__}" for t in tops])
    for top in tops:
        if shiboken6.isValid(top):  # not deleted with an earlier one
            shiboken6.delete(top)
    del tops
    if generation == 2:
        gc.collect(2)
    return found


#: Diagnosis (tests): called with the generation and the Qt objects deleted before a collection.
trace: Callable[[int, list[str]], None] | None = None


_installed: GarbageCollector | None = None


def install(app: QObject) -> GarbageCollector:
    """Collect garbage on the GUI thread from now on (once per process)."""
    global _installed
    if _installed is None:
        _installed = GarbageCollector(app)
    return _installed


def installed() -> GarbageCollector | None:
    return _installed


def start_up() -> None:
    """Start-up has begun: freeze rather than collect until ``start_up_ends_when`` says it is
    over (see the module's docstring)."""
    if _installed is not None:
        _installed.starting = True


def start_up_over() -> None:
    """Start-up is over (the run ended, whether or not anyone signed in)."""
    if _installed is not None:
        _installed.starting = False
        _installed._started = lambda: False


def start_up_ends_when(done: Callable[[], bool]) -> None:
    """Start-up is over at the first check at which ``done()`` holds (the signed-in day has
    been read); a no-op when no start-up is on."""
    if _installed is not None:
        _installed._started = done
