"""Staff settings: who works here, in what role, when (weekly shifts, every week or every n-th
week from an anchor week), and which phases of which session types they may be booked for.

Staff are never deleted (their past sessions name them): they are deactivated, and a staff
member still holding future sessions is deactivated only when the caller insists (re-planning
those sessions is the consequences engine's work, ``settings/consequences.py``).  Every write
checks the "configure" permission, is audited with before and after, and bumps the change
counter so other workstations refresh.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling import dates, words
from ketadesk.scheduling.catalog import WEEKDAYS, ResourceKind, StaffRole
from ketadesk.scheduling.statuses import REPLANNED_STATUSES, ResourceNeed, resource_need
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import (
    Actor,
    Database,
    InvalidFields,
    NotFound,
    ServiceError,
    utcnow,
)
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import (
    Appointment,
    Patient,
    Resource,
    ResourceHold,
    SessionType,
    StaffMember,
    StaffQualification,
    StaffShift,
)

ROLES = tuple(r.value for r in StaffRole)
MINUTES_PER_DAY = 24 * 60
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^[0-9+()./\- x]*$")
# Column widths of the staff tables (store/models.py), so a form says "too long" before the
# database would.
_LIMITS = {
    "first_name": 80,
    "last_name": 80,
    "name": 120,
    "short_name": 16,
    "credentials": 40,
    "phone": 40,
    "email": 120,
}


def role_label(role: str) -> str:
    return words.role_label(role)


def clock(minute: int) -> str:
    """A minute of the day as stored and audited ("09:30", "24:00"): not what people read."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def clock_words(minute: int, fmt: str) -> str:
    """A minute of the day as the clinic reads it (``fmt``: "9:30 AM", or "09:30"); the end
    of the day (24 * 60) is midnight, "12:00 AM" (or "24:00")."""
    if minute >= MINUTES_PER_DAY and fmt == "24h":
        return clock(minute)
    return dates.clock(_time(minute), fmt)


def _time(minute: int) -> dt.time:
    return dt.time(minute // 60 % 24, minute % 60)


@dataclass(frozen=True, slots=True)
class ShiftRow:
    """One weekly shift: ``weekday`` 0 = Monday, local minutes of the day; every
    ``every_n_weeks`` weeks counted from the week holding ``anchor``."""

    weekday: int
    start_minute: int
    end_minute: int
    every_n_weeks: int = 1
    anchor: dt.date | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None

    def describe(self, fmt: str) -> str:
        """ "Mon 7:00 AM–6:30 PM" in the clinic's time format ``fmt``."""
        text = f"{WEEKDAYS[self.weekday].capitalize()} "
        if self.end_minute >= MINUTES_PER_DAY:  # to midnight: no dt.time says 24:00
            text += f"{clock_words(self.start_minute, fmt)}–{clock_words(self.end_minute, fmt)}"
        else:
            text += dates.clock_span(_time(self.start_minute), _time(self.end_minute), fmt)
        if self.every_n_weeks == 2:
            text += f", every other week from {self.anchor:%m/%d/%Y}" if self.anchor else ""
        elif self.every_n_weeks > 2:
            text += f", every {self.every_n_weeks} weeks"
            text += f" from {self.anchor:%m/%d/%Y}" if self.anchor else ""
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "weekday": self.weekday,
            "start": clock(self.start_minute),
            "end": clock(self.end_minute),
            "every_n_weeks": self.every_n_weeks,
            "anchor": self.anchor.isoformat() if self.anchor else None,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
        }


