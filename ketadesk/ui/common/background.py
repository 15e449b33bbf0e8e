"""Work off the GUI thread: one function on a worker thread, its outcome back on the GUI thread.

``BackgroundCall`` is the one mechanism.  ``run_service`` is how a widget uses it to call the
services (in the spirit of Anki's ``QueryOp``/``CollectionOp``): the work runs on a worker inside
``service_errors`` (so a driver or ORM failure arrives as a ServiceError), writes run one after
another on a single worker in the order they were asked for, a busy cursor and a status-bar
message appear only when the work takes longer than ``BUSY_AFTER_MS``, and a failure nobody
handles is shown to the user in words.

Also ``call_after_first_paint``, so that work which can wait (opening the clinic's full stack at
start-up) does not hold back the first picture of the window.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow, QMessageBox, QWidget

from ketadesk.services.common.context import ServiceError
from ketadesk.services.common.errors import service_errors
from ketadesk.ui.common import gui_thread
from ketadesk.ui.common.app import has_screen

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


T = TypeVar("T")

#: How long work may run before the user is shown that something is going on (a busy cursor
#: and a status-bar message): quicker work would only make the screen flicker.
BUSY_AFTER_MS = 300

# Calls started and not yet finished, so that tests (and shutdown) can wait for them all.
_RUNNING: set[BackgroundCall[Any]] = set()
_RUNNING_LOCK = threading.Lock()
# Writes go through one worker, one after another in the order asked: an undo never overtakes
# the edit it takes back.  Created on first use.
_WRITER: ThreadPoolExecutor | None = None
# run_service's calls whose outcome has not reached the GUI thread yet.
_DELIVERING: set[BackgroundCall[Any]] = set()


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

    def __init__(
        self, work: Callable[[], T], parent: QObject | None = None, *, serial: bool = False
    ) -> None:
        """``serial``: run on the single writer worker, after the serial calls before it."""
        super().__init__(parent)
        self._work = work
        self._serial = serial
        self._started = False
        self._done = threading.Event()
        self._result: T | None = None
        self._error: BaseException | None = None
        gui_thread.prepare()

    def start(self) -> None:
        global _WRITER
        if self._started:
            return
        self._started = True
        with _RUNNING_LOCK:
            _RUNNING.add(self)
        if self._serial:
            if _WRITER is None:
                _WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ketadesk-writer")
            _WRITER.submit(self._run)
        else:
            thread = threading.Thread(target=self._run, name="ketadesk-background", daemon=True)
            thread.start()

    def started(self) -> bool:
        return self._started

    def wait(self, timeout: float | None = None) -> T | None:
        """Wait for the work to end (if it was started): its result, None if it failed."""
        if self._started:
            self._done.wait(timeout)
        return self._result

    def _run(self) -> None:
        try:
            self._result = self._work()
        except Exception as err:  # handed to the GUI thread, which decides what it means
            self._error = err
        try:
            # Before ``wait`` returns: a waiter may delete this object as soon as it does (the
            # relay, not this object, carries the news: ``gui_thread``).
            gui_thread.call_on_gui_thread(self._deliver)
        finally:
            self._done.set()
            with _RUNNING_LOCK:
                _RUNNING.discard(self)

    def _deliver(self) -> None:
        """On the GUI thread: the outcome, unless this object was deleted meanwhile."""
        if gui_thread.alive(self):
            self._on_finished()

    def _on_finished(self) -> None:
        if self._error is not None:
            self.failed.emit(self._error)
        else:
            self.succeeded.emit(self._result)


def wait_for_background_work(timeout_s: float = 10.0) -> bool:
    """Wait until every started call has finished its work (its outcome may still be queued
    for the GUI thread); False when some still runs after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        with _RUNNING_LOCK:
            running = list(_RUNNING)
        if not running:
            return True
        for call in running:
            call.wait(max(0.0, deadline - time.monotonic()))
        if time.monotonic() >= deadline:
            with _RUNNING_LOCK:
                return not _RUNNING


def background_work_pending() -> bool:
    """Whether a started call is still at work, or its outcome still on its way to the GUI
    thread (where it may start the next read): a caller spinning the event loop until this is
    False has every answer asked for shown (``ketadesk screenshot``)."""
    with _RUNNING_LOCK:
        if _RUNNING:
            return True
    return bool(_DELIVERING)


