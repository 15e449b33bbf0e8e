"""The confirmation list on a real clinic (SQLite and PostgreSQL): calls kept with who, when
and the outcome; a cancellation through the booking service with its reason; the checklist
ticked, audited and counted; roles refused.  "Now" is injected; the visits are the next day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from ketadesk.services.booking import booking
from ketadesk.services.common.context import Actor, InvalidFields, PermissionDenied
from ketadesk.services.confirmations import calls
from ketadesk.services.printing.call_sheet import call_sheet, call_sheet_layout
from ketadesk.store import changes
from ketadesk.store.models import Appointment, AuditEvent, ConfirmationCall
from tests.clinic_fixtures import SmallClinic, build_small_clinic, say_times

#: Tuesday 24 November 2026, 10:15 at the clinic.
NOW = dt.datetime(2026, 11, 24, 18, 15, tzinfo=dt.UTC)
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
THERAPIST = Actor(user_id=None, username="sam", role="therapist")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _next_open_day(clinic: SmallClinic) -> dt.date:
    day = clinic.calendar.local_date(NOW) + dt.timedelta(days=1)
    while clinic.calendar.closed_reason(day) is not None:
        day += dt.timedelta(days=1)
    return day


def _book(clinic: SmallClinic, patient: str, room: str, monitor: str, hhmm: str) -> int:
    planned = clinic.session(
        "iv_infusion",
        _next_open_day(clinic),
        hhmm,
        {"room": room, "monitor": monitor, "nurse": "Nurse Kim"},
    )
    result = booking.book(
        clinic.db,
        FRONT_DESK,
        booking.BookingRequest(patient_id=clinic.ids[patient], sessions=(planned,)),
        now=NOW,
    )
    return result.appointment_ids[0]


def test_the_list_is_for_the_next_open_day_and_worked_to_the_end(clinic: SmallClinic) -> None:
    ada = _book(clinic, "Ada Lovelace", "Room 1", "Monitor 1", "09:00")
    mary = _book(clinic, "Mary Seacole", "Room 2", "Monitor 2", "11:00")
    listed = calls.list_confirmations(clinic.db, now=NOW)
    assert listed.day == _next_open_day(clinic)
    assert [r.appointment_id for r in listed.rows] == [ada, mary]
    assert [r.status for r in listed.rows] == ["not_called", "not_called"]
    assert not listed.all_done
    counter = changes.change_counter(clinic.db)

    calls.record_call(clinic.db, FRONT_DESK, ada, "no_answer", now=NOW)
    calls.record_call(
        clinic.db,
        FRONT_DESK,
        ada,
        "confirmed",
        note="ride: her son",
        now=NOW + dt.timedelta(hours=1),
    )
    calls.record_call(clinic.db, FRONT_DESK, mary, "cancelled", reason="flu", now=NOW)
    listed = calls.list_confirmations(clinic.db, now=NOW)
    assert listed.all_done
    first, second = listed.rows
    assert first.status == "confirmed"
    assert [(a.outcome, a.username) for a in first.attempts] == [
        ("no_answer", "maria"),
        ("confirmed", "maria"),
    ]
    assert second.status == "cancelled"
    assert second.appointment_status == "cancelled"
    with clinic.db.read() as session:
        cancelled = session.get(Appointment, mary)
        assert cancelled is not None
        assert cancelled.status == "cancelled"
        assert session.scalar(select(func.count()).select_from(ConfirmationCall)) == 3
        audited = session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity_id.in_((ada, mary)))
        ).all()
    assert audited.count("confirmation_call") == 3
    assert "cancel" in audited
    assert changes.change_counter(clinic.db) > counter


def test_a_cancellation_without_a_reason_saves_nothing(clinic: SmallClinic) -> None:
    ada = _book(clinic, "Ada Lovelace", "Room 1", "Monitor 1", "09:00")
    with pytest.raises(InvalidFields) as raised:
        calls.record_call(clinic.db, FRONT_DESK, ada, "cancelled", now=NOW)
    assert "reason" in raised.value.errors
    with pytest.raises(InvalidFields) as raised:
        calls.record_call(clinic.db, FRONT_DESK, ada, "maybe", now=NOW)
    assert "outcome" in raised.value.errors
    with clinic.db.read() as session:
        appointment = session.get(Appointment, ada)
        assert appointment is not None
        assert appointment.status == "booked"
        assert session.scalar(select(func.count()).select_from(ConfirmationCall)) == 0


def test_a_therapist_may_not_work_the_list(clinic: SmallClinic) -> None:
    ada = _book(clinic, "Ada Lovelace", "Room 1", "Monitor 1", "09:00")
    with pytest.raises(PermissionDenied):
        calls.record_call(clinic.db, THERAPIST, ada, "confirmed", now=NOW)
    with pytest.raises(PermissionDenied):
        calls.set_checklist_item(clinic.db, THERAPIST, ada, "fasting_confirmed", True, now=NOW)


def test_the_checklist_is_ticked_with_the_ride(clinic: SmallClinic) -> None:
    ada = _book(clinic, "Ada Lovelace", "Room 1", "Monitor 1", "09:00")
    row = calls.list_confirmations(clinic.db, now=NOW).rows[0]
    assert [i.key for i in row.checklist] == ["driver_confirmed", "fasting_confirmed"]
    assert not any(i.ticked for i in row.checklist)
    # The pickup the list offers is the planned end of observation (DOMAIN.md "Gating"): the
    # IV infusion's recovery ends 100 min after its 09:00 start.
    assert row.pickup_planned == row.start + dt.timedelta(minutes=100)
    calls.set_checklist_item(
        clinic.db,
        FRONT_DESK,
        ada,
        "driver_confirmed",
        True,
        ride_phone="(619) 555-0142",
        ride_pickup="11:00",
        now=NOW,
    )
    calls.set_checklist_item(clinic.db, FRONT_DESK, ada, "fasting_confirmed", True, now=NOW)
    row = calls.list_confirmations(clinic.db, now=NOW).rows[0]
    assert all(i.ticked for i in row.checklist)
    assert (row.ride_phone, row.ride_pickup) == ("(619) 555-0142", "11:00")
    with pytest.raises(InvalidFields) as raised:
        calls.set_checklist_item(
            clinic.db, FRONT_DESK, ada, "driver_confirmed", True, ride_pickup="25:99", now=NOW
        )
    assert "ride_pickup" in raised.value.errors
    with pytest.raises(InvalidFields) as raised:
        calls.set_checklist_item(
            clinic.db, FRONT_DESK, ada, "nasal_spray_instructions", True, now=NOW
        )
    assert "item" in raised.value.errors
    with clinic.db.read() as session:
        audited = session.scalars(
            select(AuditEvent.after).where(AuditEvent.action == "checklist").order_by(AuditEvent.id)
        ).all()
    assert len(audited) == 2
    assert audited[0] == {
        "driver_confirmed": True,
        "ride_phone": "(619) 555-0142",
        "ride_pickup": "11:00",
    }


@pytest.mark.parametrize(
    ("typed", "kept", "said"),
    [
        ("2:30 pm", "14:30", "2:30 PM"),
        ("2:30p", "14:30", "2:30 PM"),
        ("230pm", "14:30", "2:30 PM"),
        ("14:30", "14:30", "2:30 PM"),
        (" 9:05 AM ", "09:05", "9:05 AM"),
        ("12:15 pm", "12:15", "12:15 PM"),
    ],
)
def test_the_pickup_takes_what_a_us_front_desk_types(
    clinic: SmallClinic, typed: str, kept: str, said: str
) -> None:
    with clinic.db.write() as session:
        say_times(session, "12h")  # (a US clinic's default; the small clinic says 24h)
    ada = _book(clinic, "Ada Lovelace", "Room 1", "Monitor 1", "09:00")
    calls.set_checklist_item(
        clinic.db, FRONT_DESK, ada, "driver_confirmed", True, ride_pickup=typed, now=NOW
    )
    with clinic.db.read() as session:
        appointment = session.get(Appointment, ada)
        assert appointment is not None
        assert appointment.checklist["ride_pickup"] == kept
    row = calls.list_confirmations(clinic.db, now=NOW).rows[0]
    assert row.ride_pickup == said


@pytest.mark.parametrize("typed", ["25:99", "2:75 pm", "13:00 pm", "half two", "2:3"])
def test_a_pickup_that_is_no_time_is_refused_naming_it(clinic: SmallClinic, typed: str) -> None:
    ada = _book(clinic, "Ada Lovelace", "Room 1", "Monitor 1", "09:00")
    with pytest.raises(InvalidFields) as raised:
        calls.set_checklist_item(
            clinic.db, FRONT_DESK, ada, "driver_confirmed", True, ride_pickup=typed, now=NOW
        )
    message = raised.value.errors["ride_pickup"]
    assert repr(typed) in message
    assert "is not a time of day" in message
    assert "2:30 pm" in message


def test_the_day_sheet_shows_the_checklist_as_ticked(clinic: SmallClinic) -> None:
    from ketadesk.services.printing.day_sheet import day_sheet, day_sheet_layout

    ada = _book(clinic, "Ada Lovelace", "Room 1", "Monitor 1", "09:00")
    calls.set_checklist_item(
        clinic.db, FRONT_DESK, ada, "driver_confirmed", True, ride_pickup="11:05a", now=NOW
    )
    sheet = day_sheet(clinic.db, _next_open_day(clinic), now=NOW)
    session = next(s for g in sheet.groups for s in g.sessions if s.appointment_id == ada)
    assert session.checklist == (
        ("Ride home", True),
        ("Fasting", False),
    )
    text = "".join(b.html for b in day_sheet_layout(sheet).blocks)
    assert "&#9746;&nbsp;Ride home" in text
    assert "&#9744;&nbsp;Fasting" in text
    assert "Pickup <b>11:05</b>" in text  # (typed "11:05a"; the small clinic says 24h)


def test_the_call_sheet_tells_no_calls_due_from_all_called(clinic: SmallClinic) -> None:
    """A day with nothing to confirm printed "(0, all called)" (a front-desk trial): nothing due
    is not everything called."""
    empty = call_sheet_layout(call_sheet(clinic.db, now=NOW))
    assert empty.title.endswith("(no calls due)")
    assert "all called" not in empty.title
    assert "No calls due" in empty.blocks[0].html

    ada = _book(clinic, "Ada Lovelace", "Room 1", "Monitor 1", "09:00")
    mary = _book(clinic, "Mary Seacole", "Room 2", "Monitor 2", "11:00")
    sheet = call_sheet_layout(call_sheet(clinic.db, now=NOW))
    assert sheet.title.endswith("(2 visits, 2 to call)")
    calls.record_call(clinic.db, FRONT_DESK, ada, "confirmed", now=NOW)
    calls.record_call(clinic.db, FRONT_DESK, mary, "left_message", now=NOW)
    sheet = call_sheet_layout(call_sheet(clinic.db, now=NOW))
    assert sheet.title.endswith("(2 visits, all called)")
