"""The clinic's time format on screen: a US clinic's front desk reads "9:00–10:40 AM" and a
ruler of "9 AM", "1 PM"; a clinic that chooses 24-hour reads "09:00–10:40", and an open window
changes over as soon as the setting is saved (at this or another workstation), without a
restart, as a change of the time zone does.

A user trial found the day view, the week view and opening hours in 24-hour while the card and
the day sheet's "Printed … 12:38 AM" were 12-hour.  The clinic day of tests/ui/clinic_day.py:
Ada Lovelace's IV infusion in Room 1 at 09:00, 100 minutes.  The small clinic reads 24-hour
(tests/clinic_fixtures.py), so each test chooses 12-hour first, as Settings would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.settings.clinic_details import clinic_details, save_clinic_details
from ketadesk.ui.common.background import background_work_pending
from ketadesk.ui.shell.main_window import MainWindow
from ketadesk.ui.timeline.week_view import WeekView
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import desk_controller_of, open_desk_window, wait_for_day
from tests.ui.sql_guard import allow_gui_thread_sql

FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")


@pytest.fixture
def window(qtbot: QtBot, clinic: SmallClinic) -> Iterator[MainWindow]:
    win = open_desk_window(
        qtbot, clinic.db, None, now=lambda: NOW, actor=FRONT_DESK, size=(1200, 800)
    )
    qtbot.waitUntil(lambda: not background_work_pending(), timeout=10_000)
    yield win
    win.close()


def _choose(clinic: SmallClinic, fmt: str) -> None:
    """Save the clinic's time format as Settings ▸ Clinic does."""
    details = clinic_details(clinic.db)
    save_clinic_details(clinic.db, SYSTEM, dataclasses.replace(details, time_format=fmt), now=NOW)


def _notice_the_change(qtbot: QtBot, window: MainWindow) -> None:
    watcher = desk_controller_of(window).watcher
    qtbot.waitUntil(watcher.has_noted_the_counter)
    with allow_gui_thread_sql():  # the test's own look, instead of waiting for the poll
        assert watcher.check_now()
    qtbot.waitUntil(lambda: not background_work_pending(), timeout=10_000)
    wait_for_day(qtbot, window)


def _ada(window: MainWindow) -> int:
    schedule = window.day_view.schedule()
    assert schedule is not None
    return next(
        a.id
        for a in schedule.appointments
        if a.patient_name.startswith("Lovelace") and a.start.hour == 9
    )


def _ruler(window: MainWindow) -> list[str]:
    layout = window.day_view.day_layout()
    assert layout is not None
    return [t.label for t in layout.ticks if t.label]


def test_the_day_reads_twelve_hour_then_follows_a_change_to_24_hour(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic
) -> None:
    _choose(clinic, "12h")  # a US clinic's default (the small clinic's tests read 24-hour)
    _notice_the_change(qtbot, window)
    ada = _ada(window)
    assert "9:00–10:40 AM" in window.day_view.tooltip_of(ada)
    ruler = _ruler(window)
    assert {"9 AM", "12 PM", "1 PM"} <= set(ruler)
    assert "open 7:30 AM–6:00 PM" in window.summary()  # the status line's opening hours
    window.grab().save(str(picture_folder("time_format") / "day-12h.png"))

    _choose(clinic, "24h")
    _notice_the_change(qtbot, window)

    assert "09:00–10:40" in window.day_view.tooltip_of(ada)
    assert "AM" not in window.day_view.tooltip_of(ada)
    assert {"09:00", "12:00", "13:00"} <= set(_ruler(window))
    assert "open 07:30–18:00" in window.summary()
    window.grab().save(str(picture_folder("time_format") / "day-24h.png"))


def test_the_week_says_the_start_beside_its_hour_row_in_either_format(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic
) -> None:
    _choose(clinic, "12h")
    _notice_the_change(qtbot, window)
    ada = _ada(window)
    window.set_view("week")
    week = window.page("week")
    assert isinstance(week, WeekView)
    qtbot.waitUntil(lambda: bool(week.block_text(ada)), timeout=10_000)
    # The hour row says "9 AM"; the block says the start as narrow as it reads.
    assert week.block_text(ada)[0].startswith("9:00 ")
    _choose(clinic, "24h")
    _notice_the_change(qtbot, window)
    qtbot.waitUntil(lambda: week.block_text(ada)[0].startswith("09:00 "), timeout=10_000)
