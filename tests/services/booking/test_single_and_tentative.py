"""Single appointments (intake, booster review, any session type), "next available", and
tentative holds that keep a place until their deadline and become bookings only when the gates
pass.  Dates come from the clinic's today (the real clock), so the suite means the same on any
day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.services.booking import booking, tentative
from ketadesk.services.booking.booking import GateRefused
from ketadesk.services.booking.plan_check import BookingConflict
from ketadesk.services.booking.planning import PlanWishes
from ketadesk.services.booking.single import (
    SingleProposal,
    book_single,
    day_part_bounds,
    propose_single,
)
from ketadesk.services.common.context import Actor, InvalidRequest
from ketadesk.store.models import Appointment, AuditEvent, FollowUp, Patient, ResourceHold
from tests.clinic_fixtures import SmallClinic, build_small_clinic

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
UNSCREENED = "BT-2"  # Grace Hopper: screening pending, no consent
CLEARED = "BT-1"  # Ada Lovelace


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _today(clinic: SmallClinic) -> dt.date:
    return clinic.calendar.local_date(dt.datetime.now(dt.UTC))


def _weekday_ahead(clinic: SmallClinic, weekday: int, at_least: int = 2) -> dt.date:
    """The first ``weekday`` (0 = Monday) at least ``at_least`` days after the clinic's today."""
    day = _today(clinic) + dt.timedelta(days=at_least)
    while day.weekday() != weekday or clinic.calendar.closed_reason(day) is not None:
        day += dt.timedelta(days=1)
    return day


def _local(clinic: SmallClinic, day: dt.date, hhmm: str) -> dt.datetime:
    hh, mm = hhmm.split(":")
    return dt.datetime.combine(day, dt.time(int(hh), int(mm)))


def test_intake_for_an_unscreened_patient_books(clinic: SmallClinic) -> None:
    day = _weekday_ahead(clinic, 1)
    proposal = propose_single(
        clinic.db,
        chart=UNSCREENED,
        session_type="intake",
        at=_local(clinic, day, "10:00"),
        today=_today(clinic),
    )
    assert proposal.session is not None, proposal.problems
    assert proposal.bookable
    result = book_single(clinic.db, FRONT_DESK, proposal)
    with clinic.db.read() as s:
        appt = s.get(Appointment, result.appointment_ids[0])
        assert appt is not None
        assert appt.status == "booked"
        assert appt.series_id is None
        assert clinic.calendar.local(appt.starts_at).time() == dt.time(10, 0)
        holders = set(
            s.scalars(
                select(ResourceHold.resource_id).where(ResourceHold.appointment_id == appt.id)
            )
        )
        assert holders == {clinic.ids["Dr Patel"], clinic.ids["Office A"]}
        assert s.scalar(
            select(AuditEvent.id).where(
                AuditEvent.entity_id == appt.id, AuditEvent.action == "book"
            )
        )


def test_a_dosing_single_for_an_unscreened_patient_is_refused_naming_the_gate(
    clinic: SmallClinic,
) -> None:
    day = _weekday_ahead(clinic, 2)
    proposal = propose_single(
        clinic.db,
        chart=UNSCREENED,
        session_type="iv_infusion",
        at=_local(clinic, day, "09:00"),
        today=_today(clinic),
    )
    assert proposal.session is not None
    assert not proposal.bookable
    with pytest.raises(GateRefused, match=r"(?i)screening"):
        book_single(clinic.db, FRONT_DESK, proposal)
    with clinic.db.read() as s:
        assert s.scalar(select(Appointment.id)) is None


