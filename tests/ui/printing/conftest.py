"""What a failing printing test may leave behind, cleared whatever happens, so that one failure
stays one failure.

The printing tests answer modal dialogs (the preview, the print and file dialogs) from timers
and wait on the printer's signals while its documents are built on workers.  A failure in such
a test once took every later test on its xdist worker with it: an answer that failed left its
dialog open, and the dialog's own event loop (``exec``), nested inside the test's wait, never
ended, so nothing after it ran; and a document still being built when a test failed was
delivered after the test's patches were undone, opening the real Save dialog.

``dialogs_answered`` rejects a modal dialog left open longer than any test waits for one
(``LEFT_OPEN_S``), which ends its loop: the test then fails on its own wait, alone, and is told
which dialog was left.  At teardown it closes any dialog still shown and puts back the folder
Save as PDF remembers.  The ``printer`` fixtures delete their DocumentPrinter at teardown, so a
document still being built is never delivered to a later test (``drop_printer``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from typing import TypeVar

import pytest
import shiboken6
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from ketadesk.ui.common.background import wait_for_background_work
from ketadesk.ui.printing import print_dialogs

#: How long a modal dialog may stay open before it is taken as left open by a failed answer:
#: longer than any wait of these tests (20 s), so that wait has failed first.
LEFT_OPEN_S = 25.0
#: How often the open modal dialog is looked at.
LOOK_EVERY_MS = 250


class _LeftOpenGuard(QObject):
    """Rejects a modal dialog left open for ``LEFT_OPEN_S``, naming it in ``closed``."""

    def __init__(self) -> None:
        super().__init__()
        self.closed: list[str] = []
        self._seen: dict[int, float] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(LOOK_EVERY_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _on_timer_timeout(self) -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            self._seen.clear()
            return
        since = self._seen.setdefault(id(dialog), time.monotonic())
        if time.monotonic() - since >= LEFT_OPEN_S:
            self.closed.append(_name(dialog))
            _close(dialog)


def _name(widget: QWidget) -> str:
    return f"{type(widget).__name__} {widget.windowTitle()!r}"


def _close(widget: QWidget) -> None:
    """End a dialog's own loop (``exec``) if it runs one, and take the dialog away."""
    if isinstance(widget, QDialog):
        widget.reject()
    widget.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep the test's own outcome on it, for ``dialogs_answered`` to read at teardown."""
    report = yield
    if call.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture(autouse=True)
def dialogs_answered(request: pytest.FixtureRequest) -> Iterator[_LeftOpenGuard]:
    folder = print_dialogs._last_pdf_folder
    guard = _LeftOpenGuard()
    try:
        yield guard
    finally:
        guard.stop()
        print_dialogs._last_pdf_folder = folder
        left = [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, QDialog) and w.isVisible() and shiboken6.isValid(w)
        ]
        for dialog in left:
            guard.closed.append(_name(dialog))
            _close(dialog)
            dialog.deleteLater()
        shiboken6.delete(guard)
    if guard.closed and not request.node.stash.get(_CALL_FAILED, False):
        # A test that failed already says why (its dialog answer or its wait); one that passed
        # with a dialog left open fails here.
        pytest.fail(f"dialogs left open, closed so later tests run: {', '.join(guard.closed)}")


D = TypeVar("D", bound=QWidget)


class DialogAnswers:
    """Answers the modal dialogs a test opens, from timers, as a user would.

    An answer that fails (an assertion, a button not found) is kept in ``errors`` rather than
    raised inside the dialog's loop, and every dialog open is rejected, so their loops end at
    once: the test goes on to fail at ``check()``, once, instead of waiting on a dialog nobody
    answers."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    def when_open(
        self, kind: type[D], act: Callable[[D], None], *, timeout_s: float = 10.0
    ) -> None:
        """Call ``act(dialog)`` once a ``kind`` is the modal dialog (within ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s

        def look() -> None:
            dialog = QApplication.activeModalWidget()
            if not isinstance(dialog, kind):
                if time.monotonic() < deadline:
                    QTimer.singleShot(20, look)
                else:
                    self._failed(AssertionError(f"no {kind.__name__} opened in {timeout_s} s"))
                return
            try:
                act(dialog)
            except BaseException as err:  # kept for check(); raised here it would strand us
                self._failed(err)

        QTimer.singleShot(20, look)

    def _failed(self, err: BaseException) -> None:
        self.errors.append(err)
        for _ in range(10):  # the innermost first: each loop ends as its dialog goes
            dialog = QApplication.activeModalWidget()
            if dialog is None:
                break
            _close(dialog)

    def check(self) -> None:
        """Raise the first answer that failed."""
        if self.errors:
            raise self.errors[0]


@pytest.fixture
def answers() -> DialogAnswers:
    return DialogAnswers()


def drop_printer(printer: QObject) -> None:
    """Delete ``printer`` once the documents it is building are built: their delivery (a
    preview, a Save dialog) then never reaches a later test, whose patches are not this one's."""
    wait_for_background_work()
    if shiboken6.isValid(printer):
        shiboken6.delete(printer)
