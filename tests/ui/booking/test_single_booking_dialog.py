"""The booking dialog books one appointment besides a series: an intake for a patient whose
screening is still pending (that is how screening happens), at an exact time or the next
available one, and pencils in a dosing session the gates would refuse."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QDate, Qt, QTime
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from ketadesk.services.booking import booking
from ketadesk.services.booking.appointments import appointment_detail
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.ui.booking.booking_dialog import SINGLE_PREFIX, BookingDialog, read_setup
from ketadesk.ui.common.desk import Desk
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.clinic_day import WEDNESDAY
from tests.ui.conftest import NOW
from tests.ui.sql_guard import allow_gui_thread_sql

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")

TIMEOUT = 20_000


@pytest.fixture
def dialogs() -> Iterator[list[BookingDialog]]:
    shown: list[BookingDialog] = []
    yield shown
    for dialog in shown:
        if dialog.isVisible():
            dialog.done(0)


def _dialog(
    qtbot: QtBot,
    clinic: SmallClinic,
    shown: list[BookingDialog],
    patient: str,
    actor: Actor = FRONT_DESK,
) -> BookingDialog:
    desk = Desk(clinic.db, actor, now=lambda: NOW)
    with allow_gui_thread_sql():
        setup = read_setup(desk)
    dialog = BookingDialog(desk, clinic.ids[patient], setup=setup)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: not dialog.is_busy())
    shown.append(dialog)
    return dialog


def _choose(dialog: BookingDialog, session_type: str, when: str) -> None:
    dialog.protocol.setCurrentIndex(dialog.protocol.findData(SINGLE_PREFIX + session_type))
    dialog.when.setCurrentIndex(dialog.when.findData(when))


def _find(qtbot: QtBot, dialog: BookingDialog) -> None:
    with qtbot.waitSignal(dialog.settled, timeout=TIMEOUT):
        QTest.mouseClick(dialog.plan_button, Qt.MouseButton.LeftButton)


def test_the_dialog_books_an_intake_for_an_unscreened_patient_at_an_exact_time(
    qtbot: QtBot, clinic: SmallClinic, dialogs: list[BookingDialog]
) -> None:
    dialog = _dialog(qtbot, clinic, dialogs, "Grace Hopper")
    _choose(dialog, "intake", "exact")
    dialog.start.setDate(QDate(WEDNESDAY.year, WEDNESDAY.month, WEDNESDAY.day))
    dialog.time.setTime(QTime(10, 30))
    _find(qtbot, dialog)
    rows = dialog.model.rows()
    assert len(rows) == 1
    assert "10:30" in rows[0].time
    assert dialog.confirm.isEnabled(), dialog.blocker.text()
    with qtbot.waitSignal(dialog.booked, timeout=TIMEOUT) as booked:
        QTest.mouseClick(dialog.confirm, Qt.MouseButton.LeftButton)
    (appointment_id,) = booked.args[0]
    assert booked.args[1] == WEDNESDAY
    detail = appointment_detail(clinic.db, appointment_id)
    assert detail.status == "booked"
    assert detail.patient_id == clinic.ids["Grace Hopper"]


def test_next_available_afternoon_and_a_pencilled_in_dosing_session(
    qtbot: QtBot, clinic: SmallClinic, dialogs: list[BookingDialog]
) -> None:
    dialog = _dialog(qtbot, clinic, dialogs, "Grace Hopper")
    _choose(dialog, "iv_infusion", "next")
    dialog.start.setDate(QDate(WEDNESDAY.year, WEDNESDAY.month, WEDNESDAY.day))
    dialog.day_part.setCurrentIndex(dialog.day_part.findData("afternoon"))
    _find(qtbot, dialog)
    rows = dialog.model.rows()
    assert len(rows) == 1
    assert rows[0].time >= "12:00"
    # Screening pending: the gate stops a booking, not a tentative hold.
    assert not dialog.confirm.isEnabled()
    assert "screening" in dialog.gating.findChildren(type(dialog.blocker))[0].text().lower()
    dialog.tentative.setChecked(True)
    assert dialog.confirm.isEnabled(), dialog.blocker.text()
    with qtbot.waitSignal(dialog.booked, timeout=TIMEOUT) as booked:
        QTest.mouseClick(dialog.confirm, Qt.MouseButton.LeftButton)
    (appointment_id,) = booked.args[0]
    assert appointment_detail(clinic.db, appointment_id).status == "tentative"


def test_a_single_infusion_during_a_spravato_course_is_a_warning_a_nurse_overrides(
    qtbot: QtBot, clinic: SmallClinic, dialogs: list[BookingDialog]
) -> None:
    """The rules engine's findings for one session show on the proposal, before *Book*, as
    they do for a series: a one-off IV infusion in the middle of a Spravato induction."""
    spravato = {
        "room": "Room 2",
        "monitor": "Monitor 2",
        "oximeter": "Oximeter 1",
        "nurse": "Nurse Kim",
        "prescriber": "Dr Patel",
    }
    # Induction Mon and Thu, the week after the desk's Tuesday (Thanksgiving week is skipped).
    monday = WEDNESDAY + dt.timedelta(days=5)
    booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids["Ada Lovelace"],
            sessions=tuple(
                clinic.session("spravato", monday + dt.timedelta(days=d), "10:00", spravato, n + 1)
                for n, d in enumerate([0, 3, 7, 10])
            ),
            protocol="spravato_trd",
        ),
        now=NOW,
    )
    dialog = _dialog(qtbot, clinic, dialogs, "Ada Lovelace", actor=NURSE)
    _choose(dialog, "iv_infusion", "exact")
    friday = monday + dt.timedelta(days=4)
    dialog.start.setDate(QDate(friday.year, friday.month, friday.day))
    dialog.time.setTime(QTime(13, 0))
    _find(qtbot, dialog)
    row = dialog.gate_row("concurrent_course")
    assert row is not None
    box, reason = row
    assert box.isVisibleTo(dialog)
    assert not dialog.confirm.isEnabled()
    assert dialog.grab().save(str(picture_folder() / "single-during-course.png"))
    box.setChecked(True)
    reason.setText("Bridging infusion while Spravato starts; Dr Patel aware")
    assert dialog.confirm.isEnabled(), dialog.blocker.text()
    with qtbot.waitSignal(dialog.booked, timeout=TIMEOUT) as booked:
        QTest.mouseClick(dialog.confirm, Qt.MouseButton.LeftButton)
    (appointment_id,) = booked.args[0]
    assert appointment_detail(clinic.db, appointment_id).status == "booked"


def test_typing_the_day_and_the_start_time_replaces_them(
    qtbot: QtBot, clinic: SmallClinic, dialogs: list[BookingDialog]
) -> None:
    # As the front desk does: click into the field, Ctrl+A, type; the field takes what was
    # typed (Qt's sectioned editor kept the old hour, and made 12/2 of 12/12).
    dialog = _dialog(qtbot, clinic, dialogs, "Grace Hopper")
    _choose(dialog, "intake", "exact")
    day = WEDNESDAY + dt.timedelta(days=16)  # two-digit month and day typed in full
    typed_day = f"{day.month:02d}/{day.day:02d}/{day.year}"
    for field, text in ((dialog.start, typed_day), (dialog.time, "10:30")):
        field.setFocus()
        QTest.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        QTest.keyClicks(field, text)
    dialog.plan_button.setFocus()  # leaving the field reads it
    assert dialog.start.date() == QDate(day.year, day.month, day.day)
    assert dialog.time.time() == QTime(10, 30)
    assert dialog.time.text() == "10:30"
    dialog.grab().save(str(picture_folder("booking") / "typed_day_and_start_time.png"))
    _find(qtbot, dialog)
    assert "10:30" in dialog.model.rows()[0].time


def test_next_available_at_a_start_time_taken_that_day_is_the_nearest_time_that_day(
    qtbot: QtBot, clinic: SmallClinic, dialogs: list[BookingDialog]
) -> None:
    """The first day with a place wins over a later day where the start asked for is free:
    as ``ketadesk book --time`` (tests/commands/test_book_next_available_time.py)."""
    taken = clinic.session(
        "intake", WEDNESDAY, "14:00", {"office": "Office A", "prescriber": "Dr Patel"}
    )
    booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(patient_id=clinic.ids["Ada Lovelace"], sessions=(taken,)),
        now=NOW,
    )
    dialog = _dialog(qtbot, clinic, dialogs, "Rosalind Franklin")
    _choose(dialog, "intake", "next")
    dialog.start.setDate(QDate(WEDNESDAY.year, WEDNESDAY.month, WEDNESDAY.day))
    dialog.use_time.setChecked(True)
    dialog.time.setTime(QTime(14, 0))
    _find(qtbot, dialog)
    rows = dialog.model.rows()
    assert len(rows) == 1
    assert rows[0].date.startswith("Wed")
    assert rows[0].time.startswith("13:00")
    dialog.grab().save(str(picture_folder("booking") / "next-available-nearest-time.png"))
