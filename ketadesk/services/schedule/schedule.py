"""Reading one clinic day for the day view: rooms, opening hours, closures and appointments.

Read-only.  Everything comes back as frozen dataclasses with times already in the clinic's
zone, so the UI never converts time zones or asks the database anything itself.  The cost of a
day follows the day, not the clinic's history: a handful of small queries, each bounded by the
day (the appointment query by the ``(starts_at, ends_at)`` index), and no query per appointment.

The queries are plain SQL that SQLite and PostgreSQL both understand, run one of two ways, with
the same rows made into the same DaySchedule by the same code:

- ``day_schedule``: on an open clinic, through a SQLAlchemy Core connection (never the ORM);
- ``SqliteFileDays``: straight from a SQLite file with the standard library's sqlite3, when its
  schema is current.  Start-up paints its first day this way before SQLAlchemy is imported at
  all (that import alone costs more time and memory than the rest of start-up), then opens the
  clinic properly.

SQLAlchemy and the store are imported inside the functions: importing this module for its
dataclasses (as the UI does) costs nothing at start-up.  Public holiday names are kept in a small
file per country and year in the user's cache folder, because the ``holidays`` package costs
more to import (0.2 s, 20 MB) than the rest of opening a day.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ketadesk.scheduling.calendar import (
    ClinicCalendar,
    ClosureSpan,
    Interval,
    ShiftPattern,
    subtract,
)
from ketadesk.scheduling.statuses import RELEASED_STATUSES

if TYPE_CHECKING:
    from ketadesk.config import Catalog
    from ketadesk.scheduling.catalog import SessionTypeSpec
    from ketadesk.store.database import Database

#: A session lies inside one clinic day (store.queries.LONGEST_BOOKING, which imports SQLAlchemy).
LONGEST_BOOKING = dt.timedelta(days=1)

STATUS_LABELS = {
    "booked": "Booked",
    "checked_in": "Checked in",
    "in_progress": "In session",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "no_show": "No-show",
}


@dataclass(frozen=True, slots=True)
class RoomColumn:
    """One column of the day view: a treatment room, an office, or (id None) no room at all."""

    id: int | None
    name: str
    short_name: str
    # "treatment", "office", "" for the no-room column; in a staff schedule the staff member's
    # role ("nurse", "prescriber", ...), or "unassigned" for sessions holding no staff.
    subkind: str
    active: bool = True

    @property
    def is_office(self) -> bool:
        return self.subkind == "office"

    @property
    def kind_label(self) -> str:
        """What the column is, for its header: "Treatment room", "Nurse", "Telehealth"..."""
        return COLUMN_KINDS.get(self.subkind) or self.subkind.replace("_", " ").capitalize()


COLUMN_KINDS = {
    "treatment": "Treatment room",
    "office": "Office",
    "": "Telehealth",
    "unassigned": "No staff held",
    "front_desk": "Front desk",
}


#: The column for sessions that hold no room (telehealth integration, booster reviews).
NO_ROOM = RoomColumn(id=None, name="No room", short_name="Telehealth", subkind="")
#: In a day by staff, the column for sessions that hold no staff member.
NO_STAFF = RoomColumn(id=None, name="No staff", short_name="No staff", subkind="unassigned")


@dataclass(frozen=True, slots=True)
class PhaseSpan:
    """One phase of a session (check-in, dosing, observation...), in local time."""

    key: str
    name: str
    shade: str  # "checkin" | "dosing" | "observation" | "therapy"
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True, slots=True)
class DayAppointment:
    """One appointment as the day view shows it; times are aware, in the clinic's zone."""

    id: int
    room_id: int | None
    start: dt.datetime
    end: dt.datetime
    patient_name: str
    chart_number: str
    session_type_code: str
    session_type_name: str
    session_type_short: str
    color: str  # "#rrggbb", from the clinic's catalogue
    series_index: int | None
    series_count: int | None
    status: str
    phases: tuple[PhaseSpan, ...]
    room_name: str = ""  # the room it is in ("" for none), also in a day by staff

    @property
    def series_label(self) -> str:
        """The session's place in its series, "3/6"; empty for a session outside a series."""
        if self.series_index is None:
            return ""
        if self.series_count is None:
            return str(self.series_index)
        return f"{self.series_index}/{self.series_count}"

    @property
    def is_active(self) -> bool:
        """False for cancelled and no-show sessions, which no longer hold their room."""
        return self.status not in RELEASED_STATUSES

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status.replace("_", " ").capitalize())


