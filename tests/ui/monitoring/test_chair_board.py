"""The chair board on screen: phase and "BP due" change as the injected clock moves on.

Bayside's staffed Tuesday (tests/services/staffed_day.py): Mary Seacole's Spravato 10:00–12:30
in Room 2, started at 10:00; dosing at 10:15; the +40 min BP check due at 10:55.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from ketadesk.services.booking.appointment_changes import change_status
from ketadesk.services.common.context import SYSTEM
from ketadesk.services.monitoring.chair_board import ChairCard, NextUp
from ketadesk.store.models import SessionRecord, VitalReading
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.monitoring.chair_board import (
    LATE_COLORS,
    READY_COLORS,
    REFRESH_MS,
    ChairBoardView,
    ChairCardWidget,
    card_lines,
)
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


@pytest.fixture
def clock(staffed: StaffedDay) -> Clock:
    return Clock(staffed.clinic.at(TUESDAY, "10:05"))


@pytest.fixture
def board(qtbot: QtBot, staffed: StaffedDay, clock: Clock) -> ChairBoardView:
    for action, hhmm in (("check_in", "09:50"), ("start", "10:00")):
        change_status(
            staffed.clinic.db,
            SYSTEM,
            staffed.appointments["spravato"],
            action,
            now=staffed.clinic.at(TUESDAY, hhmm),
        )
    view = ChairBoardView(Desk(staffed.clinic.db, SYSTEM, clock))
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: not view.is_reading())  # the board is read on a worker
    return view


def refresh(qtbot: QtBot, board: ChairBoardView) -> None:
    """Read the board again and wait for it to be shown (it is read on a worker)."""
    with qtbot.waitSignal(board.refreshed):
        board.refresh()


def room2(board: ChairBoardView) -> ChairCardWidget:
    card = board.card_for_room("Room 2")
    assert card is not None
    return card


def text(card: ChairCardWidget, line: str) -> str:
    label = card.labels[line]
    return label.text() if label.isVisible() else ""


def test_a_card_per_treatment_room(board: ChairBoardView) -> None:
    assert [c.room_label.text() for c in board.cards] == ["Room 1", "Room 2", "Room 3", "Room 4"]
    assert board.timer().interval() == REFRESH_MS
    assert board.timer().isActive()


def test_the_phase_and_bp_due_change_as_time_passes(
    board: ChairBoardView, clock: Clock, staffed: StaffedDay, qtbot: QtBot
) -> None:
    card = room2(board)
    assert text(card, "patient") == "Seacole, Mary"
    assert text(card, "phase") == "Check-in, BP & checklist"
    assert text(card, "bp") == "BP pre-dose due 10:10"
    assert text(card, "late") == ""
    assert card.stage_label.text() == "In session"

    assert text(card, "discharge") == "Discharge ≥ 2 h after dose"

    clock.now = staffed.clinic.at(TUESDAY, "10:15")  # +0: the first device
    refresh(qtbot, board)
    # Started, no dose start on the record: never "Dosed", "Dosing" or a discharge time (a
    # user trial's board said so of a dose nobody recorded).
    assert text(card, "phase") == "Check-in, BP & checklist"
    assert text(card, "until") == ""
    assert text(card, "dose") == "Started 10:00 · dose not recorded (due 10:15)"
    assert text(card, "bp") == "BP pre-dose due now (10:10)"
    assert text(card, "discharge") == "Discharge ≥ 2 h after dose"

    clock.now = staffed.clinic.at(TUESDAY, "10:56")  # +41
    refresh(qtbot, board)
    assert text(card, "phase") == "Check-in, BP & checklist"
    assert text(card, "dose") == "Started 10:00 · dose not recorded (due 10:15)"
    assert text(card, "bp") == "⚠ BP pre-dose overdue since 10:10"
    card_data = card.card()
    assert card_data is not None
    assert card_data.late == ("BP pre-dose overdue since 10:10", "Dose not recorded (due 10:15)")
    summary = board.findChild(QLabel, "board_summary")
    assert summary is not None
    # Mary's overdue check, and Ada (09:00) who has still not been checked in.
    assert "2 need attention" in summary.text()

    clock.now = staffed.clinic.at(TUESDAY, "12:16")  # past +120, but nothing recorded yet
    refresh(qtbot, board)
    assert text(card, "discharge") == "Discharge ≥ 2 h after dose"
    image = board.grab()
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if folder:
        assert image.save(str(Path(folder) / "chair-board-no-dose.png"))


def _pre_dose_taken(staffed: StaffedDay, appointment_id: int, hhmm: str) -> None:
    """The session's monitoring record with its pre-dose BP taken at ``hhmm``, no dose yet."""
    with staffed.clinic.db.write() as session:
        record = SessionRecord(appointment_id=appointment_id)
        record.readings = [
            VitalReading(
                label="Pre-dose",
                taken_at=staffed.clinic.at(TUESDAY, hhmm),
                systolic=124,
                diastolic=80,
            )
        ]
        session.add(record)


