"""Handing an outcome from a worker thread to the GUI thread, safely.

A worker that emits a signal of the widget or call object it works for races the GUI thread,
which may be deleting that very object (a window closed, a dialog done) at the same moment:
Qt then reads freed memory and the process dies ("Fatal Python error: Segmentation fault" in
the middle of processing events).  Here a worker never touches such an object.  It emits the
signal of one relay, created once and never deleted, which runs the callable on the GUI thread;
there the callable checks that its object is still alive (``alive``) before using it, and
nothing can delete it in between, since deleting happens on the GUI thread too.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Signal


class _Relay(QObject):
    """Lives as long as the process, on the application's thread."""

    call = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.call.connect(self._on_call)

    def _on_call(self, fn: object) -> None:
        assert callable(fn)
        fn()


_RELAY: _Relay | None = None
_LOCK = threading.Lock()


def _relay() -> _Relay:
    global _RELAY
    with _LOCK:
        if _RELAY is None:
            relay = _Relay()
            app = QCoreApplication.instance()
            if app is not None and relay.thread() is not app.thread():
                relay.moveToThread(app.thread())  # (created on a worker: pushed to the GUI)
            _RELAY = relay
        return _RELAY


def prepare() -> None:
    """Create the relay now, on the GUI thread (any object that will hand work back calls
    this when it is made, so the first worker to finish never has to)."""
    _relay()


def call_on_gui_thread(fn: Callable[[], None]) -> None:
    """Run ``fn`` on the GUI thread, after the events already queued there; safe from any
    thread, whatever the GUI thread is deleting meanwhile."""
    with contextlib.suppress(RuntimeError):  # shutting down: nobody left to tell
        _relay().call.emit(fn)


def alive(obj: QObject) -> bool:
    """Whether the Qt object behind ``obj`` still exists (on the GUI thread: for certain)."""
    return shiboken6.isValid(obj)
