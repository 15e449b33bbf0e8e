"""Work off the GUI thread: the outcome comes back on the GUI thread, errors in words, a busy
indicator only for slow work, and work after the first paint."""

from __future__ import annotations

import threading

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QMainWindow
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import ServiceError
from ketadesk.ui.common.background import (
    BUSY_AFTER_MS,
    BackgroundCall,
    LatestOnly,
    call_after_first_paint,
    run_service,
)


def test_the_result_comes_back_on_the_gui_thread(qtbot: QtBot) -> None:
    worker_threads: list[str] = []

    def work() -> int:
        worker_threads.append(threading.current_thread().name)
        return 42

    call = BackgroundCall(work)
    received: list[tuple[object, str]] = []
    call.succeeded.connect(lambda value: received.append((value, threading.current_thread().name)))
    with qtbot.waitSignal(call.succeeded, timeout=5000):
        call.start()
    assert received == [(42, threading.main_thread().name)]
    assert worker_threads != [threading.main_thread().name]
    assert call.wait() == 42


def test_a_failure_comes_back_as_the_exception(qtbot: QtBot) -> None:
    def work() -> int:
        raise LookupError("no such clinic")

    call = BackgroundCall(work)
    with qtbot.waitSignal(call.failed, timeout=5000) as blocker:
        call.start()
    assert isinstance(blocker.args[0], LookupError)
    assert call.wait() is None


def test_waiting_for_work_never_started_returns_at_once() -> None:
    call = BackgroundCall(lambda: 1)
    assert not call.started()
    assert call.wait() is None


def test_after_first_paint_runs_once_the_widget_is_painted(qtbot: QtBot) -> None:
    label = QLabel("Tuesday")
    qtbot.addWidget(label)
    calls: list[bool] = []
    call_after_first_paint(label, lambda: calls.append(label.isVisible()))
    qtbot.wait(20)
    assert calls == []  # not shown, never painted
    label.show()
    qtbot.waitUntil(lambda: calls == [True], timeout=5000)
    label.update()
    qtbot.wait(50)
    assert calls == [True]  # once


def test_a_service_call_comes_back_to_its_callback(qtbot: QtBot) -> None:
    host = QLabel()
    qtbot.addWidget(host)
    got: list[int] = []
    run_service(host, lambda: 6 * 7, got.append)
    qtbot.waitUntil(lambda: got == [42], timeout=5000)


def test_a_refusal_comes_back_as_a_service_error_in_words(qtbot: QtBot) -> None:
    from sqlalchemy.orm.exc import StaleDataError

    def work() -> int:
        raise StaleDataError("0 rows matched")

    host = QLabel()
    qtbot.addWidget(host)
    failures: list[ServiceError] = []
    run_service(host, work, lambda _r: None, failed=failures.append)
    qtbot.waitUntil(lambda: len(failures) == 1, timeout=5000)
    assert str(failures[0]) == "changed at another workstation meanwhile; reloaded"


def test_slow_work_shows_a_busy_cursor_and_says_so_in_the_status_bar(qtbot: QtBot) -> None:
    release = threading.Event()
    window = QMainWindow()
    qtbot.addWidget(window)
    done: list[str] = []

    def work() -> str:
        release.wait(5)
        return "read"

    run_service(window, work, done.append, busy="Reading the day…")
    qtbot.wait(BUSY_AFTER_MS // 3)
    assert QGuiApplication.overrideCursor() is None  # quick work would only flicker
    qtbot.waitUntil(lambda: QGuiApplication.overrideCursor() is not None, timeout=5000)
    assert window.statusBar().currentMessage() == "Reading the day…"
    release.set()
    qtbot.waitUntil(lambda: done == ["read"], timeout=5000)
    assert QGuiApplication.overrideCursor() is None
    assert window.statusBar().currentMessage() == ""


def test_only_the_latest_read_is_shown(qtbot: QtBot) -> None:
    host = QLabel()
    qtbot.addWidget(host)
    slow = threading.Event()
    reads = LatestOnly(host)
    shown: list[str] = []

    def monday() -> str:
        slow.wait(5)
        return "Monday"

    reads.run(monday, shown.append)
    reads.run(lambda: "Tuesday", shown.append)
    qtbot.waitUntil(lambda: shown == ["Tuesday"], timeout=5000)
    slow.set()
    qtbot.waitUntil(lambda: not reads.is_busy(), timeout=5000)
    assert shown == ["Tuesday"]  # Monday's answer came too late and was dropped


def test_work_outliving_its_window_is_dropped_without_touching_the_deleted_object(
    qtbot: QtBot,
) -> None:
    """A dialog closed (and deleted) while its read was still running: the worker used to emit
    a signal of the call object, a child of that dialog, from its own thread while the GUI
    thread was deleting it, a race that ended in a segmentation fault now and then (seen in a
    parallel test run).  Workers hand their outcome through one relay that is never deleted;
    on the GUI thread the outcome is dropped when its object is gone."""
    import shiboken6

    from ketadesk.ui.common.background import wait_for_background_work

    received: list[object] = []
    rounds = 40
    for _ in range(rounds):
        window = QLabel("closing")
        release = threading.Event()

        def work(release: threading.Event = release) -> int:
            release.wait(5)
            return 1

        call = BackgroundCall(work, window)
        call.succeeded.connect(received.append)
        call.start()
        # Deleted on the GUI thread while the worker finishes and hands over its outcome.
        release.set()
        shiboken6.delete(window)
    assert wait_for_background_work(10)
    qtbot.wait(50)  # the relayed outcomes run, and find their objects gone
    assert received == []
    # Alive, the same kind of call still reports.
    window = QLabel("open")
    qtbot.addWidget(window)
    call = BackgroundCall(lambda: 2, window)
    with qtbot.waitSignal(call.succeeded, timeout=5000) as blocker:
        call.start()
    assert blocker.args == [2]