def test_the_checks_after_the_dose_wait_for_it(
    board: ChairBoardView, clock: Clock, staffed: StaffedDay, qtbot: QtBot
) -> None:
    """The pre-dose BP taken, no dose start recorded: the +40 check is "40 min after the dose",
    not due at the planned dose's clock time; once the dose is recorded, a time again."""
    at = staffed.clinic.at
    _pre_dose_taken(staffed, staffed.appointments["spravato"], "10:09")
    clock.now = at(TUESDAY, "11:00")
    refresh(qtbot, board)
    card = room2(board)
    assert text(card, "bp") == "BP +40 min due 40 min after the dose"
    # No check is overdue of a dose nobody gave; the dose itself is (due 10:15, 10 min grace).
    assert text(card, "late") == "⚠ Dose not recorded (due 10:15)"
    with staffed.clinic.db.write() as session:
        stored = session.query(SessionRecord).one()
        stored.dose_started_at = at(TUESDAY, "10:20")
    refresh(qtbot, board)
    assert text(card, "phase") == "Observation"
    assert text(card, "dose") == "Dosed 40 min ago (10:20)"
    assert text(card, "bp") == "BP +40 min due now (11:00)"
    assert text(card, "discharge") == "Discharge 12:20"


def test_the_card_says_when_what_is_missing_and_ready_in_words(
    board: ChairBoardView, clock: Clock, staffed: StaffedDay, qtbot: QtBot
) -> None:
    """The discharge line is the completion's verdict: the time, then "Not yet: …" with what
    the rules still refuse, then "Ready to discharge"; the long line wraps, never elided."""
    from ketadesk.store.models import SessionRecord, VitalReading

    def taken(*labels: str, sedation: str = "mild", resolved: bool = False) -> None:
        with staffed.clinic.db.write() as session:
            rec = (
                session.query(SessionRecord)
                .filter_by(appointment_id=staffed.appointments["spravato"])
                .one_or_none()
            )
            if rec is None:
                rec = SessionRecord(
                    appointment_id=staffed.appointments["spravato"],
                    dose_started_at=staffed.clinic.at(TUESDAY, "10:15"),
                    dissociation="none",
                    monitored_by_id=staffed.clinic.ids["Nurse Kim"],
                )
                session.add(rec)
                session.flush()
            rec.sedation, rec.sedation_resolved = sedation, resolved
            for label in labels:
                session.add(
                    VitalReading(
                        record_id=rec.id,
                        label=label,
                        taken_at=staffed.clinic.at(TUESDAY, "12:00"),
                        systolic=126,
                        diastolic=80,
                    )
                )

    card = room2(board)
    taken("Pre-dose", "+40 min")
    clock.now = staffed.clinic.at(TUESDAY, "11:40")
    refresh(qtbot, board)
    assert text(card, "discharge") == "Discharge 12:15"

    clock.now = staffed.clinic.at(TUESDAY, "12:15")
    refresh(qtbot, board)
    line = card.labels["discharge"]
    assert text(card, "discharge") == (
        "Not yet: BP “Before discharge” missing; sedation not marked resolved"
    )
    assert line.wordWrap()
    assert line.height() >= line.heightForWidth(line.width())  # all of it, at once
    assert "Not yet: BP “Before discharge” missing" in card.accessibleDescription()

    taken("Before discharge", sedation="mild", resolved=True)
    refresh(qtbot, board)
    assert text(card, "discharge") == "Ready to discharge"
    assert ink(card, "discharge") == READY_COLORS[0]

    # Still in the chair long after: the late line says so in red; ready stays green (a trial
    # read "Ready to discharge" in red as trouble).
    clock.now = staffed.clinic.at(TUESDAY, "12:50")
    refresh(qtbot, board)
    assert text(card, "discharge") == "Ready to discharge"
    assert ink(card, "discharge") == READY_COLORS[0]
    assert text(card, "late").startswith("⚠ Still in the chair; discharge allowed since")
    assert ink(card, "late") == LATE_COLORS[0]
    card.grab().save(str(picture_folder("fixes") / "board_ready_late.png"))


