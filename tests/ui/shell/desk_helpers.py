"""Reaching the signed-in desk of a main window from a test, and waiting for its reads."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from ketadesk.ui.shell.main_window import MainWindow
from ketadesk.ui.shell.pages import DeskController


def desk_controller_of(window: MainWindow) -> DeskController:
    controller = window.desk_controller()
    assert controller is not None, "no clinic attached to the window"
    return controller


def wait_for_day(qtbot: QtBot, window: MainWindow) -> None:
    """Wait until the day by room shows the day asked for last (days are read on a worker)."""
    qtbot.waitUntil(lambda: not window.is_reading(), timeout=10_000)
