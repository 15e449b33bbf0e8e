"""Work off the GUI thread: the outcome comes back on the GUI thread, and after the first paint."""

from __future__ import annotations

import threading

from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from ketadesk.ui.common.background import BackgroundCall, call_after_first_paint


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
