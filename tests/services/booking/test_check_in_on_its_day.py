"""A session is checked in and started on its own clinic-local day, not a week ahead
(``[clinic] check_in_days_ahead`` days earlier at most); undo still works."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import Actor, InvalidRequest
from ketadesk.services.schedule.day import clinic_today
from ketadesk.store.models import Appointment, ClinicSetting
from tests.clinic_fixtures import SmallClinic, build_small_clinic

IV_A = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _open_day_after(clinic: SmallClinic, day: dt.date, days: int) -> dt.date:
    """The first weekday the clinic is open ``days`` or more after ``day``."""
    day += dt.timedelta(days=days)
    while day.weekday() >= 5 or clinic.calendar.closed_reason(day) is not None:
        day += dt.timedelta(days=1)
    return day


def _booked_a_week_ahead(clinic: SmallClinic) -> tuple[int, dt.date, dt.datetime]:
    today = clinic_today(clinic.db)
    session_day = _open_day_after(clinic, today, 7)
    now = clinic.at(session_day - dt.timedelta(days=7), "08:00")
    request = BookingRequest(
        patient_id=clinic.ids["Ada Lovelace"],
        sessions=(clinic.session("iv_infusion", session_day, "10:00", IV_A),),
    )
    appt = booking.book(clinic.db, FRONT_DESK, request, now=now).appointment_ids[0]
    return appt, session_day, now


def test_a_check_in_a_week_early_is_refused_naming_the_sessions_day(
    clinic: SmallClinic,
) -> None:
    appt, day, now = _booked_a_week_ahead(clinic)
    with pytest.raises(InvalidRequest, match=f"session of .* {day.month}/{day.day} cannot be"):
        appointment_changes.change_status(clinic.db, FRONT_DESK, appt, "check_in", now=now)
    # The evening before (clinic-local) is still early.
    evening_before = clinic.at(day - dt.timedelta(days=1), "23:30")
    with pytest.raises(InvalidRequest, match="checked in before its own day"):
        appointment_changes.change_status(
            clinic.db, FRONT_DESK, appt, "check_in", now=evening_before
        )
    with clinic.db.read() as s:
        row = s.get(Appointment, appt)
        assert row is not None
        assert row.status == "booked"


def test_on_its_day_check_in_start_and_undo_work(clinic: SmallClinic) -> None:
    appt, day, _ = _booked_a_week_ahead(clinic)
    morning = clinic.at(day, "07:45")
    change = appointment_changes.change_status(clinic.db, FRONT_DESK, appt, "check_in", now=morning)
    assert change.to_status == "checked_in"
    undone = appointment_changes.undo_status(clinic.db, FRONT_DESK, appt, now=morning)
    assert undone.to_status == "booked"
    appointment_changes.change_status(clinic.db, FRONT_DESK, appt, "check_in", now=morning)
    started = appointment_changes.change_status(clinic.db, NURSE, appt, "start", now=morning)
    assert started.to_status == "in_progress"
    assert appointment_changes.undo_status(clinic.db, NURSE, appt, now=morning).to_status == (
        "checked_in"
    )


def test_a_session_cannot_start_days_ahead(clinic: SmallClinic) -> None:
    appt, _day, now = _booked_a_week_ahead(clinic)
    with clinic.db.write() as s:  # checked in by an older version, before the rule
        s.execute(update(Appointment).where(Appointment.id == appt).values(status="checked_in"))
    with pytest.raises(InvalidRequest, match="cannot be started before its own day"):
        appointment_changes.change_status(clinic.db, NURSE, appt, "start", now=now)


def test_the_lead_is_configuration(clinic: SmallClinic) -> None:
    appt, day, _ = _booked_a_week_ahead(clinic)
    with clinic.db.write() as s:
        stored = s.scalars(select(ClinicSetting.value).where(ClinicSetting.key == "clinic")).one()
        s.execute(
            update(ClinicSetting)
            .where(ClinicSetting.key == "clinic")
            .values(value={**stored, "check_in_days_ahead": 2})
        )
    three_days_before = clinic.at(day - dt.timedelta(days=3), "09:00")
    with pytest.raises(InvalidRequest, match="more than 2 days before its day"):
        appointment_changes.change_status(
            clinic.db, FRONT_DESK, appt, "check_in", now=three_days_before
        )
    two_days_before = clinic.at(day - dt.timedelta(days=2), "09:00")
    change = appointment_changes.change_status(
        clinic.db, FRONT_DESK, appt, "check_in", now=two_days_before
    )
    assert change.to_status == "checked_in"
