"""What makes a patient unsafe now, where nurses look (a user trial): a raised BP after the
dose and a pre-dose BP over the hard stop on the chair board (red, counted) and on the
session's page; Start in a room another patient is checked in to asks first.

Bayside's staffed Tuesday (tests/services/staffed_day.py): Mary Seacole's Spravato 10:00 in
Room 2 (dose 10:15); Rosalind Franklin's KAP, put in Room 2 for the question.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from ketadesk.services.booking.appointment_changes import change_status
from ketadesk.services.booking.move_check import placement_of
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.monitoring.chair_board import ChairCard
from ketadesk.store.models import Appointment, SessionRecord, VitalReading
from ketadesk.ui.booking.appointment_dialog import AppointmentDialog
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.monitoring.chair_board import LATE_COLORS, ChairBoardView, card_lines
from ketadesk.ui.timeline import undo
from ketadesk.ui.timeline.undo import ScheduleEditor
from tests.pictures import picture_folder
from tests.services.staffed_day import TUESDAY, StaffedDay, build_staffed_day

NURSE = Actor(user_id=None, username="kim", role="nurse")


@pytest.fixture
def staffed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffedDay]:
    folder = tmp_path_factory.mktemp("alerts")
    built = build_staffed_day(f"sqlite:///{folder / 'clinic.sqlite'}")
    yield built
    built.clinic.db.dispose()


def _at(staffed: StaffedDay, hhmm: str) -> dt.datetime:
    return staffed.clinic.at(TUESDAY, hhmm)


def _reading(staffed: StaffedDay, label: str, hhmm: str, bp: tuple[int, int]) -> None:
    with staffed.clinic.db.write() as session:
        aid = staffed.appointments["spravato"]
        rec = session.query(SessionRecord).filter_by(appointment_id=aid).one_or_none()
        if rec is None:
            rec = SessionRecord(appointment_id=aid, monitored_by_id=staffed.clinic.ids["Nurse Kim"])
            session.add(rec)
            session.flush()
        session.add(
            VitalReading(
                record_id=rec.id,
                label=label,
                taken_at=_at(staffed, hhmm),
                systolic=bp[0],
                diastolic=bp[1],
            )
        )


def _dose(staffed: StaffedDay, hhmm: str) -> None:
    with staffed.clinic.db.write() as session:
        rec = session.query(SessionRecord).one()
        rec.dose_started_at = _at(staffed, hhmm)


def _board(qtbot: QtBot, staffed: StaffedDay, hhmm: str) -> ChairBoardView:
    view = ChairBoardView(Desk(staffed.clinic.db, NURSE, lambda: _at(staffed, hhmm)))
    qtbot.addWidget(view)
    view.resize(1300, 720)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: view.board() is not None and not view.is_reading())
    return view


def _status(staffed: StaffedDay, action: str, hhmm: str) -> None:
    change_status(
        staffed.clinic.db, SYSTEM, staffed.appointments["spravato"], action, now=_at(staffed, hhmm)
    )


def test_a_raised_bp_after_the_dose_turns_the_card_red_with_its_recheck(
    qtbot: QtBot, staffed: StaffedDay
) -> None:
    _status(staffed, "check_in", "09:50")
    _status(staffed, "start", "10:00")
    _reading(staffed, "Pre-dose", "10:09", (128, 82))
    _dose(staffed, "10:15")
    _reading(staffed, "+40 min", "10:55", (168, 102))
    view = _board(qtbot, staffed, "10:57")
    card = view.card_for_room("Room 2")
    assert card is not None
    alert = card.labels["alert"]
    assert alert.text() == "⚠ BP 168/102 raised (over 140/90) at 10:55; recheck due 11:10"
    assert card.labels["bp"].text() == "BP recheck due 11:10"
    assert alert.palette().color(alert.foregroundRole()).name() == LATE_COLORS[0]
    assert "#c5221f" in card.styleSheet()  # the attention border, as a late card's
    summary = view.findChild(QLabel, "board_summary")
    assert summary is not None
    assert "need attention" in summary.text()
    card.grab().save(str(picture_folder("vitals") / "raised_bp_card.png"))
    view.grab().save(str(picture_folder("vitals") / "raised_bp_board.png"))


def test_a_hard_stop_says_do_not_dose_on_the_card_and_the_sessions_page(
    qtbot: QtBot, staffed: StaffedDay
) -> None:
    _status(staffed, "check_in", "09:50")
    _reading(staffed, "Pre-dose", "10:04", (186, 112))
    _status(staffed, "start", "10:05")
    view = _board(qtbot, staffed, "10:21")
    card = view.card_for_room("Room 2")
    assert card is not None
    words = (
        "Do not dose: BP 186/112 over the hard stop (180/110) at 10:04; "
        "recheck after rest, due 10:19"
    )
    assert card.labels["alert"].text() == f"⚠ {words}"
    assert card.labels["bp"].text() == "BP pre-dose recheck due now (10:19)"
    card.grab().save(str(picture_folder("vitals") / "hard_stop_card.png"))
    dialog = AppointmentDialog(
        Desk(staffed.clinic.db, NURSE, lambda: _at(staffed, "10:21")),
        staffed.appointments["spravato"],
    )
    qtbot.addWidget(dialog)
    qtbot.waitUntil(dialog.is_loaded)  # read on a worker
    field = dialog.findChild(QLabel, "field_blood_pressure")
    assert field is not None
    assert field.text() == f"⚠ {words}"
    dialog.grab().save(str(picture_folder("vitals") / "hard_stop_session_page.png"))


def test_start_in_a_room_another_patient_is_checked_in_to_asks_and_no_leaves_it(
    qtbot: QtBot, staffed: StaffedDay, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = staffed.clinic.db
    with db.write() as session:
        kap = session.get(Appointment, staffed.appointments["kap"])
        mine = session.get(Appointment, staffed.appointments["spravato"])
        assert kap is not None
        assert mine is not None
        kap.room_id = mine.room_id
    change_status(db, SYSTEM, staffed.appointments["kap"], "check_in", now=_at(staffed, "09:55"))
    questions: list[str] = []
    answers = iter((False, True))

    def ask(_parent: object, question: str) -> bool:
        questions.append(question)
        return next(answers)

    monkeypatch.setattr(undo, "ask_start_in_taken_chair", ask)
    editor = ScheduleEditor(Desk(db, NURSE, lambda: _at(staffed, "10:00")))
    refused: list[str] = []
    editor.refused.connect(refused.append)
    aid = staffed.appointments["spravato"]
    editor.set_status(aid, "start")
    qtbot.waitUntil(lambda: bool(refused), timeout=10_000)
    assert questions[0].startswith("Room 2 is held by Franklin, Rosalind (checked in, booked")
    assert refused[0].startswith("The session was not started: Room 2 is held by Franklin")
    assert placement_of(db, aid).status == "booked"
    editor.set_status(aid, "start")
    qtbot.waitUntil(lambda: placement_of(db, aid).status == "in_progress", timeout=10_000)
    qtbot.waitUntil(lambda: not editor.is_busy(), timeout=10_000)
    assert len(questions) == 2


def test_a_dose_start_later_than_the_boards_time_is_never_said_as_started() -> None:
    """A user trial's card said "Dose started 10:38 AM" at 10:35."""
    later = dt.datetime(2026, 11, 24, 18, 38, tzinfo=dt.UTC)
    card = ChairCard(
        room_id=1, room_name="Room 2", stage="in_session", appointment_id=7, dose_started_at=later
    )
    assert card_lines(card, "24h")["dose"] == "Dose start recorded as 18:38, later than now"