@dataclass(frozen=True, slots=True)
class StaffForm:
    """What the staff dialog sends.  ``name`` (the name on the schedule) defaults to first and
    last name; ``qualifications``: (session type code, phase key) pairs, none = anything the
    role is asked for."""

    role: str
    first_name: str
    last_name: str
    credentials: str = ""
    phone: str = ""
    email: str = ""
    name: str = ""
    short_name: str = ""
    shifts: tuple[ShiftRow, ...] = ()
    qualifications: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class StaffInfo:
    id: int
    name: str
    short_name: str
    role: str
    first_name: str
    last_name: str
    credentials: str
    phone: str
    email: str
    active: bool
    shifts: tuple[ShiftRow, ...] = ()
    qualifications: tuple[tuple[str, str], ...] = ()
    #: What the save noticed without refusing it (a shift outside opening hours).
    warnings: tuple[str, ...] = ()

    @property
    def role_label(self) -> str:
        return role_label(self.role)

    @property
    def printed_name(self) -> str:
        """The name as sheets print it: "Kim Nguyen, RN"."""
        full = f"{self.first_name} {self.last_name}".strip()
        return f"{full}, {self.credentials}" if self.credentials else full

    def as_form(self) -> StaffForm:
        return StaffForm(
            role=self.role,
            first_name=self.first_name,
            last_name=self.last_name,
            credentials=self.credentials,
            phone=self.phone,
            email=self.email,
            name=self.name,
            short_name=self.short_name,
            shifts=self.shifts,
            qualifications=self.qualifications,
        )


@dataclass(frozen=True, slots=True)
class PhaseChoice:
    """A phase of a session type that asks for staff of ``roles``: one row of the
    qualification list."""

    session_type: str
    session_type_name: str
    phase: str
    phase_name: str
    roles: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.session_type_name}: {self.phase_name}"


@dataclass(frozen=True, slots=True)
class BookedSession:
    """A session not yet over that holds the staff member (``starts_at`` in the clinic's zone)."""

    appointment_id: int
    starts_at: dt.datetime
    patient: str
    session_type: str
    #: How the clinic reads a time of day ([clinic] time_format).
    time_format: str = "12h"


class StaffStillBooked(ServiceError):
    """Deactivating a staff member who still holds future sessions: ``sessions`` lists them;
    nothing was changed (ask again with ``force`` once the desk has seen them)."""

    def __init__(self, name: str, sessions: Sequence[BookedSession]) -> None:
        self.sessions = tuple(sessions)
        super().__init__(
            f"{name} still holds {len(self.sessions)} booked session"
            f"{'s' if len(self.sessions) != 1 else ''} from now on; re-plan them first, or "
            "deactivate anyway"
        )


# --------------------------------------------------------------------------------------------
# Reading


def _info(session: Session, res: Resource) -> StaffInfo:
    member = res.staff
    shifts = session.scalars(
        select(StaffShift)
        .where(StaffShift.resource_id == res.id)
        .order_by(StaffShift.weekday, StaffShift.start_minute, StaffShift.id)
    )
    qualifications = session.execute(
        select(StaffQualification.session_type, StaffQualification.phase)
        .where(StaffQualification.resource_id == res.id)
        .order_by(StaffQualification.session_type, StaffQualification.phase)
    )
    return StaffInfo(
        id=res.id,
        name=res.name,
        short_name=res.short_name,
        role=member.role if member else res.subkind,
        first_name=member.first_name if member else "",
        last_name=member.last_name if member else "",
        credentials=member.credentials if member else "",
        phone=member.phone if member else "",
        email=member.email if member else "",
        active=res.active,
        shifts=tuple(
            ShiftRow(
                s.weekday,
                s.start_minute,
                s.end_minute,
                s.every_n_weeks,
                s.anchor_date,
                s.valid_from,
                s.valid_until,
            )
            for s in shifts
        ),
        qualifications=tuple((t, p) for t, p in qualifications),
    )


def list_staff(db: Database, *, include_inactive: bool = False) -> tuple[StaffInfo, ...]:
    """The clinic's staff by role, then schedule order and name; inactive ones on request."""
    with db.read() as session:
        stmt = select(Resource).where(Resource.kind == ResourceKind.STAFF.value)
        if not include_inactive:
            stmt = stmt.where(Resource.active.is_(True))
        rank = {role: i for i, role in enumerate(ROLES)}
        rows = sorted(
            session.scalars(stmt),
            key=lambda r: (not r.active, rank.get(r.subkind, len(rank)), r.sort_order, r.name),
        )
        return tuple(_info(session, r) for r in rows)


