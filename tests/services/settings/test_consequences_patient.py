"""Re-planning after a monitor breaks or a nurse is off respects the patient (the user trial's
case): the same day first, the nearest free start to the booked time; another day only then,
never onto a day the patient cancelled with a reason; a session the desk moved by hand keeps
its day; and the administrator may leave any proposal for the desk to re-book by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.scheduling.model import PlannedSession, session_holds
from ketadesk.scheduling.planner import spacing_problems
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.series_moves import _series_plan
from ketadesk.services.common.context import SYSTEM
from ketadesk.services.settings import availability, consequences
from ketadesk.services.settings.availability import Unavailability
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Appointment, FollowUp, Resource, ResourceHold
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic

TRAVELLING = "Patient travelling for work that week"


@pytest.fixture
def booked(db_url: str) -> Iterator[BookedClinic]:
    b = booked_clinic(db_url, whole_weeks=3)
    yield b
    b.clinic.db.dispose()


def _holds(b: BookedClinic, appointment_id: int) -> dict[str, int]:
    with b.clinic.db.read() as s:
        rows = s.execute(
            select(ResourceHold.need, ResourceHold.resource_id).where(
                ResourceHold.appointment_id == appointment_id, ResourceHold.active.is_(True)
            )
        ).all()
    return dict(rows)


def _at(b: BookedClinic, appointment_id: int, day: dt.date, hhmm: str) -> PlannedSession:
    """The appointment's session with its own resources at another time."""
    spec = b.clinic.catalog.session_types["iv_infusion"]
    start = b.clinic.at(day, hhmm)
    return PlannedSession(
        index=1,
        session_type="iv_infusion",
        start=start,
        end=start + dt.timedelta(minutes=spec.total_minutes),
        holds=session_holds(spec, start, _holds(b, appointment_id)),
    )


def _resource(b: BookedClinic, name: str) -> int:
    return b.clinic.ids[name]


def _the_trial(b: BookedClinic) -> tuple[dt.date, dt.date]:
    """Ada's series (Mon/Wed/Fri 10:00, twice): the desk moves the first Friday to 13:00 at her
    request and she cancels the second Wednesday, travelling for work.  Returns those days."""
    s = b.series
    friday, away = b.day_of(s[2]), b.day_of(s[4])
    version = _version(b, s[2])
    appointment_changes.move(
        b.clinic.db,
        SYSTEM,
        s[2],
        _at(b, s[2], friday, "13:00"),
        expected_version=version,
        reason="patient asked for the afternoon",
        now=b.now,
        patient_knows=True,  # she asked for it: no schedule-change call owed
    )
    appointment_changes.change_status(
        b.clinic.db, SYSTEM, s[4], "cancel", reason=TRAVELLING, now=b.now
    )
    return friday, away


def _version(b: BookedClinic, appointment_id: int) -> int:
    with b.clinic.db.read() as s:
        row = s.get(Appointment, appointment_id)
        assert row is not None
        return row.version


def _monitor(b: BookedClinic, appointment_id: int) -> int:
    with b.clinic.db.read() as s:
        found = s.scalar(
            select(ResourceHold.resource_id)
            .join(Resource, Resource.id == ResourceHold.resource_id)
            .where(
                ResourceHold.appointment_id == appointment_id,
                Resource.subkind == "vital_signs_monitor",
            )
        )
    assert found is not None
    return found


