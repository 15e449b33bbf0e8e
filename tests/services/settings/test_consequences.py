"""A closure, time off or an out-of-service window: what it breaks, where those sessions go,
all or nothing, undo, and the calls it puts on the call list (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from ketadesk.scheduling.dates import moved_words
from ketadesk.scheduling.planner import spacing_problems
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.series_moves import _series_plan
from ketadesk.services.common.context import (
    SYSTEM,
    Actor,
    InvalidFields,
    PermissionDenied,
    ServiceError,
)
from ketadesk.services.printing.call_list import call_list
from ketadesk.services.settings import consequences
from ketadesk.services.settings.availability import Unavailability
from ketadesk.store.changes import change_counter
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import AuditEvent, Closure, FollowUp, Resource, ResourceHold
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic

FRONT_DESK = Actor(user_id=None, username="desk", role="front_desk")


@pytest.fixture
def booked(db_url: str) -> Iterator[BookedClinic]:
    b = booked_clinic(db_url)
    yield b
    b.clinic.db.dispose()


def _monitor_of(b: BookedClinic, appointment_id: int) -> int:
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


def _whole_days(b: BookedClinic, first: dt.date, days: int) -> tuple[dt.datetime, dt.datetime]:
    cal = b.clinic.calendar
    return cal.at_local(first, 0), cal.at_local(first + dt.timedelta(days=days), 0)


def _count(b: BookedClinic, model: type) -> int:
    with b.clinic.db.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_monitor_out_of_service_breaks_its_sessions_and_keeps_the_time(
    booked: BookedClinic,
) -> None:
    b = booked
    second, third = b.series[1], b.series[2]
    monitor = _monitor_of(b, second)
    start, end = _whole_days(b, b.day_of(second), (b.day_of(third) - b.day_of(second)).days + 1)
    proposed = Unavailability("maintenance", start, end, "calibration", resource_id=monitor)
    before = b.starts()
    preview = consequences.preview(b.clinic.db, proposed, now=b.now)
    broken = {s.appointment_id for s in preview.broken}
    assert broken == {second, third}
    assert all("out of service: calibration" in s.why for s in preview.broken)
    assert not preview.unplaced
    # Other monitors are free at the same time: the sessions keep their time.
    for move in preview.moves:
        assert move.new.start == before[move.appointment_id]
        assert monitor not in {h.resource_id for h in move.new.holds}
    counter = change_counter(b.clinic.db)
    applied = consequences.apply(b.clinic.db, SYSTEM, preview, now=b.now)
    assert change_counter(b.clinic.db) > counter
    assert applied.follow_up_ids == ()  # same time, other monitor: no call needed
    assert _monitor_of(b, second) != monitor
    assert _monitor_of(b, third) != monitor
    with b.clinic.db.read() as s:
        closure = s.get(Closure, applied.closure_id)
        assert closure is not None
        assert closure.resource_id == monitor
        actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "closure")))
        assert "create" in actions


def test_closed_day_moves_the_session_and_the_series_keeps_its_spacing(
    booked: BookedClinic,
) -> None:
    b = booked
    second = b.series[1]
    start, end = _whole_days(b, b.day_of(second), 1)
    proposed = Unavailability("closure", start, end, "staff training")
    preview = consequences.preview(b.clinic.db, proposed, now=b.now)
    assert [s.appointment_id for s in preview.broken] == [second]
    move = preview.move_of(second)
    assert move is not None
    assert move.broken
    # Another day: the day before counts too when it moves fewer sessions than a later one.
    assert b.clinic.calendar.local_date(move.new.start) != b.day_of(second)
    assert move.new.start >= b.now
    applied = consequences.apply(b.clinic.db, SYSTEM, preview, now=b.now)
    after = b.starts()
    assert not any(start <= t < end for t in after.values())
    with b.clinic.db.read() as s:
        spec = load_catalog(s).protocols["iv_induction"]
    cal = b.clinic.calendar
    days = [cal.local_date(after[i]) for i in b.series]
    assert days == sorted(days)
    assert all(m.new.placed for m in preview.moves)
    with b.clinic.db.read() as s:
        plan = _series_plan(s, b.series[0])[3]
    assert spacing_problems(spec, plan.sessions, cal) == ()
    # Undo: the closure goes and the sessions are back where they were.
    consequences.undo(b.clinic.db, SYSTEM, applied, now=b.now)
    assert b.starts()[second] == move.old.start
    assert _count(b, Closure) == 0
    with b.clinic.db.read() as s:
        statuses = set(s.scalars(select(FollowUp.status).where(FollowUp.kind == "schedule_change")))
    assert statuses == {"cancelled"}


def test_apply_is_all_or_nothing(booked: BookedClinic) -> None:
    b = booked
    second, third = b.series[1], b.series[2]
    # Two sessions' days closed: two sessions move (each to a day of its own).
    start, end = _whole_days(b, b.day_of(second), (b.day_of(third) - b.day_of(second)).days + 1)
    preview = consequences.preview(
        b.clinic.db, Unavailability("closure", start, end, "staff training"), now=b.now
    )
    assert len(preview.moves) > 1
    # Someone books another patient into one proposed place meanwhile (the last session's:
    # it moves into a place nobody holds now).
    move = max(preview.moves, key=lambda m: m.new.start)
    other = dataclasses.replace(move.new, index=1)
    booking.book(
        b.clinic.db,
        SYSTEM,
        BookingRequest(patient_id=b.clinic.ids["Mary Seacole"], sessions=(other,)),
        now=b.now,
    )
    before = b.starts()
    with pytest.raises(ServiceError):
        consequences.apply(b.clinic.db, SYSTEM, preview, now=b.now)
    assert b.starts() == before
    assert _count(b, Closure) == 0
    with b.clinic.db.read() as s:
        assert not s.scalar(select(func.count()).where(FollowUp.kind == "schedule_change"))


def test_affected_patients_land_on_the_call_list(booked: BookedClinic) -> None:
    b = booked
    second = b.series[1]
    start, end = _whole_days(b, b.day_of(second), 1)
    preview = consequences.preview(
        b.clinic.db, Unavailability("closure", start, end, "staff training"), now=b.now
    )
    applied = consequences.apply(b.clinic.db, SYSTEM, preview, now=b.now)
    calls = call_list(b.clinic.db, SYSTEM, b.today, now=b.now).calls
    ours = [c for c in calls if c.session.startswith("Schedule change")]
    assert [c.patient_name for c in ours] == ["Lovelace, Ada"]
    assert "staff training" in ours[0].session
    # The move said as every move is (dates.moved_words), in the clinic's time format.
    move = applied.moves[0]
    fmt = b.clinic.calendar.settings.time_format
    moved = moved_words(
        b.clinic.calendar.local(move.old.start), b.clinic.calendar.local(move.new.start), fmt
    )
    with b.clinic.db.read() as session:
        said = session.scalars(
            select(FollowUp.outcome).where(FollowUp.kind == consequences.CALL_KIND)
        ).one()
    assert f"IV ketamine infusion moved {moved}" in said
    assert "/" not in said  # "Wed Dec 16 10:00", not "Wed 12/16 10:00"


def test_only_the_administrator_changes_availability_and_bad_input_names_the_field(
    booked: BookedClinic,
) -> None:
    b = booked
    start, end = _whole_days(b, b.today + dt.timedelta(days=1), 1)
    preview = consequences.preview(
        b.clinic.db, Unavailability("closure", start, end, "training"), now=b.now
    )
    with pytest.raises(PermissionDenied):
        consequences.apply(b.clinic.db, FRONT_DESK, preview, now=b.now)
    with pytest.raises(InvalidFields) as err:
        consequences.preview(b.clinic.db, Unavailability("closure", end, start, ""), now=b.now)
    assert set(err.value.errors) == {"ends_at", "reason"}
    with pytest.raises(InvalidFields) as err:
        consequences.preview(
            b.clinic.db,
            Unavailability("time_off", start, end, "leave", resource_id=b.clinic.ids["Room 1"]),
            now=b.now,
        )
    assert "resource" in err.value.errors
    assert _count(b, Closure) == 0


def test_a_single_session_keeps_its_time_on_the_nearest_open_day(booked: BookedClinic) -> None:
    b = booked
    # Mary's single infusion on the Tuesday after Ada's first session, at 14:00.
    day = b.day_of(b.series[0]) + dt.timedelta(days=1)
    where = {"room": "Room 3", "monitor": "Monitor 3", "nurse": "Nurse Kim"}
    result = booking.book(
        b.clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=b.clinic.ids["Mary Seacole"],
            sessions=(b.clinic.session("iv_infusion", day, "14:00", where),),
        ),
        now=b.now,
    )
    single = result.appointment_ids[0]
    start, end = b.clinic.at(day, "13:00"), b.clinic.at(day, "18:30")
    preview = consequences.preview(
        b.clinic.db, Unavailability("closure", start, end, "power cut"), now=b.now
    )
    assert [s.appointment_id for s in preview.broken] == [single]
    move = preview.move_of(single)
    assert move is not None
    cal = b.clinic.calendar
    assert cal.local_date(move.new.start) > day or move.new.end <= start
    consequences.apply(b.clinic.db, SYSTEM, preview, now=b.now)
    assert b.starts([single])[single] == move.new.start