def get_staff(db: Database, staff_id: int) -> StaffInfo:
    with db.read() as session:
        return _info(session, _staff_resource(session, staff_id))


def phase_choices(catalog: Catalog) -> tuple[PhaseChoice, ...]:
    """Every phase of every session type that holds staff, with the roles it asks for."""
    out: list[PhaseChoice] = []
    for spec in catalog.session_types.values():
        roles_by_phase: dict[str, list[str]] = {}
        for need in spec.needs:
            if need.kind is not ResourceKind.STAFF:
                continue
            for key in spec.need_phases(need):
                roles = roles_by_phase.setdefault(key, [])
                if need.subkind not in roles:
                    roles.append(need.subkind)
        for phase in spec.phases:
            if phase.key in roles_by_phase:
                out.append(
                    PhaseChoice(
                        spec.code,
                        spec.name,
                        phase.key,
                        phase.name,
                        tuple(roles_by_phase[phase.key]),
                    )
                )
    return tuple(out)


def qualification_choices(db: Database) -> tuple[PhaseChoice, ...]:
    with db.read() as session:
        return phase_choices(load_catalog(session))


def future_sessions(
    db: Database, staff_id: int, *, now: dt.datetime | None = None
) -> tuple[BookedSession, ...]:
    """The sessions still ahead that hold this staff member (``statuses.resource_need``: not
    under way, attended, cancelled or missed)."""
    now = now or utcnow()
    with db.read() as session:
        return tuple(_future_sessions(session, staff_id, now))


