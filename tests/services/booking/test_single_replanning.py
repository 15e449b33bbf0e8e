"""``single.book_single_replanning``: a place lost to another workstation is planned again; a
refusal that planning again does not change is the booking's answer, not a lost race.

Days come from the clinic's today, so the tests mean the same on any day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ketadesk.services.booking import booking, replanning, single
from ketadesk.services.booking.plan_check import BookingConflict
from ketadesk.services.common.context import Actor
from tests.clinic_fixtures import SmallClinic, build_small_clinic

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _intake(clinic: SmallClinic, chart: str, now: dt.datetime) -> single.SingleProposal:
    day = clinic.open_day(clinic.calendar.local_date(now) + dt.timedelta(days=3))
    return single.propose_single(
        clinic.db,
        chart=chart,
        session_type="intake",
        first=day,
        today=clinic.calendar.local_date(now),
        now=now,
    )


def test_a_plan_that_comes_back_unchanged_raises_the_booking_s_own_refusal(
    clinic: SmallClinic,
) -> None:
    """A stale plan (made before the place was taken, and never made again) is refused twice
    the same way: that is the booking's answer, said as it is, not 'taken each time'."""
    now = dt.datetime.now(dt.UTC)
    stale = _intake(clinic, "BT-4", now)
    assert stale.session is not None
    booking.book(
        clinic.db,
        FRONT_DESK,
        booking.BookingRequest(patient_id=clinic.ids["Ada Lovelace"], sessions=(stale.session,)),
        now=now,
    )
    plans = 0

    def plan() -> single.SingleProposal:
        nonlocal plans
        plans += 1
        return stale

    with pytest.raises(BookingConflict) as refused:
        single.book_single_replanning(clinic.db, FRONT_DESK, plan, now=now)
    assert not isinstance(refused.value, replanning.PlaceKeptBeingTaken)
    assert "Office A was just taken by Lovelace, A." in str(refused.value)
    assert plans == 2


def test_a_fresh_plan_after_a_lost_place_is_booked(clinic: SmallClinic) -> None:
    now = dt.datetime.now(dt.UTC)
    first = _intake(clinic, "BT-4", now)
    assert first.session is not None
    booking.book(
        clinic.db,
        FRONT_DESK,
        booking.BookingRequest(patient_id=clinic.ids["Ada Lovelace"], sessions=(first.session,)),
        now=now,
    )
    proposals = iter([first])

    def plan() -> single.SingleProposal:
        return next(proposals, None) or _intake(clinic, "BT-4", now)

    done = single.book_single_replanning(clinic.db, FRONT_DESK, plan, now=now)
    assert len(done.lost) == 1
    assert done.proposal.session is not None
    assert done.proposal.session.start >= first.session.end
    assert done.result.appointment_ids


def test_at_least_one_plan(clinic: SmallClinic) -> None:
    with pytest.raises(ValueError, match="at least one"):
        single.book_single_replanning(
            clinic.db, FRONT_DESK, lambda: _intake(clinic, "BT-4", dt.datetime.now(dt.UTC)),
            attempts=0,
        )  # fmt: skip
