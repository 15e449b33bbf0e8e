"""The view a user last had open comes back at the next start, and a window closed before
anyone signed in (start-up's early day, shown by room while the clinic opens) forgets nothing."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import Actor
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.shell.main_window import MainWindow
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import open_remembering_window

FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")


def _window(qtbot: QtBot, clinic: SmallClinic, settings: QSettings) -> MainWindow:
    return open_remembering_window(qtbot, clinic.db, TUESDAY, NOW, settings)


def _settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)


def test_the_view_last_open_comes_back_at_the_next_start(
    qtbot: QtBot, clinic: SmallClinic, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    first = _window(qtbot, clinic, settings)
    first.attach_desk(Desk(clinic.db, FRONT_DESK, lambda: NOW))
    first.set_view("week")
    assert first.view() == "week"
    first.close()

    second = _window(qtbot, clinic, _settings(tmp_path))
    assert second.remembered_view() == "week"
    second.close()


def test_a_window_closed_before_anyone_signed_in_keeps_the_remembered_view(
    qtbot: QtBot, clinic: SmallClinic, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    settings.setValue("view/last", "chairs")
    settings.sync()
    early = _window(qtbot, clinic, settings)  # the early day: by room, no desk yet
    assert early.desk() is None
    assert early.view() == "rooms"
    early.close()

    again = _window(qtbot, clinic, _settings(tmp_path))
    assert again.remembered_view() == "chairs"
    again.close()
