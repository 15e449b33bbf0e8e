"""Complete pressed on a session after which the patient may not drive: the ride home is asked
(the driver on record prefilled) and the session completes with the answer; cancelled, it
stays in progress and the status bar says why; an undo and a redo give the same answer again.
The dialog itself takes OK only with a name, or a reason."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.scheduling.ride_home import RideHome
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.move_check import placement_of
from ketadesk.services.common.context import SYSTEM, Actor, utcnow
from ketadesk.store.models import AppointmentEvent
from ketadesk.ui.common import ride_dialog
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.ride_dialog import RideDialog
from ketadesk.ui.timeline.undo import ScheduleEditor
from tests.clinic_fixtures import (
    SmallClinic,
    build_small_clinic,
    extend_authorizations,
    ready_for_discharge,
)

SPRAVATO = {
    "room": "Room 1",
    "monitor": "Monitor 1",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
NURSE = Actor(user_id=None, username="kim", role="nurse")
WHO = "Ada Lovelace"


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


@pytest.fixture
def day(clinic: SmallClinic) -> dt.date:
    found = clinic.calendar.local_date(utcnow()) + dt.timedelta(days=14)
    while found.weekday() >= 5 or clinic.calendar.closed_reason(found) is not None:
        found += dt.timedelta(days=1)
    extend_authorizations(clinic, found + dt.timedelta(days=365))
    return found


@pytest.fixture
def started(clinic: SmallClinic, day: dt.date) -> int:
    """Ada's Spravato session at 10:00, started, its record ready for discharge."""
    request = BookingRequest(
        patient_id=clinic.ids[WHO], sessions=(clinic.session("spravato", day, "10:00", SPRAVATO),)
    )
    at = clinic.at(day, "08:00") - dt.timedelta(days=7)
    (appointment,) = booking.book(clinic.db, SYSTEM, request, now=at).appointment_ids
    for action, hhmm in (("check_in", "09:55"), ("start", "10:00")):
        appointment_changes.change_status(
            clinic.db, NURSE, appointment, action, now=clinic.at(day, hhmm)
        )
    ready_for_discharge(clinic.db, appointment)
    return appointment


def _editor(clinic: SmallClinic, day: dt.date) -> ScheduleEditor:
    return ScheduleEditor(Desk(clinic.db, NURSE, lambda: clinic.at(day, "12:40")))


class _Asked:
    def __init__(self, answer: RideHome | None) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str, str]] = []

    def __call__(
        self, parent: object, *, question: str, driver_name: str, driver_phone: str
    ) -> RideHome | None:
        self.calls.append((question, driver_name, driver_phone))
        return self.answer


def _ride_of(clinic: SmallClinic, appointment: int) -> object:
    with clinic.db.read() as s:
        detail = s.scalars(
            select(AppointmentEvent.detail)
            .where(
                AppointmentEvent.appointment_id == appointment,
                AppointmentEvent.action == "complete",
            )
            .order_by(AppointmentEvent.id.desc())
        ).first()
    return detail.get("ride") if detail else None


def test_complete_asks_the_ride_and_completes_with_the_answer(
    qtbot: QtBot,
    clinic: SmallClinic,
    day: dt.date,
    started: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = _Asked(RideHome(here=True, name="A. Driver"))
    monkeypatch.setattr(ride_dialog, "ask_ride_home", asked)
    editor = _editor(clinic, day)
    refused: list[str] = []
    editor.refused.connect(refused.append)
    editor.set_status(started, "complete")
    qtbot.waitUntil(lambda: placement_of(clinic.db, started).status == "completed", timeout=10_000)
    qtbot.waitUntil(lambda: not editor.is_busy(), timeout=10_000)
    assert refused == []
    ((question, driver, _phone),) = asked.calls
    assert driver == "A. Driver"
    assert "Lovelace, Ada may not drive for 24 hours after this Spravato" in question
    assert _ride_of(clinic, started) == {"here": True, "name": "A. Driver", "reason": ""}
    # Undo, then redo: completed again with the same answer, nothing asked again.
    editor.undo()
    qtbot.waitUntil(
        lambda: placement_of(clinic.db, started).status == "in_progress", timeout=10_000
    )
    qtbot.waitUntil(lambda: not editor.is_busy(), timeout=10_000)
    editor.redo()
    qtbot.waitUntil(lambda: placement_of(clinic.db, started).status == "completed", timeout=10_000)
    assert len(asked.calls) == 1


def test_a_cancelled_ride_question_leaves_the_session_in_progress(
    qtbot: QtBot,
    clinic: SmallClinic,
    day: dt.date,
    started: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ride_dialog, "ask_ride_home", _Asked(None))
    editor = _editor(clinic, day)
    refused: list[str] = []
    editor.refused.connect(refused.append)
    editor.set_status(started, "complete")
    qtbot.waitUntil(lambda: bool(refused), timeout=10_000)
    assert refused[0].startswith("The session was not completed: Lovelace, Ada may not drive")
    assert placement_of(clinic.db, started).status == "in_progress"


def test_the_dialog_takes_a_name_or_a_reason(qtbot: QtBot) -> None:
    dialog = RideDialog(
        None,
        question="Lovelace, Ada may not drive for 24 hours after this Spravato (esketamine): "
        "confirm the driver or escort is here (on the record: A. Driver), or record why not",
        driver_name="A. Driver",
        driver_phone="(415) 555-0100",
    )
    qtbot.addWidget(dialog)
    assert dialog.answer() == RideHome(here=True, name="A. Driver")
    assert dialog._ok.isEnabled()
    shots = Path(os.environ.get("KETADESK_SHOTS", "/tmp/discharge"))
    if shots.is_dir():
        dialog.grab().save(str(shots / "ride_dialog.png"))
    dialog.set_answer(RideHome(here=False))
    assert not dialog._ok.isEnabled()
    assert dialog._problem.text() == (
        "To complete: say why the patient leaves without a driver or escort."
    )
    if shots.is_dir():
        dialog.grab().save(str(shots / "ride_dialog_no_ride.png"))
    dialog.set_answer(RideHome(here=False, reason="taxi booked by the clinic"))
    assert dialog._ok.isEnabled()
    assert dialog.answer().words == "no ride home: taxi booked by the clinic"
