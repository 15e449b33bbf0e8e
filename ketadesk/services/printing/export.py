"""Exports for other programs: iCalendar (.ics) files and a CSV of appointments.

Read-only and Qt-free.  Times in the files are in the clinic's time zone, with its VTIMEZONE, so
a 10:00 session stays at 10:00 in a patient's phone calendar across a daylight-saving change.
Every query is bounded by the window asked for, so the cost follows the window, not the length
of the clinic's history.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ketadesk import __version__
from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.dates import short_date_time
from ketadesk.scheduling.statuses import RELEASED_STATUSES, TENTATIVE_STATUSES
from ketadesk.services.booking.planning import find_patient
from ketadesk.services.common.addresses import one_line_address
from ketadesk.services.common.context import InvalidRequest, NotFound, utcnow
from ketadesk.services.common.phones import display_phone
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import Appointment, Patient, Resource, ResourceHold, Series, SessionType
from ketadesk.store.queries import overlapping

PRODID = f"-//KetaDesk//KetaDesk {__version__}//EN"
UID_DOMAIN = "ketadesk"
# Longest date range one export may cover: a guard against a mistyped year.
MAX_RANGE_DAYS = 3 * 366

CSV_COLUMNS = (
    "id",
    "date",
    "start",
    "end",
    "status",
    "chart_number",
    "last_name",
    "first_name",
    "session_type",
    "series_index",
    "series_count",
    "room",
)


@dataclass(frozen=True)
class _Event:
    uid: str
    start: dt.datetime  # aware, UTC
    end: dt.datetime
    summary: str
    description: str
    location: str
    status: str  # iCalendar STATUS: CONFIRMED, or TENTATIVE for a hold only pencilled in


def appointment_uid(appointment_id: int) -> str:
    return f"appointment-{appointment_id}@{UID_DOMAIN}"


def initials(first_name: str, last_name: str) -> str:
    """ "Ada", "Lovelace" -> "A.L." (privacy: what a room's calendar shows of a patient)."""
    return "".join(
        f"{part.strip()[0].upper()}." for part in (first_name, last_name) if part.strip()
    )


def _check_range(first: dt.date, last: dt.date) -> None:
    if last < first:
        raise InvalidRequest(f"the range ends ({last}) before it starts ({first})")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise InvalidRequest(
            f"the range {first} to {last} is longer than {MAX_RANGE_DAYS} days; export less"
        )


def _range_window(calendar: ClinicCalendar, first: dt.date, last: dt.date) -> Interval:
    """[local midnight of ``first``, local midnight after ``last``) as UTC instants."""
    return Interval(calendar.day_bounds(first).start, calendar.day_bounds(last).end)


def _instructions(catalog: Catalog, code: str) -> str:
    spec = catalog.session_types.get(code)
    return "\n".join(spec.instructions) if spec is not None else ""


def _series_label(index: int | None, count: int | None) -> str:
    if index is None:
        return ""
    return f"session {index} of {count}" if count else f"session {index}"


def _calendar_bytes(
    catalog: Catalog, events: Iterable[_Event], *, name: str, now: dt.datetime
) -> bytes:
    import icalendar

    calendar = ClinicCalendar(catalog.settings)
    tz = calendar.tz
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", catalog.settings.timezone)
    stamp = now.astimezone(dt.UTC).replace(microsecond=0)
    days: list[dt.date] = []
    for e in events:
        event = icalendar.Event()
        event.add("uid", e.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", e.start.astimezone(tz))
        event.add("dtend", e.end.astimezone(tz))
        event.add("summary", e.summary)
        if e.location:
            event.add("location", e.location)
        if e.description:
            event.add("description", e.description)
        event.add("status", e.status)
        event.add("transp", "OPAQUE")
        cal.add_component(event)
        days.append(calendar.local_date(e.start))
    if days:
        # The zone's rules for the span of the events (a year either side), not since 1970.
        cal.add_missing_timezones(
            first_date=dt.date(min(days).year - 1, 1, 1),
            last_date=dt.date(max(days).year + 2, 1, 1),
        )
    content: bytes = cal.to_ical()
    return content


def patient_calendar(db: Database, chart: str, *, now: dt.datetime | None = None) -> bytes:
    """An .ics of the patient's upcoming sessions (not cancelled, not no-shows).

    A session under way at ``now`` still counts as upcoming.  Each event carries the session
    type's instructions, the clinic's address and a UID stable across exports, so a calendar
    that imports the file again updates its events instead of doubling them.  A session only
    pencilled in is a TENTATIVE event that says so, with its deadline, in its title and
    description (never shown as confirmed); one past its deadline is left out.
    """
    now = now or utcnow()
    with db.read() as session:
        catalog = load_catalog(session)
        settings = catalog.settings
        patient = find_patient(session, chart)
        rows = session.execute(
            select(Appointment, SessionType.code, SessionType.name, Series.planned_count)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .outerjoin(Series, Series.id == Appointment.series_id)
            .where(
                Appointment.patient_id == patient.id,
                Appointment.starts_at >= now - dt.timedelta(days=1),
                Appointment.ends_at > now,
                Appointment.status.not_in(RELEASED_STATUSES),
            )
            .order_by(Appointment.starts_at, Appointment.id)
        ).all()
        events = []
        phone = display_phone(settings.phone)
        tz = ClinicCalendar(settings).tz
        for appt, code, type_name, count in rows:
            pencilled = appt.status in TENTATIVE_STATUSES
            if pencilled and appt.hold_until is not None and appt.hold_until <= now:
                continue  # its deadline passed: the place is free, only not yet released
            series = _series_label(appt.series_index, count)
            instructions = _instructions(catalog, code)
            held = ""
            if pencilled:
                until = (
                    f"until {short_date_time(appt.hold_until.astimezone(tz), settings.time_format)}"
                    if appt.hold_until is not None
                    else "until the clinic confirms it"
                )
                held = (
                    f"Pencilled in, NOT confirmed: this time is held for you {until} and is "
                    "released unless the clinic confirms it by then."
                )
            description = "\n\n".join(
                part
                for part in (
                    held,
                    series[:1].upper() + series[1:],
                    instructions,
                    f"Questions or to cancel: {phone}" if phone else "",
                )
                if part
            )
            events.append(
                _Event(
                    uid=appointment_uid(appt.id),
                    start=appt.starts_at,
                    end=appt.ends_at,
                    summary=("Pencilled in (not confirmed): " if pencilled else "")
                    + f"{type_name} at {settings.name}",
                    description=description,
                    location=one_line_address(settings.address),
                    status="TENTATIVE" if pencilled else "CONFIRMED",
                )
            )
        name = f"{settings.name}: {patient.first_name} {patient.last_name}"
    return _calendar_bytes(catalog, events, name=name, now=now)


def _find_resource(session: Session, name: str) -> Resource:
    resource = session.scalar(select(Resource).where(Resource.name == name))
    if resource is None:
        known = session.scalars(
            select(Resource.name)
            .where(Resource.active, Resource.kind.in_(("room", "staff")))
            .order_by(Resource.kind, Resource.sort_order, Resource.name)
        ).all()
        hint = f"; known rooms and staff: {', '.join(known)}" if known else ""
        raise NotFound(f"no room, equipment or staff member named {name!r}{hint}")
    return resource


def resource_calendar(
    db: Database,
    resource_name: str,
    *,
    first: dt.date,
    last: dt.date,
    now: dt.datetime | None = None,
) -> bytes:
    """An .ics of a room's, a piece of equipment's or a staff member's schedule, ``first`` to
    ``last`` (local dates, inclusive): one event per appointment holding it, from when it first
    holds the resource to when it lets it go.

    Such calendars are shared on screens and phones, so they name patients by initials only.
    """
    _check_range(first, last)
    now = now or utcnow()
    with db.read() as session:
        catalog = load_catalog(session)
        calendar = ClinicCalendar(catalog.settings)
        resource = _find_resource(session, resource_name)
        window = _range_window(calendar, first, last)
        room = aliased(Resource)
        rows = session.execute(
            select(
                ResourceHold.appointment_id,
                ResourceHold.starts_at,
                ResourceHold.ends_at,
                Appointment.series_index,
                Series.planned_count,
                Patient.first_name,
                Patient.last_name,
                SessionType.name,
                room.name,
                Appointment.status,
                Appointment.hold_until,
            )
            .join(Appointment, Appointment.id == ResourceHold.appointment_id)
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .outerjoin(Series, Series.id == Appointment.series_id)
            .outerjoin(room, room.id == Appointment.room_id)
            .where(
                ResourceHold.resource_id == resource.id,
                ResourceHold.active,
                Appointment.status.not_in(RELEASED_STATUSES),
                *overlapping(ResourceHold.starts_at, ResourceHold.ends_at, window),
            )
            .order_by(ResourceHold.starts_at, ResourceHold.appointment_id)
        ).all()
        spans: dict[int, tuple[dt.datetime, dt.datetime]] = {}
        about: dict[int, tuple[str, str]] = {}
        pencilled: set[int] = set()
        for (
            appt_id,
            start,
            end,
            index,
            count,
            first_name,
            last_name,
            type_name,
            room_name,
            status,
            hold_until,
        ) in rows:
            if status in TENTATIVE_STATUSES:
                if hold_until is not None and hold_until <= now:
                    continue  # its deadline passed: free, only not yet released
                pencilled.add(appt_id)
            known = spans.get(appt_id)
            spans[appt_id] = (
                (start, end) if known is None else (min(known[0], start), max(known[1], end))
            )
            who = initials(first_name, last_name)
            summary = f"{type_name} ({who})" if who else type_name
            if appt_id in pencilled:
                summary = f"Pencilled in: {summary}"
            series = _series_label(index, count)
            details = [series[:1].upper() + series[1:]] if series else []
            if room_name and room_name != resource.name:
                details.append(room_name)
            about[appt_id] = (summary, ", ".join(details))
        events = [
            _Event(
                uid=f"appointment-{appt_id}-resource-{resource.id}@{UID_DOMAIN}",
                start=start,
                end=end,
                summary=about[appt_id][0],
                description=about[appt_id][1],
                location=one_line_address(catalog.settings.address),
                status="TENTATIVE" if appt_id in pencilled else "CONFIRMED",
            )
            for appt_id, (start, end) in sorted(spans.items(), key=lambda kv: (kv[1][0], kv[0]))
        ]
        name = f"{catalog.settings.name}: {resource.name}"
    return _calendar_bytes(catalog, events, name=name, now=now)


# A cell a spreadsheet would run as a formula (OWASP "CSV injection"): =, +, -, @, or a tab or
# carriage return before one of them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A text cell that starts like a formula, quoted with a leading apostrophe so spreadsheets
    show it as text; numbers and other cells as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def appointments_csv(db: Database, first: dt.date, last: dt.date) -> str:
    """A CSV of every appointment starting on the local dates ``first`` to ``last`` (inclusive),
    cancelled and no-show ones included (the status column says which), in time order."""
    _check_range(first, last)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    with db.read() as session:
        calendar = ClinicCalendar(load_catalog(session).settings)
        window = _range_window(calendar, first, last)
        room = aliased(Resource)
        rows = session.execute(
            select(
                Appointment.id,
                Appointment.starts_at,
                Appointment.ends_at,
                Appointment.status,
                Patient.chart_number,
                Patient.last_name,
                Patient.first_name,
                SessionType.code,
                Appointment.series_index,
                Series.planned_count,
                room.name,
            )
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .outerjoin(Series, Series.id == Appointment.series_id)
            .outerjoin(room, room.id == Appointment.room_id)
            .where(Appointment.starts_at >= window.start, Appointment.starts_at < window.end)
            .order_by(Appointment.starts_at, Appointment.id)
        ).all()
    for (
        appt_id,
        start,
        end,
        status,
        chart,
        last_name,
        first_name,
        code,
        index,
        count,
        room_name,
    ) in rows:
        local_start, local_end = calendar.local(start), calendar.local(end)
        writer.writerow(
            spreadsheet_safe(cell)
            for cell in (
                appt_id,
                local_start.date().isoformat(),
                f"{local_start:%H:%M}",  # a spreadsheet's column: 24-hour whatever the clinic reads
                f"{local_end:%H:%M}",
                status,
                chart,
                last_name,
                first_name,
                code,
                "" if index is None else index,
                "" if count is None or index is None else count,
                room_name or "",
            )
        )
    return out.getvalue()


__all__ = [
    "CSV_COLUMNS",
    "PRODID",
    "appointment_uid",
    "appointments_csv",
    "initials",
    "patient_calendar",
    "resource_calendar",
    "spreadsheet_safe",
]
