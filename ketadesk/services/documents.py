"""Printed documents: the day sheet, the patient's appointment card and the call list.

Read-only.  Two steps, neither of which knows Qt:

1. ``day_sheet``, ``appointment_card`` and ``call_list`` read the database and return frozen
   dataclasses with times already in the clinic's zone;
2. ``day_sheet_layout``, ``card_layout`` and ``calls_layout`` turn those into a ``PrintLayout``:
   the page header and a list of small HTML blocks made from the templates in
   ``resources/print``.  A block is never split across pages (ui/printing paginates block by
   block), so one session is one block.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import string
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ketadesk.paths import resources_dir
from ketadesk.services.context import NotFound, utcnow
from ketadesk.services.schedule import DayAppointment, DaySchedule, day_schedule
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import (
    RELEASED_STATUSES,
    Appointment,
    FollowUp,
    Patient,
    Resource,
    ResourceHold,
    Series,
    SessionType,
    StaffMember,
)

BY_ROOM = "room"
BY_STAFF = "staff"

# ---------------------------------------------------------------------------------------------
# What is printed


@dataclass(frozen=True, slots=True)
class SheetPhase:
    name: str
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True, slots=True)
class SheetSession:
    """One session on the day sheet (times local to the clinic)."""

    appointment_id: int
    start: dt.datetime
    end: dt.datetime
    patient: str  # "Lovelace, Ada", or "A. L." when the sheet prints initials
    chart_number: str
    session_type: str
    series: str  # "3/6", or ""
    status: str
    room: str
    phases: tuple[SheetPhase, ...]
    monitor: str  # the vital-signs monitor held (need "monitor"), "" when none
    staff: tuple[str, ...]
    driver: str  # who drives the patient home ("" when nobody is recorded)
    pickup: dt.datetime  # the planned end of the session
    fasting_confirmed: bool
    needs_driver: bool  # a dosing session: the patient may not drive home


@dataclass(frozen=True, slots=True)
class SheetGroup:
    """One room's (or one staff member's) sessions, in time order."""

    title: str
    sessions: tuple[SheetSession, ...]


@dataclass(frozen=True, slots=True)
class DaySheet:
    clinic_name: str
    day: dt.date
    by: str  # BY_ROOM | BY_STAFF
    initials: bool
    closed_reason: str | None
    groups: tuple[SheetGroup, ...]
    printed_at: dt.datetime  # local

    @property
    def session_count(self) -> int:
        return sum(len(g.sessions) for g in self.groups)


@dataclass(frozen=True, slots=True)
class CardSession:
    start: dt.datetime
    end: dt.datetime
    session_type: str
    series: str
    room: str
    instructions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AppointmentCard:
    clinic_name: str
    clinic_address: str
    clinic_phone: str
    cancellation_policy: str
    patient_name: str
    chart_number: str
    sessions: tuple[CardSession, ...]
    printed_at: dt.datetime


@dataclass(frozen=True, slots=True)
class CallEntry:
    patient_name: str
    chart_number: str
    phone: str
    due: dt.datetime
    overdue: bool
    session: str  # "IV ketamine infusion, Mon 23 Nov 09:00", or ""
    priority: str


@dataclass(frozen=True, slots=True)
class CallList:
    clinic_name: str
    day: dt.date
    calls: tuple[CallEntry, ...]
    printed_at: dt.datetime


# ---------------------------------------------------------------------------------------------
# Reading


def initials(first_name: str, last_name: str) -> str:
    """ "Ada", "Lovelace" -> "A. L." (what a sheet in public view shows)."""
    parts = [p for p in (*first_name.split(), *last_name.split()) if p]
    return " ".join(f"{p[0].upper()}." for p in parts)


def _staff_label(name: str, first: str | None, last: str | None, credentials: str | None) -> str:
    full = f"{first or ''} {last or ''}".strip() or name
    return f"{full}, {credentials}" if credentials else full


def day_sheet(
    db: Database,
    day: dt.date,
    *,
    by: str = BY_ROOM,
    use_initials: bool = False,
    now: dt.datetime | None = None,
) -> DaySheet:
    """The day sheet of the clinic's local ``day``, grouped by room or by staff member.

    Cancelled and no-show sessions are left out: the sheet is what the station works from.
    """
    if by not in (BY_ROOM, BY_STAFF):
        raise ValueError(f"by must be {BY_ROOM!r} or {BY_STAFF!r}, not {by!r}")
    schedule = day_schedule(db, day)
    tz = ZoneInfo(schedule.timezone)
    active = [a for a in schedule.appointments if a.is_active]
    ids = [a.id for a in active]
    with db.read() as session:
        catalog = load_catalog(session)
        holds = (
            session.execute(
                select(
                    ResourceHold.appointment_id,
                    ResourceHold.need,
                    Resource.id,
                    Resource.name,
                    Resource.kind,
                    StaffMember.first_name,
                    StaffMember.last_name,
                    StaffMember.credentials,
                )
                .join(Resource, Resource.id == ResourceHold.resource_id)
                .outerjoin(StaffMember, StaffMember.resource_id == Resource.id)
                .where(ResourceHold.appointment_id.in_(ids), ResourceHold.active)
                .order_by(ResourceHold.starts_at, ResourceHold.id)
            ).all()
            if ids
            else []
        )
        people = (
            session.execute(
                select(
                    Appointment.id,
                    Appointment.checklist,
                    Patient.first_name,
                    Patient.last_name,
                    Patient.driver_name,
                    Patient.driver_phone,
                    SessionType.dosing,
                )
                .join(Patient, Patient.id == Appointment.patient_id)
                .join(SessionType, SessionType.id == Appointment.session_type_id)
                .where(Appointment.id.in_(ids))
            ).all()
            if ids
            else []
        )
    monitor: dict[int, str] = {}
    staff: dict[int, dict[int, str]] = defaultdict(dict)  # appointment -> {resource id: label}
    for appointment_id, need, resource_id, name, kind, first, last, credentials in holds:
        if need == "monitor":
            monitor.setdefault(appointment_id, name)
        if kind == "staff":
            staff[appointment_id][resource_id] = _staff_label(name, first, last, credentials)
    facts = {row[0]: row for row in people}
    rooms = {r.id: r.name for r in schedule.rooms}

    sessions: dict[int, SheetSession] = {}
    for a in active:
        _id, checklist, first, last, driver, driver_phone, dosing = facts[a.id]
        if use_initials:
            patient = initials(first, last)
            driver_label = initials(*_split_name(driver)) if driver else ""
        else:
            patient = a.patient_name
            driver_label = f"{driver}, {driver_phone}" if driver and driver_phone else driver
        sessions[a.id] = SheetSession(
            appointment_id=a.id,
            start=a.start,
            end=a.end,
            patient=patient,
            chart_number=a.chart_number,
            session_type=a.session_type_name,
            series=a.series_label,
            status=a.status_label,
            room=rooms.get(a.room_id, "No room"),
            phases=tuple(SheetPhase(p.name, p.start, p.end) for p in a.phases),
            monitor=monitor.get(a.id, ""),
            staff=tuple(staff[a.id].values()),
            driver=driver_label,
            pickup=a.end,
            fasting_confirmed=bool((checklist or {}).get("fasting_confirmed")),
            needs_driver=bool(dosing),
        )
    groups = (
        _by_room(schedule, active, sessions)
        if by == BY_ROOM
        else _by_staff(active, staff, sessions)
    )
    spec_names = catalog.settings.name
    return DaySheet(
        clinic_name=spec_names,
        day=day,
        by=by,
        initials=use_initials,
        closed_reason=schedule.closed_reason,
        groups=groups,
        printed_at=(now or utcnow()).astimezone(tz),
    )


def _split_name(full: str) -> tuple[str, str]:
    first, _, last = full.strip().partition(" ")
    return first, last


def _by_room(
    schedule: DaySchedule, active: Sequence[DayAppointment], sessions: dict[int, SheetSession]
) -> tuple[SheetGroup, ...]:
    groups = []
    for room in schedule.rooms:
        mine = tuple(sessions[a.id] for a in active if a.room_id == room.id)
        if mine:
            groups.append(SheetGroup(room.name, mine))
    return tuple(groups)


def _by_staff(
    active: Sequence[DayAppointment],
    staff: dict[int, dict[int, str]],
    sessions: dict[int, SheetSession],
) -> tuple[SheetGroup, ...]:
    per: dict[str, list[SheetSession]] = defaultdict(list)
    unstaffed: list[SheetSession] = []
    for a in active:  # already in time order
        if not staff[a.id]:
            unstaffed.append(sessions[a.id])
        for label in staff[a.id].values():
            per[label].append(sessions[a.id])
    groups = [SheetGroup(label, tuple(per[label])) for label in sorted(per)]
    if unstaffed:
        groups.append(SheetGroup("No staff assigned", tuple(unstaffed)))
    return tuple(groups)


def appointment_card(
    db: Database, chart: str, *, now: dt.datetime | None = None
) -> AppointmentCard:
    """The patient's upcoming sessions (after ``now``, not cancelled nor missed) with what to do
    before each, and the clinic's contacts.  Raises NotFound for an unknown chart number."""
    moment = now or utcnow()
    with db.read() as session:
        catalog = load_catalog(session)
        patient = session.scalars(select(Patient).where(Patient.chart_number == chart)).first()
        if patient is None:
            raise NotFound(f"no patient with chart number {chart!r}")
        patient_name = f"{patient.first_name} {patient.last_name}"
        rows = session.execute(
            select(
                Appointment.starts_at,
                Appointment.ends_at,
                Appointment.series_index,
                Series.planned_count,
                SessionType.code,
                SessionType.name,
                Resource.name,
            )
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .outerjoin(Series, Series.id == Appointment.series_id)
            .outerjoin(Resource, Resource.id == Appointment.room_id)
            .where(
                Appointment.patient_id == patient.id,
                Appointment.starts_at > moment,
                Appointment.status.not_in(RELEASED_STATUSES),
                Appointment.status != "completed",
            )
            .order_by(Appointment.starts_at, Appointment.id)
        ).all()
    settings = catalog.settings
    tz = ZoneInfo(settings.timezone)
    sessions = []
    for starts_at, ends_at, index, count, code, type_name, room in rows:
        spec = catalog.session_types.get(code)
        series = ""
        if index is not None:
            series = f"{index}/{count}" if count else str(index)
        sessions.append(
            CardSession(
                start=starts_at.astimezone(tz),
                end=ends_at.astimezone(tz),
                session_type=type_name,
                series=series,
                room=room or "",
                instructions=spec.instructions if spec is not None else (),
            )
        )
    return AppointmentCard(
        clinic_name=settings.name,
        clinic_address=settings.address,
        clinic_phone=settings.phone,
        cancellation_policy=settings.cancellation_policy,
        patient_name=patient_name,
        chart_number=chart,
        sessions=tuple(sessions),
        printed_at=moment.astimezone(tz),
    )