@dataclass(frozen=True, slots=True)
class ClosureBand:
    """Part of the day when the clinic (``room_id`` None) or one room is unavailable."""

    room_id: int | None
    start: dt.datetime
    end: dt.datetime
    reason: str


@dataclass(frozen=True, slots=True)
class DaySchedule:
    """One local day of the clinic, ready to draw.

    Attributes:
        day: the local date.
        timezone: the clinic's IANA zone name; every datetime here is aware, in that zone.
        day_start, day_end: local midnight and the next local midnight (23 or 25 hours apart on
            a daylight-saving change).
        opens, closes: the opening hours by the weekly pattern (None on a day it never opens).
        closed_reason: why the clinic is closed all day (holiday, weekday, closure), or None.
        rooms: the columns.  By room: treatment rooms then offices, each in the clinic's sort
            order; NO_ROOM is added at the end when a session of the day holds no room.  By
            staff: everyone who works that day or holds a session, by role (prescribers,
            nurses, therapists, front desk) then sort order; NO_STAFF at the end when needed.
        appointments: ordered by start, cancelled and no-show sessions included.  By staff, a
            session appears once under each staff member it holds, its ``room_id`` naming that
            column (the staff member's resource id); ``room_name`` still says the real room.
        closures: partial-day closures of the clinic or of a column; by staff also the parts
            of the opening hours a staff member is off shift, and their time off.
        grouping: "room" or "staff": what the columns are.  Moving a block to another column
            only means "another room" by room.
    """

    day: dt.date
    clinic_name: str
    timezone: str
    day_start: dt.datetime
    day_end: dt.datetime
    opens: dt.datetime | None
    closes: dt.datetime | None
    closed_reason: str | None
    rooms: tuple[RoomColumn, ...]
    appointments: tuple[DayAppointment, ...]
    closures: tuple[ClosureBand, ...] = ()
    grouping: str = "room"
    #: The clinic's slot grid (ClinicSettings.slot_minutes): where a dragged block may start.
    slot_minutes: int = 1

    @property
    def is_closed(self) -> bool:
        return self.closed_reason is not None

    @property
    def active_count(self) -> int:
        """Sessions still on (not cancelled, not no-show)."""
        return sum(1 for a in self.appointments if a.is_active)

    def count_by_status(self, status: str) -> int:
        return sum(1 for a in self.appointments if a.status == status)


# ---------------------------------------------------------------------------------------------
# The queries, shared by both ways of reading (named parameters: sqlite3 and SQLAlchemy's
# text() both bind ``:name``).  JSON is read as text so that it comes back the same from both
# databases; times come back as SQLite stores them (text, naive UTC) or as aware datetimes.

CONFIG_SQL = """
SELECT 'clinic', key, 0, CAST(value AS TEXT) FROM clinic_setting
UNION ALL
SELECT 'session_type', code, sort_order, CAST(definition AS TEXT) FROM session_type
UNION ALL
SELECT 'protocol', code, sort_order, CAST(definition AS TEXT) FROM protocol
ORDER BY 1, 3, 2
"""
CLINIC_SQL = "SELECT CAST(value AS TEXT) FROM clinic_setting WHERE key = 'clinic'"
CLOSURES_SQL = """
SELECT resource_id, kind, starts_at, ends_at, reason FROM closure
WHERE starts_at < :end AND ends_at > :start
ORDER BY starts_at
"""
ROOMS_SQL = """
SELECT id, name, short_name, subkind, active FROM resource
WHERE kind = 'room'
ORDER BY CASE WHEN subkind = 'treatment' THEN 0 ELSE 1 END, sort_order, name
"""
# One query for the whole day: the appointment with its patient, type and series.
APPOINTMENTS_SQL = """
SELECT a.id, a.room_id, a.starts_at, a.ends_at, a.status, a.series_index, s.planned_count,
       p.first_name, p.last_name, p.chart_number, t.code, t.name, t.color
FROM appointment AS a
JOIN patient AS p ON p.id = a.patient_id
JOIN session_type AS t ON t.id = a.session_type_id
LEFT OUTER JOIN series AS s ON s.id = a.series_id
WHERE a.starts_at >= :earliest AND a.starts_at < :end AND a.ends_at > :start
ORDER BY a.starts_at, a.id
"""
# For the day by staff: the staff, their weekly shifts on the day's weekday, and which staff
# member each of the day's sessions holds, from when to when (one row per pair).
STAFF_SQL = """
SELECT id, name, short_name, subkind, active FROM resource
WHERE kind = 'staff'
ORDER BY sort_order, name
"""
SHIFTS_SQL = """
SELECT resource_id, weekday, start_minute, end_minute, valid_from, valid_until FROM staff_shift
WHERE weekday = :weekday
"""
# CROSS JOIN keeps SQLite's planner to this order (the day's appointments by their index, then
# their holds), rather than walking every hold ever made in appointment order; on PostgreSQL
# it is an ordinary join.
STAFF_HOLDS_SQL = """
SELECT h.appointment_id, h.resource_id, MIN(h.starts_at), MAX(h.ends_at)
FROM appointment AS a
CROSS JOIN resource_hold AS h
CROSS JOIN resource AS r
WHERE a.starts_at >= :earliest AND a.starts_at < :end AND a.ends_at > :start
  AND h.appointment_id = a.id AND r.id = h.resource_id AND r.kind = 'staff'
GROUP BY h.appointment_id, h.resource_id
"""

