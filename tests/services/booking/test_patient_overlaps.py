"""No patient in two sessions at once, whichever write places the session (issue 13: "series
moves ignore the patient").  Booking and single moves are in test_booking.py; here the series
move onto a session the patient already had, and a closure's undo putting sessions back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.plan_check import BookingConflict
from ketadesk.services.booking.series_moves import move_series, propose_series_move
from ketadesk.services.clinic.integrity import find_problems
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.settings import consequences
from ketadesk.services.settings.availability import Unavailability
from ketadesk.store.models import Appointment
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic

NURSE = Actor(user_id=None, username="kim", role="nurse")  # may override spacing, with a reason
THERAPY = {"therapist": "Sam Rivera", "office": "Office A"}  # nothing the infusions use


@pytest.fixture
def booked(db_url: str) -> Iterator[BookedClinic]:
    """Ada's IV induction, Mon/Wed/Fri at 10:00 from a Monday a week or more after today."""
    b = booked_clinic(db_url)
    yield b
    b.clinic.db.dispose()


def _book_therapy(b: BookedClinic, at: dt.datetime) -> int:
    """Ada's integration session at ``at``: a therapist and an office, so only she is shared."""
    c = b.clinic
    planned = c.session(
        "integration", c.calendar.local_date(at), c.calendar.local(at).strftime("%H:%M"), THERAPY
    )
    with c.db.read() as s:
        ada = s.scalars(select(Appointment.patient_id).where(Appointment.id == b.series[0])).one()
    done = booking.book(
        c.db, SYSTEM, BookingRequest(patient_id=ada, sessions=(planned,)), now=b.now
    )
    return done.appointment_ids[0]


def test_a_series_move_onto_a_session_the_patient_already_has_is_refused(
    booked: BookedClinic,
) -> None:
    b = booked
    c = b.clinic
    second = b.series[1]
    # The next open day without one of Ada's infusions (a holiday may have moved the series).
    busy = {b.day_of(i) for i in b.series}
    day = b.day_of(second) + dt.timedelta(days=1)
    while c.calendar.closed_reason(day) is not None or day in busy:
        day += dt.timedelta(days=1)
    target = c.at(day, "10:00")
    # Ada already sees her therapist at 10:30 that day, before anyone plans the move.
    therapy = _book_therapy(b, target + dt.timedelta(minutes=30))
    proposal = propose_series_move(c.db, second, target, now=b.now)
    landing = [s for _, s in proposal.moves if s.start <= target + dt.timedelta(minutes=30) < s.end]
    assert landing, "the re-flow should put a session over the therapy"
    before = b.starts()
    del therapy
    with pytest.raises(BookingConflict, match="the patient already has Integration therapy "):
        # A spacing override (a holiday may stretch the gap) does not excuse the overlap.
        move_series(c.db, NURSE, proposal, reason="patient away", spacing_reason="away", now=b.now)
    assert b.starts() == before  # nothing moved
    assert find_problems(c.db) == []


def test_undoing_a_closure_does_not_put_a_session_over_the_patients_new_one(
    booked: BookedClinic,
) -> None:
    b = booked
    c = b.clinic
    second = b.series[1]
    old = b.starts()[second]
    # The only nurse is off that day: the infusion moves to another day.
    day = b.day_of(second)
    off = Unavailability(
        "time_off",
        c.calendar.at_local(day, 0),
        c.calendar.at_local(day + dt.timedelta(days=1), 0),
        "family",
        resource_id=c.ids["Nurse Kim"],
    )
    preview = consequences.preview(c.db, off, now=b.now)
    applied = consequences.apply(c.db, SYSTEM, preview, now=b.now)
    assert b.starts()[second] != old
    # Meanwhile Ada's therapy is booked into the morning the infusion left.
    _book_therapy(b, old + dt.timedelta(minutes=30))
    with pytest.raises(BookingConflict, match="the patient already has Integration therapy "):
        consequences.undo(c.db, SYSTEM, applied, now=b.now)
    assert b.starts()[second] != old  # the infusion stays where the closure put it
    assert find_problems(c.db) == []