def test_next_available_meets_weekday_and_time_of_day(clinic: SmallClinic) -> None:
    today = _today(clinic)
    earliest, latest = day_part_bounds("afternoon")
    proposal = propose_single(
        clinic.db,
        chart=CLEARED,
        session_type="booster_review",
        today=today,
        wishes=PlanWishes(weekdays=("thu",), earliest=earliest, latest=latest),
    )
    assert proposal.session is not None
    start = clinic.calendar.local(proposal.session.start)
    assert start.weekday() == 3
    assert start.time() >= dt.time(12, 0)
    assert start.date() > today
    morning = propose_single(
        clinic.db,
        chart=CLEARED,
        session_type="booster_review",
        today=today,
        wishes=PlanWishes(weekdays=("thu",), earliest=dt.time(9, 0), latest=dt.time(9, 30)),
    )
    assert morning.session is not None
    assert dt.time(9, 0) <= clinic.calendar.local(morning.session.start).time() <= dt.time(9, 30)
    with pytest.raises(InvalidRequest, match="time of day"):
        day_part_bounds("evening")


def test_next_available_skips_a_taken_prescriber(clinic: SmallClinic) -> None:
    today = _today(clinic)
    day = _weekday_ahead(clinic, 0)
    first = propose_single(
        clinic.db,
        chart=CLEARED,
        session_type="intake",
        first=day,
        days=1,
        today=today,
        wishes=PlanWishes(earliest=dt.time(9, 0)),
    )
    assert first.session is not None
    book_single(clinic.db, FRONT_DESK, first)
    second = propose_single(
        clinic.db,
        chart="BT-3",
        session_type="intake",
        first=day,
        days=1,
        today=today,
        wishes=PlanWishes(earliest=dt.time(9, 0)),
    )
    assert second.session is not None
    assert second.session.start >= first.session.end


def _pencil(
    clinic: SmallClinic,
    chart: str,
    day: dt.date,
    hold_hours: float,
    now: dt.datetime,
    session_type: str = "iv_infusion",
) -> int:
    proposal = propose_single(
        clinic.db,
        chart=chart,
        session_type=session_type,
        at=_local(clinic, day, "10:00"),
        today=_today(clinic),
        now=now,
    )
    assert proposal.session is not None, proposal.problems
    return book_single(
        clinic.db,
        FRONT_DESK,
        proposal,
        tentative=True,
        hold_until=now + dt.timedelta(hours=hold_hours),
        now=now,
    ).appointment_ids[0]


def _intake_at_ten(clinic: SmallClinic, day: dt.date, now: dt.datetime) -> SingleProposal:
    return propose_single(
        clinic.db,
        chart=CLEARED,
        session_type="intake",
        at=_local(clinic, day, "10:00"),
        today=_today(clinic),
        now=now,
    )


def test_tentative_hold_blocks_others_until_its_deadline_then_is_released(
    clinic: SmallClinic,
) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    day = _weekday_ahead(clinic, 1, at_least=4)
    # The clinic has one prescriber and one office: a pencilled-in intake holds both.
    held = _pencil(clinic, UNSCREENED, day, 2, now, session_type="intake")
    with clinic.db.read() as s:
        appt = s.get(Appointment, held)
        assert appt is not None
        assert appt.status == "tentative"
        assert appt.hold_until is not None
        assert s.scalar(select(FollowUp.id).where(FollowUp.appointment_id == held)) is None
    blocked = _intake_at_ten(clinic, day, now)
    assert blocked.session is None
    assert blocked.problems
    exact = clinic.session("intake", day, "10:00", {"prescriber": "Dr Patel", "office": "Office A"})
    with pytest.raises(BookingConflict, match=r"Dr Patel|Office A"):
        booking.book(
            clinic.db,
            FRONT_DESK,
            booking.BookingRequest(patient_id=clinic.ids["Ada Lovelace"], sessions=(exact,)),
            now=now,
        )
    # Past the deadline the place is free (to availability) and a real booking takes it; the
    # exclusion constraint on PostgreSQL does not see the released hold.
    later = now + dt.timedelta(hours=3)
    free = _intake_at_ten(clinic, day, later)
    assert free.session is not None, free.problems
    booked = book_single(clinic.db, FRONT_DESK, free, now=later)
    with clinic.db.read() as s:
        appt = s.get(Appointment, held)
        assert appt is not None
        assert appt.status == "released"
        assert not any(h.active for h in appt.holds)
        assert s.scalar(
            select(AuditEvent.id).where(
                AuditEvent.entity_id == held, AuditEvent.action == "release"
            )
        )
        assert s.get(Appointment, booked.appointment_ids[0]) is not None
    with pytest.raises(InvalidRequest, match="released"):
        tentative.confirm(clinic.db, FRONT_DESK, held, now=later)