def _future_sessions(session: Session, staff_id: int, now: dt.datetime) -> list[BookedSession]:
    rows = session.execute(
        select(
            Appointment.id,
            Appointment.starts_at,
            Patient.first_name,
            Patient.last_name,
            SessionType.name,
            Appointment.status,
            Appointment.ends_at,
            Appointment.hold_until,
        )
        .join(ResourceHold, ResourceHold.appointment_id == Appointment.id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(SessionType, SessionType.id == Appointment.session_type_id)
        .where(
            ResourceHold.resource_id == staff_id,
            Appointment.ends_at > now,
            Appointment.status.in_(sorted(REPLANNED_STATUSES)),
        )
        .distinct()
        .order_by(Appointment.starts_at, Appointment.id)
    )
    settings = load_catalog(session).settings
    tz = ZoneInfo(settings.timezone)
    return [
        BookedSession(
            aid, starts.astimezone(tz), f"{first} {last}", type_name, settings.time_format
        )
        for aid, starts, first, last, type_name, status, ends, hold_until in rows
        if resource_need(status, ends, now, hold_until=hold_until) is ResourceNeed.AHEAD
    ]


# --------------------------------------------------------------------------------------------
# Validation


def _week_number(day: dt.date) -> int:
    """Weeks since the proleptic calendar's first Monday (ordinal 1 is a Monday)."""
    return (day.toordinal() - 1) // 7


def _weeks_meet(a: ShiftRow, b: ShiftRow) -> bool:
    """Whether two patterns can fall in the same week (every n-th week from an anchor)."""
    if a.every_n_weeks <= 1 or b.every_n_weeks <= 1 or a.anchor is None or b.anchor is None:
        return True
    step = math.gcd(a.every_n_weeks, b.every_n_weeks)
    return (_week_number(a.anchor) - _week_number(b.anchor)) % step == 0


def _dates_meet(a: ShiftRow, b: ShiftRow) -> bool:
    lo = max(a.valid_from or dt.date.min, b.valid_from or dt.date.min)
    hi = min(a.valid_until or dt.date.max, b.valid_until or dt.date.max)
    return lo <= hi


def shift_problem(s: ShiftRow, fmt: str) -> tuple[str, str] | None:
    """The first mistake in one shift on its own: (the ShiftRow field at fault, what is
    wrong), or None.  The settings form and the configuration import both ask this."""
    if not 0 <= s.weekday <= 6:
        return "weekday", "the weekday must be Monday to Sunday"
    if not (0 <= s.start_minute < MINUTES_PER_DAY and 0 < s.end_minute <= MINUTES_PER_DAY):
        return "end_minute", "times must lie within the day (00:00-24:00)"
    if s.start_minute >= s.end_minute:
        return "end_minute", (
            f"it must start before it ends "
            f"({clock_words(s.start_minute, fmt)} is not before {clock_words(s.end_minute, fmt)})"
        )
    if s.every_n_weeks < 1:
        return "every_n_weeks", "it repeats every 1 week or more"
    if s.every_n_weeks > 1 and s.anchor is None:
        return "anchor", "say which week it starts in (alternate weeks)"
    if s.valid_from and s.valid_until and s.valid_from > s.valid_until:
        return "valid_until", "'valid from' must not be after 'valid until'"
    return None


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def shift_hours_warnings(
    shifts: Sequence[ShiftRow], hours: Mapping[str, tuple[dt.time, dt.time] | None], fmt: str
) -> tuple[str, ...]:
    """A warning (never a refusal: staff may prepare before opening or finish paperwork after
    closing) for each shift that runs outside the clinic's opening hours that weekday."""
    found = []
    for i, s in enumerate(shifts, start=1):
        day = WEEKDAYS[s.weekday]
        opening = hours.get(day)
        on = f"on {_DAY_NAMES[s.weekday]}s"
        if opening is None:
            found.append(f"shift {i} ({s.describe(fmt)}): the clinic is closed {on}")
            continue
        opens = opening[0].hour * 60 + opening[0].minute
        closes = opening[1].hour * 60 + opening[1].minute
        outside = []
        if s.start_minute < opens:
            outside.append(f"starts before opening ({clock_words(opens, fmt)} {on})")
        if s.end_minute > closes:
            outside.append(f"runs past closing ({clock_words(closes, fmt)} {on})")
        if outside:
            found.append(f"shift {i} ({s.describe(fmt)}) {' and '.join(outside)}")
    return tuple(found)


def overlapping_shifts(shifts: Sequence[ShiftRow]) -> list[tuple[int, int]]:
    """(i, j), 0-based with i < j, for each shift j that can fall on the same hours of the same
    day as an earlier shift i (same weekday, a week in common, validity in common)."""
    found = []
    for i, a in enumerate(shifts):
        for j in range(i + 1, len(shifts)):
            b = shifts[j]
            if (
                a.weekday == b.weekday
                and a.start_minute < b.end_minute
                and b.start_minute < a.end_minute
                and _weeks_meet(a, b)
                and _dates_meet(a, b)
            ):
                found.append((i, j))
    return found


def shift_problems(shifts: Sequence[ShiftRow], fmt: str) -> dict[str, str]:
    """Per shift (``shifts.N``, N from 1), what is wrong with it."""
    errors: dict[str, str] = {}
    for i, s in enumerate(shifts, start=1):
        problem = shift_problem(s, fmt)
        if problem is not None:
            errors[f"shifts.{i}"] = f"shift {i}: {problem[1]}"
    if errors:
        return errors
    for i, j in overlapping_shifts(shifts):
        a, b = shifts[i], shifts[j]
        errors[f"shifts.{j + 1}"] = (
            f"shift {j + 1} ({b.describe(fmt)}) overlaps shift {i + 1} ({a.describe(fmt)})"
        )
    return errors


def qualification_problem(
    choices: Sequence[PhaseChoice], role: str, pairs: Sequence[tuple[str, str]]
) -> tuple[int, str] | None:
    """The first (session type, phase) pair a staff member of ``role`` cannot be qualified
    for, as (its index, why), or None.  ``choices``: ``phase_choices`` of the catalog."""
    by_pair = {(c.session_type, c.phase): c for c in choices}
    types = {c.session_type for c in choices}
    for n, pair in enumerate(pairs):
        choice = by_pair.get(pair)
        if choice is None:
            if pair[0] not in types:
                return n, f"no session type {pair[0]!r} holds staff"
            return n, f"no session type phase {pair[0]}/{pair[1]} holds staff"
        if role in ROLES and role not in choice.roles:
            return n, f"{choice.label} does not ask for a {role_label(role).lower()}"
    return None


def _check_form(
    session: Session, catalog: Catalog, form: StaffForm, staff_id: int | None
) -> tuple[StaffForm, dict[str, str]]:
    first, last = form.first_name.strip(), form.last_name.strip()
    name = form.name.strip() or f"{first} {last}".strip()
    clean = StaffForm(
        role=form.role,
        first_name=first,
        last_name=last,
        credentials=form.credentials.strip(),
        phone=form.phone.strip(),
        email=form.email.strip(),
        name=name,
        short_name=form.short_name.strip(),
        shifts=tuple(form.shifts),
        qualifications=tuple(dict.fromkeys(form.qualifications)),
    )
    errors: dict[str, str] = {}
    if clean.role not in ROLES:
        errors["role"] = f"choose one of: {', '.join(role_label(r) for r in ROLES)}"
    if not first:
        errors["first_name"] = "the first name is required"
    if not last:
        errors["last_name"] = "the last name is required"
    for key, limit in _LIMITS.items():
        if key not in errors and len(getattr(clean, key)) > limit:
            errors[key] = f"at most {limit} characters"
    if "phone" not in errors and clean.phone:
        digits = sum(c.isdigit() for c in clean.phone)
        if not _PHONE.match(clean.phone) or digits < 7:
            errors["phone"] = "a phone number such as (619) 555-0142"
    if "email" not in errors and clean.email and not _EMAIL.match(clean.email):
        errors["email"] = "an e-mail address such as kim@example.org"
    if "name" not in errors and name:
        taken = session.scalar(select(Resource.id).where(Resource.name == name))
        if taken is not None and taken != staff_id:
            errors["name"] = f"another resource or staff member is already called {name!r}"
    errors.update(shift_problems(clean.shifts, catalog.settings.time_format))
    problem = qualification_problem(phase_choices(catalog), clean.role, clean.qualifications)
    if problem is not None:
        errors["qualifications"] = problem[1]
    return clean, errors


# --------------------------------------------------------------------------------------------
# Writing


def _staff_resource(session: Session, staff_id: int) -> Resource:
    res = session.get(Resource, staff_id)
    if res is None or res.kind != ResourceKind.STAFF.value:
        raise NotFound(f"no staff member #{staff_id}")
    return res


def _snapshot(info: StaffInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "short_name": info.short_name,
        "role": info.role,
        "first_name": info.first_name,
        "last_name": info.last_name,
        "credentials": info.credentials,
        "phone": info.phone,
        "email": info.email,
        "active": info.active,
        "shifts": [s.as_dict() for s in info.shifts],
        "qualifications": [list(q) for q in info.qualifications],
    }


def _write_rows(session: Session, res: Resource, form: StaffForm, catalog: Catalog) -> None:
    if res.subkind != form.role:
        res.capacity = catalog.settings.capacity_for_role(form.role)
    res.subkind = form.role
    res.name = form.name
    res.short_name = form.short_name
    member = res.staff
    if member is None:
        member = StaffMember(resource_id=res.id, role=form.role, first_name="", last_name="")
        session.add(member)
    member.role = form.role
    member.first_name = form.first_name
    member.last_name = form.last_name
    member.credentials = form.credentials
    member.phone = form.phone
    member.email = form.email
    session.execute(delete(StaffShift).where(StaffShift.resource_id == res.id))
    session.execute(delete(StaffQualification).where(StaffQualification.resource_id == res.id))
    for s in form.shifts:
        session.add(
            StaffShift(
                resource_id=res.id,
                weekday=s.weekday,
                start_minute=s.start_minute,
                end_minute=s.end_minute,
                every_n_weeks=s.every_n_weeks,
                anchor_date=s.anchor if s.every_n_weeks > 1 else None,
                valid_from=s.valid_from,
                valid_until=s.valid_until,
            )
        )
    for session_type, phase in form.qualifications:
        session.add(StaffQualification(resource_id=res.id, session_type=session_type, phase=phase))
    session.flush()
    session.refresh(res)


def add_staff(
    db: Database, actor: Actor, form: StaffForm, *, now: dt.datetime | None = None
) -> StaffInfo:
    """Add a staff member (a staff resource and its details, shifts and qualifications)."""
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        catalog = load_catalog(session)
        clean, errors = _check_form(session, catalog, form, None)
        if errors:
            raise InvalidFields(errors)
        last = session.scalar(
            select(Resource.sort_order)
            .where(Resource.kind == ResourceKind.STAFF.value)
            .order_by(Resource.sort_order.desc())
            .limit(1)
        )
        res = Resource(
            kind=ResourceKind.STAFF.value,
            subkind=clean.role,
            name=clean.name,
            short_name=clean.short_name,
            capacity=catalog.settings.capacity_for_role(clean.role),
            sort_order=(last or 0) + 1,
        )
        session.add(res)
        session.flush()
        _write_rows(session, res, clean, catalog)
        info = _info(session, res)
        audit.record(session, actor, "add_staff", "staff", res.id, after=_snapshot(info), now=now)
        changes.bump(session, now)
        return replace(
            info,
            warnings=shift_hours_warnings(
                info.shifts, catalog.settings.hours, catalog.settings.time_format
            ),
        )


def update_staff(
    db: Database, actor: Actor, staff_id: int, form: StaffForm, *, now: dt.datetime | None = None
) -> StaffInfo:
    """Change a staff member's details, shifts and qualifications (all replaced by the form)."""
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        catalog = load_catalog(session)
        res = _staff_resource(session, staff_id)
        before = _info(session, res)
        clean, errors = _check_form(session, catalog, form, staff_id)
        if errors:
            raise InvalidFields(errors)
        _write_rows(session, res, clean, catalog)
        after = _info(session, res)
        if after != before:
            audit.record(
                session,
                actor,
                "edit_staff",
                "staff",
                staff_id,
                before=_snapshot(before),
                after=_snapshot(after),
                now=now,
            )
            changes.bump(session, now)
        return replace(
            after,
            warnings=shift_hours_warnings(
                after.shifts, catalog.settings.hours, catalog.settings.time_format
            ),
        )


def set_staff_active(
    db: Database,
    actor: Actor,
    staff_id: int,
    active: bool,
    *,
    force: bool = False,
    now: dt.datetime | None = None,
) -> StaffInfo:
    """Deactivate (never delete) or reactivate a staff member.  Deactivating one who still
    holds sessions from ``now`` on raises StaffStillBooked listing them, unless ``force``."""
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        res = _staff_resource(session, staff_id)
        before = _info(session, res)
        if before.active == active:
            return before
        if not active:
            booked = _future_sessions(session, staff_id, now)
            if booked and not force:
                raise StaffStillBooked(res.name, booked)
        res.active = active
        session.flush()
        after = _info(session, res)
        audit.record(
            session,
            actor,
            "activate_staff" if active else "deactivate_staff",
            "staff",
            staff_id,
            before={"active": before.active},
            after={"active": after.active},
            detail=res.name,
            now=now,
        )
        changes.bump(session, now)
        return after


@dataclass(frozen=True, slots=True)
class StaffScreen:
    """What the staff settings page shows: the staff, and the phases they may be booked for."""

    staff: tuple[StaffInfo, ...]
    phases: tuple[PhaseChoice, ...] = field(default=())
    #: How the clinic reads a time of day ([clinic] time_format): shifts are shown so.
    time_format: str = "12h"


def staff_screen(db: Database, *, include_inactive: bool = True) -> StaffScreen:
    with db.read() as session:
        time_format = load_catalog(session).settings.time_format
    return StaffScreen(
        list_staff(db, include_inactive=include_inactive), qualification_choices(db), time_format
    )
