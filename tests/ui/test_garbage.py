"""Cyclic garbage is collected on the GUI thread only: a Qt object in a cycle left by a
background worker is freed by the timer in the GUI thread, not by the worker."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

from ketadesk.ui.common import garbage
from ketadesk.ui.common.app import create_application


def test_the_application_collects_on_the_gui_thread(qtbot: QtBot) -> None:
    app = create_application()
    collector = garbage.installed()
    assert collector is not None
    assert collector.parent() is app
    assert not gc.isenabled()
    assert collector.timer.isActive()


def test_a_cycle_made_on_a_worker_is_freed_on_the_gui_thread(qtbot: QtBot) -> None:
    create_application()
    freed_on: list[str] = []
    kept: list[object] = []

    class Holder(QObject):
        def __del__(self) -> None:
            freed_on.append(threading.current_thread().name)

    def work() -> None:
        holder = Holder()
        holder.cycle = holder  # type: ignore[attr-defined]  # a cycle only gc can free
        # Allocate (and keep) far past the first threshold: an enabled collector would run
        # here, on the worker.
        kept.extend([] for _ in range(50 * gc.get_threshold()[0]))
        del holder

    worker = threading.Thread(target=work, name="worker")
    worker.start()
    worker.join()
    assert freed_on == []
    qtbot.waitUntil(lambda: freed_on != [], timeout=10_000)
    assert freed_on == [threading.main_thread().name]
