"""The left panel over several restarts, opened as `ketadesk run` opens a clinic server's window:
covered (no panel) until someone signs in (trial 3, S7: from the second start on, the panel came
back about 1,080 px wide in a 1,400 px window, leaving the schedule one room column)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDockWidget
from pytestqt.qtbot import QtBot

from ketadesk.services.access import accounts
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.schedule.day import day_schedule
from ketadesk.ui.shell.main_window import MAX_SIDE_PANEL_SHARE, MainWindow
from ketadesk.ui.shell.session import SignedInSession
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import wait_for_day


def _dock(win: MainWindow) -> QDockWidget:
    dock = win.findChild(QDockWidget, "side_dock")
    assert isinstance(dock, QDockWidget)
    return dock


def _panel_within_its_share(win: MainWindow) -> bool:
    return _dock(win).width() <= win.width() * MAX_SIDE_PANEL_SHARE + 1


class _Workstation:
    """One workstation's starts of the application, each as `ketadesk run --db URL` does it."""

    def __init__(self, qtbot: QtBot, clinic: SmallClinic, tmp_path: Path) -> None:
        self.qtbot, self.clinic = qtbot, clinic
        self.settings = QSettings(str(tmp_path / "ws.ini"), QSettings.Format.IniFormat)
        info = accounts.create_user(
            clinic.db, SYSTEM, "kim", "Kim", "nurse", "a long password 1", now=NOW
        )
        self.kim = Actor(info.id, info.username, info.role)

    def start(self) -> tuple[MainWindow, SignedInSession]:
        """The window built, covered and shown at 1,400 x 900, then signed into."""
        win = MainWindow(
            load_day=partial(day_schedule, self.clinic.db),
            today=lambda: TUESDAY,
            database_label=self.clinic.db.label,
            start_day=TUESDAY,
            now=lambda: NOW,
            settings=self.settings,
        )
        self.qtbot.addWidget(win)
        win.set_signed_out(True)
        win.resize(1400, 900)
        win.show()
        self.qtbot.waitExposed(win)
        self.qtbot.wait(50)  # the sign-in box is up for a while: the covered window is laid out

        def ask(db: object, parent: object, *, username: str = "", hint: str = "") -> Actor:
            return self.kim

        session = SignedInSession(
            win, self.clinic.db, settings=self.settings, now=lambda: NOW, ask_sign_in=ask
        )
        assert session.start(accounts.sign_in_screen(self.clinic.db))
        wait_for_day(self.qtbot, win)
        self.qtbot.wait(50)
        return win, session


def test_the_left_panel_keeps_its_width_over_restarts(
    qtbot: QtBot, clinic: SmallClinic, tmp_path: Path
) -> None:
    desk = _Workstation(qtbot, clinic, tmp_path)
    win, session = desk.start()
    win.resizeDocks([_dock(win)], [330], Qt.Orientation.Horizontal)  # dragged a little wider
    qtbot.waitUntil(lambda: abs(_dock(win).width() - 330) <= 2)
    win.close()
    session.close()
    for restart in (1, 2, 3):
        win, session = desk.start()
        width = _dock(win).width()
        if restart == 3:
            win.grab().save(str(picture_folder("trial3") / "left_panel_third_restart.png"))
        assert abs(width - 330) <= 2, f"restart {restart}: the panel came back {width} px wide"
        assert win.day_view.width() >= win.width() // 2
        win.close()
        session.close()


def test_a_remembered_panel_wider_than_its_share_comes_back_narrower(
    qtbot: QtBot, clinic: SmallClinic, tmp_path: Path
) -> None:
    desk = _Workstation(qtbot, clinic, tmp_path)
    win, session = desk.start()
    win.resizeDocks([_dock(win)], [1100], Qt.Orientation.Horizontal)  # as the trial saved it
    qtbot.waitUntil(lambda: _dock(win).width() > 1000)
    win.close()
    session.close()
    for _restart in (1, 2):  # and it stays so
        win, session = desk.start()
        assert _dock(win).isVisible()
        qtbot.waitUntil(partial(_panel_within_its_share, win), timeout=1000)
        win.close()
        session.close()


def test_a_window_closed_at_the_sign_in_keeps_the_remembered_panel(
    qtbot: QtBot, clinic: SmallClinic, tmp_path: Path
) -> None:
    desk = _Workstation(qtbot, clinic, tmp_path)
    win, session = desk.start()
    win.resizeDocks([_dock(win)], [330], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: abs(_dock(win).width() - 330) <= 2)
    win.close()
    session.close()
    covered = MainWindow(
        load_day=partial(day_schedule, clinic.db),
        today=lambda: TUESDAY,
        database_label=clinic.db.label,
        start_day=TUESDAY,
        now=lambda: NOW,
        settings=desk.settings,
    )
    qtbot.addWidget(covered)
    covered.set_signed_out(True)
    covered.show()
    qtbot.waitExposed(covered)
    covered.close()  # the sign-in was cancelled
    win, session = desk.start()
    assert abs(_dock(win).width() - 330) <= 2
    win.close()
    session.close()
