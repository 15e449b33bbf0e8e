"""The days either side of the day shown are read ahead, so that "next day" only paints; what
was read ahead is forgotten as soon as the clinic changes, here or at another workstation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import Actor
from ketadesk.store.database import open_database
from ketadesk.ui.shell.main_window import MainWindow
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY, WEDNESDAY, build_clinic_day
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import desk_controller_of, open_desk_window, wait_for_day
from tests.ui.sql_guard import allow_gui_thread_sql

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
MONDAY = TUESDAY - dt.timedelta(days=1)


@pytest.fixture
def shared_clinic(db_url: str) -> Iterator[tuple[SmallClinic, str]]:
    c = build_clinic_day(db_url)
    yield c, db_url
    c.db.dispose()


def _window(qtbot: QtBot, clinic: SmallClinic, day: dt.date) -> MainWindow:
    window = open_desk_window(
        qtbot, clinic.db, day, now=lambda: NOW, actor=FRONT_DESK, size=(1200, 800)
    )
    # Once the watcher counts changes, the day is read again if it was read at an older
    # counter (``DeskController._on_counting``): that read, too, is waited for.
    qtbot.waitUntil(desk_controller_of(window).watcher.has_noted_the_counter, timeout=10_000)
    wait_for_day(qtbot, window)
    return window


def _patients(window: MainWindow) -> set[str]:
    schedule = window.day_view.schedule()
    assert schedule is not None
    return {a.patient_name for a in schedule.appointments}


def test_the_next_day_read_ahead_is_shown_without_waiting(
    qtbot: QtBot, shared_clinic: tuple[SmallClinic, str]
) -> None:
    clinic, _url = shared_clinic
    window = _window(qtbot, clinic, TUESDAY)
    qtbot.waitUntil(lambda: window.is_read_ahead(WEDNESDAY) and window.is_read_ahead(MONDAY))
    window.actions_by_name["next_day"].trigger()
    # Shown in the same breath: no read on a worker to wait for.
    assert not window.is_reading()
    schedule = window.day_view.schedule()
    assert schedule is not None
    assert schedule.day == WEDNESDAY
    # And the day after is read ahead in turn.
    qtbot.waitUntil(lambda: window.is_read_ahead(WEDNESDAY + dt.timedelta(days=1)))


def test_a_day_read_ahead_is_forgotten_when_another_workstation_changes_the_clinic(
    qtbot: QtBot, shared_clinic: tuple[SmallClinic, str]
) -> None:
    clinic, url = shared_clinic
    window = _window(qtbot, clinic, MONDAY)
    qtbot.waitUntil(lambda: window.is_read_ahead(TUESDAY))
    watcher = desk_controller_of(window).watcher
    qtbot.waitUntil(watcher.has_noted_the_counter)  # it has noted the counter
    # Another workstation, its own connection to the clinic, books Tuesday.
    other = open_database(url)
    try:
        request = BookingRequest(
            patient_id=clinic.ids["Mary Seacole"],
            sessions=(
                clinic.session(
                    "iv_infusion",
                    TUESDAY,
                    "12:00",
                    {"room": "Room 3", "monitor": "Monitor 3", "nurse": "Nurse Kim"},
                ),
            ),
        )
        booking.book(other, FRONT_DESK, request, now=NOW)
    finally:
        other.dispose()
    with allow_gui_thread_sql():  # the test's own look, instead of waiting for the poll
        assert watcher.check_now()
    assert not window.is_read_ahead(TUESDAY)
    wait_for_day(qtbot, window)
    window.actions_by_name["next_day"].trigger()
    wait_for_day(qtbot, window)
    assert window.day_view.schedule() is not None
    assert "Seacole, Mary" in _patients(window)


def test_this_workstations_own_change_forgets_the_days_read_ahead(
    qtbot: QtBot, shared_clinic: tuple[SmallClinic, str]
) -> None:
    clinic, _url = shared_clinic
    window = _window(qtbot, clinic, MONDAY)
    qtbot.waitUntil(lambda: window.is_read_ahead(TUESDAY))
    # What the desk does after each of its own writes (an edit, its undo, a booking).
    window.refresh()
    assert not window.is_read_ahead(TUESDAY)
    wait_for_day(qtbot, window)