def test_a_broken_monitor_moves_the_session_within_its_day_and_nothing_else(
    booked: BookedClinic,
) -> None:
    b = booked
    s = b.series
    friday, away = _the_trial(b)
    wednesday = b.day_of(s[1])
    monitor = _monitor(b, s[1])
    ada_room = _holds(b, s[1])["room"]
    others = [f"Monitor {i}" for i in range(1, 5) if _resource(b, f"Monitor {i}") != monitor]
    # On Wednesday one other monitor is free only until Mary's infusion at 10:30; the last two
    # are out of service all day.
    spare, *broken_too = others
    for name in broken_too:
        availability.add_closure(
            b.clinic.db,
            SYSTEM,
            Unavailability(
                "maintenance",
                b.clinic.at(wednesday, "00:00"),
                b.clinic.at(wednesday + dt.timedelta(days=1), "00:00"),
                "annual check",
                resource_id=_resource(b, name),
            ),
            now=b.now,
        )
    room = next(f"Room {i}" for i in range(1, 5) if _resource(b, f"Room {i}") != ada_room)
    mary = b.clinic.session(
        "iv_infusion", wednesday, "10:30", {"room": room, "monitor": spare, "nurse": "Nurse Kim"}
    )
    booking.book(
        b.clinic.db,
        SYSTEM,
        BookingRequest(patient_id=b.clinic.ids["Mary Seacole"], sessions=(mary,)),
        now=b.now,
    )
    # The monitor goes out of service from Monday 12:00 (after the first session) to Thursday.
    monday = b.day_of(s[0])
    proposed = Unavailability(
        "maintenance",
        b.clinic.at(monday, "12:00"),
        b.clinic.at(monday + dt.timedelta(days=3), "17:00"),
        "cuff leak: sent for repair",
        resource_id=monitor,
    )
    before = b.starts()
    preview = consequences.preview(b.clinic.db, proposed, now=b.now)
    assert [x.appointment_id for x in preview.broken] == [s[1]]
    assert not preview.unplaced
    # Only the broken session moves: no later session of the series is pushed.
    assert [m.appointment_id for m in preview.moves] == [s[1]]
    move = preview.move_of(s[1])
    assert move is not None
    cal = b.clinic.calendar
    # The same day, the nearest free start before the booked 10:00 with the spare monitor
    # (before Mary's infusion takes it), not the day's first start nor one after Mary's.
    assert cal.local_date(move.new.start) == wednesday
    assert b.clinic.at(wednesday, "09:00") <= move.new.start < before[s[1]]
    assert _resource(b, spare) in {h.resource_id for h in move.new.holds}
    # A move to another time names what it swaps too, as a same-time one does.
    broken = next(f"Monitor {i}" for i in range(1, 5) if _resource(b, f"Monitor {i}") == monitor)
    assert move.change_text() == f"{spare} instead of {broken}"
    consequences.apply(b.clinic.db, SYSTEM, preview, now=b.now)
    after = b.starts()
    assert after[s[1]] == move.new.start
    # The session the desk moved by hand keeps its place, nothing lands on the day away.
    assert after[s[2]] == before[s[2]] == b.clinic.at(friday, "13:00")
    assert all(after[i] == before[i] for i in s if i != s[1])
    assert all(cal.local_date(after[i]) != away for i in s if i != s[4])


def test_a_nurse_off_moves_the_session_to_another_day_but_never_onto_a_day_away(
    booked: BookedClinic,
) -> None:
    b = booked
    s = b.series
    _friday, away = _the_trial(b)
    # The clinic's only nurse is off the second Monday, all day: that session needs another
    # day.  The Wednesday after is the series' own weekday but the patient is away then.
    second_monday = b.day_of(s[3])
    proposed = Unavailability(
        "time_off",
        b.clinic.at(second_monday, "00:00"),
        b.clinic.at(second_monday + dt.timedelta(days=1), "00:00"),
        "personal day",
        resource_id=_resource(b, "Nurse Kim"),
    )
    before = b.starts()
    preview = consequences.preview(b.clinic.db, proposed, now=b.now)
    assert [x.appointment_id for x in preview.broken] == [s[3]]
    assert not preview.unplaced, preview.unplaced
    cal = b.clinic.calendar
    days = {m.appointment_id: cal.local_date(m.new.start) for m in preview.moves}
    assert days[s[3]] != second_monday
    assert away not in days.values()
    # The session the desk moved by hand keeps its day; the next one is not pushed either.
    assert s[2] not in days
    assert s[5] not in days
    consequences.apply(b.clinic.db, SYSTEM, preview, now=b.now)
    after = b.starts()
    assert after[s[2]] == before[s[2]]
    with b.clinic.db.read() as session:
        spec = load_catalog(session).protocols["iv_induction"]
        plan = _series_plan(session, s[0])[3]
    assert spacing_problems(spec, plan.sessions, cal) == ()


def test_the_administrator_leaves_a_proposal_for_the_desk(booked: BookedClinic) -> None:
    b = booked
    s = b.series
    _the_trial(b)
    second_monday = b.day_of(s[3])
    proposed = Unavailability(
        "time_off",
        b.clinic.at(second_monday, "00:00"),
        b.clinic.at(second_monday + dt.timedelta(days=1), "00:00"),
        "personal day",
        resource_id=_resource(b, "Nurse Kim"),
    )
    preview = consequences.preview(b.clinic.db, proposed, now=b.now)
    assert preview.move_of(s[3]) is not None
    chosen = preview.leaving({s[3]})
    assert chosen.moves == ()
    assert [(u.session.appointment_id, u.problem) for u in chosen.unplaced] == [
        (s[3], consequences.LEFT_FOR_DESK)
    ]
    before = b.starts()
    applied = consequences.apply(b.clinic.db, SYSTEM, chosen, now=b.now)
    assert b.starts() == before  # nothing moved: the desk re-books it by hand
    assert applied.unplaced
    assert not applied.moves
    with b.clinic.db.read() as session:
        call = session.scalars(
            select(FollowUp.outcome).where(FollowUp.kind == consequences.CALL_KIND)
        ).one()
    assert f"needs a new time: {consequences.LEFT_FOR_DESK}" in call
    assert "none found" not in call  # it had a place: the administrator left it
