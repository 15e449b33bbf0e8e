"""A nurse's trial: a patient checked in and never started passed her planned end with nothing
on the chair board or the day view, which flag a session running over.  Checked in and still
waiting ``[confirmations] not_started_minutes`` (30) after the planned start, or at the planned
end, she is an overrun on both.

Bayside's staffed Tuesday (tests/services/staffed_day.py): Mary Seacole's Spravato 10:00-12:30
in Room 2, checked in at 09:50 and never started.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from ketadesk.scheduling.confirmations import NOT_STARTED
from ketadesk.services.booking.appointment_changes import change_status
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.monitoring.chair_board import ChairCard, chair_board
from ketadesk.ui.timeline.day_view import DayView
from tests.pictures import picture_folder
from tests.services.staffed_day import TUESDAY, StaffedDay, build_staffed_day
from tests.ui.monitoring.test_chair_board_agrees_with_the_clinic import (
    Clock,
    card,
    line,
    open_board,
    summary,
)
from tests.ui.shell.desk_helpers import wait_for_day

FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")


@pytest.fixture
def staffed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffedDay]:
    folder = tmp_path_factory.mktemp("waiting")
    built = build_staffed_day(f"sqlite:///{folder / 'clinic.sqlite'}")
    change_status(
        built.clinic.db,
        SYSTEM,
        built.appointments["spravato"],
        "check_in",
        now=built.clinic.at(TUESDAY, "09:50"),
    )
    yield built
    built.clinic.db.dispose()


def _mary(staffed: StaffedDay, hhmm: str) -> ChairCard:
    board = chair_board(staffed.clinic.db, SYSTEM, now=staffed.clinic.at(TUESDAY, hhmm))
    return next(c for c in board.cards if c.appointment_id == staffed.appointments["spravato"])


def test_the_board_flags_a_patient_checked_in_and_not_started(
    qtbot: QtBot, staffed: StaffedDay
) -> None:
    waiting = _mary(staffed, "10:29")
    assert (waiting.stage, waiting.overrun) == ("waiting", False)
    assert waiting.late == ("BP pre-dose overdue since 10:10",)  # (the check, as before)
    overdue = _mary(staffed, "10:30")  # 30 min after the planned start
    assert overdue.overrun
    assert "Checked in, not started (due 10:00)" in overdue.late
    past_end = _mary(staffed, "12:45")
    assert past_end.overrun
    assert "Checked in, not started (due 10:00); its planned end 12:30 has passed" in (
        past_end.late
    )
    board = open_board(qtbot, staffed, Clock(staffed.clinic.at(TUESDAY, "12:45")))
    qtbot.waitUntil(lambda: card(board, "Room 2").isVisible(), timeout=5000)
    shown = card(board, "Room 2")
    assert "⚠ Checked in, not started (due 10:00); its planned end 12:30 has passed" in line(
        shown, "late"
    )
    assert "need attention" in summary(board)  # Mary's chair and Ada who never came
    board.grab().save(str(picture_folder("record") / "chair_board_not_started.png"))


def test_the_day_view_runs_the_block_on_as_an_overrun(qtbot: QtBot, staffed: StaffedDay) -> None:
    from ketadesk.commands.run import open_day_window

    clock = [staffed.clinic.at(TUESDAY, "10:29")]
    win = open_day_window(staffed.clinic.db, TUESDAY, now=lambda: clock[0], actor=FRONT_DESK)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    wait_for_day(qtbot, win)
    view = win.day_view
    assert isinstance(view, DayView)
    schedule = view.schedule()
    assert schedule is not None
    mary = next(a for a in schedule.appointments if a.id == staffed.appointments["spravato"])
    assert view.arrival_of(mary, schedule) != NOT_STARTED
    clock[0] = staffed.clinic.at(TUESDAY, "10:30")
    assert view.arrival_of(mary, schedule) == NOT_STARTED
    # Past the planned end the block runs on to now, hatched red as a session running over.
    clock[0] = staffed.clinic.at(TUESDAY, "12:45")
    view._on_minute_timer_timeout()
    layout = view.day_layout()
    assert layout is not None
    block = next(b for b in layout.blocks if b.appointment.id == mary.id)
    assert block.overrun_from is not None
    assert block.overrun_minutes == 15
    # Counted from the planned start (10:00), not the end (a trial's "+142" counted from it).
    assert (
        "Checked in, not started: 165 min after its start (due 10:00); 15 min past its "
        "planned end 12:30" in view._tooltip(block)
    )
    qtbot.wait(50)
    win.grab().save(str(picture_folder("record") / "day_view_not_started.png"))


def test_a_started_session_is_not_flagged_as_not_started(staffed: StaffedDay) -> None:
    change_status(
        staffed.clinic.db,
        SYSTEM,
        staffed.appointments["spravato"],
        "start",
        now=staffed.clinic.at(TUESDAY, "10:20"),
    )
    started = _mary(staffed, "10:45")
    assert started.stage == "in_session"
    assert not started.overrun
    assert not any("not started" in words for words in started.late)
    assert isinstance(started.start, dt.datetime)