GROUPINGS = ("room", "staff")

Rows = Sequence[Sequence[Any]]


@dataclass(frozen=True)
class _Queries:
    """Runs the queries above on one connection, inside one read transaction."""

    fetch: Callable[[str, Mapping[str, object]], Rows]
    sqlite: bool

    def instant(self, moment: dt.datetime) -> object:
        """A time as the database compares it: SQLite holds text in naive UTC (SQLAlchemy's
        format, which sorts as it reads), PostgreSQL an aware timestamp."""
        if not self.sqlite:
            return moment
        return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _utc(value: dt.datetime | str) -> dt.datetime:
    """A stored time as an aware UTC datetime, as store.models.UTCDateTime reads it."""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _read_catalog(queries: _Queries) -> Catalog:
    """The clinic's catalogue as stored (what store.clinic_config.load_catalog reads with the
    ORM, read here without it); a broken stored definition is reported by name."""
    from ketadesk.config import RawConfig, build_catalog

    sections: dict[str, dict[str, Any]] = {"clinic": {}, "session_type": {}, "protocol": {}}
    for kind, code, _order, document in queries.fetch(CONFIG_SQL, {}):
        sections[kind][code] = None if document is None else json.loads(document)
    raw = RawConfig(
        sections["clinic"],
        {"session_types": sections["session_type"]},
        {"protocols": sections["protocol"]},
    )
    return build_catalog(raw, origin="database")


@dataclass(frozen=True)
class _DayRows:
    """What the database says about a day, before it is made into a DaySchedule."""

    day: dt.date
    catalog: Catalog
    bounds: Interval
    closures: Rows
    rooms: Rows
    appointments: Rows
    grouping: str = "room"
    staff: Rows = ()
    shifts: Rows = ()
    staff_holds: Rows = ()


def _read_day_rows(
    queries: _Queries, day: dt.date, catalog: Catalog | None, grouping: str = "room"
) -> _DayRows:
    if grouping not in GROUPINGS:
        raise ValueError(f"a day is grouped by {' or '.join(GROUPINGS)}, not {grouping!r}")
    if catalog is None:
        catalog = _read_catalog(queries)
    bounds = CachedHolidaysCalendar(catalog.settings).day_bounds(day)
    span = {"start": queries.instant(bounds.start), "end": queries.instant(bounds.end)}
    # Bounding the start from below too makes the (starts_at, ends_at) index a short range
    # scan, whatever the length of the clinic's history.
    sessions = {**span, "earliest": queries.instant(bounds.start - LONGEST_BOOKING)}
    by_staff = grouping == "staff"
    return _DayRows(
        day=day,
        catalog=catalog,
        bounds=bounds,
        closures=queries.fetch(CLOSURES_SQL, span),
        rooms=queries.fetch(ROOMS_SQL, {}),
        appointments=queries.fetch(APPOINTMENTS_SQL, sessions),
        grouping=grouping,
        staff=queries.fetch(STAFF_SQL, {}) if by_staff else (),
        shifts=queries.fetch(SHIFTS_SQL, {"weekday": day.weekday()}) if by_staff else (),
        staff_holds=queries.fetch(STAFF_HOLDS_SQL, sessions) if by_staff else (),
    )


