"""Work off the GUI thread: one function on a worker thread, its outcome back on the GUI thread.

Also ``call_after_first_paint``, so that work which can wait (opening the clinic's full stack at
start-up) does not hold back the first picture of the window.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


T = TypeVar("T")


class BackgroundCall(QObject, Generic[T]):
    """Runs ``work`` once on a worker thread; says how it went on the GUI thread.

    The work must not touch widgets.  Its result (or exception) is also kept, so that a caller
    whose event loop has already ended can still ``wait`` for it and clean up after it.

    Signals:
        succeeded(object): the work's return value.
        failed(object): the exception the work raised.
    """

    succeeded = Signal(object)
    failed = Signal(object)
    # Emitted on the worker thread; received here, on the thread this object lives in.
    _finished = Signal()

    def __init__(self, work: Callable[[], T], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._work = work
        self._thread: threading.Thread | None = None
        self._result: T | None = None
        self._error: BaseException | None = None
        self._finished.connect(self._on_finished)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="ketadesk-background", daemon=True)
        self._thread.start()

    def started(self) -> bool:
        return self._thread is not None

    def wait(self) -> T | None:
        """Wait for the work to end (if it was started): its result, None if it failed."""
        if self._thread is not None:
            self._thread.join()
        return self._result

    def _run(self) -> None:
        try:
            self._result = self._work()
        except Exception as err:  # handed to the GUI thread, which decides what it means
            self._error = err
        self._finished.emit()

    def _on_finished(self) -> None:
        if self._error is not None:
            self.failed.emit(self._error)
        else:
            self.succeeded.emit(self._result)


class _FirstPaintWatch(QObject):
    def __init__(self, widget: QWidget, callback: Callable[[], None]) -> None:
        super().__init__(widget)
        self._callback = callback
        widget.installEventFilter(self)

    @override
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            # Queued: runs once this paint is done and on screen.
            QTimer.singleShot(0, self._callback)
        return False


def call_after_first_paint(widget: QWidget, callback: Callable[[], None]) -> None:
    """Call ``callback`` from the event loop once ``widget`` has been painted the first time."""
    _FirstPaintWatch(widget, callback)
