"""``ketadesk book --session-type NAME --time HH:MM`` without ``--at``: "next available" is the
earliest day with a place, at the preferred time when it is free that day, else the start
nearest to it; never a later day only because the exact time is free there.  The desk's "Next
available" plans with the same ``single.propose_single`` (tests/ui/booking), so both agree.

Days come from the clinic's today (``--today``), so the tests mean the same on any day."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

from ketadesk.cli import main
from ketadesk.services.booking import booking
from ketadesk.services.common.context import SYSTEM
from tests.clinic_fixtures import SmallClinic, build_small_clinic

OFFICE = {"office": "Office A", "prescriber": "Dr Patel"}


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


def _days(clinic: SmallClinic) -> tuple[str, dt.date]:
    today = clinic.calendar.local_date(dt.datetime.now(dt.UTC))
    return today.isoformat(), clinic.open_day(today + dt.timedelta(days=3))


def _book(capsys: pytest.CaptureFixture[str], clinic: SmallClinic, *argv: str) -> tuple[int, str]:
    today, _ = _days(clinic)
    status = main(["book", "--db", str(clinic.db.url.database), "--today", today, *argv])
    out, err = capsys.readouterr()
    return status, out + err


def _take(clinic: SmallClinic, day: dt.date, hhmm: str, patient: str) -> None:
    """Another patient's intake: Dr Patel and Office A are taken then."""
    booking.book(
        clinic.db,
        SYSTEM,
        booking.BookingRequest(
            patient_id=clinic.ids[patient], sessions=(clinic.session("intake", day, hhmm, OFFICE),)
        ),
    )


def test_next_available_at_a_preferred_time_taken_that_day_is_the_nearest_time_that_day(
    capsys: pytest.CaptureFixture[str], clinic: SmallClinic
) -> None:
    _, day = _days(clinic)
    _take(clinic, day, "14:00", "Ada Lovelace")  # 14:00-15:00 gone on the first day
    status, out = _book(
        capsys, clinic, "--patient", "BT-4", "--session-type", "intake", "--start",
        day.isoformat(), "--time", "14:00", "--json",
    )  # fmt: skip
    assert status == 0, out
    start = dt.datetime.fromisoformat(json.loads(out)["start"])
    # The first day, an hour either side of 14:00 (the earlier of the two nearest).
    assert start.date() == day
    assert start.strftime("%H:%M") == "13:00"


def test_next_available_at_a_preferred_time_free_that_day_is_that_time(
    capsys: pytest.CaptureFixture[str], clinic: SmallClinic
) -> None:
    _, day = _days(clinic)
    _take(clinic, day, "09:00", "Ada Lovelace")
    status, out = _book(
        capsys, clinic, "--patient", "BT-4", "--session-type", "intake", "--start",
        day.isoformat(), "--time", "14:00", "--json",
    )  # fmt: skip
    assert status == 0, out
    start = dt.datetime.fromisoformat(json.loads(out)["start"])
    assert (start.date(), start.strftime("%H:%M")) == (day, "14:00")