def _clinic_timezone(clinic_rows: Rows) -> str:
    """The zone named by the clinic section (CLINIC_SQL's row), UTC when it names none."""
    document = clinic_rows[0][0] if clinic_rows else None
    clinic = json.loads(document) if document is not None else None
    zone = clinic.get("timezone") if isinstance(clinic, dict) else None
    return str(zone or "UTC")


def _local_today(timezone: str, now: dt.datetime | None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(timezone)).date()


# ---------------------------------------------------------------------------------------------
# On an open clinic, through SQLAlchemy Core


@contextlib.contextmanager
def _core_queries(db: Database) -> Iterator[_Queries]:
    from sqlalchemy import text

    with db.engine.connect() as conn:  # one read transaction, rolled back at the end

        def fetch(sql: str, params: Mapping[str, object]) -> Rows:
            return conn.execute(text(sql), params).all()

        yield _Queries(fetch, sqlite=db.is_sqlite)


def change_counter(db: Database) -> int:
    """The clinic's change counter, bumped by every write: a view whose day may have changed
    at another workstation reloads when it moved (ui.change_watch polls it).  Raises
    ServiceError when the database cannot be read."""
    from sqlalchemy.exc import SQLAlchemyError

    from ketadesk.services.common.context import ServiceError
    from ketadesk.store.changes import change_counter as read_counter

    try:
        return read_counter(db)
    except SQLAlchemyError as err:  # the server away for a moment: the caller tries again
        raise ServiceError(f"cannot read the change counter: {err}") from err


def clinic_today(db: Database, *, now: dt.datetime | None = None) -> dt.date:
    """Today's date where the clinic is (not where this workstation's clock thinks it is)."""
    with _core_queries(db) as queries:
        rows = queries.fetch(CLINIC_SQL, {})
    return _local_today(_clinic_timezone(rows), now)


def day_schedule(
    db: Database, day: dt.date, *, catalog: Catalog | None = None, by: str = "room"
) -> DaySchedule:
    """Everything the day view shows for the clinic's local ``day``, a column per room
    (``by="room"``) or per staff member (``by="staff"``, see ``staff_day_schedule``).

    ``catalog`` saves re-reading the clinic's configuration when the caller already has it.
    Raises ConfigError if the stored configuration is broken.
    """
    with _core_queries(db) as queries:
        rows = _read_day_rows(queries, day, catalog, by)
    return _day_schedule(rows)


def staff_day_schedule(
    db: Database, day: dt.date, *, catalog: Catalog | None = None
) -> DaySchedule:
    """The day by staff: a column per staff member who works that day (a shift) or holds a
    session, each session under every staff member it holds (the nurse, the prescriber on
    site...), and the opening hours they are off shift shaded like a closure."""
    return day_schedule(db, day, catalog=catalog, by="staff")


@dataclass(frozen=True, slots=True)
class WeekSchedule:
    """Seven days of the clinic for the week view, for some rooms or for one staff member.

    Attributes:
        first_day: the first local day shown.
        days: one DaySchedule per day, already narrowed to the rooms (``room_ids``) or to the
            staff member (``staff_id``) asked for: their columns, sessions and closures.
        label: what the week shows, in words: "All rooms", "Room 1, Room 2", "Nurse Kim".
    """

    first_day: dt.date
    days: tuple[DaySchedule, ...]
    label: str
    room_ids: frozenset[int | None] | None = None
    staff_id: int | None = None

    @property
    def last_day(self) -> dt.date:
        return self.days[-1].day if self.days else self.first_day

    @property
    def clinic_name(self) -> str:
        return self.days[0].clinic_name if self.days else ""

    @property
    def active_count(self) -> int:
        return sum(d.active_count for d in self.days)


WEEK_DAYS = 7


