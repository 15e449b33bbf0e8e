"""Moving one session of a series re-flows the rest so the protocol's spacing still holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from ketadesk.scheduling.planner import spacing_problems
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.planning import PlanWishes, propose_series
from ketadesk.services.booking.series_moves import move_series, propose_series_move
from ketadesk.services.clinic.integrity import find_problems
from ketadesk.services.common.context import SYSTEM, Actor, InvalidRequest, PermissionDenied
from ketadesk.store.models import Appointment, AppointmentEvent, GatingOverride
from tests.clinic_fixtures import SmallClinic, build_small_clinic

TODAY = dt.date(2026, 12, 1)
NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _book_induction(clinic: SmallClinic) -> list[int]:
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
    return list(result.appointment_ids)


@dataclass(frozen=True)
class Row:
    id: int
    starts_at: dt.datetime
    series_index: int | None


def _series(clinic: SmallClinic, ids: list[int]) -> list[Row]:
    with clinic.db.read() as s:
        rows = s.execute(
            select(Appointment.id, Appointment.starts_at, Appointment.series_index)
            .where(Appointment.id.in_(ids))
            .order_by(Appointment.series_index)
        ).all()
        return [Row(*row) for row in rows]


def test_moving_the_second_infusion_later_shifts_the_rest(clinic: SmallClinic) -> None:
    ids = _book_induction(clinic)
    before = _series(clinic, ids)
    second = before[1]
    new_start = clinic.at(
        clinic.calendar.local_date(second.starts_at) + dt.timedelta(days=3), "10:00"
    )
    proposal = propose_series_move(clinic.db, second.id, new_start, now=NOW)
    assert proposal.complete
    moved_ids = [a for a, _ in proposal.moves]
    assert moved_ids[0] == second.id
    count = move_series(clinic.db, SYSTEM, proposal, reason="patient away", now=NOW)
    assert count == len(proposal.moves)
    after = _series(clinic, ids)
    assert after[1].starts_at == new_start
    assert after[0].starts_at == before[0].starts_at  # earlier sessions stay
    sessions = [
        clinic.session(
            "iv_infusion",
            clinic.calendar.local_date(a.starts_at),
            clinic.calendar.local(a.starts_at).strftime("%H:%M"),
            {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"},
            index=a.series_index or 0,
        )
        for a in after
    ]
    protocol = clinic.catalog.protocols["iv_induction"]
    assert spacing_problems(protocol, sessions, clinic.calendar) == ()
    assert find_problems(clinic.db) == []
    with clinic.db.read() as s:
        events = s.scalars(select(AppointmentEvent).where(AppointmentEvent.action == "move")).all()
        assert len(events) == count
        assert all(e.reason == "patient away" for e in events)


def test_a_move_that_breaks_spacing_needs_a_clinicians_reason(clinic: SmallClinic) -> None:
    ids = _book_induction(clinic)
    second = _series(clinic, ids)[1]
    too_late = clinic.at(
        clinic.calendar.local_date(second.starts_at) + dt.timedelta(days=4), "10:00"
    )
    proposal = propose_series_move(clinic.db, second.id, too_late, now=NOW)
    assert any("6 days apart" in p for p in proposal.plan.problems)
    with pytest.raises(InvalidRequest, match="breaks the clinic's rules"):
        move_series(clinic.db, SYSTEM, proposal, now=NOW)
    # The trial's front desk: refused in words that say who may, and what.
    desk = Actor(user_id=None, username="frontdesk", role="front_desk")
    with pytest.raises(PermissionDenied) as refused:
        move_series(clinic.db, desk, proposal, spacing_reason="she asked", now=NOW)
    assert str(refused.value) == (
        "Only a nurse or prescriber may move these sessions against the protocol's spacing"
    )
    nurse = Actor(user_id=None, username="kim", role="nurse")
    move_series(clinic.db, nurse, proposal, spacing_reason="family emergency", now=NOW)
    with clinic.db.read() as s:
        override = s.scalars(select(GatingOverride)).one()
        assert (override.rule, override.reason) == ("spacing", "family emergency")
    assert find_problems(clinic.db) == []


def test_a_series_move_into_the_past_is_refused(clinic: SmallClinic) -> None:
    ids = _book_induction(clinic)
    with pytest.raises(InvalidRequest, match="into the past"):
        propose_series_move(clinic.db, ids[1], NOW - dt.timedelta(days=1), now=NOW)


def test_a_single_session_has_no_series_to_reflow(clinic: SmallClinic) -> None:
    plan = clinic.session(
        "iv_infusion",
        dt.date(2026, 12, 2),
        "10:00",
        {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"},
    )
    result = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(patient_id=clinic.ids["Ada Lovelace"], sessions=(plan,)),
        now=NOW,
    )
    with pytest.raises(InvalidRequest, match="not part of a series"):
        propose_series_move(
            clinic.db, result.appointment_ids[0], NOW + dt.timedelta(days=3), now=NOW
        )


def test_a_session_cancelled_elsewhere_between_the_reads_is_said_in_words(
    clinic: SmallClinic,
) -> None:
    """The soak found it on PostgreSQL: read committed lets another workstation's cancel land
    between reading the appointment and reading its series, and the re-flow then raised a raw
    ValueError ("the series has no session 5")."""
    from sqlalchemy import event, text

    from ketadesk.services.common.errors import ChangedElsewhere
    from ketadesk.store.database import open_database

    ids = _book_induction(clinic)
    second = _series(clinic, ids)[1]
    other = open_database(clinic.db.url.render_as_string(hide_password=False))
    fired: list[bool] = []

    def cancel_meanwhile(conn: object, cursor: object, statement: str, *args: object) -> None:
        if not fired and "series_index" in statement and "ORDER BY" in statement:
            fired.append(True)
            with other.engine.begin() as c:
                c.execute(
                    text("UPDATE appointment SET status = 'cancelled' WHERE id = :id"),
                    {"id": second.id},
                )

    event.listen(clinic.db.engine, "before_cursor_execute", cancel_meanwhile)
    new_start = clinic.at(
        clinic.calendar.local_date(second.starts_at) + dt.timedelta(days=3), "10:00"
    )
    try:
        if clinic.db.is_sqlite:
            # One snapshot per read transaction: the cancel is not seen until the next read.
            assert propose_series_move(clinic.db, second.id, new_start, now=NOW).complete
        else:
            with pytest.raises(ChangedElsewhere, match="changed at another workstation"):
                propose_series_move(clinic.db, second.id, new_start, now=NOW)
    finally:
        event.remove(clinic.db.engine, "before_cursor_execute", cancel_meanwhile)
        other.dispose()
    assert fired


def test_a_series_move_onto_the_patients_other_appointment_is_refused(
    clinic: SmallClinic,
) -> None:
    """Issue 13 ("series moves ignore the patient"), found again by the soak: a re-flow judged
    rooms, monitors and staff but not the patient's own other sessions."""
    from ketadesk.services.booking.plan_check import BookingConflict

    ids = _book_induction(clinic)
    second = _series(clinic, ids)[1]
    new_start = clinic.at(
        clinic.calendar.local_date(second.starts_at) + dt.timedelta(days=3), "10:00"
    )
    proposal = propose_series_move(clinic.db, second.id, new_start, now=NOW)
    assert proposal.complete
    # Meanwhile the desk books the same patient's integration session at that very time, with
    # people and rooms the series does not use.
    with clinic.db.read() as s:
        patient_id = s.scalars(select(Appointment.patient_id).where(Appointment.id == ids[0])).one()
    booked_over = 0
    for _, moved in proposal.moves:  # the first new place the patient is still free at
        therapy = clinic.session(
            "integration",
            clinic.calendar.local_date(moved.start),
            clinic.calendar.local(moved.start).strftime("%H:%M"),
            {"therapist": "Sam Rivera", "office": "Office A"},
        )
        try:
            booking.book(
                clinic.db,
                SYSTEM,
                BookingRequest(patient_id=patient_id, sessions=(therapy,)),
                now=NOW,
            )
        except BookingConflict:
            continue
        booked_over += 1
        break
    assert booked_over == 1
    with pytest.raises(BookingConflict, match="the patient already has Integration therapy "):
        move_series(clinic.db, SYSTEM, proposal, reason="patient away", now=NOW)
    assert _series(clinic, ids)[1].starts_at == second.starts_at  # nothing moved
    assert find_problems(clinic.db) == []


