"""Every view shows the day its heading says, whichever view changed the date.

A user trial went from the day by room to the day by staff, pressed "Previous day" there, and
came back with Ctrl+1: the heading said the new day while the columns still held the old day's
sessions, and the status bar kept counting them, on the staff view too.  F5 and waiting did not
help.  The day by room only read a day when the date changed on it.

The clinic day of tests/ui/clinic_day.py: a busy Tuesday, an empty Wednesday.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import Actor
from ketadesk.ui.common.background import background_work_pending
from ketadesk.ui.shell.main_window import MainWindow
from ketadesk.ui.timeline.day_view import DayView
from ketadesk.ui.timeline.week_view import WeekView
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY, TUESDAY_SESSIONS, WEDNESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import open_desk_window

FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")
TUESDAY_ACTIVE = sum(1 for s in TUESDAY_SESSIONS if s[4] != "cancelled")


@pytest.fixture
def window(qtbot: QtBot, clinic: SmallClinic) -> Iterator[MainWindow]:
    win = open_desk_window(qtbot, clinic.db, TUESDAY, now=lambda: NOW, actor=FRONT_DESK)
    yield win
    win.close()


def _settle(qtbot: QtBot, win: MainWindow) -> None:
    """Wait for every read on a worker (the day, the staff day, the week, reads ahead)."""
    qtbot.waitUntil(lambda: not win.is_reading() and not background_work_pending(), timeout=10_000)
    qtbot.wait(50)  # results delivered on the GUI thread


def _status(win: MainWindow) -> str:
    label = win.statusBar().findChild(QLabel, "day_summary")
    assert label is not None
    return label.text()


def _go(qtbot: QtBot, win: MainWindow, view: str) -> None:
    win.actions_by_name[f"view_{view}"].trigger()
    _settle(qtbot, win)


def _day_shown(win: MainWindow, view: str) -> dt.date | None:
    page = win.page(view)
    assert isinstance(page, DayView)
    schedule = page.schedule()
    return schedule.day if schedule is not None else None


def _patients_shown(win: MainWindow, view: str) -> set[str]:
    page = win.page(view)
    assert isinstance(page, DayView)
    schedule = page.schedule()
    assert schedule is not None
    return {a.patient_name for a in schedule.appointments}


def test_a_day_chosen_on_the_staff_view_is_the_day_by_rooms_day(
    qtbot: QtBot, window: MainWindow
) -> None:
    _settle(qtbot, window)
    assert _status(window).startswith(f"{TUESDAY_ACTIVE} sessions")
    _go(qtbot, window, "staff")
    window.actions_by_name["next_day"].trigger()
    _settle(qtbot, window)
    assert _day_shown(window, "staff") == WEDNESDAY
    # The status bar counts the day the staff view shows, not the day by room's last day.
    assert _status(window).startswith("0 sessions"), _status(window)

    _go(qtbot, window, "rooms")
    assert window.day() == WEDNESDAY
    assert _day_shown(window, "rooms") == WEDNESDAY
    assert _patients_shown(window, "rooms") == set()
    assert _status(window).startswith("0 sessions"), _status(window)

    # And back: the staff view follows a day chosen on the day by room.
    window.actions_by_name["previous_day"].trigger()
    _settle(qtbot, window)
    assert _day_shown(window, "rooms") == TUESDAY
    _go(qtbot, window, "staff")
    assert _day_shown(window, "staff") == TUESDAY
    assert "Lovelace, Ada" in _patients_shown(window, "staff")
    assert _status(window).startswith(f"{TUESDAY_ACTIVE} sessions"), _status(window)


def test_a_day_chosen_on_the_staff_view_survives_f5_on_the_day_by_room(
    qtbot: QtBot, window: MainWindow
) -> None:
    _go(qtbot, window, "staff")
    window.actions_by_name["next_day"].trigger()
    _settle(qtbot, window)
    _go(qtbot, window, "rooms")
    window.actions_by_name["refresh"].trigger()
    _settle(qtbot, window)
    assert _day_shown(window, "rooms") == WEDNESDAY
    assert _status(window).startswith("0 sessions"), _status(window)


def test_a_week_chosen_on_the_week_view_is_the_days_of_the_other_views(
    qtbot: QtBot, window: MainWindow
) -> None:
    _go(qtbot, window, "week")
    window.actions_by_name["next_day"].trigger()  # a week on, on the week view
    _settle(qtbot, window)
    next_tuesday = TUESDAY + dt.timedelta(days=7)
    assert window.day() == next_tuesday
    week = window.page("week")
    assert isinstance(week, WeekView)
    shown = week.week()
    assert shown is not None
    assert next_tuesday in {d.day for d in shown.days}
    assert _status(window).startswith("0 sessions this week"), _status(window)

    _go(qtbot, window, "rooms")
    assert _day_shown(window, "rooms") == next_tuesday
    assert _status(window).startswith("0 sessions"), _status(window)
    _go(qtbot, window, "staff")
    assert _day_shown(window, "staff") == next_tuesday
    assert _status(window).startswith("0 sessions"), _status(window)

    # A day chosen on the staff view is the week view's week.
    for _ in range(7):
        window.actions_by_name["previous_day"].trigger()
    _settle(qtbot, window)
    assert _day_shown(window, "staff") == TUESDAY
    _go(qtbot, window, "week")
    shown = week.week()
    assert shown is not None
    assert TUESDAY in {d.day for d in shown.days}
    in_week = sum(d.active_count for d in shown.days)
    assert in_week >= TUESDAY_ACTIVE
    assert _status(window).startswith(f"{in_week} sessions this week"), _status(window)
    _go(qtbot, window, "rooms")
    assert _day_shown(window, "rooms") == TUESDAY
    assert _status(window).startswith(f"{TUESDAY_ACTIVE} sessions"), _status(window)