def call_list(db: Database, day: dt.date, *, now: dt.datetime | None = None) -> CallList:
    """Next-day calls due on the clinic's local ``day`` or overdue, still open, oldest first."""
    with db.read() as session:
        catalog = load_catalog(session)
        tz = ZoneInfo(catalog.settings.timezone)
        day_start = dt.datetime.combine(day, dt.time(), tz)
        day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
        rows = session.execute(
            select(
                FollowUp.due_at,
                FollowUp.priority,
                Patient.first_name,
                Patient.last_name,
                Patient.chart_number,
                Patient.phone,
                Appointment.starts_at,
                SessionType.name,
            )
            .join(Patient, Patient.id == FollowUp.patient_id)
            .outerjoin(Appointment, Appointment.id == FollowUp.appointment_id)
            .outerjoin(SessionType, SessionType.id == Appointment.session_type_id)
            .where(
                FollowUp.kind == "next_day_call",
                FollowUp.status == "open",
                FollowUp.due_at < day_end,
            )
            .order_by(FollowUp.due_at, Patient.last_name, Patient.first_name, FollowUp.id)
        ).all()
    calls = []
    for due_at, priority, first, last, chart, phone, starts_at, type_name in rows:
        what = f"{type_name}, {starts_at.astimezone(tz):%a %d %b %H:%M}" if starts_at else ""
        calls.append(
            CallEntry(
                patient_name=f"{last}, {first}",
                chart_number=chart,
                phone=phone,
                due=due_at.astimezone(tz),
                overdue=due_at < day_start,
                session=what,
                priority=priority,
            )
        )
    return CallList(
        clinic_name=catalog.settings.name,
        day=day,
        calls=tuple(calls),
        printed_at=(now or utcnow()).astimezone(tz),
    )


