"""A session's page tells what its day holds against it (the user trial: a session left on
the patient's days away, and one left on a snow closure, said only "Status: Booked"), and a
move of it is offered places the openings search finds, off the patient's days away and
other sessions.  Days come from the clinic's today (``booked_clinic``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ketadesk.scheduling.days_away import AwayRange, first_day_back
from ketadesk.services.booking.move_check import check_move
from ketadesk.services.booking.session_day import move_openings, session_day
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.patients.days_away import add_day_away
from ketadesk.services.settings import availability
from ketadesk.services.settings.availability import Unavailability
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic

DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def booked(db_url: str) -> Iterator[BookedClinic]:
    b = booked_clinic(db_url, whole_weeks=3)
    yield b
    b.clinic.db.dispose()


def test_first_day_back_passes_ranges_that_meet() -> None:
    day = dt.date(2026, 12, 21)
    ranges = [
        AwayRange(dt.date(2026, 12, 21), dt.date(2026, 12, 27), "travel"),
        AwayRange(dt.date(2026, 12, 28), dt.date(2026, 12, 29), "work"),
    ]
    assert first_day_back(ranges, day) == dt.date(2026, 12, 30)
    assert first_day_back(ranges, dt.date(2026, 12, 20)) == dt.date(2026, 12, 20)
    assert first_day_back([], day) == day


def test_a_session_on_the_patients_days_away_says_so_with_the_range(
    booked: BookedClinic,
) -> None:
    b = booked
    session = b.series[3]
    day = b.day_of(session)
    assert session_day(b.clinic.db, session, now=b.now).notices == ()  # nothing to say yet
    add_day_away(
        b.clinic.db,
        DESK,
        b.clinic.ids["Ada Lovelace"],
        day - dt.timedelta(days=2),
        day,
        "travel",
        now=b.now,
    )
    told = session_day(b.clinic.db, session, now=b.now)
    assert told.away is not None
    assert told.away.reason == "travel"
    assert told.notices[0].startswith(f"The patient is away {told.away.words}")
    assert "still booked" in told.notices[0]
    assert told.notices[-1] == "Move… finds it another place, or cancel it."
    # A move starts looking on the first day back, never inside the range.
    assert told.move_from == day + dt.timedelta(days=1)
    found = move_openings(b.clinic.db, session, day, days=10, now=b.now)
    assert found.openings
    cal = b.clinic.calendar
    for o in found.openings:
        assert not told.away.covers(cal.local_date(o.start)), o
    assert {name for _id, name in found.rooms} >= {"Room 1", "Room 2"}
    # Between its neighbours in the series (Mon/Wed/Fri: the Tuesday), and the place
    # offered passes the move's own check (the patient's sessions and the rules judged again).
    assert {cal.local_date(o.start) for o in found.openings} == {day + dt.timedelta(days=1)}
    assert any("Move rest of series" in r for r in found.reasons)
    first = found.openings[0]
    assert check_move(b.clinic.db, session, first.start, first.room_id, now=b.now) == []


def test_a_session_left_on_a_closure_says_the_clinic_or_its_monitor_is_closed(
    booked: BookedClinic,
) -> None:
    b = booked
    session = b.series[2]
    day = b.day_of(session)
    availability.add_closure(
        b.clinic.db,
        SYSTEM,
        Unavailability(
            "closure", b.clinic.at(day, "00:00"), b.clinic.at(day, "23:59"), "snow closure"
        ),
        now=b.now,
    )
    told = session_day(b.clinic.db, session, now=b.now)
    assert told.away is None
    assert told.closed == ("The clinic is closed then: snow closure",)
    assert (
        told.notices[0] == "The clinic is closed then: snow closure; this session is still booked."
    )
    # A monitor out of service over another session.
    other = b.series[4]
    other_day = b.day_of(other)
    for name in ("Monitor 1", "Monitor 2", "Monitor 3", "Monitor 4"):
        availability.add_closure(
            b.clinic.db,
            SYSTEM,
            Unavailability(
                "maintenance",
                b.clinic.at(other_day, "00:00"),
                b.clinic.at(other_day, "23:59"),
                "repair",
                resource_id=b.clinic.ids[name],
            ),
            now=b.now,
        )
    said = session_day(b.clinic.db, other, now=b.now).closed
    assert len(said) == 1, said
    assert said[0].endswith("is out of service then: repair"), said
    assert said[0].startswith("Monitor ")


def test_a_nurses_time_off_is_named_once_on_the_page_and_flagged_on_every_view(
    booked: BookedClinic,
) -> None:
    """A user trial: a session left for the desk when its nurse called in sick looked like any
    booked session on the day and week views (only its page said so, and said it twice: the
    nurse is held for the dose and again for the observation)."""
    from ketadesk.services.schedule.day import day_schedule

    b = booked
    session = b.series[1]
    day = b.day_of(session)
    before = day_schedule(b.clinic.db, day)
    assert next(a for a in before.appointments if a.id == session).closed_notice == ""
    availability.add_closure(
        b.clinic.db,
        SYSTEM,
        Unavailability(
            "time_off",
            b.clinic.at(day, "00:00"),
            b.clinic.at(day, "23:59"),
            "Sick (called in)",
            resource_id=b.clinic.ids["Nurse Kim"],
        ),
        now=b.now,
    )
    told = session_day(b.clinic.db, session, now=b.now)
    assert told.closed == ("Nurse Kim is away then: Sick (called in)",)
    # The day (and so the week, the day sheet and the card's views of it) marks the session.
    shown = next(a for a in day_schedule(b.clinic.db, day).appointments if a.id == session)
    assert shown.closed_notice == "Nurse Kim away then: reschedule"
    assert shown.closed_words == "Nurse Kim away then: reschedule (Sick (called in))"
    # Time off that does not meet the session's holds marks nothing: the next session's day,
    # the nurse away only in the evening.
    later = b.series[2]
    later_day = b.day_of(later)
    availability.add_closure(
        b.clinic.db,
        SYSTEM,
        Unavailability(
            "time_off",
            b.clinic.at(later_day, "18:30"),
            b.clinic.at(later_day, "23:00"),
            "evening class",
            resource_id=b.clinic.ids["Nurse Kim"],
        ),
        now=b.now,
    )
    assert session_day(b.clinic.db, later, now=b.now).closed == ()
    kept = next(a for a in day_schedule(b.clinic.db, later_day).appointments if a.id == later)
    assert kept.closed_notice == ""
