"""The Wednesday Spravato session the monitoring dialog's tests work on: Mary Seacole at 10:00
on Wednesday 25 Nov 2026 in Room 3 (dose 10:15), booked the evening before, and who works it."""

from __future__ import annotations

import datetime as dt

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, Actor
from tests.clinic_fixtures import SmallClinic

WED = dt.date(2026, 11, 25)
SPR = {
    "room": "Room 3",
    "monitor": "Monitor 3",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
NURSE = Actor(user_id=None, username="kim", role="nurse")
PRESCRIBER = Actor(user_id=None, username="patel", role="prescriber")


def book_spravato(clinic: SmallClinic) -> int:
    """Mary Seacole's Spravato session on Wednesday 25 Nov at 10:00 (dose 10:15): its id."""
    result = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids["Mary Seacole"],
            sessions=(clinic.session("spravato", WED, "10:00", SPR),),
        ),
        now=dt.datetime(2026, 11, 24, 18, 0, tzinfo=dt.UTC),
    )
    return result.appointment_ids[0]