class _BusyIndicator(QObject):
    """A busy cursor and a status-bar message, shown once work has run ``BUSY_AFTER_MS``."""

    def __init__(self, call: QObject, widget: QWidget | None, text: str) -> None:
        super().__init__(call)
        self._widget = widget
        self._text = text
        self._cursor = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(BUSY_AFTER_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._timer.start()

    def _status_window(self) -> QMainWindow | None:
        try:
            window = self._widget.window() if self._widget is not None else None
        except RuntimeError:  # the widget was deleted meanwhile
            return None
        return window if isinstance(window, QMainWindow) else None

    def _on_timer_timeout(self) -> None:
        QGuiApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        self._cursor = True
        window = self._status_window()
        if window is not None and self._text:
            window.statusBar().showMessage(self._text)

    def end(self) -> None:
        self._timer.stop()
        if self._cursor:
            self._cursor = False
            QGuiApplication.restoreOverrideCursor()
            window = self._status_window()
            if window is not None and window.statusBar().currentMessage() == self._text:
                window.statusBar().clearMessage()


def describe_error(err: BaseException) -> str:
    """What a failure says to the user: a ServiceError as it is, anything else by its type."""
    if isinstance(err, ServiceError):
        return str(err)
    return f"something failed: {err!r}"


def report_error(widget: QWidget | None, err: BaseException, *, title: str = "Not done") -> None:
    """Tell the user about a failure nobody handled: in the window's status bar and, where
    there is a screen, in a box they close (not modal: the window stays usable behind it)."""
    text = describe_error(err)
    window = widget.window() if widget is not None else None
    if isinstance(window, QMainWindow):
        window.statusBar().showMessage(f"{title}: {text}", 12000)
    if has_screen():
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, parent=window)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
    if not isinstance(err, ServiceError):  # a defect, not a refusal: keep its traceback
        import sys
        import traceback

        traceback.print_exception(err, file=sys.stderr)


def run_service(
    parent: QWidget | None,
    work: Callable[[], T],
    done: Callable[[T], None],
    *,
    failed: Callable[[ServiceError], None] | None = None,
    busy: str = "Working…",
    writes: bool = False,
    settled: Callable[[], None] | None = None,
) -> BackgroundCall[T]:
    """Call the services off the GUI thread: ``work`` on a worker, then ``done(result)`` or
    ``failed(error)`` on the GUI thread (while ``parent``, when given, still exists).

    ``writes`` puts the work on the single writer worker, after the writes asked for before
    it.  Without ``failed``, a ServiceError is shown to the user (``report_error``); any other
    exception is shown too, as a defect.  ``busy`` is the status-bar message shown after
    ``BUSY_AFTER_MS``.  ``settled`` is called after either, whatever happened.  The call is
    returned started.
    """

    def guarded() -> T:
        with service_errors():
            return work()

    # Not a child of ``parent``: the worker must never signal an object deleted with a window
    # closed meanwhile.  Kept alive here until its outcome is delivered (or dropped).
    call: BackgroundCall[T] = BackgroundCall(guarded, None, serial=writes)
    indicator = _BusyIndicator(call, parent, busy)
    _DELIVERING.add(call)

    def settle() -> bool:
        indicator.end()
        _DELIVERING.discard(call)
        call.deleteLater()
        return parent is None or shiboken6.isValid(parent)

    def on_succeeded(result: object) -> None:
        try:
            if settle():
                done(result)  # type: ignore[arg-type]
        finally:
            if settled is not None:
                settled()

    def on_failed(err: object) -> None:
        try:
            if not settle():
                return
            assert isinstance(err, BaseException)
            if failed is not None and isinstance(err, ServiceError):
                failed(err)
            else:
                report_error(parent, err)
        finally:
            if settled is not None:
                settled()

    call.succeeded.connect(on_succeeded)
    call.failed.connect(on_failed)
    call.start()
    return call


class LatestOnly:
    """Reads for one view through ``run_service``, where only the latest answer counts: the
    user went on to the next day before the last one arrived, so an older answer is dropped.
    """

    def __init__(self, parent: QWidget, *, busy: str = "Reading…") -> None:
        self._parent = parent
        self._busy = busy
        self._latest = 0
        self._running = 0

    def run(
        self,
        work: Callable[[], T],
        done: Callable[[T], None],
        *,
        failed: Callable[[ServiceError], None] | None = None,
    ) -> BackgroundCall[T]:
        self._latest += 1
        ticket = self._latest
        self._running += 1

        def on_done(result: T) -> None:
            if ticket == self._latest:
                done(result)

        def on_failed(err: ServiceError) -> None:
            if ticket != self._latest:
                return
            if failed is not None:
                failed(err)
            else:
                report_error(self._parent, err)

        def on_settled() -> None:
            self._running -= 1

        return run_service(
            self._parent, work, on_done, failed=on_failed, busy=self._busy, settled=on_settled
        )

    def is_busy(self) -> bool:
        """Whether an answer is still to come."""
        return self._running > 0


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