# ---------------------------------------------------------------------------------------------
# Into HTML blocks


@dataclass(frozen=True, slots=True)
class PrintBlock:
    """A piece of HTML printed whole on one page; ``keep_with_next`` keeps a heading with the
    first block under it."""

    html: str
    keep_with_next: bool = False


@dataclass(frozen=True, slots=True)
class PrintLayout:
    """A document ready to paginate: the header of every page, then its blocks in order."""

    clinic_name: str
    title: str  # "Day sheet by room: Tuesday 24 November 2026"
    printed_at: dt.datetime
    css: str
    blocks: tuple[PrintBlock, ...]


def print_dir() -> Path:
    return resources_dir() / "print"


@functools.cache
def _template(name: str) -> string.Template:
    return string.Template((print_dir() / name).read_text(encoding="utf-8"))


def _fill(name: str, **values: str) -> str:
    """Fill a template; every value is escaped unless its name ends in ``_html``."""
    return _template(name).substitute(
        {k: v if k.endswith("_html") else html.escape(v) for k, v in values.items()}
    )


def _hm(moment: dt.datetime) -> str:
    return f"{moment:%H:%M}"


def _long_date(day: dt.date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def _lines(items: Iterable[str]) -> str:
    return "<br/>".join(html.escape(i) for i in items)


def _bullets(items: Iterable[str]) -> str:
    return "<br/>".join(f"&bull; {html.escape(i)}" for i in items)


def day_sheet_layout(sheet: DaySheet) -> PrintLayout:
    by = "room" if sheet.by == BY_ROOM else "staff member"
    blocks: list[PrintBlock] = []
    if sheet.closed_reason:
        blocks.append(PrintBlock(_fill("notice.html", text=sheet.closed_reason)))
    if not sheet.groups:
        blocks.append(
            PrintBlock(_fill("notice.html", text=f"No appointments on {_long_date(sheet.day)}."))
        )
    for group in sheet.groups:
        count = len(group.sessions)
        blocks.append(
            PrintBlock(
                _fill(
                    "group_heading.html",
                    title=group.title,
                    detail=f"{count} session{'s' if count != 1 else ''}",
                ),
                keep_with_next=True,
            )
        )
        for s in group.sessions:
            blocks.append(PrintBlock(_session_row(s, sheet.by)))
    return PrintLayout(
        clinic_name=sheet.clinic_name,
        title=f"Day sheet by {by}: {_long_date(sheet.day)}",
        printed_at=sheet.printed_at,
        css=_template("style.css").template,
        blocks=tuple(blocks),
    )


def _session_row(s: SheetSession, by: str) -> str:
    phases = _lines(f"{_hm(p.start)} {p.name}" for p in s.phases)
    where = s.room if by == BY_STAFF else ", ".join(s.staff)
    checks: list[str] = []
    if s.monitor:
        checks.append(f"Monitor: <b>{html.escape(s.monitor)}</b>")
    if where:
        checks.append(f'<span class="small">{html.escape(where)}</span>')
    if s.needs_driver:
        if s.driver:
            checks.append(f"Driver: <b>{html.escape(s.driver)}</b>")
        else:
            checks.append("<b>NO DRIVER RECORDED</b>")
        checks.append(f"Pickup <b>{_hm(s.pickup)}</b>")
        box = "&#9746;" if s.fasting_confirmed else "&#9744;"
        checks.append(f"{box} fasting confirmed")
    else:
        checks.append(f"Ends {_hm(s.pickup)}")
    return _fill(
        "session_row.html",
        time=f"{_hm(s.start)}",
        end=f"to {_hm(s.end)}",
        patient=s.patient,
        chart=s.chart_number,
        session_type=s.session_type,
        series=f"Series {s.series}" if s.series else "",
        status=s.status,
        phases_html=phases,
        checklist_html="<br/>".join(checks),
    )


def card_layout(card: AppointmentCard) -> PrintLayout:
    blocks = [
        PrintBlock(
            _fill(
                "card_heading.html",
                patient=card.patient_name,
                chart=card.chart_number,
                count=str(len(card.sessions)),
            ),
            keep_with_next=True,
        )
    ]
    if not card.sessions:
        blocks.append(PrintBlock(_fill("notice.html", text="No upcoming appointments.")))
    for s in card.sessions:
        blocks.append(
            PrintBlock(
                _fill(
                    "card_session.html",
                    date=f"{s.start:%a} {s.start.day} {s.start:%b %Y}",
                    time=f"{_hm(s.start)} to {_hm(s.end)}",
                    session_type=s.session_type,
                    series=f"Session {s.series}" if s.series else "",
                    room=s.room,
                    instructions_html=_bullets(s.instructions) or "&nbsp;",
                )
            )
        )
    blocks.append(
        PrintBlock(
            _fill(
                "card_footer.html",
                clinic=card.clinic_name,
                address=card.clinic_address,
                phone=card.clinic_phone,
                policy=card.cancellation_policy,
            )
        )
    )
    return PrintLayout(
        clinic_name=card.clinic_name,
        title=f"Appointment card: {card.patient_name}",
        printed_at=card.printed_at,
        css=_template("style.css").template,
        blocks=tuple(blocks),
    )


def calls_layout(calls: CallList) -> PrintLayout:
    blocks: list[PrintBlock] = []
    if not calls.calls:
        blocks.append(
            PrintBlock(_fill("notice.html", text=f"No calls due on {_long_date(calls.day)}."))
        )
    for c in calls.calls:
        due = f"{c.due:%a %d %b}" + (" (overdue)" if c.overdue else "")
        blocks.append(
            PrintBlock(
                _fill(
                    "call_row.html",
                    patient=c.patient_name,
                    chart=c.chart_number,
                    phone=c.phone or "no phone recorded",
                    due=due,
                    session=c.session,
                    priority="" if c.priority == "normal" else c.priority.upper(),
                )
            )
        )
    return PrintLayout(
        clinic_name=calls.clinic_name,
        title=f"Follow-up calls: {_long_date(calls.day)}",
        printed_at=calls.printed_at,
        css=_template("style.css").template,
        blocks=tuple(blocks),
    )
