"""The SQL that reads one clinic day, and the code that makes its rows into a DaySchedule.

The queries are plain SQL that SQLite and PostgreSQL both understand, run one of two ways, with
the same rows made into the same DaySchedule by the same code: through a SQLAlchemy Core
connection (day.py) or straight from a SQLite file with the standard library's sqlite3
(sqlite_file.py).  The cost of a day follows the day, not the clinic's history: a handful of
small queries, each bounded by the day (the appointment query by the ``(starts_at, ends_at)``
index), and no query per appointment.

Start-up paints its first day through this module before SQLAlchemy is imported: it imports
neither SQLAlchemy, the store's ORM models, alembic nor ``holidays``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ketadesk.scheduling.availability import closed_word
from ketadesk.scheduling.calendar import (
    ClinicCalendar,
    ClosureSpan,
    HeldResource,
    Interval,
    ShiftPattern,
    subtract,
)
from ketadesk.scheduling.catalog import ResourceKind
from ketadesk.scheduling.closure_repeats import expand
from ketadesk.scheduling.confirmations import parse_confirmation_settings
from ketadesk.scheduling.days_away import AWAY_RULE, AwayRange
from ketadesk.scheduling.statuses import MOVABLE_STATUSES, TENTATIVE_STATUSES
from ketadesk.services.schedule.day_schedule import (
    NO_ROOM,
    NO_STAFF,
    ClosureBand,
    DayAppointment,
    DaySchedule,
    PhaseSpan,
    RoomColumn,
)
from ketadesk.services.schedule.public_holidays import CachedHolidaysCalendar

if TYPE_CHECKING:
    from ketadesk.config import Catalog
    from ketadesk.scheduling.catalog import SessionTypeSpec


#: Sessions still to take place, which a closure added after they were booked leaves stranded.
STILL_TO_COME = MOVABLE_STATUSES | TENTATIVE_STATUSES

#: A session lies inside one clinic day (store.queries.LONGEST_BOOKING, which imports SQLAlchemy).
LONGEST_BOOKING = dt.timedelta(days=1)

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
#: The change counter (store/changes.py: its one row, id 1).
COUNTER_SQL = "SELECT value FROM change_counter WHERE id = 1"
CLOSURES_SQL = """
SELECT resource_id, kind, starts_at, ends_at, reason, repeat_rule FROM closure
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
       p.first_name, p.last_name, p.chart_number, t.code, t.name, t.color, a.version
FROM appointment AS a
JOIN patient AS p ON p.id = a.patient_id
JOIN session_type AS t ON t.id = a.session_type_id
LEFT OUTER JOIN series AS s ON s.id = a.series_id
WHERE a.starts_at >= :earliest AND a.starts_at < :end AND a.ends_at > :start
ORDER BY a.starts_at, a.id
"""
# The days away holding the day of the day's sessions, one row per session and range (the
# earliest range first, as scheduling/days_away.away_on picks one), without the sessions kept
# there with an override on record (a reason given when booked or moved there: decided, as
# ``ketadesk check`` leaves them out): scheduling/days_away.away_flagged, in SQL.  One query
# for the day, however many sessions.
AWAY_SQL = """
SELECT a.id, w.first_day, w.last_day, w.reason
FROM appointment AS a
CROSS JOIN patient_away AS w
WHERE a.starts_at >= :earliest AND a.starts_at < :end AND a.ends_at > :start
  AND w.patient_id = a.patient_id AND w.first_day <= :day AND w.last_day >= :day
  AND NOT EXISTS (
    SELECT 1 FROM gating_override AS g WHERE g.appointment_id = a.id AND g.rule = :rule
  )
ORDER BY w.first_day, w.last_day, w.id
"""
# The holds of the day's sessions that a closure of their resource meets (a monitor out of
# service, a nurse's time off, added after the session was booked), other than rooms' (the
# session's room is judged with the clinic's closures).  Read only on a day with such a
# closure: other days need no query.  A repeating closure's row spans all its days: the holds
# it finds are judged against that day's own stretch (``ClinicCalendar.held_closures``).
CLOSED_HOLDS_SQL = """
SELECT h.appointment_id, h.resource_id, r.name, r.kind, h.starts_at, h.ends_at
FROM appointment AS a
CROSS JOIN resource_hold AS h
CROSS JOIN resource AS r
WHERE a.starts_at >= :earliest AND a.starts_at < :end AND a.ends_at > :start
  AND h.appointment_id = a.id AND h.active AND r.id = h.resource_id AND r.kind <> 'room'
  AND EXISTS (
    SELECT 1 FROM closure AS c
    WHERE c.resource_id = h.resource_id AND c.starts_at < h.ends_at AND c.ends_at > h.starts_at
  )
