"""The day and the week say which sessions fall on their patient's days away (a user trial: the
desk planning the week saw them as any other), read with the day, not one query a session.

Ada Lovelace's IV induction (Mon/Wed/Fri from a Monday a week or more after the clinic's
today, ``booked_clinic``); she then tells the desk she is away around her fourth session.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ketadesk.scheduling.days_away import AWAY_RULE, AwayRange
from ketadesk.scheduling.protocol_rules import PATIENT_AWAY
from ketadesk.services.common.context import Actor
from ketadesk.services.patients.days_away import add_day_away
from ketadesk.services.schedule.day import day_schedule, staff_day_schedule
from ketadesk.services.schedule.day_schedule import DayAppointment, DaySchedule, shifted
from ketadesk.services.schedule.sqlite_file import SqliteFileDays
from ketadesk.services.schedule.week import week_schedule
from ketadesk.store.models import Appointment, GatingOverride
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic

DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def booked(db_url: str) -> Iterator[BookedClinic]:
    b = booked_clinic(db_url, whole_weeks=3)
    yield b
    b.clinic.db.dispose()


def away_around(b: BookedClinic, session: int, reason: str = "travel") -> dt.date:
    """Ada away from two days before the session's day to the day itself; that day."""
    day = b.day_of(session)
    add_day_away(
        b.clinic.db,
        DESK,
        b.clinic.ids["Ada Lovelace"],
        day - dt.timedelta(days=2),
        day,
        reason,
        now=b.now,
    )
    return day


def on(schedule: DaySchedule, appointment_id: int) -> DayAppointment:
    return next(a for a in schedule.appointments if a.id == appointment_id)


def test_the_rule_the_schedule_reads_is_the_rules_engines() -> None:
    assert AWAY_RULE == PATIENT_AWAY


def test_a_session_on_the_patients_days_away_says_so_on_its_day_and_week(
    booked: BookedClinic,
) -> None:
    b = booked
    fourth, fifth = b.series[3], b.series[4]
    day = b.day_of(fourth)
    assert on(day_schedule(b.clinic.db, day), fourth).away == ""  # nothing to say yet
    away_around(b, fourth)
    flagged = on(day_schedule(b.clinic.db, day), fourth)
    # The range in the record's words, "Jan 30 – Feb 1, 2027 (travel)".
    assert flagged.away == AwayRange(day - dt.timedelta(days=2), day, "travel").words
    assert flagged.away_words.startswith(f"The patient is away {flagged.away}")
    assert "Call the patient" in flagged.away_words
    assert "Move…" in flagged.away_words
    # Her next session, after she is back, is not flagged; nor is anyone else's.
    assert on(day_schedule(b.clinic.db, b.day_of(fifth)), fifth).away == ""
    week = week_schedule(b.clinic.db, day - dt.timedelta(days=day.weekday()))
    by_id = {a.id: a for d in week.days for a in d.appointments}
    assert by_id[fourth].away == flagged.away
    assert [i for i, a in by_id.items() if a.away] == [fourth]
    # By staff too: each copy of the session under its staff says it.
    by_staff = staff_day_schedule(b.clinic.db, day)
    copies = [a for a in by_staff.appointments if a.id == fourth]
    assert copies
    assert all(a.away == flagged.away for a in copies)
    # A session being moved off it says nothing until the day is read again.
    assert shifted(flagged, flagged.start + dt.timedelta(days=1)).away == ""


def test_one_kept_there_with_an_override_or_no_longer_on_is_not_flagged(
    booked: BookedClinic,
) -> None:
    b = booked
    fourth, second = b.series[3], b.series[1]
    day = away_around(b, fourth)
    second_day = b.day_of(second)
    add_day_away(
        b.clinic.db, DESK, b.clinic.ids["Ada Lovelace"], second_day, second_day, "", now=b.now
    )
    assert on(day_schedule(b.clinic.db, second_day), second).away == (
        AwayRange(second_day, second_day).words  # one day, no reason: "Wed Feb 3, 2027"
    )
    with b.clinic.db.write() as s:
        # Decided: the desk kept the fourth there with a reason (she flies back that morning).
        s.add(GatingOverride(appointment_id=fourth, rule=PATIENT_AWAY, reason="back by 9"))
        appointment = s.get(Appointment, second)
        assert appointment is not None
        appointment.status = "cancelled"
    assert on(day_schedule(b.clinic.db, day), fourth).away == ""
    assert on(day_schedule(b.clinic.db, second_day), second).away == ""


def test_the_first_paint_from_the_file_says_the_same(sqlite_url: str) -> None:
    b = booked_clinic(sqlite_url, whole_weeks=3)
    try:
        fourth = b.series[3]
        day = away_around(b, fourth, "work")
        through_sqlalchemy = on(day_schedule(b.clinic.db, day), fourth)
        days = SqliteFileDays.of(sqlite_url)
        assert days is not None
        from_file = on(days(day), fourth)
        assert from_file.away == through_sqlalchemy.away
        assert from_file.away.endswith("(work)")
    finally:
        b.clinic.db.dispose()