def ink(card: ChairCardWidget, line: str) -> str:
    label = card.labels[line]
    return label.palette().color(label.foregroundRole()).name()


def test_the_minute_timer_reads_the_board_again(
    board: ChairBoardView, clock: Clock, staffed: StaffedDay, qtbot: QtBot
) -> None:
    board.timer().setInterval(10)
    clock.now = staffed.clinic.at(TUESDAY, "10:30")
    # 20 minutes past the pre-dose check's time: the card, read again, says it is overdue.
    qtbot.waitUntil(lambda: text(room2(board), "bp").startswith("⚠"), timeout=3000)
    board.timer().stop()


def test_a_late_card_is_highlighted_and_a_calm_one_is_not(
    board: ChairBoardView, clock: Clock, staffed: StaffedDay, qtbot: QtBot
) -> None:
    calm = room2(board)
    assert "solid #c5221f" not in calm.styleSheet()
    clock.now = staffed.clinic.at(TUESDAY, "10:56")
    refresh(qtbot, board)
    assert "3px solid #c5221f" in room2(board).styleSheet()
    # Ada's IV in Room 1 was due at 09:00 and she has not arrived.
    clock.now = staffed.clinic.at(TUESDAY, "09:05")
    refresh(qtbot, board)
    ada = board.card_for_room("Room 1")
    assert ada is not None
    assert text(ada, "late") == "⚠ Not checked in (due 09:00)"
    free = board.card_for_room("Room 4")
    assert free is not None
    assert text(free, "patient") == "Free"
    assert text(free, "next") == "Nothing more booked today"


def test_double_click_or_enter_opens_the_session(
    board: ChairBoardView, staffed: StaffedDay, qtbot: QtBot
) -> None:
    card = room2(board)
    with qtbot.waitSignal(board.appointment_activated) as blocker:
        QTest.mouseDClick(card, Qt.MouseButton.LeftButton)
    assert blocker.args == [staffed.appointments["spravato"]]
    card.setFocus()
    with qtbot.waitSignal(board.appointment_activated) as blocker:
        QTest.keyClick(card, Qt.Key.Key_Return)
    assert blocker.args == [staffed.appointments["spravato"]]
    free = board.card_for_room("Room 4")
    assert free is not None
    with qtbot.assertNotEmitted(board.appointment_activated):
        QTest.mouseDClick(free, Qt.MouseButton.LeftButton)


def test_a_free_chair_opens_the_session_it_waits_for(
    board: ChairBoardView, staffed: StaffedDay, clock: Clock, qtbot: QtBot
) -> None:
    """A user trial saw "Next: 8:00 AM Delgado, Rosa · IV" on a free chair and found no way
    to check her in from the board: the card opens her session, whose page has Check in."""
    clock.now = staffed.clinic.at(TUESDAY, "08:30")
    refresh(qtbot, board)
    room1 = board.card_for_room("Room 1")
    assert room1 is not None
    assert text(room1, "patient") == "Free"
    assert "Lovelace, Ada" in text(room1, "next")
    with qtbot.waitSignal(board.appointment_activated) as blocker:
        QTest.mouseDClick(room1, Qt.MouseButton.LeftButton)
    assert blocker.args == [staffed.appointments["iv"]]


def test_cards_say_it_all_to_a_screen_reader(board: ChairBoardView) -> None:
    card = room2(board)
    assert card.accessibleName() == "Chair Room 2"
    assert "Seacole, Mary" in card.accessibleDescription()
    assert "Check-in, BP & checklist" in card.accessibleDescription()
    assert card.focusPolicy() == Qt.FocusPolicy.StrongFocus


