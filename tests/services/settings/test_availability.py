"""Closures, time off and out-of-service rows; the public holidays the clinic closes on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.scheduling.calendar import Interval
from ketadesk.services.common.context import SYSTEM, Actor, InvalidFields, PermissionDenied
from ketadesk.services.schedule.public_holidays import CachedHolidaysCalendar
from ketadesk.services.settings import availability
from ketadesk.services.settings.availability import Unavailability
from ketadesk.store.changes import change_counter
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import AuditEvent
from ketadesk.store.snapshot import load_calendar
from tests.clinic_fixtures import SmallClinic, build_small_clinic

NURSE = Actor(user_id=None, username="kim", role="nurse")


@pytest.fixture(autouse=True)
def holiday_cache_in_tmp(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep the holiday name cache out of the user's real cache folder."""
    from ketadesk.services.schedule import public_holidays

    folder = tmp_path_factory.mktemp("holidays")
    monkeypatch.setattr(public_holidays, "holiday_cache_dir", lambda: folder)


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _audit(clinic: SmallClinic, entity: str) -> list[tuple[str, object, object]]:
    with clinic.db.read() as s:
        return [
            (a, b, c)
            for a, b, c in s.execute(
                select(AuditEvent.action, AuditEvent.before, AuditEvent.after)
                .where(AuditEvent.entity == entity)
                .order_by(AuditEvent.id)
            )
        ]


def test_add_edit_remove_a_closure_audited_and_counted(clinic: SmallClinic) -> None:
    now = dt.datetime.now(dt.UTC)
    day = clinic.calendar.local_date(now) + dt.timedelta(days=10)
    start, end = clinic.at(day, "08:00"), clinic.at(day, "12:00")
    monitor = clinic.ids["Monitor 3"]
    counter = change_counter(clinic.db)
    closure_id = availability.add_closure(
        clinic.db,
        SYSTEM,
        Unavailability("maintenance", start, end, "calibration", resource_id=monitor),
        now=now,
    )
    assert change_counter(clinic.db) > counter
    rows = availability.list_closures(clinic.db, now=now)
    assert [(r.resource_name, r.kind_label, r.reason) for r in rows] == [
        ("Monitor 3", "Out of service", "calibration")
    ]
    availability.edit_closure(
        clinic.db,
        SYSTEM,
        closure_id,
        Unavailability("maintenance", start, clinic.at(day, "17:00"), "calibration", monitor),
        now=now,
    )
    assert availability.list_closures(clinic.db, now=now)[0].ends_at == clinic.at(day, "17:00")
    availability.remove_closure(clinic.db, SYSTEM, closure_id, now=now)
    assert availability.list_closures(clinic.db, now=now) == []
    actions = _audit(clinic, "closure")
    assert [a for a, _, _ in actions] == ["create", "update", "delete"]
    assert actions[1][1] is not None
    assert actions[1][2] is not None


def test_refusals(clinic: SmallClinic) -> None:
    now = dt.datetime.now(dt.UTC)
    day = clinic.calendar.local_date(now) + dt.timedelta(days=10)
    start, end = clinic.at(day, "08:00"), clinic.at(day, "12:00")
    with pytest.raises(PermissionDenied):
        availability.add_closure(clinic.db, NURSE, Unavailability("closure", start, end, "x"))
    with pytest.raises(InvalidFields) as err:
        availability.add_closure(
            clinic.db, SYSTEM, Unavailability("holiday", start, end, "x", clinic.ids["Room 1"])
        )
    assert "resource" in err.value.errors
    with pytest.raises(InvalidFields) as err:
        availability.add_closure(clinic.db, SYSTEM, Unavailability("nap", start, end, "x"))
    assert "kind" in err.value.errors
    assert availability.list_closures(clinic.db, now=now) == []


def test_the_clinic_closes_only_on_the_holidays_it_chose(clinic: SmallClinic) -> None:
    year = dt.date.today().year + 1
    choices = availability.holiday_choices(clinic.db, year)
    assert choices
    assert all(c.closed for c in choices)  # by default every public holiday closes the clinic
    christmas = next(c for c in choices if c.day == dt.date(year, 12, 25))
    other = next(c for c in choices if c.day.month == 7)  # Independence Day
    availability.set_holidays_closed(clinic.db, SYSTEM, [christmas.name])
    chosen = {c.day: c.closed for c in availability.holiday_choices(clinic.db, year)}
    assert chosen[christmas.day] is True
    assert chosen[other.day] is False
    with clinic.db.read() as s:
        catalog = load_catalog(s)
        window = Interval(
            clinic.calendar.at_local(dt.date(year, 1, 1), 0),
            clinic.calendar.at_local(dt.date(year, 12, 31), 0),
        )
        calendar = load_calendar(s, window, catalog)
    assert calendar.holiday(christmas.day) == christmas.name
    assert calendar.holiday(other.day) is None
    cached = CachedHolidaysCalendar(catalog.settings)
    assert cached.holiday(other.day) is None
    assert cached.holiday(christmas.day) == christmas.name
    with pytest.raises(InvalidFields) as err:
        availability.set_holidays_closed(clinic.db, SYSTEM, ["Boxing Day"])
    assert "holidays_closed" in err.value.errors
    with pytest.raises(InvalidFields) as err:
        availability.set_holidays_closed(clinic.db, SYSTEM, None, subdivision="ZZ")
    assert "holiday_subdivision" in err.value.errors
    availability.set_holidays_closed(clinic.db, SYSTEM, None, subdivision="CA")
    assert all(c.closed for c in availability.holiday_choices(clinic.db, year))
    assert [a for a, _, _ in _audit(clinic, "clinic_setting")] == ["update", "update"]
