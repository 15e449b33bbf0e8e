"""The chair board as a first user read it (issue 15): it counted "chairs in use" when nobody was
checked in, offered "Discharge from" for patients who had not arrived, gave BP due times a minute
off the monitoring dialog's, disagreed with My day on the phase, and dropped sessions never
checked in (which My day showed as "Booked / Ended").

Bayside's staffed Tuesday (tests/services/staffed_day.py): Ada Lovelace's IV 09:00-10:40 in
Room 1 and Mary Seacole's Spravato 10:00-12:30 in Room 2, both Nurse Kim's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from ketadesk.services.booking.appointment_changes import change_status
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.monitoring.reading_schedule import readings_due
from ketadesk.services.monitoring.record_forms import bp_check_words
from ketadesk.store.models import User
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.monitoring.chair_board import ChairBoardView, ChairCardWidget
from ketadesk.ui.monitoring.my_day import Column, MyDayView
from tests.pictures import picture_folder
from tests.services.staffed_day import TUESDAY, StaffedDay, build_staffed_day


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def staffed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffedDay]:
    folder = tmp_path_factory.mktemp("board")
    built = build_staffed_day(f"sqlite:///{folder / 'clinic.sqlite'}")
    yield built
    built.clinic.db.dispose()


def open_board(qtbot: QtBot, staffed: StaffedDay, clock: Clock) -> ChairBoardView:
    view = ChairBoardView(Desk(staffed.clinic.db, SYSTEM, clock))
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: view.board() is not None and not view.is_reading(), timeout=10_000)
    view.timer().stop()
    return view


def open_my_day(qtbot: QtBot, staffed: StaffedDay, clock: Clock) -> MyDayView:
    with staffed.clinic.db.write() as session:
        user = User(
            username="kim",
            display_name="Nurse Kim",
            role="nurse",
            staff_id=staffed.id("Nurse Kim"),
        )
        session.add(user)
        session.flush()
        actor = Actor(user.id, user.username, user.role)
    view = MyDayView(Desk(staffed.clinic.db, actor, clock))
    qtbot.addWidget(view)
    view.resize(1100, 500)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: not view.is_reading() and view.model.rowCount() > 0, timeout=10_000)
    return view


def card(board: ChairBoardView, room: str) -> ChairCardWidget:
    found = board.card_for_room(room)
    assert found is not None
    return found


def line(widget: ChairCardWidget, name: str) -> str:
    label = widget.labels[name]
    return "" if label.isHidden() else label.text()


def summary(board: ChairBoardView) -> str:
    label = board.findChild(QLabel, "board_summary")
    assert label is not None
    return label.text()


def my_day_phases(view: MyDayView) -> dict[str, str]:
    model = view.model
    return {
        str(model.data(model.index(r, Column.PATIENT))): str(
            model.data(model.index(r, Column.PHASE))
        )
        for r in range(model.rowCount())
    }


def test_nobody_checked_in_means_no_chair_in_use_and_no_discharge_time(
    qtbot: QtBot, staffed: StaffedDay
) -> None:
    clock = Clock(staffed.clinic.at(TUESDAY, "10:30"))  # Ada and Mary are due, neither here
    board = open_board(qtbot, staffed, clock)
    qtbot.waitUntil(lambda: card(board, "Room 1").isVisible(), timeout=5000)  # laid out
    board.grab().save(str(picture_folder("fix15") / "chair_board_nobody_arrived.png"))
    assert "0 of 4 chairs in use" in summary(board)
    assert "2 not arrived" in summary(board)
    for room in ("Room 1", "Room 2"):
        assert card(board, room).stage_label.text() == "Not arrived"
        assert line(card(board, room), "discharge") == ""
        assert line(card(board, room), "dose") == ""


def test_a_checked_in_patient_uses_a_chair(qtbot: QtBot, staffed: StaffedDay) -> None:
    db = staffed.clinic.db
    change_status(
        db,
        SYSTEM,
        staffed.appointments["spravato"],
        "check_in",
        now=staffed.clinic.at(TUESDAY, "09:50"),
    )
    board = open_board(qtbot, staffed, Clock(staffed.clinic.at(TUESDAY, "10:30")))
    assert "1 of 4 chairs in use" in summary(board)
    assert "1 not arrived" in summary(board)


def test_bp_due_times_agree_with_the_monitoring_record_when_started_late(
    qtbot: QtBot, staffed: StaffedDay
) -> None:
    db, mary = staffed.clinic.db, staffed.appointments["spravato"]
    at = staffed.clinic.at
    change_status(db, SYSTEM, mary, "check_in", now=at(TUESDAY, "09:50"))
    change_status(db, SYSTEM, mary, "start", now=at(TUESDAY, "10:01") + dt.timedelta(seconds=40))
    clock = Clock(at(TUESDAY, "10:05"))
    board = open_board(qtbot, staffed, clock)
    record = readings_due(db, [mary], now=clock.now)[mary]
    assert record.next_label is not None
    assert record.next_due_at is not None
    shown = board.board()
    assert shown is not None
    due = record.next_due_at.astimezone(shown.now.tzinfo)
    assert f"{due:%H:%M}" == "10:11"  # started 1 min 40 s late: the pre-dose check moves too
    words = bp_check_words(record.next_label)
    assert words == "BP pre-dose"
    assert line(card(board, "Room 2"), "bp") == f"{words} due {due:%H:%M}"


def test_my_day_and_the_board_say_the_same_of_a_patient_not_arrived(
    qtbot: QtBot, staffed: StaffedDay
) -> None:
    clock = Clock(staffed.clinic.at(TUESDAY, "10:30"))
    board = open_board(qtbot, staffed, clock)
    my_day = open_my_day(qtbot, staffed, clock)
    phases = my_day_phases(my_day)
    assert phases["Lovelace, Ada"] == line(card(board, "Room 1"), "phase") == "Not checked in"
    assert phases["Seacole, Mary"] == line(card(board, "Room 2"), "phase")


def test_a_session_never_checked_in_stays_on_the_board_after_its_end(
    qtbot: QtBot, staffed: StaffedDay
) -> None:
    clock = Clock(staffed.clinic.at(TUESDAY, "11:00"))  # Ada's IV ended at 10:40 by the plan
    board = open_board(qtbot, staffed, clock)
    ada = card(board, "Room 1")
    assert line(ada, "patient") == "Lovelace, Ada"
    assert ada.stage_label.text() == "Not arrived"
    assert line(ada, "late") == "⚠ Not checked in (due 09:00)"
    my_day = open_my_day(qtbot, staffed, clock)
    phases = my_day_phases(my_day)
    assert phases["Lovelace, Ada"] == "Not checked in"
    assert "Ended" not in phases.values()


def test_my_day_and_the_board_say_the_same_phase_of_a_session_started_late(
    qtbot: QtBot, staffed: StaffedDay
) -> None:
    db, mary, at = staffed.clinic.db, staffed.appointments["spravato"], staffed.clinic.at
    change_status(db, SYSTEM, mary, "check_in", now=at(TUESDAY, "09:50"))
    change_status(db, SYSTEM, mary, "start", now=at(TUESDAY, "10:20"))  # 20 min late
    clock = Clock(at(TUESDAY, "10:30"))
    board = open_board(qtbot, staffed, clock)
    my_day = open_my_day(qtbot, staffed, clock)
    on_board = line(card(board, "Room 2"), "phase")
    assert on_board == "Check-in, BP & checklist"  # by the plan it would be Observation
    assert my_day_phases(my_day)["Seacole, Mary"] == on_board
    clock.now = at(TUESDAY, "12:55")  # past the planned end, still in the chair
    with qtbot.waitSignal(board.refreshed, timeout=10_000):
        board.refresh()
    my_day.model.set_now(clock.now)
    assert my_day_phases(my_day)["Seacole, Mary"] == line(card(board, "Room 2"), "phase")