ORDER BY h.appointment_id, h.starts_at, r.name
"""
# For the day by staff: the staff, their weekly shifts on the day's weekday, and which staff
# member each of the day's sessions holds, from when to when (one row per pair).
STAFF_SQL = """
SELECT id, name, short_name, subkind, active FROM resource
WHERE kind = 'staff'
ORDER BY sort_order, name
"""
SHIFTS_SQL = """
SELECT resource_id, weekday, start_minute, end_minute, valid_from, valid_until, every_n_weeks,
       anchor_date
FROM staff_shift
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
class Queries:
    """Runs the queries above on one connection, inside one read transaction."""

    fetch: Callable[[str, Mapping[str, object]], Rows]
    sqlite: bool

    def instant(self, moment: dt.datetime) -> object:
        """A time as the database compares it: SQLite holds text in naive UTC (SQLAlchemy's
        format, which sorts as it reads), PostgreSQL an aware timestamp."""
        if not self.sqlite:
            return moment
        return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    def date(self, day: dt.date) -> object:
        """A date as the database compares it: text on SQLite ("2026-12-14"), a date on
        PostgreSQL."""
        return day.isoformat() if self.sqlite else day


def as_utc(value: dt.datetime | str) -> dt.datetime:
    """A stored time as an aware UTC datetime, as store.models.UTCDateTime reads it."""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


#: Parsed catalogues by the stored rows they were parsed from.  The rows are read on every call
#: (one small query: the configuration may have changed at another workstation a second ago),
#: but parsing and checking them again happens only when their text changed: the key *is* the
#: stored configuration, so no change, here or elsewhere, can leave a stale catalogue behind.
#: Small: one entry per distinct configuration seen (a clinic edits its settings rarely).
_PARSED: dict[tuple[tuple[Any, ...], ...], Catalog] = {}
_PARSED_MAX = 8
_PARSED_LOCK = threading.Lock()  # day reads run on several worker threads


def read_catalog(queries: Queries) -> Catalog:
    """The clinic's catalogue as stored (what store.clinic_config.load_catalog reads with the
    ORM, read here without it); a broken stored definition is reported by name."""
    rows = tuple(tuple(row) for row in queries.fetch(CONFIG_SQL, {}))
    with _PARSED_LOCK:
        found = _PARSED.get(rows)
    if found is not None:
        return found
    catalog = _parse_catalog(rows)
    with _PARSED_LOCK:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[rows] = catalog
    return catalog


def _parse_catalog(rows: Rows) -> Catalog:
    from ketadesk.config import RawConfig, build_catalog

    sections: dict[str, dict[str, Any]] = {"clinic": {}, "session_type": {}, "protocol": {}}
    for kind, code, _order, document in rows:
        sections[kind][code] = None if document is None else json.loads(document)
    raw = RawConfig(
        sections["clinic"],
        {"session_types": sections["session_type"]},
        {"protocols": sections["protocol"]},
    )
    return build_catalog(raw, origin="database")


@dataclass(frozen=True)
class DayRows:
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
    counter: Rows = ()
    away: Rows = ()
    closed_holds: Rows = ()


def read_day_rows(
    queries: Queries,
    day: dt.date,
    catalog: Catalog | None,
    grouping: str = "room",
    *,
    counter: bool = True,
) -> DayRows:
    """The rows of ``day``; first, unless ``counter`` is False (a week's days, a printed
    sheet), the change counter they are at least as new as (``DaySchedule.counter``)."""
    if grouping not in GROUPINGS:
        raise ValueError(f"a day is grouped by {' or '.join(GROUPINGS)}, not {grouping!r}")
    if catalog is None:
        catalog = read_catalog(queries)
    bounds = CachedHolidaysCalendar(catalog.settings).day_bounds(day)
    span = {"start": queries.instant(bounds.start), "end": queries.instant(bounds.end)}
    # Bounding the start from below too makes the (starts_at, ends_at) index a short range
    # scan, whatever the length of the clinic's history.
    sessions = {**span, "earliest": queries.instant(bounds.start - LONGEST_BOOKING)}
    by_staff = grouping == "staff"
    # First: whatever the rows below say is at least as new as this value of the counter (a
    # window that read its day before its watcher noted the counter compares the two).
    counted = queries.fetch(COUNTER_SQL, {}) if counter else ()
    closures = queries.fetch(CLOSURES_SQL, span)
    rooms = queries.fetch(ROOMS_SQL, {})
    room_ids = {row[0] for row in rooms}
    closed_holds: Rows = ()
    if any(row[0] is not None and row[0] not in room_ids for row in closures):
        closed_holds = queries.fetch(CLOSED_HOLDS_SQL, sessions)
    return DayRows(
        counter=counted,
        day=day,
        catalog=catalog,
        bounds=bounds,
        closures=closures,
        rooms=rooms,
        closed_holds=closed_holds,
        appointments=queries.fetch(APPOINTMENTS_SQL, sessions),
        away=queries.fetch(AWAY_SQL, {**sessions, "day": queries.date(day), "rule": AWAY_RULE}),
        grouping=grouping,
        staff=queries.fetch(STAFF_SQL, {}) if by_staff else (),
        shifts=queries.fetch(SHIFTS_SQL, {"weekday": day.weekday()}) if by_staff else (),
        staff_holds=queries.fetch(STAFF_HOLDS_SQL, sessions) if by_staff else (),
    )


