"""A move (a drop, its undo, its redo) shows at once, before the writer worker answers: the
block is drawn at its new place in the same frame, the day read again after the write confirms
it, and a refused move is put back where the day was read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import Actor
from ketadesk.services.schedule.day_schedule import with_moved
from ketadesk.services.schedule.week import week_schedule, week_with_moved
from ketadesk.ui.shell.main_window import MainWindow
from ketadesk.ui.timeline.day_view import DayView
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY, build_clinic_day
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import desk_controller_of, open_desk_window

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_clinic_day(db_url)
    yield c
    c.db.dispose()


def _window(qtbot: QtBot, clinic: SmallClinic) -> MainWindow:
    return open_desk_window(
        qtbot, clinic.db, TUESDAY, now=lambda: NOW, actor=FRONT_DESK, size=(1200, 800)
    )


def _place(view: DayView, appointment_id: int) -> tuple[dt.datetime, int | None] | None:
    """Where the view draws a session's block: its start and its column."""
    layout = view.day_layout()
    block = layout.block_of(appointment_id) if layout is not None else None
    return (block.appointment.start, block.appointment.room_id) if block is not None else None


def _ada(window: MainWindow) -> int:
    """Ada Lovelace's IV infusion at 09:00 in Room 1 (before the clinic's now)."""
    schedule = window.day_view.schedule()
    assert schedule is not None
    return next(
        a.id
        for a in schedule.appointments
        if a.patient_name.startswith("Lovelace") and a.session_type_code == "iv_infusion"
    )


def _book_mary(clinic: SmallClinic) -> int:
    """Mary Seacole's IV infusion at 13:00 in Room 3, booked as the desk books (with its
    monitor and nurse held)."""
    where = {"room": "Room 3", "monitor": "Monitor 2", "nurse": "Nurse Kim"}
    request = BookingRequest(
        patient_id=clinic.ids["Mary Seacole"],
        sessions=(clinic.session("iv_infusion", TUESDAY, "13:00", where),),
    )
    return booking.book(clinic.db, FRONT_DESK, request, now=NOW).appointment_ids[0]


def test_a_move_and_its_undo_show_at_once_and_the_write_confirms_them(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    mary = _book_mary(clinic)
    window = _window(qtbot, clinic)
    view, editor = window.day_view, desk_controller_of(window).editor
    before = _place(view, mary)
    target = (clinic.at(TUESDAY, "15:30"), clinic.ids["Room 3"])
    editor.move(mary, *target)
    # Drawn there in this very frame: nothing has been written yet.
    assert editor.is_busy()
    assert view.shows_moves_ahead()
    assert _place(view, mary) == target
    qtbot.waitUntil(lambda: not editor.is_busy() and not window.is_reading(), timeout=10_000)
    qtbot.waitUntil(lambda: not view.shows_moves_ahead())  # the day read again confirms it
    assert _place(view, mary) == target
    assert editor.stack.canUndo()

    refused: list[str] = []
    editor.refused.connect(refused.append)
    window.actions_by_name["undo"].trigger()
    assert view.shows_moves_ahead()
    assert _place(view, mary) == before  # back at once
    qtbot.waitUntil(lambda: not editor.is_busy() and not window.is_reading(), timeout=10_000)
    qtbot.waitUntil(lambda: not view.shows_moves_ahead())
    assert refused == []
    assert _place(view, mary) == before


def test_a_refused_move_is_put_back(qtbot: QtBot, clinic: SmallClinic) -> None:
    window = _window(qtbot, clinic)
    view, editor = window.day_view, desk_controller_of(window).editor
    ada = _ada(window)
    before = _place(view, ada)
    schedule = view.schedule()
    assert schedule is not None
    # Onto Grace Hopper's session in Room 1 at 11:00: the database refuses it.
    taken = (clinic.at(TUESDAY, "11:00"), clinic.ids["Room 1"])
    refused: list[str] = []
    editor.refused.connect(refused.append)
    editor.move(ada, *taken)
    assert _place(view, ada) == taken  # shown at once, as any drop
    qtbot.waitUntil(lambda: bool(refused), timeout=10_000)
    assert not view.shows_moves_ahead()
    assert _place(view, ada) == before
    assert view.schedule() is schedule  # the day as read, not a copy
    assert editor.stack.count() == 0


def test_a_day_with_a_session_moved_keeps_everything_else(clinic: SmallClinic) -> None:
    from ketadesk.services.schedule.day import day_schedule, staff_day_schedule

    day = day_schedule(clinic.db, TUESDAY)
    ada = next(a for a in day.appointments if a.session_type_code == "iv_infusion")
    later = ada.start + dt.timedelta(hours=5)
    moved = with_moved(day, ada.id, later, clinic.ids["Room 3"])
    assert moved is not None
    (shifted,) = [a for a in moved.appointments if a.id == ada.id]
    assert (shifted.start, shifted.end - shifted.start) == (later, ada.end - ada.start)
    assert shifted.room_id == clinic.ids["Room 3"]
    assert shifted.room_name == "Room 3"
    assert [p.start - ada.start for p in ada.phases] == [p.start - later for p in shifted.phases]
    assert [a.start for a in moved.appointments] == sorted(a.start for a in moved.appointments)
    assert {a.id for a in moved.appointments} == {a.id for a in day.appointments}
    # Leaving the day, or a room that is not a column: wait for the day read again.
    assert with_moved(day, ada.id, ada.start + dt.timedelta(days=1), ada.room_id) is None
    assert with_moved(day, ada.id, later, -1) is None
    assert with_moved(day, -1, later, ada.room_id) is None
    # By staff, the session stays in its staff members' columns.
    staff = staff_day_schedule(clinic.db, TUESDAY)
    copies = [a for a in staff.appointments if a.id == ada.id]
    by_staff = with_moved(staff, ada.id, later, clinic.ids["Room 3"])
    assert by_staff is not None
    assert sorted(a.room_id or 0 for a in by_staff.appointments if a.id == ada.id) == sorted(
        a.room_id or 0 for a in copies
    )


def test_a_week_with_a_session_moved_to_another_day(clinic: SmallClinic) -> None:
    monday = TUESDAY - dt.timedelta(days=TUESDAY.weekday())
    week = week_schedule(clinic.db, monday)
    tuesday = week.days[1]
    ada = next(a for a in tuesday.appointments if a.session_type_code == "iv_infusion")
    friday = ada.start + dt.timedelta(days=3)
    moved = week_with_moved(week, ada.id, friday, ada.room_id)
    assert moved is not None
    assert ada.id not in {a.id for a in moved.days[1].appointments}
    assert [a.start for a in moved.days[4].appointments if a.id == ada.id] == [friday]
    # A week of other rooms only: the session leaves it.
    others = week_schedule(clinic.db, monday, room_ids=[clinic.ids["Room 2"]])
    assert week_with_moved(others, ada.id, friday, ada.room_id) is None
    rooms = week_schedule(clinic.db, monday, room_ids=[clinic.ids["Room 1"]])
    away = week_with_moved(rooms, ada.id, friday, clinic.ids["Room 2"])
    assert away is not None
    assert ada.id not in {a.id for d in away.days for a in d.appointments}
