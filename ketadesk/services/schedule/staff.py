"""The clinic's staff to pick from, and one staff member's day ("my day"): their shifts and
the sessions that hold them, with their part in each."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ketadesk.scheduling.calendar import Interval, ShiftPattern, subtract
from ketadesk.scheduling.words import role_label
from ketadesk.services.common.context import utcnow
from ketadesk.services.followups.urgent_reviews import (
    ReviewLine,
    reviews_by_appointment,
    standing_review_list,
)
from ketadesk.services.monitoring.chair_board import PhaseTime, running_timelines
from ketadesk.services.schedule.day import core_queries
from ketadesk.services.schedule.day_rows import (
    OFF_SHIFT,
    ROLE_ORDER,
    STAFF_SQL,
    as_utc,
    day_schedule_from_rows,
    read_day_rows,
    stored_date,
)
from ketadesk.services.schedule.day_schedule import COLUMN_KINDS, DayAppointment
from ketadesk.services.schedule.public_holidays import CachedHolidaysCalendar

if TYPE_CHECKING:
    from ketadesk.config import Catalog
    from ketadesk.store.database import Database


@dataclass(frozen=True, slots=True)
class StaffChoice:
    """A staff member to pick from (my day, a week by staff)."""

    id: int
    name: str
    role: str
    active: bool = True

    @property
    def role_label(self) -> str:
        return COLUMN_KINDS.get(self.role) or role_label(self.role)


USER_STAFF_SQL = "SELECT staff_id FROM app_user WHERE id = :user_id"


def staff_members(db: Database, *, include_inactive: bool = False) -> tuple[StaffChoice, ...]:
    """The clinic's staff, by role then sort order."""
    with core_queries(db) as queries:
        rows = queries.fetch(STAFF_SQL, {})
    rank = {role: i for i, role in enumerate(ROLE_ORDER)}
    staff = [
        StaffChoice(id_, name, subkind, bool(active))
        for id_, name, _short, subkind, active in rows
        if active or include_inactive
    ]
    staff.sort(key=lambda s: rank.get(s.role, len(rank)))
    return tuple(staff)


def staff_of_user(db: Database, user_id: int | None) -> int | None:
    """The staff member a signed-in user is (None for a user who is not one, or no user)."""
    if user_id is None:
        return None
    with core_queries(db) as queries:
        rows = queries.fetch(USER_STAFF_SQL, {"user_id": user_id})
    return rows[0][0] if rows else None


@dataclass(frozen=True, slots=True)
class MyDaySession:
    """One session of a staff member's day: the session, and when they are needed in it.

    Attributes:
        appointment: the session as the day view shows it (``room_id`` the real room).
        needed_from, needed_until: the staff member's part of it (the nurse from the infusion
            to the end of recovery; the prescriber on site for dosing and observation).
    """

    appointment: DayAppointment
    needed_from: dt.datetime
    needed_until: dt.datetime
    #: While in progress: its phases as they are running, as the chair board lays them.
    running_phases: tuple[PhaseTime, ...] = ()
    #: The patient's standing urgent review ("" when none): dosing waits for a prescriber.
    urgent_review: str = ""

    @property
    def needed_phases(self) -> str:
        """The phases the staff member is needed for, "Infusion → Recovery"."""
        names = [
            p.name
            for p in self.appointment.phases
            if p.start < self.needed_until and p.end > self.needed_from
        ]
        if not names:
            return ""
        return names[0] if len(names) == 1 else f"{names[0]} → {names[-1]}"


@dataclass(frozen=True, slots=True)
class MyDay:
    """One staff member's day, for "my day".

    Attributes:
        shifts: when they work that day, local (start, end) pairs.
        sessions: every session that holds them that day, by start, cancelled ones included.
    """

    day: dt.date
    staff_id: int
    staff_name: str
    role: str
    timezone: str
    closed_reason: str | None
    shifts: tuple[tuple[dt.datetime, dt.datetime], ...]
    sessions: tuple[MyDaySession, ...]
    #: A prescriber's day lists every standing urgent review, nearest deadline first.
    urgent_reviews: tuple[ReviewLine, ...] = ()
    #: How the clinic reads a time of day ([clinic] time_format): My day says its times so.
    time_format: str = "12h"
    #: Their time off that day (Settings ▸ Closures and time off), local (start, end, reason):
    #: ``shifts`` are what is left of their shifts around it (a user trial's nurse, off sick,
    #: read "works 7:15 AM-6:00 PM" on her My day).
    time_off: tuple[tuple[dt.datetime, dt.datetime, str], ...] = ()

    @property
    def active_count(self) -> int:
        return sum(1 for s in self.sessions if s.appointment.is_active)


def my_day(
    db: Database,
    staff_id: int,
    day: dt.date,
    *,
    catalog: Catalog | None = None,
    now: dt.datetime | None = None,
) -> MyDay:
    """A staff member's sessions on the clinic's local ``day``, in order, with their part in
    each, and for a prescriber the standing urgent reviews.  Raises KeyError for a staff id the
    clinic does not have."""
    now = now or utcnow()
    with core_queries(db) as queries:
        rows = read_day_rows(queries, day, catalog, "staff")
    schedule = day_schedule_from_rows(rows, always_staff=frozenset({staff_id}))
    column = next((c for c in schedule.rooms if c.id == staff_id), None)
    if column is None:
        raise KeyError(f"no staff member #{staff_id}")
    tz = ZoneInfo(schedule.timezone)
    spans = {
        appointment_id: (as_utc(start).astimezone(tz), as_utc(end).astimezone(tz))
        for appointment_id, resource_id, start, end in rows.staff_holds
        if resource_id == staff_id
    }
    real_room = {row[0]: row[1] for row in rows.appointments}
    mine = [a for a in schedule.appointments if a.room_id == staff_id]
    running = running_timelines(db, (a.id for a in mine if a.status == "in_progress"))
    reviews = reviews_by_appointment(db, (a.id for a in mine if a.is_active), now=now)
    sessions = tuple(
        MyDaySession(
            dataclasses.replace(a, room_id=real_room[a.id]),
            *spans[a.id],
            running_phases=running.get(a.id, ()),
            urgent_review=reviews[a.id].text if a.id in reviews else "",
        )
        for a in mine
    )
    calendar = CachedHolidaysCalendar(
        rows.catalog.settings,
        shifts=tuple(
            ShiftPattern(rid, wd, sm, em, stored_date(vf), stored_date(vu), n, stored_date(a))
            for rid, wd, sm, em, vf, vu, n, a in rows.shifts
            if rid == staff_id
        ),
    )
    time_off = [b for b in schedule.closures if b.room_id == staff_id and b.reason != OFF_SHIFT]
    return MyDay(
        day=day,
        staff_id=staff_id,
        staff_name=column.name,
        role=column.subkind,
        timezone=schedule.timezone,
        time_format=schedule.time_format,
        closed_reason=schedule.closed_reason,
        shifts=tuple(
            (i.start.astimezone(tz), i.end.astimezone(tz))
            for i in subtract(
                calendar.shift_intervals(staff_id, day),
                (Interval(b.start, b.end) for b in time_off),
            )
        ),
        time_off=tuple((b.start, b.end, b.reason) for b in time_off),
        sessions=sessions,
        urgent_reviews=(
            standing_review_list(db, now=now) if column.subkind == "prescriber" else ()
        ),
    )
