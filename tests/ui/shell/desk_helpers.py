"""Opening the main window on a clinic as start-up does (signed in or not, shown, its day
read), reaching the signed-in desk of a main window from a test, waiting for its reads, and
opening a window with remembered settings as a restart would."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from ketadesk.commands.run import open_day_window
from ketadesk.services.common.context import Actor, Database
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


#: The size most tests give the main window: the day by room with every column readable.
DESK_SIZE = (1400, 900)


def open_desk_window(
    qtbot: QtBot,
    db: Database,
    day: dt.date | None,
    *,
    now: Callable[[], dt.datetime],
    actor: Actor | None = None,
    size: tuple[int, int] | None = DESK_SIZE,
) -> MainWindow:
    """The main window on ``day`` of the clinic (None: the clinic's today) as start-up opens it
    (``open_day_window``), signed in as ``actor`` (None: nobody yet), on the clock ``now``;
    resized to ``size`` (None: its own size), shown, exposed, and with its day read.  The
    test's qtbot closes it at the end."""
    window = open_day_window(db, day, now=now, actor=actor)
    qtbot.addWidget(window)
    if size is not None:
        window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    wait_for_day(qtbot, window)
    return window


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
