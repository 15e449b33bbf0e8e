"""Planning and booking judge a day the patient is already dosed on by the same rule
(``scheduling/dosing_days``): only dosing sessions count against
``[clinic] dosing_sessions_per_patient_day``, so an integration session or an intake on an
infusion day is planned and booked, and a second dose is refused by both.

Ada's IV induction (``booked_clinic``) is booked Mon/Wed/Fri at 10:00 from a Monday a week or
more after today, so the tests mean the same on any day (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ketadesk.services.booking import booking, single
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.plan_check import BookingConflict
from ketadesk.services.booking.planning import PlanWishes
from ketadesk.services.common.context import SYSTEM
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic


@pytest.fixture
def booked(db_url: str) -> Iterator[BookedClinic]:
    b = booked_clinic(db_url)
    yield b
    b.clinic.db.dispose()


def _at(
    b: BookedClinic, session_type: str, day: dt.date, hhmm: str, chart: str = "BT-1"
) -> single.SingleProposal:
    hh, mm = (int(x) for x in hhmm.split(":"))
    return single.propose_single(
        b.clinic.db,
        chart=chart,
        session_type=session_type,
        at=dt.datetime.combine(day, dt.time(hh, mm)),
        today=b.today,
        now=b.now,
    )


@pytest.mark.parametrize("session_type", ["integration", "intake"])
def test_a_non_dosing_session_on_an_infusion_day_is_planned_and_booked_alike(
    booked: BookedClinic, session_type: str
) -> None:
    b = booked
    dosed = b.day_of(b.series[0])  # Ada's first infusion, 10:00-11:40
    # Exactly that afternoon: planned, then booked.
    proposal = _at(b, session_type, dosed, "14:00")
    assert proposal.session is not None, proposal.problems
    booked_ids = single.book_single(b.clinic.db, SYSTEM, proposal, now=b.now).appointment_ids
    assert len(booked_ids) == 1
    # "Next available" from the infusion day, in the afternoon: that same day.
    later = single.propose_single(
        b.clinic.db,
        chart="BT-1",
        session_type=session_type,
        first=dosed,
        today=b.today,
        now=b.now,
        wishes=PlanWishes(earliest=dt.time(15)),
    )
    assert later.session is not None, later.problems
    assert b.clinic.calendar.local_date(later.session.start) == dosed
    single.book_single(b.clinic.db, SYSTEM, later, now=b.now)


def test_a_second_dose_on_a_dosed_day_is_refused_by_plan_and_book_alike(
    booked: BookedClinic,
) -> None:
    b = booked
    # Mary (no course) has a single IM ketamine dose in the morning of Ada's first infusion day.
    day = b.day_of(b.series[0])
    morning = _at(b, "im_ketamine", day, "08:00", chart="BT-3")
    assert morning.session is not None, morning.problems
    single.book_single(b.clinic.db, SYSTEM, morning, now=b.now)
    # A second dose that afternoon: the planner finds no place for it that day...
    afternoon = _at(b, "im_ketamine", day, "14:00", chart="BT-3")
    assert afternoon.session is None
    assert afternoon.problems
    # ...though the place itself is free (Room 4, Monitor 4), and booking it refuses the
    # second dose in the rule's words.
    where = {"room": "Room 4", "monitor": "Monitor 4", "nurse": "Nurse Kim"}
    second = b.clinic.session("im_ketamine", day, "14:00", where)
    with pytest.raises(BookingConflict, match=r"would have 2 dosing sessions on .* \(at most 1\)"):
        booking.book(
            b.clinic.db,
            SYSTEM,
            BookingRequest(patient_id=morning.patient_id, sessions=(second,)),
            now=b.now,
        )