def clinic_timezone(clinic_rows: Rows) -> str:
    """The zone named by the clinic section (CLINIC_SQL's row), UTC when it names none."""
    document = clinic_rows[0][0] if clinic_rows else None
    clinic = json.loads(document) if document is not None else None
    zone = clinic.get("timezone") if isinstance(clinic, dict) else None
    return str(zone or "UTC")


def local_today(timezone: str, now: dt.datetime | None) -> dt.date:
    """Today's date in the clinic's zone, by ``now`` (the clock when None)."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(timezone)).date()


# ---------------------------------------------------------------------------------------------
# Rows into a DaySchedule


def day_schedule_from_rows(
    rows: DayRows, *, always_staff: frozenset[int] = frozenset()
) -> DaySchedule:
    """``always_staff``: staff members who get a column by staff even on a day they neither
    work nor hold a session (the week of one staff member)."""
    day, catalog, bounds = rows.day, rows.catalog, rows.bounds
    zone = ZoneInfo(catalog.settings.timezone)
    closures = tuple(
        occurrence
        for resource_id, kind, starts_at, ends_at, reason, rule in rows.closures
        for occurrence in expand(
            ClosureSpan(
                span=Interval(as_utc(starts_at), as_utc(ends_at)),
                reason=reason,
                kind=kind,
                resource_id=resource_id,
            ),
            rule,
            zone,
            bounds,
        )
    )
    shifts = tuple(
        ShiftPattern(
            resource_id=resource_id,
            weekday=weekday,
            start_minute=start_minute,
            end_minute=end_minute,
            valid_from=stored_date(valid_from),
            valid_until=stored_date(valid_until),
            every_n_weeks=every_n_weeks,
            anchor=stored_date(anchor),
        )
        for (
            resource_id,
            weekday,
            start_minute,
            end_minute,
            valid_from,
            valid_until,
            every_n_weeks,
            anchor,
        ) in rows.shifts
    )
    calendar = CachedHolidaysCalendar(catalog.settings, closures=closures, shifts=shifts)
    tz = calendar.tz
    room_names = {row[0]: row[1] for row in rows.rooms}
    away: dict[int, str] = {}
    for appointment_id, first, last, reason in rows.away:
        found = AwayRange(_as_date(first), _as_date(last), reason or "")
        away.setdefault(appointment_id, found.words)

    held: dict[int, list[HeldResource]] = {}
    for appointment_id, rid, name, kind, starts_at, ends_at in rows.closed_holds:
        held.setdefault(appointment_id, []).append(
            HeldResource(
                rid,
                name,
                closed_word(ResourceKind(kind)),
                Interval(as_utc(starts_at), as_utc(ends_at)),
            )
        )

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
        version,
    ) in rows.appointments:
        start, end = as_utc(starts_at), as_utc(ends_at)
        spec = catalog.session_types.get(code)
        room_name = room_names.get(room_id, "") if room_id is not None else ""
        closed = (
            calendar.session_closed(Interval(start, end), room_id, room_name, held.get(id_, ()))
            if status in STILL_TO_COME
            else None
        )
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
                room_name=room_name,
                closed_notice=closed.notice if closed else "",
                closed_reason=closed.reason if closed else "",
                away=away.get(id_, "") if status in STILL_TO_COME else "",
                version=version,
            )
        )

    arrivals = parse_confirmation_settings(catalog.settings.extra.get("confirmations"))
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
        late_grace_minutes=arrivals.late_grace_minutes,
        no_show_minutes=arrivals.no_show_minutes,
        not_started_minutes=arrivals.not_started_minutes,
        check_in_days_ahead=catalog.settings.check_in_days_ahead,
        time_format=catalog.settings.time_format,
        counter=int(rows.counter[0][0]) if rows.counter else None,
    )


def _by_room(rows: DayRows, appointments: Sequence[DayAppointment]) -> list[RoomColumn]:
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
    rows: DayRows,
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


def _as_date(value: dt.date | str) -> dt.date:
    day = stored_date(value)
    assert day is not None  # a range's days are NOT NULL
    return day


def stored_date(value: dt.date | str | None) -> dt.date | None:
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
