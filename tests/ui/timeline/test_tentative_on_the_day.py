"""A pencilled-in (tentative) hold on the day view: hatched, labelled, and confirmed from its
context menu only once the patient's gates pass (the refusal names the gate)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from ketadesk.services.booking import booking
from ketadesk.services.booking.appointments import appointment_detail
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import Actor
from ketadesk.services.schedule.day import day_schedule
from ketadesk.store.models import Patient
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.timeline.day_view import DayView
from ketadesk.ui.timeline.undo import ScheduleEditor
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import WEDNESDAY
from tests.ui.conftest import NOW

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
IV_ROOM_3 = {"room": "Room 3", "monitor": "Monitor 3", "nurse": "Nurse Kim"}


@pytest.fixture
def pencilled(clinic: SmallClinic) -> int:
    """Grace Hopper (screening pending): an IV infusion pencilled in, Wednesday 10:00."""
    request = BookingRequest(
        patient_id=clinic.ids["Grace Hopper"],
        sessions=(clinic.session("iv_infusion", WEDNESDAY, "10:00", IV_ROOM_3),),
        tentative=True,
    )
    return booking.book(clinic.db, FRONT_DESK, request, now=NOW).appointment_ids[0]


@pytest.fixture
def view(qtbot: QtBot, clinic: SmallClinic, pencilled: int) -> Iterator[DayView]:
    v = DayView(desk=Desk(clinic.db, FRONT_DESK, now=lambda: NOW))
    qtbot.addWidget(v)
    v.resize(1100, 900)
    v.set_schedule(day_schedule(clinic.db, WEDNESDAY))
    v.show()
    qtbot.waitExposed(v)
    yield v
    v.hide()


def test_a_pencilled_in_hold_is_confirmed_from_the_day_once_the_gates_pass(
    view: DayView, clinic: SmallClinic, pencilled: int, qtbot: QtBot
) -> None:
    schedule = view.schedule()
    assert schedule is not None
    appointment = next(a for a in schedule.appointments if a.id == pencilled)
    assert appointment.status_label == "Pencilled in"
    editor = ScheduleEditor(view.desk())  # type: ignore[arg-type]
    editor.attach(view)
    menu = view.context_menu(appointment)
    confirm = next(a for a in menu.actions() if a.objectName() == "confirm")
    assert confirm.isVisible()
    with qtbot.waitSignal(editor.refused, timeout=10_000) as refused:
        confirm.trigger()
    assert "screening" in refused.args[0].lower()
    assert appointment_detail(clinic.db, pencilled).status == "tentative"
    with clinic.db.write() as s:
        patient = s.get(Patient, clinic.ids["Grace Hopper"])
        assert patient is not None
        patient.screening_status = "cleared"
        patient.screening_cleared_on = NOW.date() - dt.timedelta(days=1)
        patient.consent_signed_on = NOW.date() - dt.timedelta(days=1)
        patient.driver_name = "B. Driver"
    with qtbot.waitSignal(editor.changed, timeout=10_000):
        confirm.trigger()
    assert appointment_detail(clinic.db, pencilled).status == "booked"
