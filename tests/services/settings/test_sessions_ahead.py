"""One rule for "still ahead" (``statuses.resource_need``): a session already completed, or one
under way, is neither booked ahead of a monitor nor broken by its out-of-service window; the
Booked ahead column, the refusal to retire and the consequences preview all agree (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import Actor, utcnow
from ketadesk.services.settings import consequences, resources
from ketadesk.services.settings.availability import Unavailability
from ketadesk.services.settings.resources import ResourceInUse
from ketadesk.store.models import Appointment
from tests.clinic_fixtures import SmallClinic, build_small_clinic

ADMIN = Actor(user_id=None, username="admin", role="admin")
IV_A = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _two_infusions(clinic: SmallClinic) -> tuple[dt.date, int, int]:
    """Ada's infusions at 10:00 on an open weekday a week or more ahead and on the next open
    day, both on Monitor 1."""
    today = clinic.calendar.local_date(utcnow())
    first = clinic.open_day(today + dt.timedelta(days=7))
    second = clinic.open_day(first + dt.timedelta(days=1))
    request = BookingRequest(
        patient_id=clinic.ids["Ada Lovelace"],
        sessions=(
            clinic.session("iv_infusion", first, "10:00", IV_A),
            clinic.session("iv_infusion", second, "10:00", {**IV_A, "room": "Room 2"}),
        ),
    )
    ids = booking.book(clinic.db, ADMIN, request, now=utcnow()).appointment_ids
    return first, ids[0], ids[1]


def _set_status(clinic: SmallClinic, appointment_id: int, status: str) -> None:
    with clinic.db.write() as s:
        s.execute(update(Appointment).where(Appointment.id == appointment_id).values(status=status))


def _monitor_row(clinic: SmallClinic, now: dt.datetime) -> resources.ResourceRow:
    rows = resources.list_resources(clinic.db, now=now).rows
    return next(r for r in rows if r.name == "Monitor 1")


def test_a_completed_session_is_neither_booked_ahead_nor_broken(clinic: SmallClinic) -> None:
    day, done, later = _two_infusions(clinic)
    # The first infusion was completed at 11:20, before its planned end.
    _set_status(clinic, done, "completed")
    now = clinic.at(day, "11:25")
    monitor = clinic.ids["Monitor 1"]

    assert _monitor_row(clinic, now).sessions_ahead == 1
    with pytest.raises(ResourceInUse, match="Monitor 1 still has 1 booked session ahead") as err:
        resources.retire_resource(clinic.db, ADMIN, monitor, now=now)
    assert [s.appointment_id for s in err.value.sessions] == [later]
    # The page it names is the one the settings window has.
    assert "Settings ▸ Closures and time off" in str(err.value)
    assert "Availability" not in str(err.value)

    proposed = Unavailability(
        "maintenance",
        clinic.at(day, "11:30"),
        clinic.at(day + dt.timedelta(days=3), "17:00"),
        "calibration",
        resource_id=monitor,
    )
    preview = consequences.preview(clinic.db, proposed, now=now)
    assert [b.appointment_id for b in preview.broken] == [later]
    assert done not in {u.session.appointment_id for u in preview.unplaced}
    assert preview.in_use == ()


def test_a_session_under_way_is_named_as_using_the_monitor_and_not_replanned(
    clinic: SmallClinic,
) -> None:
    day, running, later = _two_infusions(clinic)
    _set_status(clinic, running, "in_progress")
    now = clinic.at(day, "11:00")
    monitor = clinic.ids["Monitor 1"]
    assert _monitor_row(clinic, now).sessions_ahead == 1

    proposed = Unavailability(
        "maintenance",
        clinic.at(day, "11:05"),
        clinic.at(day + dt.timedelta(days=3), "17:00"),
        "cuff torn",
        resource_id=monitor,
    )
    preview = consequences.preview(clinic.db, proposed, now=now)
    assert [b.appointment_id for b in preview.broken] == [later]
    assert [b.appointment_id for b in preview.in_use] == [running]
    assert preview.in_use[0].why == "in progress, using Monitor 1 now"
    assert running not in {m.appointment_id for m in preview.moves}
    assert running not in {u.session.appointment_id for u in preview.unplaced}

    applied = consequences.apply(clinic.db, ADMIN, preview, now=now)
    assert running not in {m.appointment_id for m in applied.moves}
    with clinic.db.read() as s:
        row = s.get(Appointment, running)
        assert row is not None
        assert row.status == "in_progress"
        assert row.starts_at == clinic.at(day, "10:00")