def test_an_iv_infusion_shows_its_readings_due_every_15_minutes(
    board: ChairBoardView, clock: Clock, staffed: StaffedDay, qtbot: QtBot
) -> None:
    """Ada's IV infusion in Room 1, started at 09:00: infusion 09:15–09:55, a reading due every
    15 minutes from its start ([session_types.iv_infusion] reading_cadence)."""
    import dataclasses
    import os
    from pathlib import Path

    from ketadesk.services.common.context import Actor
    from ketadesk.services.monitoring import records
    from ketadesk.services.monitoring.record_forms import with_reading

    iv, db = staffed.appointments["iv"], staffed.clinic.db
    for action, hhmm in (("check_in", "08:55"), ("start", "09:00")):
        change_status(db, SYSTEM, iv, action, now=staffed.clinic.at(TUESDAY, hhmm))
    nurse = Actor(user_id=None, username="kim", role="nurse")
    form = records.load_record(db, nurse, iv)
    form = with_reading(form, 0, time="09:10", systolic="124", diastolic="78", spo2="99")
    form = with_reading(form, 1, time="09:15", systolic="126", diastolic="80", spo2="98")
    form = dataclasses.replace(form, dose_mg="35", dose_started="09:15")
    records.save_record(db, nurse, iv, form, now=staffed.clinic.at(TUESDAY, "09:27"))
    clock.now = staffed.clinic.at(TUESDAY, "09:27")
    refresh(qtbot, board)
    card = board.card_for_room("Room 1")
    assert card is not None
    assert text(card, "bp") == "BP +15 min due 09:30"
    clock.now = staffed.clinic.at(TUESDAY, "09:41")
    refresh(qtbot, board)
    assert text(card, "bp") == "⚠ BP +15 min overdue since 09:30"
    assert text(card, "discharge") == "Discharge 10:40"
    # Past the 85 minutes from the infusion's start, with readings still owed: not yet, and why.
    clock.now = staffed.clinic.at(TUESDAY, "10:41")
    refresh(qtbot, board)
    # Five 15-minute readings late: said as five, not as the first alone (a user trial).
    assert text(card, "bp") == "⚠ 5 readings missed since 09:30 (BP +15 min first)"
    assert text(card, "discharge") == (
        "Not yet: BP “+15 min”, “+30 min”, “+45 min”, “+60 min”, “+75 min”, “Before discharge” "
        "missing; sedation and dissociation not recorded"
    )
    line = card.labels["discharge"]
    assert line.height() >= line.heightForWidth(line.width())  # wrapped, not squeezed
    image = board.grab()
    assert not image.isNull()
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if folder:
        assert image.save(str(Path(folder) / "chair-board-iv.png"))


def test_the_card_says_when_the_bp_before_discharge_is_due(
    board: ChairBoardView, clock: Clock, staffed: StaffedDay, qtbot: QtBot
) -> None:
    """A user trial: the card said "Discharge 11:26" and "BP Before discharge due 11:36".  The
    reading a nurse must take is due when discharge is allowed, and the card says so."""
    at = staffed.clinic.at
    with staffed.clinic.db.write() as session:
        record = SessionRecord(
            appointment_id=staffed.appointments["spravato"], dose_started_at=at(TUESDAY, "10:15")
        )
        record.readings = [
            VitalReading(label=label, taken_at=at(TUESDAY, hhmm), systolic=124, diastolic=80)
            for label, hhmm in (("Pre-dose", "10:10"), ("+40 min", "10:55"))
        ]
        session.add(record)
    clock.now = at(TUESDAY, "11:30")
    refresh(qtbot, board)
    card = room2(board)
    assert text(card, "bp") == "BP before discharge due 12:15"
    assert text(card, "discharge") == "Discharge 12:15"


def test_a_patient_waiting_for_the_chair_reads_as_waiting_not_next() -> None:
    """The card of a room whose next patient is checked in already says so: she is here."""
    booked = dt.datetime(2026, 11, 24, 9, 30)
    waiting = NextUp(7, booked, "Franklin, Rosalind", "KAP", checked_in=True)
    later = NextUp(8, booked, "Franklin, Rosalind", "KAP")
    free = ChairCard(room_id=1, room_name="Room 2", stage="free", next_up=waiting)
    assert card_lines(free, "24h")["next"] == (
        "Waiting: Franklin, Rosalind · KAP (checked in, booked 09:30)"
    )
    free = ChairCard(room_id=1, room_name="Room 2", stage="free", next_up=later)
    assert card_lines(free, "24h")["next"] == "Next: 09:30 Franklin, Rosalind · KAP"
    assert card_lines(free, "12h")["next"] == "Next: 9:30 AM Franklin, Rosalind · KAP"


