"""The PHQ-9 form as a clinician fills it: live total and band, item 9 shown prominently,
unanswered items refused at the item, and the saved measure closing the PHQ-9 follow-up."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from ketadesk.scheduling.dates import short_date
from ketadesk.services.booking import booking
from ketadesk.services.common.context import Actor
from ketadesk.services.monitoring import measurements
from ketadesk.services.monitoring.measurements import MeasureSubject
from ketadesk.store.models import FollowUp, Measurement, Patient
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.monitoring.measure_dialog import MeasureDialog
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.conftest import NOW

NURSE = Actor(user_id=None, username="kim", role="nurse")
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


def _dialog(
    qtbot: QtBot, clinic: SmallClinic, instrument: str = "phq9", actor: Actor = NURSE
) -> MeasureDialog:
    dialog = MeasureDialog(Desk(clinic.db, actor, lambda: NOW), _ada(clinic), instrument)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _ada(clinic: SmallClinic, appointment_id: int | None = None) -> MeasureSubject:
    return measurements.measure_subject(
        clinic.db, clinic.ids["Ada Lovelace"], appointment_id, now=NOW
    )


def _count(clinic: SmallClinic, model: type[Measurement] | type[FollowUp]) -> int:
    with clinic.db.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_total_and_band_follow_the_answers(qtbot: QtBot, clinic: SmallClinic) -> None:
    dialog = _dialog(qtbot, clinic)
    assert dialog.total_text() == "Total so far 0 of 27 — 9 items unanswered"
    for item, value in enumerate([2, 2, 1, 2, 1, 1, 1, 0, 0], start=1):
        dialog.set_answer(item, value)
    assert dialog.total_text() == "Total 10 of 27 — moderate"
    assert dialog.urgent_text() == ""


def test_item9_above_zero_is_shown_prominently_at_once(qtbot: QtBot, clinic: SmallClinic) -> None:
    dialog = _dialog(qtbot, clinic)
    dialog.set_answer(9, 1)
    assert "PHQ-9 item 9 answered 1: thoughts of self-harm" in dialog.urgent_text()
    dialog.set_answer(9, 0)
    assert dialog.urgent_text() == ""


def test_digit_keys_answer_the_focused_item(qtbot: QtBot, clinic: SmallClinic) -> None:
    dialog = _dialog(qtbot, clinic)
    button = dialog._groups[0].buttons()[0]
    button.setFocus()
    QTest.keyClick(button, Qt.Key.Key_3)
    assert dialog.answers()[0] == 3
    QTest.keyClick(dialog._groups[0].button(3), Qt.Key.Key_7)  # not an answer: ignored
    assert dialog.answers()[0] == 3


def test_save_refuses_unanswered_items_at_the_item(qtbot: QtBot, clinic: SmallClinic) -> None:
    dialog = _dialog(qtbot, clinic)
    for item in range(1, 8):
        dialog.set_answer(item, 1)
    dialog._save.click()
    assert dialog.isVisible()
    assert dialog.item_errors == {8: "item 8 has no answer", 9: "item 9 has no answer"}
    assert "nothing was saved" in dialog.status_text()
    assert _count(clinic, Measurement) == 0
    dialog.set_answer(8, 0)
    assert set(dialog.item_errors) == {9}


def test_saving_an_urgent_phq9_opens_an_urgent_review(qtbot: QtBot, clinic: SmallClinic) -> None:
    dialog = _dialog(qtbot, clinic)
    for item, value in enumerate([3, 3, 2, 2, 2, 1, 1, 1, 2], start=1):
        dialog.set_answer(item, value)
    with qtbot.waitSignal(dialog.saved) as saved:
        dialog._save.click()
    result = saved.args[0]
    assert (result.total, result.band) == (17, "moderately severe")
    assert result.urgent_follow_up_id is not None
    with clinic.db.read() as session:
        urgent = session.get(FollowUp, result.urgent_follow_up_id)
        assert urgent is not None
        assert (urgent.kind, urgent.priority) == ("urgent_review", "urgent")
        assert urgent.due_at == NOW


def test_gad7_has_seven_items(qtbot: QtBot, clinic: SmallClinic) -> None:
    dialog = _dialog(qtbot, clinic, "gad7")
    assert len(dialog.answers()) == 7
    assert dialog.urgent_text() == ""


def test_front_desk_cannot_save(qtbot: QtBot, clinic: SmallClinic) -> None:
    dialog = _dialog(qtbot, clinic, actor=FRONT_DESK)
    assert not dialog._save.isEnabled()


def test_a_closed_dialog_is_freed_without_the_garbage_collector(clinic: SmallClinic) -> None:
    """No reference cycle through the answer buttons: freeing such a cycle in the collector
    freed a button twice and crashed the application (and CI, twice)."""
    import weakref

    dialog = MeasureDialog(Desk(clinic.db, NURSE, lambda: NOW), _ada(clinic), "phq9")
    dialog.show()
    dialog.set_answer(9, 1)
    dialog.close()
    freed = weakref.ref(dialog)
    del dialog
    assert freed() is None


@pytest.mark.parametrize("instrument", ["phq9", "gad7"])
def test_the_form_names_whose_answers_and_for_which_session(
    qtbot: QtBot, clinic: SmallClinic, instrument: str
) -> None:
    """A clinical-day trial: the PHQ-9 form named nobody.  Opened from a session, it says the
    patient, the date of birth (month/day/year) and the session, on its title and header."""
    day = clinic.calendar.local_date(NOW) + dt.timedelta(days=1)
    while clinic.calendar.closed_reason(day) is not None:
        day += dt.timedelta(days=1)
    planned = clinic.session(
        "iv_infusion",
        day,
        "09:00",
        {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"},
    )
    appointment = booking.book(
        clinic.db,
        NURSE,
        booking.BookingRequest(patient_id=clinic.ids["Ada Lovelace"], sessions=(planned,)),
        now=NOW,
    ).appointment_ids[0]
    opened: list[MeasureDialog] = []
    MeasureDialog.open_for(
        Desk(clinic.db, NURSE, lambda: NOW),
        clinic.ids["Ada Lovelace"],
        instrument,
        appointment,
        None,
        opened.append,
    )
    qtbot.waitUntil(lambda: bool(opened), timeout=10_000)
    dialog = opened[0]
    qtbot.addWidget(dialog)
    dialog.show()
    with clinic.db.read() as s:
        patient = s.get(Patient, clinic.ids["Ada Lovelace"])
        assert patient is not None
        assert patient.date_of_birth is not None
        born = patient.date_of_birth
    dob = f"DOB {born.month:02d}/{born.day:02d}/{born.year}"
    session = f"IV ketamine infusion, {short_date(day)} 09:00"  # (the small clinic says 24h)
    title = dialog.windowTitle()
    assert title.startswith(f"{dialog.spec.name} — Lovelace, Ada ({dob})")
    assert session in title
    header = dialog.subject_text()
    assert header.startswith(f"Lovelace, Ada · chart BT-1 · {dob}")
    assert f"Session: {session}" in header
    dialog.grab().save(str(picture_folder("fixes") / f"measure_{instrument}_header.png"))


def test_answers_taken_outside_a_session_say_the_day(qtbot: QtBot, clinic: SmallClinic) -> None:
    dialog = _dialog(qtbot, clinic)
    today = short_date(clinic.calendar.local_date(NOW))
    assert f"Taken: not for a session, {today}" in dialog.subject_text()
    assert dialog.windowTitle().endswith(f"not for a session, {today}")
