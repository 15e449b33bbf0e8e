"""Printed documents: the day sheet, the patient's appointment card, the call list and the
monitoring record of a session (laid out for filling the Spravato REMS form).

Read-only.  Two steps, neither of which knows Qt:

1. ``day_sheet``, ``appointment_card``, ``call_list`` and ``session_record_sheet`` read the
   database and return frozen dataclasses with times already in the clinic's zone;
2. ``day_sheet_layout``, ``card_layout``, ``calls_layout`` and ``session_record_layout`` turn
   those into a ``PrintLayout``:
   the page header and a list of small HTML blocks made from the templates in
   ``resources/print``.  A block is never split across pages (ui/printing paginates block by
   block), so one session is one block.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import os
import string
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.paths import config_dir, resources_dir
from ketadesk.scheduling.catalog import ClinicSettings
from ketadesk.scheduling.gating import PatientFacts, ScreeningStatus, check_gates
from ketadesk.scheduling.statuses import MOVABLE_STATUSES, RELEASED_STATUSES
from ketadesk.services.common.context import InvalidRequest, NotFound, utcnow
from ketadesk.services.schedule.schedule import DayAppointment, DaySchedule, day_schedule
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import (
    Appointment,
    FollowUp,
    GatingOverride,
    Patient,
    Resource,
    ResourceHold,
    Series,
    SessionRecord,
    SessionType,
    StaffMember,
    VitalReading,
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
    # Gating rules the session does not meet and nobody overrode ("no signed consent on file").
    gate_warnings: tuple[str, ...] = ()


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
    logo: Logo | None = None

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
    logo: Logo | None = None


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


@dataclass(frozen=True, slots=True)
class Logo:
    """The clinic's logo as the settings name it: ``path`` when the file can be read, else
    ``problem`` says why it is left off (the document prints without it)."""

    path: Path | None
    problem: str = ""


def clinic_logo(settings: ClinicSettings) -> Logo | None:
    """The logo file the settings name (relative to the configuration folder), or None when
    they name none."""
    name = settings.logo.strip()
    if not name:
        return None
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = config_dir() / path
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as err:
        reason = err.strerror or str(err)
        return Logo(None, f"the clinic logo {path} cannot be read ({reason}); printed without it")
    return Logo(path)


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
                    Appointment.patient_id,
                    Appointment.series_id,
                )
                .join(Patient, Patient.id == Appointment.patient_id)
                .join(SessionType, SessionType.id == Appointment.session_type_id)
                .where(Appointment.id.in_(ids))
            ).all()
            if ids
            else []
        )
        gates = _open_gates(session, catalog, active, people) if ids else {}
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
        _id, checklist, first, last, driver, driver_phone, dosing, _patient, _series = facts[a.id]
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
            gate_warnings=gates.get(a.id, ()),
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
        logo=clinic_logo(catalog.settings),
    )


# The day sheet shows a missing driver in its own words ("NO DRIVER RECORDED").
_SHOWN_ELSEWHERE = frozenset({"driver_arranged"})


def _open_gates(
    session: Session,
    catalog: Catalog,
    active: Sequence[DayAppointment],
    people: Sequence[Any],
) -> dict[int, tuple[str, ...]]:
    """Per appointment of the day, the gating rules it does not meet that no clinician has
    overridden (for that appointment or its series).

    Prior-authorized sessions count in time order: a session is covered when it is among the
    first the authorization's remaining sessions pay for."""
    facts_of = {row[0]: row for row in people}
    patient_ids = sorted({row[7] for row in people})
    series_ids = sorted({row[8] for row in people if row[8] is not None})
    patients = {
        p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_(patient_ids)))
    }
    overrides: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    rows = session.execute(
        select(
            GatingOverride.appointment_id,
            GatingOverride.series_id,
            GatingOverride.rule,
            GatingOverride.reason,
        ).where(
            GatingOverride.appointment_id.in_([a.id for a in active])
            | GatingOverride.series_id.in_(series_ids)
        )
    ).all()
    for appointment_id, series_id, rule, reason in rows:
        if appointment_id is not None:
            overrides[("a", appointment_id)][rule] = reason
        if series_id is not None:
            overrides[("s", series_id)][rule] = reason
    prior_auth_codes = [
        c for c, t in catalog.session_types.items() if "prior_auth_valid" in t.gating
    ]
    # Each patient's prior-authorized sessions still to come, in time order (ids).
    ahead: dict[int, list[int]] = defaultdict(list)
    if prior_auth_codes:
        for appointment_id, patient_id in session.execute(
            select(Appointment.id, Appointment.patient_id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .where(
                Appointment.patient_id.in_(patient_ids),
                SessionType.code.in_(prior_auth_codes),
                Appointment.status.in_(sorted(MOVABLE_STATUSES)),
            )
            .order_by(Appointment.starts_at, Appointment.id)
        ):
            ahead[patient_id].append(appointment_id)
    out: dict[int, tuple[str, ...]] = {}
    for a in active:
        spec = catalog.session_types.get(a.session_type_code)
        row = facts_of.get(a.id)
        if spec is None or row is None or not spec.gating:
            continue
        patient = patients[row[7]]
        left = patient.prior_auth_sessions
        if left is not None:
            queue = ahead.get(patient.id, [])
            place = queue.index(a.id) if a.id in queue else 0
            left = max(0, left - place)
        facts = PatientFacts(
            screening_status=ScreeningStatus(patient.screening_status),
            screening_cleared_on=patient.screening_cleared_on,
            consent_signed_on=patient.consent_signed_on,
            rems_enrolled_on=patient.rems_enrolled_on,
            prior_auth_expires_on=patient.prior_auth_expires_on,
            prior_auth_sessions_left=left,
            driver_name=patient.driver_name,
        )
        given = dict(overrides.get(("s", row[8]), {})) if row[8] is not None else {}
        given.update(overrides.get(("a", a.id), {}))
        results = check_gates(spec, facts, [a.start.date()], catalog.settings, given)
        open_ = tuple(
            r.message for r in results if r.stops_booking and r.rule not in _SHOWN_ELSEWHERE
        )
        if open_:
            out[a.id] = open_
    return out


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
        logo=clinic_logo(settings),
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
    logo: Path | None = None  # printed at the left of every page's header
    # What the printed document leaves out and why ("the clinic logo ... cannot be read").
    warnings: tuple[str, ...] = ()


def output_problem(path: Path) -> str | None:
    """Why a file cannot be written at ``path`` (asked before any work is done), or None."""
    if path.is_dir():
        return f"cannot write {path}: it is a folder"
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        return f"cannot write {path}: the folder {folder} does not exist"
    if path.exists() and not os.access(path, os.W_OK):
        return f"cannot write {path}: the file is read-only"
    if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write {path}: the folder {folder} cannot be written to"
    return None


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
        logo=sheet.logo.path if sheet.logo else None,
        warnings=(sheet.logo.problem,) if sheet.logo and sheet.logo.problem else (),
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
    for warning in s.gate_warnings:
        checks.append(f'<span class="warn">&#9888; {html.escape(warning)}</span>')
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
        logo=card.logo.path if card.logo else None,
        warnings=(card.logo.problem,) if card.logo and card.logo.problem else (),
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


# ---------------------------------------------------------------------------------------------
# The monitoring record of one session (the Spravato REMS Patient Monitoring Form's facts)


@dataclass(frozen=True, slots=True)
class RecordReading:
    """One vital-signs line of the record: a configured check (``planned`` set) or a recheck.
    Every value is None while nobody has recorded it."""

    label: str
    planned: dt.datetime | None  # local, from the session's schedule
    taken_at: dt.datetime | None  # local
    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    spo2: int | None = None


@dataclass(frozen=True, slots=True)
class SessionRecordSheet:
    """A dosing session's monitoring record, with None (or "") where nothing is recorded yet."""

    clinic_name: str
    appointment_id: int
    patient_name: str
    chart_number: str
    date_of_birth: dt.date | None
    rems_patient_id: str
    rems: bool  # the session type is gated by the REMS (Spravato)
    session_type: str
    series: str
    room: str
    start: dt.datetime  # local, as booked
    end: dt.datetime
    status: str
    observation_minutes: int  # what the session type plans for observation
    has_record: bool
    dose_mg: int | None
    devices: int | None
    lot_number: str
    dose_started_at: dt.datetime | None
    readings: tuple[RecordReading, ...]
    sedation: str
    dissociation: str
    respiratory_depression: bool | None  # None: no record yet
    events: str
    discharged_at: dt.datetime | None
    monitored_minutes: int | None
    monitored_by: str
    printed_at: dt.datetime
    logo: Logo | None = None
    # The REMS form's follow-up for this session: its deadline (local) and whether it is done.
    rems_form_deadline: dt.datetime | None = None
    rems_form_done: bool = False


def find_session(db: Database, chart: str, day: dt.date) -> int:
    """The id of the patient's dosing session on the clinic's local ``day`` (the first, if
    several).  Raises NotFound for an unknown chart number or a day without one."""
    with db.read() as session:
        catalog = load_catalog(session)
        tz = ZoneInfo(catalog.settings.timezone)
        patient_id = session.scalar(select(Patient.id).where(Patient.chart_number == chart))
        if patient_id is None:
            raise NotFound(f"no patient with chart number {chart!r}")
        start = dt.datetime.combine(day, dt.time(), tz)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
        found = session.scalar(
            select(Appointment.id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .where(
                Appointment.patient_id == patient_id,
                SessionType.dosing.is_(True),
                Appointment.starts_at >= start,
                Appointment.starts_at < end,
            )
            .order_by(Appointment.status.in_(sorted(RELEASED_STATUSES)), Appointment.starts_at)
            .limit(1)
        )
    if found is None:
        raise NotFound(f"{chart} has no dosing session on {_long_date(day)}")
    return found


def session_record_sheet(
    db: Database, appointment_id: int, *, now: dt.datetime | None = None
) -> SessionRecordSheet:
    """The monitoring record of a dosing session, laid out by the session type's configured
    blood-pressure checks.  Raises NotFound for an unknown appointment and InvalidRequest for a
    session that is not a dosing session (it has no monitoring record)."""
    with db.read() as session:
        catalog = load_catalog(session)
        row = session.execute(
            select(Appointment, Patient, SessionType.code, SessionType.name, Series.planned_count)
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .outerjoin(Series, Series.id == Appointment.series_id)
            .where(Appointment.id == appointment_id)
        ).one_or_none()
        if row is None:
            raise NotFound(f"no appointment {appointment_id}")
        appointment, patient, code, type_name, planned_count = row
        spec = catalog.session_types.get(code)
        if spec is None or not spec.dosing:
            raise InvalidRequest(
                f"{type_name} is not a dosing session: it has no monitoring record"
            )
        room = (
            session.scalar(select(Resource.name).where(Resource.id == appointment.room_id))
            if appointment.room_id is not None
            else None
        )
        record = session.scalar(
            select(SessionRecord).where(SessionRecord.appointment_id == appointment_id)
        )
        readings: list[VitalReading] = list(record.readings) if record is not None else []
        rems_form = session.execute(
            select(FollowUp.deadline_at, FollowUp.due_at, FollowUp.status)
            .where(FollowUp.appointment_id == appointment_id, FollowUp.kind == "rems_form")
            .order_by(FollowUp.id.desc())
            .limit(1)
        ).one_or_none()
        monitored_by = ""
        if record is not None and record.monitored_by_id is not None:
            staff = session.execute(
                select(
                    Resource.name,
                    StaffMember.first_name,
                    StaffMember.last_name,
                    StaffMember.credentials,
                )
                .outerjoin(StaffMember, StaffMember.resource_id == Resource.id)
                .where(Resource.id == record.monitored_by_id)
            ).one_or_none()
            if staff is not None:
                monitored_by = _staff_label(*staff)
        settings = catalog.settings
        tz = ZoneInfo(settings.timezone)
        start = appointment.starts_at.astimezone(tz)
        offsets = spec.phase_offsets()
        # The checks follow the dose: once its start is recorded, they are planned from it.
        shift = dt.timedelta()
        dosing = next((p.key for p in spec.phases if p.shade == "dosing"), None)
        if record is not None and record.dose_started_at is not None and dosing is not None:
            shift = record.dose_started_at - (
                appointment.starts_at + dt.timedelta(minutes=offsets[dosing][0])
            )
        used: set[int] = set()
        lines: list[RecordReading] = []
        for check in spec.bp_checks:
            planned = (
                start + shift + dt.timedelta(minutes=offsets[check.phase][0] + check.offset_minutes)
            )
            match = next(
                (
                    r
                    for r in readings
                    if id(r) not in used and r.label.strip().lower() == check.label.lower()
                ),
                None,
            )
            if match is not None:
                used.add(id(match))
            lines.append(_reading_line(check.label, planned, match, tz))
        for r in readings:  # rechecks (while BP was raised) and readings under other labels
            if id(r) not in used:
                lines.append(_reading_line(r.label or "Recheck", None, r, tz))
        series = ""
        if appointment.series_index is not None:
            series = (
                f"{appointment.series_index}/{planned_count}"
                if planned_count
                else str(appointment.series_index)
            )
        observation = sum(p.minutes for p in spec.phases if p.shade == "observation")

        def local(moment: dt.datetime | None) -> dt.datetime | None:
            return moment.astimezone(tz) if moment is not None else None

        return SessionRecordSheet(
            clinic_name=settings.name,
            appointment_id=appointment.id,
            patient_name=f"{patient.last_name}, {patient.first_name}",
            chart_number=patient.chart_number,
            date_of_birth=patient.date_of_birth,
            rems_patient_id=patient.rems_patient_id,
            rems="rems_patient_enrolled" in spec.gating,
            session_type=type_name,
            series=series,
            room=room or "",
            start=start,
            end=appointment.ends_at.astimezone(tz),
            status=appointment.status,
            observation_minutes=observation,
            has_record=record is not None,
            dose_mg=record.dose_mg if record else None,
            devices=record.devices if record else None,
            lot_number=record.lot_number if record else "",
            dose_started_at=local(record.dose_started_at) if record else None,
            readings=tuple(lines),
            sedation=record.sedation if record else "",
            dissociation=record.dissociation if record else "",
            respiratory_depression=record.respiratory_depression if record else None,
            events=record.events if record else "",
            discharged_at=local(record.discharged_at) if record else None,
            monitored_minutes=record.monitored_minutes if record else None,
            monitored_by=monitored_by,
            printed_at=(now or utcnow()).astimezone(tz),
            logo=clinic_logo(settings),
            rems_form_deadline=(
                local(rems_form[0] or rems_form[1]) if rems_form is not None else None
            ),
            rems_form_done=rems_form is not None and rems_form[2] == "done",
        )


def _reading_line(
    label: str, planned: dt.datetime | None, r: VitalReading | None, tz: ZoneInfo
) -> RecordReading:
    if r is None:
        return RecordReading(label, planned, None)
    return RecordReading(
        label=label,
        planned=planned,
        taken_at=r.taken_at.astimezone(tz),
        systolic=r.systolic,
        diastolic=r.diastolic,
        heart_rate=r.heart_rate,
        spo2=r.spo2,
    )


_BLANK = '<span class="blank">______________</span>'
_SHORT_BLANK = '<span class="blank">________</span>'


def _value(value: object | None, unit: str = "", blank: str = _BLANK) -> str:
    """A recorded value, or a line to write on."""
    if value is None or value == "":
        return blank
    return f"<b>{html.escape(str(value))}</b>{html.escape(unit)}"


def _time_value(moment: dt.datetime | None, blank: str = _SHORT_BLANK) -> str:
    return _value(f"{moment:%H:%M}" if moment is not None else None, blank=blank)


def _box(checked: bool) -> str:
    return "&#9746;" if checked else "&#9744;"


def session_record_layout(sheet: SessionRecordSheet) -> PrintLayout:
    dob = f"{sheet.date_of_birth:%d %b %Y}" if sheet.date_of_birth else None
    rems_id = _value(sheet.rems_patient_id or None) if sheet.rems else "not a REMS session"
    blocks = [
        PrintBlock(
            _fill(
                "record_patient.html",
                patient=sheet.patient_name,
                chart=sheet.chart_number,
                dob_html=_value(dob),
                rems_id_html=rems_id,
                date=_long_date(sheet.start.date()),
                session_type=sheet.session_type,
                series=f"Series {sheet.series}" if sheet.series else "",
                booked=f"{_hm(sheet.start)} to {_hm(sheet.end)}",
                room=sheet.room or "no room",
            )
        ),
        PrintBlock(
            _fill(
                "record_dose.html",
                dose_html=_value(sheet.dose_mg, " mg"),
                devices_html=_value(sheet.devices, blank=_SHORT_BLANK),
                lot_html=_value(sheet.lot_number or None),
                dose_start_html=_time_value(sheet.dose_started_at),
            )
        ),
    ]
    rows = []
    for r in sheet.readings:
        bp = (
            f"{r.systolic}/{r.diastolic}"
            if r.systolic is not None and r.diastolic is not None
            else None
        )
        rows.append(
            _fill(
                "record_reading.html",
                label=r.label,
                planned=f"{_hm(r.planned)}" if r.planned else "",
                taken_html=_time_value(r.taken_at),
                bp_html=_value(bp, blank=_SHORT_BLANK),
                hr_html=_value(r.heart_rate, blank="_____"),
                spo2_html=_value(r.spo2, " %", blank="_____"),
            )
        )
    for _ in range(2):  # room to write rechecks while blood pressure stays raised
        rows.append(
            _fill(
                "record_reading.html",
                label="Recheck",
                planned="",
                taken_html=_SHORT_BLANK,
                bp_html=_SHORT_BLANK,
                hr_html="_____",
                spo2_html="_____",
            )
        )
    blocks.append(PrintBlock(_fill("record_vitals.html", rows_html="".join(rows))))
    resp = sheet.respiratory_depression
    blocks.append(
        PrintBlock(
            _fill(
                "record_assessment.html",
                sedation_html=_value(sheet.sedation or None),
                dissociation_html=_value(sheet.dissociation or None),
                resp_html=(
                    f"{_box(resp is True)} Yes &nbsp; {_box(resp is False)} No"
                    if resp is not None
                    else f"{_box(False)} Yes &nbsp; {_box(False)} No"
                ),
                events_html=(
                    html.escape(sheet.events).replace("\n", "<br/>")
                    if sheet.events
                    else ("None recorded" if sheet.has_record else _BLANK * 3)
                ),
            )
        )
    )
    blocks.append(
        PrintBlock(
            _fill(
                "record_discharge.html",
                discharge_html=_time_value(sheet.discharged_at),
                minutes_html=_value(sheet.monitored_minutes, " min", blank=_SHORT_BLANK),
                required=str(sheet.observation_minutes),
                monitored_by_html=_value(sheet.monitored_by or None),
            )
        )
    )
    if sheet.rems:
        text = "Transcribe onto the Spravato REMS Patient Monitoring Form"
        due = sheet.rems_form_deadline
        if sheet.rems_form_done:
            text += " (marked as sent)"
        elif due is not None:
            text += f" by {due:%a} {due.day} {due:%b %Y}"
        blocks.append(PrintBlock(_fill("notice_small.html", text=text + ".")))
    what = "Spravato session record" if sheet.rems else "Session monitoring record"
    return PrintLayout(
        clinic_name=sheet.clinic_name,
        title=f"{what}: {sheet.patient_name}, {_long_date(sheet.start.date())}",
        printed_at=sheet.printed_at,
        css=_template("style.css").template,
        blocks=tuple(blocks),
        logo=sheet.logo.path if sheet.logo else None,
        warnings=(sheet.logo.problem,) if sheet.logo and sheet.logo.problem else (),
    )
