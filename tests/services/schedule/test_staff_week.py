"""The day by staff, the week, and one staff member's day, read from real bookings."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from ketadesk.services.booking.appointment_changes import change_status
from ketadesk.services.common.context import SYSTEM
from ketadesk.services.schedule import public_holidays
from ketadesk.services.schedule.day import day_schedule, staff_day_schedule
from ketadesk.services.schedule.day_schedule import NO_STAFF, DaySchedule
from ketadesk.services.schedule.staff import my_day, staff_members, staff_of_user
from ketadesk.services.schedule.week import week_schedule
from ketadesk.store.models import User
from tests.services.staffed_day import (
    MONDAY,
    SATURDAY,
    THANKSGIVING,
    TUESDAY,
    StaffedDay,
    build_staffed_day,
)


@pytest.fixture(autouse=True)
def holiday_cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(public_holidays, "holiday_cache_dir", lambda: tmp_path / "holidays")


@pytest.fixture
def staffed(db_url: str) -> Iterator[StaffedDay]:
    built = build_staffed_day(db_url)
    yield built
    built.clinic.db.dispose()


def hhmm(t: dt.datetime) -> str:
    return t.strftime("%H:%M")


def sessions_by_column(day: DaySchedule) -> dict[str, list[str]]:
    names = {c.id: c.name for c in day.rooms}
    out: dict[str, list[str]] = {name: [] for name in names.values()}
    for a in day.appointments:
        out[names[a.room_id]].append(f"{hhmm(a.start)} {a.session_type_short} {a.room_name}")
    return out


def test_a_column_per_staff_member_who_works_or_is_booked_by_role(staffed: StaffedDay) -> None:
    day = staff_day_schedule(staffed.clinic.db, TUESDAY)
    assert day.grouping == "staff"
    # Prescribers, nurses, therapists, front desk; Jo Weekend does not work on Tuesdays.
    assert [(c.name, c.kind_label) for c in day.rooms] == [
        ("Dr Patel", "Prescriber"),
        ("Nurse Kim", "Nurse"),
        ("Sam Rivera", "Therapist"),
        ("Lee Front", "Front desk"),
    ]
    assert NO_STAFF not in day.rooms


def test_each_session_is_under_every_staff_member_it_holds(staffed: StaffedDay) -> None:
    day = staff_day_schedule(staffed.clinic.db, TUESDAY)
    assert sessions_by_column(day) == {
        "Dr Patel": ["10:00 SPR Room 2"],
        "Nurse Kim": ["09:00 IV Room 1", "10:00 SPR Room 2"],
        "Sam Rivera": ["13:00 KAP Room 3", "15:45 INT Office A"],
        "Lee Front": [],
    }
    spravato = [a for a in day.appointments if a.id == staffed.appointments["spravato"]]
    assert {a.room_id for a in spravato} == {staffed.id("Dr Patel"), staffed.id("Nurse Kim")}
    # The whole session, phases and all, as in the day by room.
    by_room = day_schedule(staffed.clinic.db, TUESDAY)
    assert by_room.grouping == "room"
    room_copy = next(a for a in by_room.appointments if a.id == staffed.appointments["spravato"])
    assert room_copy.room_name == "Room 2"
    assert dataclasses.replace(spravato[0], room_id=room_copy.room_id) == room_copy


def test_off_shift_hours_and_time_off_are_shaded_per_staff_member(staffed: StaffedDay) -> None:
    day = staff_day_schedule(staffed.clinic.db, TUESDAY)
    bands = sorted(
        (c.room_id, hhmm(c.start), hhmm(c.end), c.reason)
        for c in day.closures
        if c.room_id is not None
    )
    patel, kim = staffed.id("Dr Patel"), staffed.id("Nurse Kim")
    lee = staffed.id("Lee Front")
    assert bands == sorted(
        [
            # Dr Patel works 09:00-13:00 on Tuesdays; the clinic opens 07:30-18:00.
            (patel, "07:30", "09:00", "Off shift"),
            (patel, "13:00", "18:00", "Off shift"),
            (kim, "16:00", "18:30", "Dentist"),
            # Lee Front works 08:00-17:00.
            (lee, "07:30", "08:00", "Off shift"),
            (lee, "17:00", "18:00", "Off shift"),
        ]
    )


def test_a_cancelled_session_stays_under_its_staff_hatched(staffed: StaffedDay) -> None:
    integration = staffed.appointments["integration"]
    change_status(
        staffed.clinic.db,
        SYSTEM,
        integration,
        "cancel",
        reason="Patient unwell",
        now=dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC),
    )
    day = staff_day_schedule(staffed.clinic.db, TUESDAY)
    (copy,) = [a for a in day.appointments if a.id == integration]
    assert copy.room_id == staffed.id("Sam Rivera")
    assert copy.status == "cancelled"
    assert not copy.is_active


def test_a_closed_day_has_no_off_shift_bands(staffed: StaffedDay) -> None:
    day = staff_day_schedule(staffed.clinic.db, THANKSGIVING)
    assert day.closed_reason == "Clinic closed: Thanksgiving Day"
    assert all(c.reason != "Off shift" for c in day.closures)


def test_the_week_holds_seven_days_of_every_room(staffed: StaffedDay) -> None:
    week = week_schedule(staffed.clinic.db, MONDAY)
    assert [d.day for d in week.days] == [MONDAY + dt.timedelta(days=i) for i in range(7)]
    assert week.last_day == MONDAY + dt.timedelta(days=6)
    assert week.label == "All rooms"
    assert [len(d.appointments) for d in week.days] == [0, 4, 0, 0, 0, 0, 0]
    assert week.active_count == 4
    assert week.days[3].closed_reason == "Clinic closed: Thanksgiving Day"
    assert week.days[6].closed_reason == "Clinic closed on Sundays"


def test_the_week_of_some_rooms(staffed: StaffedDay) -> None:
    rooms = {staffed.id("Room 1"), staffed.id("Office A")}
    week = week_schedule(staffed.clinic.db, MONDAY, room_ids=rooms)
    tuesday = week.days[1]
    assert [a.session_type_short for a in tuesday.appointments] == ["IV", "INT"]
    assert [c.name for c in tuesday.rooms] == ["Room 1", "Office A"]
    assert week.label == "Room 1, Office A"


def test_the_week_of_one_staff_member(staffed: StaffedDay) -> None:
    patel = staffed.id("Dr Patel")
    week = week_schedule(staffed.clinic.db, MONDAY, staff_id=patel)
    assert week.label == "Dr Patel"
    assert week.staff_id == patel
    tuesday = week.days[1]
    assert [(hhmm(a.start), a.patient_name) for a in tuesday.appointments] == [
        ("10:00", "Seacole, Mary")
    ]
    assert {(hhmm(c.start), hhmm(c.end)) for c in tuesday.closures} == {
        ("07:30", "09:00"),
        ("13:00", "18:00"),
    }
    # Monday: the full default shift (07:00-18:30) covers the opening hours: nothing shaded.
    assert week.days[0].closures == ()
    # The column is there every day, even the Saturday she does not work.
    assert [c.name for c in week.days[5].rooms] == ["Dr Patel"]


def test_rooms_and_a_staff_member_together_are_refused(staffed: StaffedDay) -> None:
    with pytest.raises(ValueError, match="not both"):
        week_schedule(staffed.clinic.db, MONDAY, room_ids=[1], staff_id=staffed.id("Dr Patel"))


def test_my_day_lists_the_nurse_s_sessions_with_her_part_in_each(staffed: StaffedDay) -> None:
    day = my_day(staffed.clinic.db, staffed.id("Nurse Kim"), TUESDAY)
    assert (day.staff_name, day.role) == ("Nurse Kim", "nurse")
    # Her shift, less her time off from 16:00 (My day said "works 07:00-18:30" until a user
    # trial's nurse, off sick, read her whole shift there).
    assert [(hhmm(a), hhmm(b)) for a, b in day.shifts] == [("07:00", "16:00")]
    assert [(hhmm(a), hhmm(b), why) for a, b, why in day.time_off] == [
        ("16:00", "18:30", "Dentist")
    ]
    rows = [
        (
            hhmm(s.appointment.start),
            s.appointment.patient_name,
            s.appointment.room_name,
            hhmm(s.needed_from),
            hhmm(s.needed_until),
            s.needed_phases,
        )
        for s in day.sessions
    ]
    assert rows == [
        ("09:00", "Lovelace, Ada", "Room 1", "09:15", "10:40", "Infusion → Recovery"),
        ("10:00", "Seacole, Mary", "Room 2", "10:15", "12:30", "Dosing → Discharge"),
    ]
    # The session keeps its real room, not the staff column.
    assert day.sessions[0].appointment.room_id == staffed.id("Room 1")
    assert day.active_count == 2


def test_my_day_of_someone_off_that_day_is_empty(staffed: StaffedDay) -> None:
    day = my_day(staffed.clinic.db, staffed.id("Jo Weekend"), TUESDAY)
    assert day.sessions == ()
    assert day.shifts == ()
    saturday = my_day(staffed.clinic.db, staffed.id("Jo Weekend"), SATURDAY)
    assert [(hhmm(a), hhmm(b)) for a, b in saturday.shifts] == [("08:00", "17:00")]


WEDNESDAY = TUESDAY + dt.timedelta(days=1)


def test_my_day_of_someone_off_sick_says_so_and_works_only_the_rest(staffed: StaffedDay) -> None:
    """A user trial's nurse, off sick for the day, read "works 7:15 AM-6:00 PM" on My day."""
    from ketadesk.services.settings.availability import Unavailability, add_closure

    kim = staffed.id("Nurse Kim")
    for start, end in (("00:00", "00:00"), ("12:00", "14:00")):
        day = TUESDAY if start == "12:00" else WEDNESDAY
        add_closure(
            staffed.clinic.db,
            SYSTEM,
            Unavailability(
                "time_off",
                staffed.clinic.at(day, start),
                staffed.clinic.at(day + dt.timedelta(days=1 if start == "00:00" else 0), end),
                "Called in sick" if start == "00:00" else "Physio",
                kim,
            ),
        )
    tuesday = my_day(staffed.clinic.db, kim, TUESDAY)
    # Her shift less the fixture's dentist (16:00-18:30) and this physio appointment.
    assert [(hhmm(a), hhmm(b)) for a, b in tuesday.shifts] == [
        ("07:00", "12:00"),
        ("14:00", "16:00"),
    ]
    assert [(hhmm(a), hhmm(b), why) for a, b, why in tuesday.time_off] == [
        ("12:00", "14:00", "Physio"),
        ("16:00", "18:30", "Dentist"),
    ]
    wednesday = my_day(staffed.clinic.db, kim, WEDNESDAY)
    assert wednesday.shifts == ()
    assert [why for _a, _b, why in wednesday.time_off] == ["Called in sick"]


