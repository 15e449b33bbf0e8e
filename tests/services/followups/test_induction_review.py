"""The label asks for the benefit to be evaluated at the end of Spravato induction: once the
induction stage's last session is done, an end-of-induction review is owed (protocols.toml
``on_complete = { followup = "induction_review", ... }``), and not a session before."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.store.models import FollowUp
from tests.clinic_fixtures import RIDE_HOME, SmallClinic, build_small_clinic, ready_for_discharge

# The clock is injected: the day before a twice-weekly induction that meets no holiday.
TUESDAY = dt.date(2027, 1, 19)
NOW = dt.datetime(2027, 1, 18, 17, 0, tzinfo=dt.UTC)
NURSE = Actor(user_id=None, username="kim", role="nurse")
SPRAVATO = {
    "room": "Room 1",
    "monitor": "Monitor 1",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


def test_the_end_of_induction_review_is_owed_once_the_last_induction_session_is_done(
    clinic: SmallClinic,
) -> None:
    days = [TUESDAY + dt.timedelta(days=d) for d in (0, 3, 7, 10, 14, 17, 21, 24)]
    sessions = tuple(
        clinic.session("spravato", d, "10:00", SPRAVATO, index=n + 1) for n, d in enumerate(days)
    )
    ids = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids["Ada Lovelace"], sessions=sessions, protocol="spravato_trd"
        ),
        now=NOW,
    ).appointment_ids

    def reviews() -> list[tuple[int | None, str, dt.datetime | None, str]]:
        with clinic.db.read() as session:
            return [
                (r.appointment_id, r.status, r.deadline_at, r.assignee_role)
                for r in session.scalars(
                    select(FollowUp).where(FollowUp.kind == "induction_review")
                )
            ]

    for n, (appointment_id, day) in enumerate(zip(ids, days, strict=True)):
        for action, hhmm in (("check_in", "09:55"), ("start", "10:00"), ("complete", "12:30")):
            if action == "complete":  # the chair's rules ask a monitoring record first
                ready_for_discharge(clinic.db, appointment_id)
            appointment_changes.change_status(
                clinic.db, NURSE, appointment_id, action, now=clinic.at(day, hhmm), ride=RIDE_HOME
            )
        assert bool(reviews()) is (n == len(ids) - 1), n
    ((owner, status, deadline, role),) = reviews()
    assert (owner, status, role) == (ids[-1], "open", "prescriber")
    # Within a week of the last induction session.
    assert deadline is not None
    assert clinic.calendar.local_date(deadline) <= days[-1] + dt.timedelta(days=8)
