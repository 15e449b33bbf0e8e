"""The day view survives a long session of repaints whatever the Qt bindings' defects."""

from __future__ import annotations

import sys

from pytestqt.qtbot import QtBot

from ketadesk.commands.run import open_day_window
from ketadesk.ui.common.background import wait_for_background_work
from ketadesk.ui.common.qt_workarounds import keep_none_alive
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW


def test_none_outlives_a_long_session_of_repaints(qtbot: QtBot, clinic: SmallClinic) -> None:
    window = open_day_window(clinic.db, TUESDAY, now=lambda: NOW)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    # The day is read on a worker: let it finish, so that no other thread drops references to
    # None while the repaints are counted.
    qtbot.waitUntil(lambda: not window.is_reading())
    assert wait_for_background_work()
    keep_none_alive()
    before = sys.getrefcount(None)
    # Without the workaround, PySide6 6.12.0 on Python 3.11 aborts the interpreter after a
    # few dozen repaints of a busy day (each paint makes hundreds of calls into Qt).
    for _ in range(150):
        window.day_view.grab()
    assert sys.getrefcount(None) > min(before, 1 << 20)