def test_my_day_of_an_unknown_staff_member_is_refused(staffed: StaffedDay) -> None:
    with pytest.raises(KeyError):
        my_day(staffed.clinic.db, staffed.id("Room 1"), TUESDAY)


def test_staff_to_choose_from_and_the_signed_in_user_s_own(staffed: StaffedDay) -> None:
    assert [(s.name, s.role_label) for s in staff_members(staffed.clinic.db)] == [
        ("Dr Patel", "Prescriber"),
        ("Nurse Kim", "Nurse"),
        ("Jo Weekend", "Nurse"),
        ("Sam Rivera", "Therapist"),
        ("Lee Front", "Front desk"),
    ]
    with staffed.clinic.db.write() as session:
        user = User(
            username="kim", display_name="Kim", role="nurse", staff_id=staffed.id("Nurse Kim")
        )
        session.add(user)
        session.flush()
        user_id = user.id
    assert staff_of_user(staffed.clinic.db, user_id) == staffed.id("Nurse Kim")
    assert staff_of_user(staffed.clinic.db, None) is None


def test_the_day_by_staff_is_a_fixed_number_of_queries(staffed: StaffedDay) -> None:
    statements: list[str] = []

    def count(*args: Any) -> None:
        if not args[2].startswith("BEGIN"):  # SQLite's explicit transaction start
            statements.append(args[2])

    catalog = staffed.clinic.catalog
    event.listen(staffed.clinic.db.engine, "before_cursor_execute", count)
    try:
        staff_day_schedule(staffed.clinic.db, TUESDAY, catalog=catalog)
        busy = len(statements)
        statements.clear()
        staff_day_schedule(staffed.clinic.db, MONDAY, catalog=catalog)
        quiet = len(statements)
        statements.clear()
        week_schedule(staffed.clinic.db, MONDAY, catalog=catalog)
        week = len(statements)
    finally:
        event.remove(staffed.clinic.db.engine, "before_cursor_execute", count)
    # The change counter, the room day's closures, rooms and sessions, the days away holding
    # the day, then staff, shifts and staff holds: no query per session or per staff member (a
    # week's days read no counter).  Tuesday has Nurse Kim's time off: one query more reads the
    # holds it meets (a session it strands is flagged), on no other day.
    assert quiet == 8
    assert busy == quiet + 1
    assert week == 7 * 4 + 1  # closures, rooms, sessions, days away; Tuesday's closed holds
