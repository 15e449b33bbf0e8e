"""Reaching the signed-in desk of a main window from a test, waiting for its reads, and
opening a window with remembered settings as a restart would."""

from __future__ import annotations

import datetime as dt
from functools import partial

from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import Database
from ketadesk.services.schedule.day import day_schedule
from ketadesk.ui.shell.main_window import MainWindow
from ketadesk.ui.shell.pages import DeskController


def desk_controller_of(window: MainWindow) -> DeskController:
    controller = window.desk_controller()
    assert controller is not None, "no clinic attached to the window"
    return controller


def wait_for_day(qtbot: QtBot, window: MainWindow) -> None:
    """Wait until the day by room shows the day asked for last (days are read on a worker)."""
    qtbot.waitUntil(lambda: not window.is_reading(), timeout=10_000)


def open_remembering_window(
    qtbot: QtBot, db: Database, day: dt.date, now: dt.datetime, settings: QSettings
) -> MainWindow:
    """A main window on ``day`` of the clinic, signed out, with ``settings`` as what the
    workstation remembers (geometry, panels, the last view); shown and read."""
    win = MainWindow(
        load_day=partial(day_schedule, db),
        today=lambda: day,
        database_label=db.label,
        start_day=day,
        now=lambda: now,
        settings=settings,
    )
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    wait_for_day(qtbot, win)
    return win
