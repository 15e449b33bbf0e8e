"""Staff settings: add, edit, deactivate; shifts every week or every other week; the phases a
staff member may be booked for, honoured by the planner; bad input named and nothing saved."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from ketadesk.services.booking import booking, planning
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, Actor, InvalidFields, PermissionDenied
from ketadesk.services.settings import staff
from ketadesk.services.settings.staff import ShiftRow, StaffForm, StaffStillBooked
from ketadesk.store import changes
from ketadesk.store.models import AuditEvent, Resource, StaffShift
from tests.clinic_fixtures import SmallClinic, build_small_clinic

# The clinic's clock for these tests (injected; nothing reads the real date).
NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tuesday 1 Dec 2026, 08:00 local
TODAY = dt.date(2026, 12, 1)
ON_WEEK = dt.date(2026, 11, 30)  # Monday of the week the alternating shifts start in


@dataclasses.dataclass(frozen=True)
class Event:
    username: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _weekdays(start: int, end: int, **kw: object) -> tuple[ShiftRow, ...]:
    return tuple(ShiftRow(wd, start, end, **kw) for wd in range(5))  # type: ignore[arg-type]


def _lee(**kw: object) -> StaffForm:
    values: dict[str, object] = {
        "role": "nurse",
        "first_name": "Lee",
        "last_name": "Park",
        "credentials": "RN",
        "phone": "(619) 555-0142",
        "email": "lee@example.org",
        "shifts": _weekdays(7 * 60, 18 * 60 + 30),
    }
    values.update(kw)
    return StaffForm(**values)  # type: ignore[arg-type]


def _counter(clinic: SmallClinic) -> int:
    with clinic.db.read() as s:
        return changes.current(s)


def _audit(clinic: SmallClinic, action: str) -> list[Event]:
    with clinic.db.read() as s:
        return [
            Event(e.username, e.before, e.after)
            for e in s.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        ]


def _opening_days(
    clinic: SmallClinic, session_type: str, first: dt.date, days: int
) -> set[dt.date]:
    answer = planning.search_openings(
        clinic.db, session_type=session_type, first=first, days=days, today=TODAY
    )
    return {o.start.astimezone(answer.calendar.tz).date() for o in answer.search.openings}


def test_adding_a_nurse_writes_her_shifts_audit_and_bumps_the_counter(
    clinic: SmallClinic,
) -> None:
    before = _counter(clinic)
    info = staff.add_staff(clinic.db, SYSTEM, _lee(), now=NOW)
    assert info.name == "Lee Park"
    assert info.printed_name == "Lee Park, RN"
    assert info.role == "nurse"
    assert len(info.shifts) == 5
    assert info.active
    assert _counter(clinic) > before
    [event] = _audit(clinic, "add_staff")
    assert event.after is not None
    assert event.after["credentials"] == "RN"
    with clinic.db.read() as s:
        res = s.get(Resource, info.id)
        assert res is not None
        assert res.kind == "staff"
        assert res.subkind == "nurse"
        assert res.capacity == clinic.catalog.settings.capacity_for_role("nurse")
    names = [s.name for s in staff.list_staff(clinic.db)]
    assert "Lee Park" in names
    assert "Nurse Kim" in names


def test_editing_records_before_and_after(clinic: SmallClinic) -> None:
    info = staff.add_staff(clinic.db, SYSTEM, _lee(), now=NOW)
    form = _lee(credentials="NP", role="prescriber", shifts=(ShiftRow(0, 9 * 60, 13 * 60),))
    edited = staff.update_staff(clinic.db, SYSTEM, info.id, form, now=NOW)
    assert edited.role == "prescriber"
    assert edited.credentials == "NP"
    assert edited.shifts == (ShiftRow(0, 9 * 60, 13 * 60),)
    [event] = _audit(clinic, "edit_staff")
    assert event.before is not None
    assert event.after is not None
    assert event.before["credentials"] == "RN"
    assert event.after["credentials"] == "NP"
    assert len(event.before["shifts"]) == 5
    assert len(event.after["shifts"]) == 1


def test_bad_input_names_each_field_and_saves_nothing(clinic: SmallClinic) -> None:
    form = _lee(
        role="surgeon",
        first_name=" ",
        phone="call me",
        email="lee-at-example",
        shifts=(
            ShiftRow(0, 9 * 60, 13 * 60),
            ShiftRow(0, 12 * 60, 15 * 60),  # overlaps the first on Monday
            ShiftRow(1, 15 * 60, 9 * 60),  # ends before it starts
            ShiftRow(2, 9 * 60, 13 * 60, every_n_weeks=2),  # alternate weeks from when?
        ),
    )
    before = _counter(clinic)
    with pytest.raises(InvalidFields) as caught:
        staff.add_staff(clinic.db, SYSTEM, form, now=NOW)
    errors = caught.value.errors
    assert set(errors) >= {"role", "first_name", "phone", "email", "shifts.3", "shifts.4"}
    assert "start before it ends" in errors["shifts.3"]
    assert "which week" in errors["shifts.4"]
    # Once each shift is right on its own, the overlap is named.
    with pytest.raises(InvalidFields) as caught:
        staff.add_staff(clinic.db, SYSTEM, _lee(shifts=form.shifts[:2]), now=NOW)
    assert "overlaps shift 1" in caught.value.errors["shifts.2"]
    with pytest.raises(InvalidFields) as caught:
        staff.add_staff(clinic.db, SYSTEM, _lee(name="Dr Patel"), now=NOW)
    assert "already called" in caught.value.errors["name"]
    with pytest.raises(InvalidFields) as caught:
        staff.add_staff(clinic.db, SYSTEM, _lee(qualifications=(("spravato", "checkin"),)), now=NOW)
    assert "qualifications" in caught.value.errors
    assert _counter(clinic) == before
    with clinic.db.read() as s:
        assert s.scalar(select(func.count()).where(Resource.name == "Lee Park")) == 0


def test_alternate_weeks_may_share_a_weekday_without_overlapping(clinic: SmallClinic) -> None:
    off_week = ON_WEEK + dt.timedelta(days=7)
    form = _lee(
        shifts=(
            ShiftRow(0, 7 * 60, 13 * 60, every_n_weeks=2, anchor=ON_WEEK),
            ShiftRow(0, 12 * 60, 18 * 60, every_n_weeks=2, anchor=off_week),
        )
    )
    info = staff.add_staff(clinic.db, SYSTEM, form, now=NOW)
    assert [s.every_n_weeks for s in info.shifts] == [2, 2]


def test_the_planner_books_no_nurse_on_her_off_week(clinic: SmallClinic) -> None:
    kim = clinic.ids["Nurse Kim"]
    current = staff.get_staff(clinic.db, kim)
    alternating = _weekdays(7 * 60, 18 * 60 + 30, every_n_weeks=2, anchor=ON_WEEK)
    form = dataclasses.replace(current.as_form(), shifts=alternating)
    staff.update_staff(clinic.db, SYSTEM, kim, form, now=NOW)
    with clinic.db.read() as s:
        rows = list(s.scalars(select(StaffShift).where(StaffShift.resource_id == kim)))
        assert {r.every_n_weeks for r in rows} == {2}
    # Kim is the only nurse: IV infusions fit in her on-weeks only.
    days = _opening_days(clinic, "iv_infusion", dt.date(2026, 12, 7), 14)
    assert days, "her on-week has openings"
    assert all(_week_of(d) == dt.date(2026, 12, 14) for d in days), sorted(days)
    # And the booking re-check refuses her on an off-week day.
    session = clinic.session(
        "iv_infusion",
        dt.date(2026, 12, 9),
        "10:00",
        {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"},
    )
    with pytest.raises(Exception, match="shift"):
        booking.book(
            clinic.db,
            SYSTEM,
            BookingRequest(patient_id=clinic.ids["Ada Lovelace"], sessions=(session,)),
            now=NOW,
        )


def test_the_planner_books_staff_only_for_the_phases_they_are_qualified_for(
    clinic: SmallClinic,
) -> None:
    spravato_phases = tuple(
        (c.session_type, c.phase)
        for c in staff.qualification_choices(clinic.db)
        if c.session_type == "spravato" and "nurse" in c.roles
    )
    assert spravato_phases
    lee = staff.add_staff(clinic.db, SYSTEM, _lee(qualifications=spravato_phases), now=NOW)
    staff.set_staff_active(clinic.db, SYSTEM, clinic.ids["Nurse Kim"], False, now=NOW)
    week = dt.date(2026, 12, 7)
    assert _opening_days(clinic, "iv_infusion", week, 5) == set()
    answer = planning.search_openings(
        clinic.db, session_type="spravato", first=week, days=5, today=TODAY
    )
    assert answer.search.openings
    assert {o.resource_for("nurse") for o in answer.search.openings} == {lee.id}
    # Qualified for the infusion's recovery only is not enough to be its nurse.
    staff.update_staff(
        clinic.db,
        SYSTEM,
        lee.id,
        _lee(qualifications=(*spravato_phases, ("iv_infusion", "recovery"))),
        now=NOW,
    )
    assert _opening_days(clinic, "iv_infusion", week, 5) == set()
    staff.update_staff(
        clinic.db,
        SYSTEM,
        lee.id,
        _lee(qualifications=(("iv_infusion", "infusion"), ("iv_infusion", "recovery"))),
        now=NOW,
    )
    assert _opening_days(clinic, "iv_infusion", week, 5)


def test_deactivating_a_booked_nurse_lists_her_sessions_unless_forced(
    clinic: SmallClinic,
) -> None:
    session = clinic.session(
        "iv_infusion",
        dt.date(2026, 12, 2),
        "10:00",
        {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"},
    )
    booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(patient_id=clinic.ids["Ada Lovelace"], sessions=(session,)),
        now=NOW,
    )
    kim = clinic.ids["Nurse Kim"]
    before = _counter(clinic)
    with pytest.raises(StaffStillBooked) as caught:
        staff.set_staff_active(clinic.db, SYSTEM, kim, False, now=NOW)
    assert [s.patient for s in caught.value.sessions] == ["Ada Lovelace"]
    assert staff.get_staff(clinic.db, kim).active
    assert _counter(clinic) == before
    info = staff.set_staff_active(clinic.db, SYSTEM, kim, False, force=True, now=NOW)
    assert not info.active
    assert "Nurse Kim" not in [s.name for s in staff.list_staff(clinic.db)]
    assert "Nurse Kim" in [s.name for s in staff.list_staff(clinic.db, include_inactive=True)]
    again = staff.set_staff_active(clinic.db, SYSTEM, kim, True, now=NOW)
    assert again.active
    assert [e.after for e in _audit(clinic, "deactivate_staff")] == [{"active": False}]
    assert [e.after for e in _audit(clinic, "activate_staff")] == [{"active": True}]


def test_the_front_desk_may_not_configure_staff_and_the_refusal_is_audited(
    clinic: SmallClinic,
) -> None:
    with pytest.raises(PermissionDenied):
        staff.add_staff(clinic.db, FRONT_DESK, _lee(), now=NOW)
    with pytest.raises(PermissionDenied):
        staff.set_staff_active(clinic.db, FRONT_DESK, clinic.ids["Nurse Kim"], False, now=NOW)
    refusals = _audit(clinic, "refused")
    assert [e.after["action"] for e in refusals if e.after] == ["configure", "configure"]
    assert all(e.username == "maria" for e in refusals)


def _week_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _minute(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def test_a_shift_past_fridays_closing_is_saved_with_a_warning(clinic: SmallClinic) -> None:
    friday = clinic.catalog.settings.hours["fri"]
    assert friday is not None
    opens, closes = _minute(friday[0]), _minute(friday[1])
    inside = ShiftRow(0, opens, closes)  # Monday within its hours (the small clinic's too)
    late = ShiftRow(4, opens, closes + 60)
    info = staff.add_staff(clinic.db, SYSTEM, _lee(shifts=(inside, late)), now=NOW)
    assert len(info.shifts) == 2  # saved, not refused
    (warning,) = info.warnings
    assert warning.startswith("shift 2 (Fri ")
    assert f"runs past closing ({friday[1]:%H:%M} on Fridays)" in warning
    # Within the hours: nothing to say.
    again = staff.update_staff(clinic.db, SYSTEM, info.id, _lee(shifts=(inside,)), now=NOW)
    assert again.warnings == ()
