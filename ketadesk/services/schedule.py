"""Reading one clinic day for the day view: rooms, opening hours, closures and appointments.

Read-only.  Everything comes back as frozen dataclasses with times already in the clinic's
zone, so the UI never converts time zones or asks the database anything itself.  The cost of a
day follows the day, not the clinic's history: a handful of small queries, each bounded by the
day (the appointment query by the ``(starts_at, ends_at)`` index), and no query per appointment.

SQLAlchemy and the store are imported inside the functions: importing this module for its
dataclasses (as the UI does) costs nothing at start-up.  Public holiday names are kept in a small
file per country and year in the user's cache folder, because the ``holidays`` package costs
more to import (0.2 s, 20 MB) than the rest of opening a day.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
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


def clinic_today(db: Database, *, now: dt.datetime | None = None) -> dt.date:
    """Today's date where the clinic is (not where this workstation's clock thinks it is)."""
    from sqlalchemy import select

    from ketadesk.store.models import ClinicSetting

    with db.read() as session:
        clinic = session.execute(
            select(ClinicSetting.value).where(ClinicSetting.key == "clinic")
        ).scalar_one_or_none()
    zone = ZoneInfo(str((clinic or {}).get("timezone") or "UTC"))
    return (now or dt.datetime.now(dt.UTC)).astimezone(zone).date()


def day_schedule(db: Database, day: dt.date, *, catalog: Catalog | None = None) -> DaySchedule:
    """Everything the day view shows for the clinic's local ``day``.

    ``catalog`` saves re-reading the clinic's configuration when the caller already has it.
    Raises ConfigError if the stored configuration is broken.
    """
    from sqlalchemy import case, select

    from ketadesk.store.clinic_config import load_catalog
    from ketadesk.store.models import (
        Appointment,
        Closure,
        Patient,
        Resource,
        Series,
        SessionType,
    )

    with db.read() as session:
        if catalog is None:
            catalog = load_catalog(session)
        bounds = CachedHolidaysCalendar(catalog.settings).day_bounds(day)
        closure_rows = session.execute(
            select(
                Closure.resource_id,
                Closure.kind,
                Closure.starts_at,
                Closure.ends_at,
                Closure.reason,
            )
            .where(Closure.starts_at < bounds.end, Closure.ends_at > bounds.start)
            .order_by(Closure.starts_at)
        ).all()
        room_rows = session.execute(
            select(
                Resource.id,
                Resource.name,
                Resource.short_name,
                Resource.subkind,
                Resource.active,
            )
            .where(Resource.kind == "room")
            .order_by(
                case((Resource.subkind == "treatment", 0), else_=1),
                Resource.sort_order,
                Resource.name,
            )
        ).all()
        # One query for the whole day: the appointment with its patient, type and series.
        appointment_rows = session.execute(
            select(
                Appointment.id,
                Appointment.room_id,
                Appointment.starts_at,
                Appointment.ends_at,
                Appointment.status,
                Appointment.series_index,
                Series.planned_count,
                Patient.first_name,
                Patient.last_name,
                Patient.chart_number,
                SessionType.code,
                SessionType.name,
                SessionType.color,
            )
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .outerjoin(Series, Series.id == Appointment.series_id)
            .where(Appointment.starts_at < bounds.end, Appointment.ends_at > bounds.start)
            .order_by(Appointment.starts_at, Appointment.id)
        ).all()

    closures = tuple(
        ClosureSpan(
            span=Interval(row.starts_at, row.ends_at),
            reason=row.reason,
            kind=row.kind,
            resource_id=row.resource_id,
        )
        for row in closure_rows
    )
    calendar = CachedHolidaysCalendar(catalog.settings, closures=closures)
    tz = calendar.tz

    appointments = tuple(
        DayAppointment(
            id=row.id,
            room_id=row.room_id,
            start=row.starts_at.astimezone(tz),
            end=row.ends_at.astimezone(tz),
            patient_name=f"{row.last_name}, {row.first_name}",
            chart_number=row.chart_number,
            session_type_code=row.code,
            session_type_name=row.name,
            session_type_short=_short_name(catalog.session_types.get(row.code), row.code),
            color=row.color,
            series_index=row.series_index,
            series_count=row.planned_count if row.series_index is not None else None,
            status=row.status,
            phases=_phases(catalog.session_types.get(row.code), row.starts_at, row.ends_at, tz),
        )
        for row in appointment_rows
    )

    used_rooms = {a.room_id for a in appointments}
    rooms = [
        RoomColumn(
            id=row.id,
            name=row.name,
            short_name=row.short_name or row.name,
            subkind=row.subkind,
            active=row.active,
        )
        for row in room_rows
        # A room taken out of use still shows on the days it has sessions.
        if row.active or row.id in used_rooms
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
        appointments=appointments,
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