def test_a_series_move_refused_names_the_session_not_its_number(clinic: SmallClinic) -> None:
    """The refusals said "appointment #12 changed at another workstation" and "appointment
    #7 is not part of a series": a number nobody at the clinic can look up."""
    from ketadesk.services.booking.move_request import move_appointment

    ids = _book_induction(clinic)
    second, third = _series(clinic, ids)[1:3]
    new_start = clinic.at(
        clinic.calendar.local_date(second.starts_at) + dt.timedelta(days=3), "10:00"
    )
    proposal = propose_series_move(clinic.db, second.id, new_start, now=NOW)
    assert third.id in [a for a, _ in proposal.moves]
    # Another workstation moves the third infusion two hours later meanwhile.
    local = clinic.calendar.local(third.starts_at).replace(tzinfo=None)
    move_appointment(clinic.db, SYSTEM, third.id, local + dt.timedelta(hours=2), now=NOW)
    with pytest.raises(InvalidRequest) as refused:
        move_series(clinic.db, SYSTEM, proposal, now=NOW)
    message = str(refused.value)
    assert message.startswith("Lovelace, Ada's IV ketamine infusion "), message
    assert message.endswith(" changed at another workstation; plan the move again")
    assert "#" not in message
    single = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids["Ada Lovelace"],
            sessions=(
                clinic.session(
                    "iv_infusion",
                    dt.date(2026, 12, 21),
                    "15:00",
                    {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"},
                ),
            ),
        ),
        now=NOW,
    )
    with pytest.raises(InvalidRequest) as alone:
        propose_series_move(
            clinic.db, single.appointment_ids[0], NOW + dt.timedelta(days=3), now=NOW
        )
    assert str(alone.value).startswith("Lovelace, Ada's IV ketamine infusion Mon Dec 21 ")
    assert str(alone.value).endswith(" is not part of a series")