def test_check_releases_expired_holds(clinic: SmallClinic) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    day = _weekday_ahead(clinic, 2, at_least=4)
    held = _pencil(clinic, UNSCREENED, day, 1, now)
    assert tentative.release_expired_holds(clinic.db, now=now) == ()
    assert tentative.release_expired_holds(clinic.db, now=now + dt.timedelta(hours=2)) == (held,)


def test_tentative_hold_is_confirmed_only_when_the_gates_pass(clinic: SmallClinic) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    day = _weekday_ahead(clinic, 3, at_least=4)
    held = _pencil(clinic, UNSCREENED, day, 48, now)
    with pytest.raises(GateRefused, match=r"(?i)screening"):
        tentative.confirm(clinic.db, FRONT_DESK, held, now=now)
    with clinic.db.write() as s:
        patient = s.get(Patient, clinic.ids["Grace Hopper"])
        assert patient is not None
        patient.screening_status = "cleared"
        patient.screening_cleared_on = _today(clinic)
        patient.consent_signed_on = _today(clinic)
        patient.driver_name = "B. Driver"
    done = tentative.confirm(clinic.db, FRONT_DESK, held, now=now + dt.timedelta(minutes=5))
    assert done.appointment_ids == (held,)
    with clinic.db.read() as s:
        appt = s.get(Appointment, held)
        assert appt is not None
        assert appt.status == "booked"
        assert appt.hold_until is None
        assert s.scalar(
            select(AuditEvent.id).where(
                AuditEvent.entity_id == held, AuditEvent.action == "confirm"
            )
        )
    with pytest.raises(InvalidRequest, match="not tentative"):
        tentative.confirm(clinic.db, FRONT_DESK, held, now=now)


def test_a_deadline_in_the_past_is_refused(clinic: SmallClinic) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    day = _weekday_ahead(clinic, 1, at_least=4)
    with pytest.raises(InvalidRequest, match="hold until"):
        _pencil(clinic, UNSCREENED, day, -1, now)


def test_a_tentative_series_holds_every_session_and_is_confirmed_whole(
    clinic: SmallClinic,
) -> None:
    from ketadesk.services.booking.planning import propose_series

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = _weekday_ahead(clinic, 0, at_least=3)
    proposal = propose_series(
        clinic.db, chart=UNSCREENED, protocol="iv_induction", start=start, today=_today(clinic)
    )
    assert proposal.plan.complete, proposal.plan.problems
    result = booking.book(
        clinic.db,
        FRONT_DESK,
        booking.BookingRequest(
            patient_id=proposal.patient_id,
            sessions=proposal.sessions,
            protocol="iv_induction",
            tentative=True,
        ),
        now=now,
    )
    with clinic.db.read() as s:
        rows = s.scalars(select(Appointment).where(Appointment.series_id == result.series_id))
        statuses = {a.status for a in rows}
    assert statuses == {"tentative"}
    with clinic.db.write() as s:
        patient = s.get(Patient, clinic.ids["Grace Hopper"])
        assert patient is not None
        patient.screening_status = "cleared"
        patient.screening_cleared_on = _today(clinic)
        patient.consent_signed_on = _today(clinic)
        patient.driver_name = "B. Driver"
    done = tentative.confirm(clinic.db, FRONT_DESK, result.appointment_ids[2], now=now)
    assert sorted(done.appointment_ids) == sorted(result.appointment_ids)
    with clinic.db.read() as s:
        rows = s.scalars(select(Appointment).where(Appointment.series_id == result.series_id))
        assert {a.status for a in rows} == {"booked"}
        # Confirmed, the sessions owe their follow-ups.
        owed = s.scalars(
            select(FollowUp.id).where(FollowUp.appointment_id.in_(result.appointment_ids))
        ).all()
        assert owed


