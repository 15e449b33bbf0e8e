"""The suite's guard against one test stopping every later test's event loops
(tests/event_loops.py, run after every test by tests/conftest.py)."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.event_loops import restore_event_loops


def _loop_result() -> int:
    loop = QEventLoop()
    QTimer.singleShot(0, loop, lambda: loop.exit(7))
    return loop.exec()


class _Pinger(QObject):
    pinged = Signal()


def test_a_stray_quit_stops_event_loops_until_restored(qapp: QApplication, qtbot: QtBot) -> None:
    assert not restore_event_loops()  # nothing to do on a working application
    QCoreApplication.postEvent(qapp, QEvent(QEvent.Type.Quit))
    qapp.processEvents()  # handled outside exec(): Qt's "quit now" is set
    assert _loop_result() == -1  # every loop, a dialog's or pytest-qt's, returns at once
    assert restore_event_loops()
    assert _loop_result() == 7
    pinger = _Pinger()
    with qtbot.waitSignal(pinger.pinged, timeout=2000):
        QTimer.singleShot(0, pinger, pinger.pinged.emit)


def test_a_quit_still_queued_is_dropped(qapp: QApplication) -> None:
    QCoreApplication.postEvent(qapp, QEvent(QEvent.Type.Quit))
    assert not restore_event_loops()  # dropped before anything handled it
    assert _loop_result() == 7
