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
import datetime as dt
import functools
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ketadesk.scheduling.calendar import ClinicCalendar, ClosureSpan, Interval

if TYPE_CHECKING:
    from ketadesk.config import Catalog
    from ketadesk.scheduling.catalog import SessionTypeSpec
    from ketadesk.store.database import Database

#: Statuses of an appointment that no longer holds its room.
# The same as store.models.RELEASED_STATUSES; spelt out so start-up need not load the ORM.
INACTIVE_STATUSES = frozenset({"cancelled", "no_show"})

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
    subkind: str  # "treatment", "office", or "" for the no-room column
    active: bool = True

    @property
    def is_office(self) -> bool:
        return self.subkind == "office"


#: The column for sessions that hold no room (telehealth integration, booster reviews).
NO_ROOM = RoomColumn(id=None, name="No room", short_name="Telehealth", subkind="")


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
        return self.status not in INACTIVE_STATUSES

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
        rooms: treatment rooms then offices, each in the clinic's sort order; NO_ROOM is added
            at the end when a session of the day holds no room.
        appointments: ordered by start, cancelled and no-show sessions included.
        closures: partial-day closures of the clinic or of a room.
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
WHERE a.starts_at < :end AND a.ends_at > :start
ORDER BY a.starts_at, a.id
"""

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


def _read_day_rows(queries: _Queries, day: dt.date, catalog: Catalog | None) -> _DayRows:
    if catalog is None:
        catalog = _read_catalog(queries)
    bounds = CachedHolidaysCalendar(catalog.settings).day_bounds(day)
    span = {"start": queries.instant(bounds.start), "end": queries.instant(bounds.end)}
    return _DayRows(
        day=day,
        catalog=catalog,
        bounds=bounds,
        closures=queries.fetch(CLOSURES_SQL, span),
        rooms=queries.fetch(ROOMS_SQL, {}),
        appointments=queries.fetch(APPOINTMENTS_SQL, span),
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


def clinic_today(db: Database, *, now: dt.datetime | None = None) -> dt.date:
    """Today's date where the clinic is (not where this workstation's clock thinks it is)."""
    with _core_queries(db) as queries:
        rows = queries.fetch(CLINIC_SQL, {})
    return _local_today(_clinic_timezone(rows), now)


def day_schedule(db: Database, day: dt.date, *, catalog: Catalog | None = None) -> DaySchedule:
    """Everything the day view shows for the clinic's local ``day``.

    ``catalog`` saves re-reading the clinic's configuration when the caller already has it.
    Raises ConfigError if the stored configuration is broken.
    """
    with _core_queries(db) as queries:
        rows = _read_day_rows(queries, day, catalog)
    return _day_schedule(rows)


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


def _day_schedule(rows: _DayRows) -> DaySchedule:
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
    calendar = CachedHolidaysCalendar(catalog.settings, closures=closures)
    tz = calendar.tz

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
            )
        )

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

    hours = calendar.opening_hours(day)
    room_ids = {r.id for r in rooms}
    bands = tuple(
        ClosureBand(
            room_id=c.resource_id,
            start=max(c.span.start, bounds.start).astimezone(tz),
            end=min(c.span.end, bounds.end).astimezone(tz),
            reason=c.reason or c.kind.replace("_", " "),
        )
        for c in closures
        if c.resource_id is None or c.resource_id in room_ids
    )
    return DaySchedule(
        day=day,
        clinic_name=catalog.settings.name,
        timezone=catalog.settings.timezone,
        day_start=bounds.start.astimezone(tz),
        day_end=bounds.end.astimezone(tz),
        opens=hours.start.astimezone(tz) if hours else None,
        closes=hours.end.astimezone(tz) if hours else None,
        closed_reason=_sentence(calendar.closed_reason(day)),
        rooms=tuple(rooms),
        appointments=tuple(appointments),
        closures=bands,
    )


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