def test_the_board_says_loading_until_its_first_read_lands(
    qtbot: QtBot, staffed: StaffedDay, clock: Clock
) -> None:
    """A user trial found the board blank for more than 2 s on first open."""
    view = ChairBoardView(Desk(staffed.clinic.db, SYSTEM, clock))
    qtbot.addWidget(view)
    view.resize(1200, 800)
    summary = view.findChild(QLabel, "board_summary")
    assert summary is not None
    assert view.is_reading()  # the first read is still on the worker
    assert summary.text() == "Loading…"
    view.show()
    qtbot.waitExposed(view)
    image = view.grab()
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if folder:
        assert image.save(str(Path(folder) / "chair-board-loading.png"))
    qtbot.waitUntil(lambda: not view.is_reading())
    qtbot.waitUntil(lambda: view.board() is not None)
    assert summary.text() != "Loading…"
    assert "chairs in use" in summary.text()


@pytest.mark.parametrize(
    ("steps", "now"),
    [
        ((("check_in", "08:50"),), "08:52"),  # the trial: checked in, waiting to start
        ((("check_in", "08:40"), ("start", "08:45")), "08:47"),  # started early
    ],
)
def test_the_board_and_the_record_say_the_same_time_for_the_pre_dose_bp(
    qtbot: QtBot, staffed: StaffedDay, steps: tuple[tuple[str, str], ...], now: str
) -> None:
    """A user trial: before the dose the board said "BP pre-dose due 10:10" while the
    monitoring record said "Next check: BP pre-dose due 10:00"."""
    from ketadesk.services.monitoring import records
    from ketadesk.ui.monitoring.monitoring_dialog import MonitoringDialog

    clinic = staffed.clinic
    iv = staffed.appointments["iv"]
    for action, hhmm in steps:
        change_status(clinic.db, SYSTEM, iv, action, now=clinic.at(TUESDAY, hhmm))
    clock = Clock(clinic.at(TUESDAY, now))
    view = ChairBoardView(Desk(clinic.db, SYSTEM, clock))
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: view.board() is not None)
    card = view.card_for_room("Room 1")
    assert card is not None
    qtbot.waitUntil(lambda: text(card, "bp") != "")  # shown once the card is laid out
    board_words = text(card, "bp")
    sheet = records.open_record(clinic.db, SYSTEM, iv, now=clock.now)
    dialog = MonitoringDialog(Desk(clinic.db, SYSTEM, clock), iv, sheet=sheet)
    qtbot.addWidget(dialog)
    dialog.show()
    record_words = dialog._schedule_label.text()
    assert record_words.startswith("Next check: BP pre-dose due ")
    due = record_words.removeprefix("Next check: BP pre-dose due ").split()[0]
    assert board_words == f"BP pre-dose due {due}", (board_words, record_words)


def test_the_check_at_the_dose_itself_reads_at_dose(
    board: ChairBoardView, clock: Clock, staffed: StaffedDay, qtbot: QtBot
) -> None:
    """A user trial's board said "BP +0 min due 0 min after the dose" of an IV infusion's
    first reading (every 15 min from the dose, the first at the dose itself)."""
    at = staffed.clinic.at
    ada = staffed.appointments["iv"]
    for action, hhmm in (("check_in", "08:55"), ("start", "09:00")):
        change_status(staffed.clinic.db, SYSTEM, ada, action, now=at(TUESDAY, hhmm))
    _pre_dose_taken(staffed, ada, "09:10")
    clock.now = at(TUESDAY, "09:12")
    refresh(qtbot, board)
    card = board.card_for_room("Room 1")
    assert card is not None
    assert text(card, "bp") == "BP at dose"
    card.grab().save(str(picture_folder() / "chair_card_check_at_dose.png"))
    with staffed.clinic.db.write() as session:
        stored = session.query(SessionRecord).filter_by(appointment_id=ada).one()
        stored.dose_started_at = at(TUESDAY, "09:15")
    clock.now = at(TUESDAY, "09:16")
    refresh(qtbot, board)
    assert text(card, "bp") == "BP at dose due now (09:15)"
