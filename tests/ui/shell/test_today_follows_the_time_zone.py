"""A change of the clinic's time zone moves "today" at once: a window on today goes to the new
today without anyone pressing Today; a window on another day stays there.

A user trial changed the zone in Settings and the main window stayed on "Sunday, December 6"
until Today was pressed.  The clinic day of tests/ui/clinic_day.py (New York); the injected
clock is Tuesday 24 November 13:15 there, already Wednesday 08:15 on Kiritimati (UTC+14).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.schedule.day import clinic_today
from ketadesk.services.settings.clinic_details import clinic_details, save_clinic_details
from ketadesk.ui.common.background import background_work_pending
from ketadesk.ui.shell.main_window import MainWindow
from tests.clinic_fixtures import SmallClinic
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import desk_controller_of, open_desk_window, wait_for_day
from tests.ui.sql_guard import allow_gui_thread_sql

FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")
AHEAD = "Pacific/Kiritimati"


@pytest.fixture
def window(qtbot: QtBot, clinic: SmallClinic) -> Iterator[MainWindow]:
    win = open_desk_window(
        qtbot, clinic.db, None, now=lambda: NOW, actor=FRONT_DESK, size=(1200, 800)
    )
    qtbot.waitUntil(lambda: not background_work_pending(), timeout=10_000)
    yield win
    win.close()


def _move_the_clinic_to(clinic: SmallClinic, zone: str) -> dt.date:
    """Save the clinic's time zone as Settings does; the clinic's new today."""
    details = clinic_details(clinic.db)
    save_clinic_details(clinic.db, SYSTEM, dataclasses.replace(details, timezone=zone), now=NOW)
    return clinic_today(clinic.db, now=NOW)


def _notice_the_change(qtbot: QtBot, window: MainWindow) -> None:
    watcher = desk_controller_of(window).watcher
    qtbot.waitUntil(watcher.has_noted_the_counter)
    with allow_gui_thread_sql():  # the test's own look, instead of waiting for the poll
        assert watcher.check_now()
    qtbot.waitUntil(lambda: not background_work_pending(), timeout=10_000)
    wait_for_day(qtbot, window)


def test_a_window_on_today_goes_to_the_new_today(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic
) -> None:
    before = window.day()
    assert before == clinic_today(clinic.db, now=NOW)
    after = _move_the_clinic_to(clinic, AHEAD)
    assert after == before + dt.timedelta(days=1)
    _notice_the_change(qtbot, window)
    assert window.day() == after
    schedule = window.day_view.schedule()
    assert schedule is not None
    assert schedule.day == after


def test_a_window_on_another_day_stays_there(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic
) -> None:
    other = window.day() - dt.timedelta(days=3)
    window.set_day(other)
    wait_for_day(qtbot, window)
    _move_the_clinic_to(clinic, AHEAD)
    _notice_the_change(qtbot, window)
    assert window.day() == other
