"""Equipment out of service re-plans pencilled-in (tentative) holds as it does booked sessions:
onto a free alternative, keeping the hold's status and deadline; and the proposal names the
resources swapped ("Monitor 2 instead of Monitor 3"), in the preview and in the audit trail.

Days come from the clinic's today (``booked_clinic``), so the tests mean the same on any day
(SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.planning import PlanWishes, propose_series
from ketadesk.services.common.context import SYSTEM
from ketadesk.services.settings import consequences
from ketadesk.services.settings.availability import Unavailability
from ketadesk.store.models import Appointment, AuditEvent, Resource, ResourceHold
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic


@pytest.fixture
def booked(db_url: str) -> Iterator[BookedClinic]:
    b = booked_clinic(db_url)
    yield b
    b.clinic.db.dispose()


def _monitor_name(b: BookedClinic, appointment_id: int) -> str:
    with b.clinic.db.read() as s:
        found = s.scalar(
            select(Resource.name)
            .join(ResourceHold, ResourceHold.resource_id == Resource.id)
            .where(
                ResourceHold.appointment_id == appointment_id,
                ResourceHold.active.is_(True),
                Resource.subkind == "vital_signs_monitor",
            )
        )
    assert found is not None
    return found


def _status_and_deadline(b: BookedClinic, appointment_id: int) -> tuple[str, dt.datetime | None]:
    with b.clinic.db.read() as s:
        row = s.get(Appointment, appointment_id)
        assert row is not None
        return row.status, row.hold_until


def _whole_day(b: BookedClinic, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    cal = b.clinic.calendar
    return cal.at_local(day, 0), cal.at_local(day + dt.timedelta(days=1), 0)


def test_a_pencilled_in_session_on_a_broken_monitor_moves_to_a_free_one_still_pencilled_in(
    booked: BookedClinic,
) -> None:
    b = booked
    # Grace (screening pending) pencilled in for an infusion on Monitor 3, the day after
    # Ada's first session, at 14:00; Monitors 1, 2 and 4 are free then.
    day = b.day_of(b.series[0]) + dt.timedelta(days=1)
    where = {"room": "Room 3", "monitor": "Monitor 3", "nurse": "Nurse Kim"}
    held = booking.book(
        b.clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=b.clinic.ids["Grace Hopper"],
            sessions=(b.clinic.session("iv_infusion", day, "14:00", where),),
            tentative=True,
        ),
        now=b.now,
    ).appointment_ids[0]
    status, deadline = _status_and_deadline(b, held)
    assert status == "tentative"
    assert deadline is not None
    start, end = _whole_day(b, day)
    proposed = Unavailability(
        "maintenance", start, end, "calibration", resource_id=b.clinic.ids["Monitor 3"]
    )
    preview = consequences.preview(b.clinic.db, proposed, now=b.now)
    assert [s.appointment_id for s in preview.broken] == [held]
    assert preview.broken[0].tentative
    assert not preview.unplaced, preview.unplaced
    move = preview.move_of(held)
    assert move is not None
    assert move.new.start == move.old.start  # the same time, another monitor
    assert move.instead == "Monitor 1 instead of Monitor 3"
    applied = consequences.apply(b.clinic.db, SYSTEM, preview, now=b.now)
    assert applied.follow_up_ids == ()  # the same time: nobody to call
    assert _monitor_name(b, held) == "Monitor 1"
    assert _status_and_deadline(b, held) == (status, deadline)
    with b.clinic.db.read() as s:
        said = s.scalar(
            select(AuditEvent.detail).where(
                AuditEvent.entity == "appointment",
                AuditEvent.entity_id == held,
                AuditEvent.action == "move",
            )
        )
    assert said == (
        "Monitor 3 out of service: calibration; same time, Monitor 1 instead of Monitor 3"
    )
    # Undo puts it back on Monitor 3, still pencilled in.
    consequences.undo(b.clinic.db, SYSTEM, applied, now=b.now)
    assert _monitor_name(b, held) == "Monitor 3"
    assert _status_and_deadline(b, held) == (status, deadline)


def test_a_pencilled_in_series_on_a_broken_monitor_keeps_its_times_and_deadline(
    booked: BookedClinic,
) -> None:
    b = booked
    # Grace's whole induction pencilled in at 14:00, the week after Ada's starts.
    first = b.day_of(b.series[0]) + dt.timedelta(days=7)
    proposal = propose_series(
        b.clinic.db,
        chart="BT-2",
        protocol="iv_induction",
        start=first,
        wishes=PlanWishes(weekdays=("mon", "wed", "fri"), time=dt.time(14)),
        today=b.today,
    )
    assert proposal.plan.complete, proposal.plan.problems
    ids = booking.book(
        b.clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=proposal.patient_id,
            sessions=proposal.sessions,
            protocol="iv_induction",
            tentative=True,
        ),
        now=b.now,
    ).appointment_ids
    second = ids[1]
    deadline = _status_and_deadline(b, second)[1]
    monitor = _monitor_name(b, second)
    start, end = _whole_day(b, b.clinic.calendar.local_date(b.starts([second])[second]))
    proposed = Unavailability(
        "maintenance", start, end, "battery", resource_id=b.clinic.ids[monitor]
    )
    preview = consequences.preview(b.clinic.db, proposed, now=b.now)
    assert second in {s.appointment_id for s in preview.broken}
    assert not preview.unplaced, preview.unplaced
    move = preview.move_of(second)
    assert move is not None
    assert move.new.start == move.old.start
    assert move.instead.endswith(f" instead of {monitor}")
    consequences.apply(b.clinic.db, SYSTEM, preview, now=b.now)
    assert _monitor_name(b, second) != monitor
    assert _status_and_deadline(b, second) == ("tentative", deadline)