def week_schedule(
    db: Database,
    first_day: dt.date,
    *,
    room_ids: Iterable[int | None] | None = None,
    staff_id: int | None = None,
    catalog: Catalog | None = None,
) -> WeekSchedule:
    """Seven days from ``first_day`` in one read transaction, for the week view.

    ``room_ids`` keeps only those rooms (None among them: sessions without a room); ``staff_id``
    keeps only that staff member's sessions, off-shift hours and time off.  Without either,
    every room.
    """
    if room_ids is not None and staff_id is not None:
        raise ValueError("a week is shown for some rooms or for one staff member, not both")
    grouping = "staff" if staff_id is not None else "room"
    with _core_queries(db) as queries:
        if catalog is None:
            catalog = _read_catalog(queries)
        rows = [
            _read_day_rows(queries, first_day + dt.timedelta(days=i), catalog, grouping)
            for i in range(WEEK_DAYS)
        ]
    keep: frozenset[int | None] | None
    if staff_id is not None:
        keep = frozenset({staff_id})
        days = [_day_schedule(r, always_staff=keep) for r in rows]
    else:
        keep = frozenset(room_ids) if room_ids is not None else None
        days = [_day_schedule(r) for r in rows]
    if keep is not None:
        days = [_narrowed(d, keep) for d in days]
    return WeekSchedule(
        first_day=first_day,
        days=tuple(days),
        label=_week_label(days, keep, staff_id),
        room_ids=keep if staff_id is None else None,
        staff_id=staff_id,
    )


def _narrowed(day: DaySchedule, keep: frozenset[int | None]) -> DaySchedule:
    return dataclasses.replace(
        day,
        rooms=tuple(c for c in day.rooms if c.id in keep),
        appointments=tuple(a for a in day.appointments if a.room_id in keep),
        closures=tuple(c for c in day.closures if c.room_id is None or c.room_id in keep),
    )


def _week_label(
    days: Sequence[DaySchedule], keep: frozenset[int | None] | None, staff_id: int | None
) -> str:
    if keep is None:
        return "All rooms"
    names: dict[int | None, str] = {}
    for d in days:
        for c in d.rooms:
            names.setdefault(c.id, c.name)
    if staff_id is not None:
        return names.get(staff_id, f"Staff member #{staff_id}")
    shown = [names[i] for i in sorted(names, key=lambda i: (i is None, i or 0)) if i in keep]
    return ", ".join(shown) if shown else "No rooms"


@dataclass(frozen=True, slots=True)
class StaffChoice:
    """A staff member to pick from (my day, a week by staff)."""

    id: int
    name: str
    role: str
    active: bool = True

    @property
    def role_label(self) -> str:
        return COLUMN_KINDS.get(self.role) or self.role.replace("_", " ").capitalize()


USER_STAFF_SQL = "SELECT staff_id FROM app_user WHERE id = :user_id"


def staff_members(db: Database, *, include_inactive: bool = False) -> tuple[StaffChoice, ...]:
    """The clinic's staff, by role then sort order."""
    with _core_queries(db) as queries:
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
    with _core_queries(db) as queries:
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

    @property
    def active_count(self) -> int:
        return sum(1 for s in self.sessions if s.appointment.is_active)


def my_day(db: Database, staff_id: int, day: dt.date, *, catalog: Catalog | None = None) -> MyDay:
    """A staff member's sessions on the clinic's local ``day``, in order, with their part in
    each.  Raises KeyError for a staff id the clinic does not have."""
    with _core_queries(db) as queries:
        rows = _read_day_rows(queries, day, catalog, "staff")
    schedule = _day_schedule(rows, always_staff=frozenset({staff_id}))
    column = next((c for c in schedule.rooms if c.id == staff_id), None)
    if column is None:
        raise KeyError(f"no staff member #{staff_id}")
    tz = ZoneInfo(schedule.timezone)
    spans = {
        appointment_id: (_utc(start).astimezone(tz), _utc(end).astimezone(tz))
        for appointment_id, resource_id, start, end in rows.staff_holds
        if resource_id == staff_id
    }
    real_room = {row[0]: row[1] for row in rows.appointments}
    sessions = tuple(
        MyDaySession(dataclasses.replace(a, room_id=real_room[a.id]), *spans[a.id])
        for a in schedule.appointments
        if a.room_id == staff_id
    )
    calendar = CachedHolidaysCalendar(
        rows.catalog.settings,
        shifts=tuple(
            ShiftPattern(rid, wd, sm, em, _date(vf), _date(vu))
            for rid, wd, sm, em, vf, vu in rows.shifts
            if rid == staff_id
        ),
    )
    return MyDay(
        day=day,
        staff_id=staff_id,
        staff_name=column.name,
        role=column.subkind,
        timezone=schedule.timezone,
        closed_reason=schedule.closed_reason,
        shifts=tuple(
            (i.start.astimezone(tz), i.end.astimezone(tz))
            for i in calendar.shift_intervals(staff_id, day)
        ),
        sessions=sessions,
    )


