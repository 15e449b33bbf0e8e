"""The month calendar's closed days (a user trial: Christmas Day looked like any other day
there): holidays the clinic closes for and whole-day closures, never its weekly closed days
or a closure of a few hours.  December 2030, read as the calendar pages to it (no date here
depends on the day the test runs)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ketadesk.services.common.context import SYSTEM
from ketadesk.services.schedule.month import ClosedDay, closed_days
from ketadesk.services.settings.availability import Unavailability, add_closure
from tests.clinic_fixtures import SmallClinic, build_small_clinic

DECEMBER = (dt.date(2030, 12, 1), dt.date(2030, 12, 31))


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def test_holidays_and_whole_day_closures_are_the_closed_days(clinic: SmallClinic) -> None:
    now = clinic.at(dt.date(2030, 11, 1), "09:00")
    for first, last, reason in (
        (dt.date(2030, 12, 10), dt.date(2030, 12, 11), "Snow closure"),  # all day
        (dt.date(2030, 12, 12), dt.date(2030, 12, 12), "Staff training"),  # afternoon only
    ):
        start = clinic.at(first, "00:00" if reason == "Snow closure" else "13:00")
        end = clinic.at(last + dt.timedelta(days=1), "00:00") if first != last else None
        add_closure(
            clinic.db,
            SYSTEM,
            Unavailability("closure", start, end or clinic.at(last, "17:00"), reason),
            now=now,
        )
    found = closed_days(clinic.db, *DECEMBER)
    assert found == (
        ClosedDay(dt.date(2030, 12, 10), "Snow closure"),
        ClosedDay(dt.date(2030, 12, 11), "Snow closure"),
        ClosedDay(dt.date(2030, 12, 25), "Christmas Day"),
    )
    # No weekend (the clinic never opens then) and nothing outside the days asked for.
    assert all(d.day.weekday() < 5 for d in found)
    assert closed_days(clinic.db, dt.date(2030, 12, 26), dt.date(2030, 12, 31)) == ()
