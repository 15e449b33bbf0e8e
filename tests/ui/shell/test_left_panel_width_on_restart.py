"""The left panel as the window remembers it between runs (issue 15: on the second start the
remembered panel came back 1,326 px wide, leaving 68 px for the schedule in every view)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDockWidget
from pytestqt.qtbot import QtBot

from ketadesk.ui.shell.main_window import MAX_SIDE_PANEL_SHARE, MainWindow
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import open_remembering_window


def _open(qtbot: QtBot, clinic: SmallClinic, settings: QSettings) -> MainWindow:
    return open_remembering_window(qtbot, clinic.db, TUESDAY, NOW, settings)


def _dock(win: MainWindow) -> QDockWidget:
    dock = win.findChild(QDockWidget, "side_dock")
    assert isinstance(dock, QDockWidget)
    return dock


def test_a_remembered_wide_left_panel_leaves_the_schedule_its_room(
    qtbot: QtBot, clinic: SmallClinic, tmp_path: Path
) -> None:
    settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    first = _open(qtbot, clinic, settings)
    first.resize(1400, 900)
    qtbot.wait(50)
    first.resizeDocks([_dock(first)], [1326], Qt.Orientation.Horizontal)  # dragged far right
    qtbot.waitUntil(lambda: _dock(first).width() > 1000)
    first.close()

    second = _open(qtbot, clinic, settings)
    qtbot.wait(50)
    dock = _dock(second)
    width = second.width()
    second.grab().save(str(picture_folder("fix15") / "left_panel_second_start.png"))
    assert dock.isVisible()
    assert dock.width() <= width * MAX_SIDE_PANEL_SHARE + 1
    assert second.day_view.width() >= width // 2  # the schedule keeps most of the window
    second.close()