# ---------------------------------------------------------------------------------------------
# Straight from a SQLite file, before SQLAlchemy is loaded


@dataclass(frozen=True)
class SqliteFileDays:
    """Days of a clinic read straight from its SQLite file with the standard library alone.

    What start-up paints first, in a fraction of the time and memory SQLAlchemy needs just to be
    imported.  It never writes, and it reads only a file whose schema is current, so an old
    file is left for ``open_clinic`` to upgrade.  Call it like ``day_schedule`` bound to a
    clinic: ``days(day)``.

    Attributes:
        path: the SQLite file.
    """

    path: Path

    @classmethod
    def of(cls, url: str) -> SqliteFileDays | None:
        """For a plain SQLite URL or path; None for any other database (no file is touched)."""
        from ketadesk.store.database import plain_sqlite_path

        path = plain_sqlite_path(url)
        return cls(path) if path is not None else None

    @property
    def label(self) -> str:
        return str(self.path)

    def __call__(self, day: dt.date) -> DaySchedule:
        return self.read(day)

    def read(self, day: dt.date | None = None, *, now: dt.datetime | None = None) -> DaySchedule:
        """The clinic's local ``day`` (None: today at the clinic, by ``now``).

        Raises StoreError when the file cannot be read this way (missing, damaged, not a
        KetaDesk clinic, a schema that is not current) and ConfigError for a broken stored
        configuration: ``open_clinic`` says the same more fully.
        """
        from ketadesk.store.database import SchemaError, read_sqlite_file
        from ketadesk.store.migrate import REVISION_SQL, SchemaState, state_of_revision

        with read_sqlite_file(self.path) as conn:
            revision = conn.execute(REVISION_SQL).fetchone()
            if revision is None or state_of_revision(revision[0]) is not SchemaState.CURRENT:
                raise SchemaError(f"{self.path} is not at the current schema")
            fetch = conn.execute  # sqlite3 binds ``:name`` from a mapping, as text() does
            queries = _Queries(lambda sql, params: fetch(sql, params).fetchall(), sqlite=True)
            catalog = _read_catalog(queries)
            if day is None:
                day = _local_today(catalog.settings.timezone, now)
            rows = _read_day_rows(queries, day, catalog)
        return _day_schedule(rows)

    def first_day(
        self, day: dt.date | None = None, *, now: dt.datetime | None = None
    ) -> DaySchedule | None:
        """``read``, or None when anything stands in the way: the caller then opens the clinic
        the usual way, which upgrades an old schema and reports problems clearly."""
        from ketadesk.scheduling.catalog import ConfigError
        from ketadesk.store.database import StoreError

        try:
            return self.read(day, now=now)
        except (StoreError, ConfigError, ValueError):  # ValueError: a time or JSON unreadable
            return None

    def today(self, *, now: dt.datetime | None = None) -> dt.date:
        """Today's date where the clinic is."""
        from ketadesk.store.database import read_sqlite_file

        with read_sqlite_file(self.path) as conn:
            rows = conn.execute(CLINIC_SQL).fetchall()
        return _local_today(_clinic_timezone(rows), now)


# ---------------------------------------------------------------------------------------------
# Rows into a DaySchedule


