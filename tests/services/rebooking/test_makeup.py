"""A missed or cancelled session of a series, on a real clinic (SQLite and PostgreSQL): the
make-up re-flowed by the planner and booked all or nothing, the waitlist, or the series going
on one short, each recorded on the series; the fee the no-show owes is written with it.

Time is injected: the series is planned on Tuesday 1 December 2026 and each change is made at
an instant taken from the booked sessions themselves.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from ketadesk.scheduling.model import PlannedSession
from ketadesk.scheduling.planner import spacing_problems
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.planning import PlanWishes, propose_series
from ketadesk.services.common.context import SYSTEM, Actor, InvalidRequest, PermissionDenied
from ketadesk.services.patients.patient_record import patient_record
from ketadesk.services.rebooking import makeup
from ketadesk.store.models import (
    Appointment,
    AppointmentEvent,
    AuditEvent,
    SeriesRebooking,
    SessionFee,
    WaitlistEntry,
)
from tests.clinic_fixtures import SmallClinic, build_small_clinic

TODAY = dt.date(2026, 12, 1)
NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
THERAPIST = Actor(user_id=None, username="sam", role="therapist")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def book_induction(clinic: SmallClinic) -> list[Row]:
    proposal = propose_series(
        clinic.db,
        chart="BT-1",
        protocol="iv_induction",
        start=dt.date(2026, 12, 2),
        wishes=PlanWishes(weekdays=("mon", "wed", "fri"), time=dt.time(10)),
        today=TODAY,
    )
    assert proposal.plan.complete
    result = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=proposal.patient_id, sessions=proposal.sessions, protocol="iv_induction"
        ),
        now=NOW,
    )
    return _rows(clinic, result.series_id)


@dataclass(frozen=True)
class Row:
    id: int
    series_id: int | None
    series_index: int | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str


def _rows(clinic: SmallClinic, series_id: int | None) -> list[Row]:
    with clinic.db.read() as s:
        return [
            Row(*row)
            for row in s.execute(
                select(
                    Appointment.id,
                    Appointment.series_id,
                    Appointment.series_index,
                    Appointment.starts_at,
                    Appointment.ends_at,
                    Appointment.status,
                )
                .where(Appointment.series_id == series_id)
                .order_by(Appointment.series_index, Appointment.id)
            ).all()
        ]


def no_show(clinic: SmallClinic, appointment: Row) -> dt.datetime:
    """Mark ``appointment`` a no-show half an hour after it should have started."""
    at = appointment.starts_at + dt.timedelta(minutes=30)
    appointment_changes.change_status(clinic.db, FRONT_DESK, appointment.id, "no_show", now=at)
    return at


def test_a_no_show_is_made_up_keeping_the_series_spacing(clinic: SmallClinic) -> None:
    rows = book_induction(clinic)
    third = rows[2]
    at = no_show(clinic, third)

    offer = makeup.offer_for(clinic.db, third.id, now=at)
    assert offer is not None
    assert offer.missed_index == 3
    assert offer.planned_count == 6
    assert offer.missed_text.startswith("No-show: ")
    assert "3/6" in offer.missed_text
    assert offer.fee_text == "No-show fee $150.00 recorded"  # [fees.no_show] iv_infusion
    assert offer.short_text == "Series continues with 5 of 6"
    assert offer.can_make_up, offer.problems
    assert offer.make_up is not None
    local = clinic.calendar.local_date
    assert local(offer.make_up.session.start) > local(third.starts_at)
    assert offer.make_up.room_name.startswith("Room")

    done = makeup.book_make_up(clinic.db, FRONT_DESK, offer, now=at)
    assert done.text.startswith("Make-up booked for Lovelace, Ada: ")
    after = _rows(clinic, third.series_id)
    live = [r for r in after if r.status == "booked"]
    assert sorted(r.series_index or 0 for r in live) == [1, 2, 3, 4, 5, 6]
    made = next(r for r in live if r.id == done.appointment_id)
    assert made.series_index == 3
    assert made.starts_at == offer.make_up.session.start
    # The missed one stays visible as a no-show: a gap, not deleted.
    assert next(r for r in after if r.id == third.id).status == "no_show"
    with clinic.db.read() as s:
        decision = s.scalar(
            select(SeriesRebooking).where(SeriesRebooking.appointment_id == third.id)
        )
        assert decision is not None
        assert decision.decision == "made_up"
        assert decision.make_up_appointment_id == made.id
        event = s.scalar(select(AppointmentEvent).where(AppointmentEvent.appointment_id == made.id))
        assert event is not None
        assert event.detail == {"make_up_for": third.id}
        actions = set(s.scalars(select(AuditEvent.action)))
        assert {"no_show", "charge_fee", "book", "rebooking_made_up"} <= actions
        # The series as booked now keeps the protocol's spacing.
        booked = [
            PlannedSession(r.series_index or 0, "iv_infusion", r.starts_at, r.ends_at, ())
            for r in sorted(live, key=lambda r: r.series_index or 0)
        ]
        catalog = clinic.catalog
        problems = spacing_problems(
            catalog.protocols["iv_induction"], booked, clinic.calendar, catalog.session_types
        )
        assert list(problems) == []
    # The no-show cannot be taken back while its make-up holds its place in the series.
    with pytest.raises(InvalidRequest, match="was made up since"):
        appointment_changes.undo_status(clinic.db, FRONT_DESK, third.id, now=at)
    # Asked twice (a second workstation, a double click): refused, nothing more written.
    with pytest.raises(InvalidRequest, match="decided already"):
        makeup.book_make_up(clinic.db, FRONT_DESK, offer, now=at)
    again = makeup.offer_for(clinic.db, third.id, now=at)
    assert again is not None
    assert again.decided == "made up"
    assert not again.can_make_up


def test_a_make_up_refused_when_a_later_session_changed_meanwhile(clinic: SmallClinic) -> None:
    rows = book_induction(clinic)
    at = no_show(clinic, rows[1])
    offer = makeup.offer_for(clinic.db, rows[1].id, now=at)
    assert offer is not None
    assert offer.make_up is not None
    # The make-up re-flows the later sessions; another workstation cancels one meanwhile.
    assert offer.moves
    appointment_changes.change_status(
        clinic.db, SYSTEM, offer.moves[0].appointment_id or 0, "cancel", reason="moved away", now=at
    )
    with pytest.raises(InvalidRequest, match="changed at another workstation"):
        makeup.book_make_up(clinic.db, FRONT_DESK, offer, now=at)
    with clinic.db.read() as s:
        assert s.scalar(select(SeriesRebooking)) is None
        assert (
            s.scalar(
                select(Appointment).where(
                    Appointment.series_id == rows[1].series_id,
                    Appointment.series_index == 2,
                    Appointment.status == "booked",
                )
            )
            is None
        )


def test_a_cancellation_can_go_to_the_waitlist_or_leave_the_series_short(
    clinic: SmallClinic,
) -> None:
    rows = book_induction(clinic)
    fifth, sixth = rows[4], rows[5]
    # Cancelled a day ahead: not late, no fee; then the sixth, an hour ahead: late.
    early = fifth.starts_at - dt.timedelta(days=3)
    appointment_changes.change_status(
        clinic.db, FRONT_DESK, fifth.id, "cancel", reason="travel", now=early
    )
    entry_id = makeup.put_on_waitlist(clinic.db, FRONT_DESK, fifth.id, now=early)
    late = sixth.starts_at - dt.timedelta(hours=1)
    appointment_changes.change_status(
        clinic.db, FRONT_DESK, sixth.id, "cancel", reason="no ride", now=late
    )
    text = makeup.continue_short(clinic.db, FRONT_DESK, sixth.id, note="patient's choice", now=late)
    assert text == "Series continues with 4 of 6"
    with clinic.db.read() as s:
        entry = s.get(WaitlistEntry, entry_id)
        assert entry is not None
        assert entry.session_type == "iv_infusion"
        assert entry.notes.startswith("Make-up for session 5/6")
        decisions = dict(
            s.execute(select(SeriesRebooking.appointment_id, SeriesRebooking.decision)).all()
        )
        assert decisions == {fifth.id: "waitlisted", sixth.id: "continue_short"}
        fees = s.execute(
            select(SessionFee.appointment_id, SessionFee.kind, SessionFee.amount_cents)
        ).all()
        assert fees == [(sixth.id, "late_cancel", 10_000)]  # [fees.late_cancel] iv_infusion
    # The series shows it: the patient record's summary says what became of each.
    record = patient_record(clinic.db, SYSTEM, clinic.ids["Ada Lovelace"], now=late)
    summary = record.series[0].summary
    assert "2 cancelled" in summary
    assert "1 on the waitlist for a make-up" in summary
    assert "continues with 5 of 6" in summary
    offer = makeup.offer_for(clinic.db, sixth.id, now=late)
    assert offer is not None
    assert offer.decided == "not made up: the series continues one short"
    with pytest.raises(InvalidRequest, match="decided already"):
        makeup.continue_short(clinic.db, FRONT_DESK, sixth.id, now=late)
    with pytest.raises(InvalidRequest, match="decided already"):
        makeup.put_on_waitlist(clinic.db, FRONT_DESK, fifth.id, now=late)
    with clinic.db.read() as s:
        assert len(s.scalars(select(WaitlistEntry)).all()) == 1  # no second entry


def test_only_a_missed_series_session_is_offered_and_roles_are_checked(
    clinic: SmallClinic,
) -> None:
    rows = book_induction(clinic)
    assert makeup.offer_for(clinic.db, rows[0].id, now=NOW) is None  # still booked
    with pytest.raises(InvalidRequest, match="only a cancelled or missed session"):
        makeup.continue_short(clinic.db, FRONT_DESK, rows[0].id, now=NOW)
    at = no_show(clinic, rows[0])
    with pytest.raises(PermissionDenied):
        makeup.continue_short(clinic.db, THERAPIST, rows[0].id, now=at)
    with pytest.raises(PermissionDenied):
        makeup.put_on_waitlist(clinic.db, THERAPIST, rows[0].id, now=at)


def test_a_make_up_is_taken_back_and_booked_again(clinic: SmallClinic) -> None:
    rows = book_induction(clinic)
    second = rows[1]
    at = no_show(clinic, second)
    offer = makeup.offer_for(clinic.db, second.id, now=at)
    assert offer is not None
    assert offer.moves  # the make-up pushes the later sessions on
    made = makeup.book_make_up(clinic.db, FRONT_DESK, offer, now=at)

    makeup.undo_make_up(clinic.db, FRONT_DESK, offer, made.appointment_id, now=at)
    after = {r.id: r for r in _rows(clinic, second.series_id)}
    assert after[made.appointment_id].status == "cancelled"
    for row in rows[2:]:
        assert after[row.id].starts_at == row.starts_at  # back where they were
    with clinic.db.read() as s:
        assert s.scalar(select(SeriesRebooking)) is None
        assert "undo_make_up" in set(s.scalars(select(AuditEvent.action)))
        # Taking back a make-up is a correction, not the patient's cancellation: no fee.
        fees = s.scalars(select(SessionFee.appointment_id)).all()
        assert fees == [second.id]
    # Taken back twice: refused.
    with pytest.raises(InvalidRequest, match="no longer this to take back"):
        makeup.undo_make_up(clinic.db, FRONT_DESK, offer, made.appointment_id, now=at)
    # Redo: the same proposal booked again, judged on the places alone.
    again = makeup.book_make_up(
        clinic.db, FRONT_DESK, dataclasses.replace(offer, versions={}), now=at
    )
    live = [r for r in _rows(clinic, second.series_id) if r.status == "booked"]
    assert sorted(r.series_index or 0 for r in live) == [1, 2, 3, 4, 5, 6]
    assert again.appointment_id != made.appointment_id
