"""Reaching the signed-in desk of a main window from a test."""

from __future__ import annotations

from ketadesk.ui.shell.main_window import MainWindow
from ketadesk.ui.shell.pages import DeskController


def desk_controller_of(window: MainWindow) -> DeskController:
    controller = window.desk_controller()
    assert controller is not None, "no clinic attached to the window"
    return controller