def _day_schedule(rows: _DayRows, *, always_staff: frozenset[int] = frozenset()) -> DaySchedule:
    """``always_staff``: staff members who get a column by staff even on a day they neither
    work nor hold a session (the week of one staff member)."""
    day, catalog, bounds = rows.day, rows.catalog, rows.bounds
    closures = tuple(
        ClosureSpan(
            span=Interval(_utc(starts_at), _utc(ends_at)),
            reason=reason,
            kind=kind,
            resource_id=resource_id,
        )
        for resource_id, kind, starts_at, ends_at, reason in rows.closures
    )
    shifts = tuple(
        ShiftPattern(
            resource_id=resource_id,
            weekday=weekday,
            start_minute=start_minute,
            end_minute=end_minute,
            valid_from=_date(valid_from),
            valid_until=_date(valid_until),
        )
        for resource_id, weekday, start_minute, end_minute, valid_from, valid_until in rows.shifts
    )
    calendar = CachedHolidaysCalendar(catalog.settings, closures=closures, shifts=shifts)
    tz = calendar.tz
    room_names = {row[0]: row[1] for row in rows.rooms}

    appointments = []
    for (
        id_,
        room_id,
        starts_at,
        ends_at,
        status,
        series_index,
        planned_count,
        first_name,
        last_name,
        chart_number,
        code,
        type_name,
        color,
    ) in rows.appointments:
        start, end = _utc(starts_at), _utc(ends_at)
        spec = catalog.session_types.get(code)
        appointments.append(
            DayAppointment(
                id=id_,
                room_id=room_id,
                start=start.astimezone(tz),
                end=end.astimezone(tz),
                patient_name=f"{last_name}, {first_name}",
                chart_number=chart_number,
                session_type_code=code,
                session_type_name=type_name,
                session_type_short=_short_name(spec, code),
                color=color,
                series_index=series_index,
                series_count=planned_count if series_index is not None else None,
                status=status,
                phases=_phases(spec, start, end, tz),
                room_name=room_names.get(room_id, "") if room_id is not None else "",
            )
        )

    hours = calendar.opening_hours(day)
    closed_reason = _sentence(calendar.closed_reason(day))
    if rows.grouping == "staff":
        columns, appointments, off_shift = _by_staff(
            rows, appointments, calendar, None if closed_reason else hours, always_staff
        )
    else:
        columns, off_shift = _by_room(rows, appointments), []
    column_ids = {c.id for c in columns}
    bands = tuple(
        ClosureBand(
            room_id=c.resource_id,
            start=max(c.span.start, bounds.start).astimezone(tz),
            end=min(c.span.end, bounds.end).astimezone(tz),
            reason=c.reason or c.kind.replace("_", " "),
        )
        for c in closures
        if c.resource_id is None or c.resource_id in column_ids
    )
    return DaySchedule(
        day=day,
        clinic_name=catalog.settings.name,
        timezone=catalog.settings.timezone,
        day_start=bounds.start.astimezone(tz),
        day_end=bounds.end.astimezone(tz),
        opens=hours.start.astimezone(tz) if hours else None,
        closes=hours.end.astimezone(tz) if hours else None,
        closed_reason=closed_reason,
        rooms=tuple(columns),
        appointments=tuple(appointments),
        closures=bands + tuple(off_shift),
        grouping=rows.grouping,
        slot_minutes=catalog.settings.slot_minutes,
    )


def _by_room(rows: _DayRows, appointments: Sequence[DayAppointment]) -> list[RoomColumn]:
    used_rooms = {a.room_id for a in appointments}
    rooms = [
        RoomColumn(
            id=id_,
            name=name,
            short_name=short_name or name,
            subkind=subkind,
            active=bool(active),
        )
        for id_, name, short_name, subkind, active in rows.rooms
        # A room taken out of use still shows on the days it has sessions.
        if active or id_ in used_rooms
    ]
    if None in used_rooms:
        rooms.append(NO_ROOM)
    return rooms


#: Staff columns come by role in this order, then by the clinic's sort order.
ROLE_ORDER = ("prescriber", "nurse", "therapist", "front_desk")
OFF_SHIFT = "Off shift"


def _by_staff(
    rows: _DayRows,
    appointments: Sequence[DayAppointment],
    calendar: ClinicCalendar,
    hours: Interval | None,
    always: frozenset[int],
) -> tuple[list[RoomColumn], list[DayAppointment], list[ClosureBand]]:
    """The day's columns by staff, each session copied under each staff member it holds, and
    the off-shift parts of the opening hours (``hours`` None on a closed day)."""
    holders: dict[int, list[int]] = {}
    for appointment_id, resource_id, *_span in rows.staff_holds:
        holders.setdefault(appointment_id, []).append(resource_id)
    for ids in holders.values():
        ids.sort()  # the rows come in no particular order
    booked = {rid for ids in holders.values() for rid in ids}
    day = rows.day
    columns = [
        RoomColumn(
            id=id_, name=name, short_name=short_name or name, subkind=subkind, active=bool(active)
        )
        for id_, name, short_name, subkind, active in rows.staff
        if id_ in booked or id_ in always or (active and calendar.shift_intervals(id_, day))
    ]
    rank = {role: i for i, role in enumerate(ROLE_ORDER)}
    columns.sort(key=lambda c: rank.get(c.subkind, len(rank)))  # stable: sort order kept
    placed: list[DayAppointment] = []
    for a in appointments:
        for staff_id in holders.get(a.id, (None,)):
            placed.append(dataclasses.replace(a, room_id=staff_id))
    if any(a.room_id is None for a in placed):
        columns.append(NO_STAFF)
    placed.sort(key=lambda a: (a.start, a.id))
    off_shift: list[ClosureBand] = []
    if hours is not None:
        tz = calendar.tz
        for column in columns:
            if column.id is None:
                continue
            for gap in subtract([hours], calendar.shift_intervals(column.id, day)):
                off_shift.append(
                    ClosureBand(
                        column.id, gap.start.astimezone(tz), gap.end.astimezone(tz), OFF_SHIFT
                    )
                )
    return columns, placed, off_shift


