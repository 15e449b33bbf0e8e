"""A repeating closure, saved as one closure and seen on every day it closes: booking refuses
an occurrence and takes the hours between, the day's schedule shades it, the month calendar
marks its whole days, its consequences are the sessions on its days only, and the settings
export carries its repeat (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest

from ketadesk.scheduling.closure_repeats import Repeat
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, InvalidFields, ServiceError
from ketadesk.services.schedule.day import day_schedule
from ketadesk.services.schedule.month import closed_days, closed_month
from ketadesk.services.settings import availability, config_transfer, consequences
from ketadesk.services.settings.availability import LocalRequest, Unavailability
from tests.clinic_fixtures import CLEARED, SmallClinic, build_small_clinic

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tuesday Dec 1 2026, 8:00 AM in the clinic
FRIDAYS = (dt.date(2026, 12, 4), dt.date(2026, 12, 11), dt.date(2026, 12, 18))
THURSDAY = dt.date(2026, 12, 10)
IV_ROOM_2 = {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"}


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _friday_mornings(clinic: SmallClinic) -> Unavailability:
    """Room 2 out of service every Friday morning of December."""
    return Unavailability(
        "maintenance",
        clinic.at(dt.date(2026, 12, 1), "08:00"),
        clinic.at(dt.date(2026, 12, 31), "12:00"),
        "deep clean",
        clinic.ids["Room 2"],
        Repeat("weekly", (4,)),
    )


def _book(clinic: SmallClinic, who: str, day: dt.date, hhmm: str) -> int:
    request = BookingRequest(
        patient_id=clinic.ids[who],
        sessions=(clinic.session("iv_infusion", day, hhmm, IV_ROOM_2),),
    )
    return booking.book(clinic.db, SYSTEM, request, now=NOW).appointment_ids[0]


def test_one_row_refuses_each_friday_morning_and_leaves_the_rest(clinic: SmallClinic) -> None:
    closure_id = availability.add_closure(clinic.db, SYSTEM, _friday_mornings(clinic), now=NOW)
    rows = availability.list_closures(clinic.db, now=NOW)
    assert [(r.id, r.repeat) for r in rows] == [(closure_id, Repeat("weekly", (4,)))]
    for friday in (FRIDAYS[0], FRIDAYS[2]):
        with pytest.raises(ServiceError, match="deep clean"):
            _book(clinic, CLEARED[0], friday, "09:00")
    _book(clinic, CLEARED[0], FRIDAYS[1], "13:00")  # Friday afternoon: open
    _book(clinic, CLEARED[1], THURSDAY, "09:00")  # not a Friday


def test_the_day_shades_the_occurrence_and_the_month_marks_whole_days(
    clinic: SmallClinic,
) -> None:
    availability.add_closure(clinic.db, SYSTEM, _friday_mornings(clinic), now=NOW)
    friday = day_schedule(clinic.db, FRIDAYS[1])
    bands = [
        (b.start.strftime("%H:%M"), b.end.strftime("%H:%M"), b.reason) for b in friday.closures
    ]
    assert bands == [("08:00", "12:00", "deep clean")]
    assert day_schedule(clinic.db, THURSDAY).closures == ()

    training = LocalRequest.for_days(
        "closure",
        dt.date(2026, 12, 1),
        dt.date(2026, 12, 31),
        "Staff training",
        repeat=Repeat("weekly", (2,)),
    )
    availability.add_closure(
        clinic.db, SYSTEM, availability.from_local(clinic.db, training), now=NOW
    )
    marked = closed_days(clinic.db, dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    training_days = [d.day for d in marked if d.reason == "Staff training"]
    assert training_days == [dt.date(2026, 12, d) for d in (2, 9, 16, 23, 30)]
    assert (dt.date(2026, 12, 25), "Christmas Day") in [(d.day, d.reason) for d in marked]


def test_the_month_is_read_again_only_once_a_closure_changed(clinic: SmallClinic) -> None:
    first, last = dt.date(2026, 12, 1), dt.date(2026, 12, 31)
    month = closed_month(clinic.db, first, last)
    _book(clinic, CLEARED[0], THURSDAY, "09:00")  # a booking moves no closure
    assert closed_month(clinic.db, first, last, month) is month
    snow = LocalRequest.for_days("closure", THURSDAY, THURSDAY, "Snow")
    availability.add_closure(clinic.db, SYSTEM, availability.from_local(clinic.db, snow), now=NOW)
    again = closed_month(clinic.db, first, last, month)
    assert again is not month
    assert (THURSDAY, "Snow") in [(d.day, d.reason) for d in again.days]


def test_consequences_are_the_sessions_on_its_days_only(clinic: SmallClinic) -> None:
    on_friday = _book(clinic, CLEARED[0], FRIDAYS[1], "09:00")
    _book(clinic, CLEARED[1], THURSDAY, "09:00")
    _book(clinic, CLEARED[2], FRIDAYS[1], "13:00")
    preview = consequences.preview(clinic.db, _friday_mornings(clinic), now=NOW)
    assert [b.appointment_id for b in preview.broken] == [on_friday]
    moved = preview.move_of(on_friday)
    assert moved is not None  # another room at the same time, or another time
    room_2 = clinic.ids["Room 2"]
    assert moved.new.start != moved.old.start or all(
        h.resource_id != room_2 for h in moved.new.holds
    )
    applied = consequences.apply(clinic.db, SYSTEM, preview, now=NOW)
    rows = availability.list_closures(clinic.db, now=NOW)
    assert [r.id for r in rows] == [applied.closure_id]
    assert rows[0].repeat == Repeat("weekly", (4,))


def test_a_weekly_closure_without_a_weekday_or_day_is_refused_naming_the_field(
    clinic: SmallClinic,
) -> None:
    proposed = dataclasses.replace(_friday_mornings(clinic), repeat=Repeat("weekly"))
    with pytest.raises(InvalidFields) as err:
        availability.add_closure(clinic.db, SYSTEM, proposed, now=NOW)
    assert err.value.errors == {"weekdays": "choose at least one weekday for a weekly closure"}
    monday, tuesday = dt.date(2026, 12, 7), dt.date(2026, 12, 8)
    short = LocalRequest(
        "closure", monday, 8 * 60, tuesday, 12 * 60, "inventory", None, Repeat("weekly", (4,))
    )
    assert availability.request_problems(short) == {
        "weekdays": "none of the chosen weekdays falls between Mon Dec 7 and Tue Dec 8"
    }
    backwards = LocalRequest(
        "closure",
        monday,
        13 * 60,
        dt.date(2026, 12, 11),
        9 * 60,
        "inventory",
        None,
        Repeat("daily"),
    )
    assert set(availability.request_problems(backwards)) == {"ends_at"}


def test_the_settings_file_carries_the_repeat(clinic: SmallClinic) -> None:
    availability.add_closure(clinic.db, SYSTEM, _friday_mornings(clinic), now=NOW)
    text = config_transfer.export_config(clinic.db, SYSTEM, now=NOW)
    assert 'repeat = "FREQ=WEEKLY;BYDAY=FR"' in text