def test_a_patient_s_own_expired_hold_does_not_stand_in_their_way(clinic: SmallClinic) -> None:
    """A tentative series past its deadline is released before anything about the patient is
    read: booking the same course again is not refused as "two courses at once" (nor its
    sessions as the patient's own overlapping appointments)."""
    from ketadesk.services.booking.planning import propose_series

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = _weekday_ahead(clinic, 0, at_least=3)

    proposal = propose_series(
        clinic.db, chart=UNSCREENED, protocol="iv_induction", start=start, today=_today(clinic)
    )
    assert proposal.plan.complete, proposal.plan.problems

    def pencil(at: dt.datetime) -> booking.BookingResult:
        return booking.book(
            clinic.db,
            FRONT_DESK,
            booking.BookingRequest(
                patient_id=proposal.patient_id,
                sessions=proposal.sessions,
                protocol="iv_induction",
                tentative=True,
                hold_until=at + dt.timedelta(hours=1),
            ),
            now=at,
        )

    first = pencil(now)
    again = pencil(now + dt.timedelta(hours=2))
    with clinic.db.read() as s:
        old = s.scalars(select(Appointment).where(Appointment.series_id == first.series_id))
        assert {a.status for a in old} == {"released"}
        new = s.scalars(select(Appointment).where(Appointment.series_id == again.series_id))
        assert {a.status for a in new} == {"tentative"}


def test_a_hold_never_outlasts_its_first_session(clinic: SmallClinic) -> None:
    """A helper's finding: a session pencilled in for the next morning was "held until" the
    clinic's 72 hours, two days after it had taken place."""
    wednesday = _weekday_ahead(clinic, 2, at_least=4)
    evening = clinic.at(wednesday - dt.timedelta(days=1), "18:00")
    proposal = propose_single(
        clinic.db,
        chart=CLEARED,
        session_type="intake",
        at=_local(clinic, wednesday, "09:00"),
        today=wednesday - dt.timedelta(days=1),
        now=evening,
    )
    assert proposal.session is not None
    result = book_single(clinic.db, FRONT_DESK, proposal, tentative=True, now=evening)
    with clinic.db.read() as session:
        appt = session.get(Appointment, result.appointment_ids[0])
        assert appt is not None
        assert appt.hold_until == proposal.session.start
    # A deadline asked for past the session is refused, naming the field.
    with pytest.raises(InvalidRequest, match=r"^hold until: .* after its first session starts"):
        book_single(
            clinic.db,
            FRONT_DESK,
            proposal,
            tentative=True,
            hold_until=proposal.session.start + dt.timedelta(hours=1),
            now=evening,
        )


def test_next_available_from_today_starts_after_now_and_an_exact_time_gone_is_refused(
    clinic: SmallClinic,
) -> None:
    """A user trial at 9:45 AM planned an intake "next available" from today and was offered
    8:00 AM, which booking then refused as in the past."""
    day = _weekday_ahead(clinic, 2)
    now = clinic.at(day, "09:45")
    proposal = propose_single(
        clinic.db, chart=CLEARED, session_type="intake", first=day, today=day, now=now
    )
    assert proposal.session is not None, proposal.problems
    assert proposal.session.start >= now
    assert clinic.calendar.local_date(proposal.session.start) == day  # still today
    with pytest.raises(InvalidRequest, match="is in the past"):
        propose_single(
            clinic.db,
            chart=CLEARED,
            session_type="intake",
            at=_local(clinic, day, "08:00"),
            today=day,
            now=now,
        )
    # From a later day, the clock of today changes nothing.
    later = propose_single(
        clinic.db,
        chart=CLEARED,
        session_type="intake",
        first=day + dt.timedelta(days=1),
        today=day,
        now=now,
    )
    assert later.session is not None
    assert clinic.calendar.local_date(later.session.start) > day