def _date(value: dt.date | str | None) -> dt.date | None:
    """A stored date: text on SQLite, a date on PostgreSQL."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


def _short_name(spec: SessionTypeSpec | None, code: str) -> str:
    return spec.short if spec is not None else code.upper()[:4]


def _phases(
    spec: SessionTypeSpec | None, start: dt.datetime, end: dt.datetime, tz: ZoneInfo
) -> tuple[PhaseSpan, ...]:
    """The session's phases laid from its start, cut at its end; the last one stretches to the
    end when the session was booked longer than its phases add up to."""
    if spec is None or not spec.phases:
        return (
            PhaseSpan("session", "Session", "therapy", start.astimezone(tz), end.astimezone(tz)),
        )
    spans: list[PhaseSpan] = []
    offset = start
    for i, phase in enumerate(spec.phases):
        if offset >= end:
            break
        last = i == len(spec.phases) - 1
        phase_end = end if last else min(end, offset + dt.timedelta(minutes=phase.minutes))
        spans.append(
            PhaseSpan(
                phase.key, phase.name, phase.shade, offset.astimezone(tz), phase_end.astimezone(tz)
            )
        )
        offset = phase_end
    return tuple(spans)


def _sentence(reason: str | None) -> str | None:
    """The calendar's "clinic closed: Thanksgiving Day" as a heading: "Clinic closed: ..."."""
    return reason[:1].upper() + reason[1:] if reason else reason


# ---------------------------------------------------------------------------------------------
# Public holidays, remembered between runs


class CachedHolidaysCalendar(ClinicCalendar):
    """The clinic calendar, asking the holiday file cache before the ``holidays`` package."""

    def holiday(self, day: dt.date) -> str | None:
        country = self.settings.holiday_country
        if not country:
            return None
        return holiday_names(country, day.year).get(day.isoformat())


def holiday_cache_dir() -> Path | None:
    """Where holiday names are kept (None: do not keep them)."""
    from platformdirs import user_cache_path

    return user_cache_path("KetaDesk", appauthor=False) / "holidays"


@functools.cache
def holiday_names(country: str, year: int) -> dict[str, str]:
    """``{"2026-11-26": "Thanksgiving Day", ...}`` for a country's public holidays in a year.

    Read from the cache file when the installed ``holidays`` package wrote it; otherwise worked
    out by that package and written for next time (a cache that cannot be written is skipped).
    """
    package_version = _holidays_package_stamp()
    folder = holiday_cache_dir()
    file = folder / f"{country}-{year}-{package_version}.json" if folder else None
    if file is not None:
        try:
            cached = json.loads(file.read_text(encoding="utf-8"))
            if isinstance(cached, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in cached.items()
            ):
                return cached
        except (OSError, ValueError):
            pass
    import holidays

    names = {
        day.isoformat(): str(name)
        for day, name in holidays.country_holidays(country, years=year).items()
    }
    if file is not None:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            partial = file.with_name(f"{file.name}.{os.getpid()}.tmp")
            partial.write_text(json.dumps(names, ensure_ascii=False, indent=0), encoding="utf-8")
            partial.replace(file)  # atomic: another process never reads half a file
        except OSError:
            pass
    return names


def _holidays_package_stamp() -> str:
    """Names the installed copy of ``holidays`` without importing it (nor reading package
    metadata, which costs as much memory as the rest of this module): a new version is a new
    file, so its cached names are worked out afresh."""
    from importlib.util import find_spec

    spec = find_spec("holidays")
    if spec is None or spec.origin is None:
        return "none"
    try:
        stat = os.stat(spec.origin)
    except OSError:
        return "none"
    return f"{stat.st_size:x}{stat.st_mtime_ns:x}"
