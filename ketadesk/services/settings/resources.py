"""Rooms and equipment in the clinic's settings: list, add, edit, retire and reactivate.

A resource is never deleted: its past holds keep pointing at it, so a retired room still shows in
last year's schedule.  Retiring one that still has booked sessions ahead is refused (with the
sessions listed) unless the caller forces it; moving those sessions is the consequences engine's
job, reached by marking the resource out of service instead.  Which session types a resource
serves (``Resource.serves``) is honoured by the planner (``Availability.candidates``) and by the
booking re-check (``plan_check.verify_plan``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling.availability import subkind_label
from ketadesk.scheduling.calendar import ClosureSpan, Interval
from ketadesk.scheduling.catalog import SUBKINDS, ResourceKind
from ketadesk.scheduling.closure_repeats import expand
from ketadesk.scheduling.dates import clock
from ketadesk.scheduling.statuses import (
    REPLANNED_STATUSES,
    UNDER_WAY_STATUSES,
    ResourceNeed,
    resource_need,
)
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import (
    Actor,
    InvalidFields,
    NotFound,
    ServiceError,
    utcnow,
)
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import Appointment, Closure, Patient, Resource, ResourceHold, SessionType

#: The kinds this page keeps (staff are the staff settings' own).
KINDS = (ResourceKind.ROOM.value, ResourceKind.EQUIPMENT.value)
KIND_LABELS = {"room": "Room", "equipment": "Equipment"}
# What a closure of a single resource is called when the resource is out of service.
MAINTENANCE = "maintenance"
#: Where an out-of-service window is entered, as the settings window names it.
AVAILABILITY_PAGE = "Settings ▸ Closures and time off"
# The longest names the table takes (the schema decides, not this module).
NAME_LENGTH: int = Resource.__table__.c.name.type.length  # type: ignore[attr-defined]
SHORT_NAME_LENGTH: int = Resource.__table__.c.short_name.type.length  # type: ignore[attr-defined]


class ResourceInUse(ServiceError):
    """Retiring a resource that still holds booked sessions ahead; ``sessions`` lists them."""

    def __init__(self, message: str, sessions: Sequence[HeldSession]) -> None:
        super().__init__(message)
        self.sessions = tuple(sessions)


@dataclass(frozen=True, slots=True)
class HeldSession:
    """A booked session ahead that holds the resource, as the desk reads it."""

    appointment_id: int
    starts_at: dt.datetime
    label: str  # "Mon 12/7 10:00 Lovelace, A. (IV ketamine infusion)"
    session_type: str = ""  # its code


@dataclass(frozen=True, slots=True)
class ResourceRow:
    id: int
    kind: str
    subkind: str
    name: str
    short_name: str
    capacity: int
    active: bool
    sort_order: int
    notes: str
    serves: tuple[str, ...]  # session type codes; empty: every type that asks for the subkind
    sessions_ahead: int  # booked sessions from now on that hold it
    out_of_service: str  # the current or next maintenance window, "" when none

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def subkind_label(self) -> str:
        return subkind_label(self.subkind)


@dataclass(frozen=True, slots=True)
class SessionTypeChoice:
    code: str
    name: str
    needs: frozenset[tuple[str, str]]  # (kind, subkind) of each resource the type asks for

    def uses(self, kind: str, subkind: str) -> bool:
        return (kind, subkind) in self.needs


@dataclass(frozen=True, slots=True)
class ResourceChoices:
    """What a room or piece of equipment may be: the subkinds the session types know, and the
    session types that could be served."""

    subkinds: dict[str, tuple[str, ...]]
    session_types: tuple[SessionTypeChoice, ...]

    def session_types_for(self, kind: str, subkind: str) -> tuple[SessionTypeChoice, ...]:
        return tuple(t for t in self.session_types if t.uses(kind, subkind))


@dataclass(frozen=True, slots=True)
class ResourceList:
    rows: tuple[ResourceRow, ...]
    choices: ResourceChoices
    session_type_names: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResourceForm:
    """A room or piece of equipment as the edit dialog fills it in (text as typed)."""

    kind: str = "room"
    subkind: str = "treatment"
    name: str = ""
    short_name: str = ""
    capacity: str = "1"
    serves: tuple[str, ...] = ()
    notes: str = ""


@dataclass(frozen=True, slots=True)
class RetireResult:
    resource_id: int
    left_in_place: tuple[HeldSession, ...]  # sessions ahead a forced retirement left booked

    @property
    def message(self) -> str:
        if not self.left_in_place:
            return "Retired."
        n = len(self.left_in_place)
        return (
            f"Retired; {n} booked session{'s' if n != 1 else ''} ahead still hold it and must be"
            " moved: " + "; ".join(s.label for s in self.left_in_place)
        )


# --------------------------------------------------------------------------------------------
# Reading


def _choices(catalog: Catalog) -> ResourceChoices:
    types = tuple(
        SessionTypeChoice(
            code=spec.code,
            name=spec.name,
            needs=frozenset((n.kind.value, n.subkind) for n in spec.needs),
        )
        for spec in catalog.session_types.values()
    )
    return ResourceChoices(
        subkinds={kind: SUBKINDS[ResourceKind(kind)] for kind in KINDS}, session_types=types
    )


def _span(catalog: Catalog, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> str:
    """A window as the desk says it: "until Thu 12/3 08:00" (begun), "Tue 11/24 14:00-18:00"
    (within a day), "Wed 11/25 10:15 to Fri 11/27 10:15"."""
    zone = ZoneInfo(catalog.settings.timezone)
    if start <= now:
        return f"until {_describe(catalog, end)}"
    if start.astimezone(zone).date() == end.astimezone(zone).date():
        until = clock(end.astimezone(zone), catalog.settings.time_format)
        return f"{_describe(catalog, start)}–{until}"
    return f"{_describe(catalog, start)} to {_describe(catalog, end)}"


def _describe(catalog: Catalog, start: dt.datetime) -> str:
    local = start.astimezone(ZoneInfo(catalog.settings.timezone))
    return f"{local:%a %-m/%-d} {clock(local, catalog.settings.time_format)}"


def _maybe_ahead(now: dt.datetime) -> Any:
    """A coarse filter for sessions that may still need their resources after ``now``; each
    row is then judged by ``statuses.resource_need``, the one rule."""
    return (Appointment.ends_at > now) & Appointment.status.in_(sorted(_NEEDING))


_NEEDING = REPLANNED_STATUSES | UNDER_WAY_STATUSES


def _is_ahead(
    status: str, ends_at: dt.datetime, hold_until: dt.datetime | None, now: dt.datetime
) -> bool:
    return resource_need(status, ends_at, now, hold_until=hold_until) is ResourceNeed.AHEAD


def sessions_ahead(
    session: Session, resource_id: int, now: dt.datetime, catalog: Catalog
) -> list[HeldSession]:
    """Booked sessions still ahead (``statuses.resource_need``) that hold the resource (or have
    it as their room), earliest first.  A session under way or already attended is not one."""
    held = (
        select(ResourceHold.appointment_id)
        .where(
            ResourceHold.resource_id == resource_id,
            ResourceHold.active.is_(True),
            ResourceHold.ends_at > now,
        )
        .subquery()
    )
    stmt = (
        select(
            Appointment.id,
            Appointment.starts_at,
            Appointment.ends_at,
            Appointment.status,
            Appointment.hold_until,
            Patient.last_name,
            Patient.first_name,
            SessionType.name,
            SessionType.code,
        )
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(SessionType, SessionType.id == Appointment.session_type_id)
        .where(
            _maybe_ahead(now),
            (Appointment.room_id == resource_id)
            | Appointment.id.in_(select(held.c.appointment_id)),
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )
    return [
        HeldSession(
            appointment_id=aid,
            starts_at=start,
            label=f"{_describe(catalog, start)} {last}, {first[:1]}. ({type_name})",
            session_type=code,
        )
        for aid, start, end, status, hold_until, last, first, type_name, code in session.execute(
            stmt
        )
        if _is_ahead(status, end, hold_until, now)
    ]


def _counts_ahead(session: Session, now: dt.datetime) -> dict[int, int]:
    """How many booked sessions still ahead hold each resource (or have it as their room)."""
    ahead = {
        int(aid)
        for aid, status, end, hold_until in session.execute(
            select(
                Appointment.id, Appointment.status, Appointment.ends_at, Appointment.hold_until
            ).where(_maybe_ahead(now))
        )
        if _is_ahead(status, end, hold_until, now)
    }
    holds = select(ResourceHold.resource_id, ResourceHold.appointment_id).where(
        ResourceHold.active.is_(True), ResourceHold.ends_at > now
    )
    pairs: set[tuple[int, int]] = {
        (int(r), int(a)) for r, a in session.execute(holds) if int(a) in ahead
    }
    rooms = select(Appointment.room_id, Appointment.id).where(
        Appointment.room_id.is_not(None), _maybe_ahead(now)
    )
    pairs.update(
        (int(r), int(a)) for r, a in session.execute(rooms) if r is not None and int(a) in ahead
    )
    counts: dict[int, int] = {}
    for rid, _appointment in pairs:
        counts[rid] = counts.get(rid, 0) + 1
    return counts


def _out_of_service(session: Session, catalog: Catalog, now: dt.datetime) -> dict[int, str]:
    """The current or next maintenance window of each resource that has one (read only: the
    windows are entered in Settings ▸ Closures and time off)."""
    stmt = (
        select(
            Closure.resource_id,
            Closure.starts_at,
            Closure.ends_at,
            Closure.reason,
            Closure.repeat_rule,
        )
        .where(
            Closure.kind == MAINTENANCE,
            Closure.resource_id.is_not(None),
            Closure.ends_at > now,
        )
        .order_by(Closure.starts_at)
    )
    zone = ZoneInfo(catalog.settings.timezone)
    windows: dict[int, ClosureSpan] = {}
    for rid, start, end, reason, rule in session.execute(stmt):
        if rid is None:
            continue
        stored = ClosureSpan(Interval(start, end), reason, MAINTENANCE, rid)
        # A repeating one's current or next day, not its first.
        ahead = [c for c in expand(stored, rule, zone) if c.span.end > now]
        if ahead and (rid not in windows or ahead[0].span.start < windows[rid].span.start):
            windows[rid] = ahead[0]
    found: dict[int, str] = {}
    for rid, window in windows.items():
        text = f"Out of service {_span(catalog, window.span.start, window.span.end, now)}"
        found[rid] = f"{text}: {window.reason}" if window.reason else text
    return found


def list_resources(
    db: Database, *, include_retired: bool = False, now: dt.datetime | None = None
) -> ResourceList:
    """The clinic's rooms and equipment (retired ones too on request), in the clinic's order."""
    now = now or utcnow()
    with db.read() as session:
        catalog = load_catalog(session)
        stmt = (
            select(Resource)
            .where(Resource.kind.in_(KINDS))
            .order_by(Resource.kind.desc(), Resource.sort_order, Resource.name)
        )
        if not include_retired:
            stmt = stmt.where(Resource.active.is_(True))
        counts = _counts_ahead(session, now)
        windows = _out_of_service(session, catalog, now)
        rows = tuple(
            ResourceRow(
                id=r.id,
                kind=r.kind,
                subkind=r.subkind,
                name=r.name,
                short_name=r.short_name,
                capacity=r.capacity,
                active=r.active,
                sort_order=r.sort_order,
                notes=r.notes,
                serves=tuple(r.serves or ()),
                sessions_ahead=counts.get(r.id, 0),
                out_of_service=windows.get(r.id, ""),
            )
            for r in session.scalars(stmt)
        )
        return ResourceList(
            rows=rows,
            choices=_choices(catalog),
            session_type_names={c: s.name for c, s in catalog.session_types.items()},
        )


def resource_choices(db: Database) -> ResourceChoices:
    with db.read() as session:
        return _choices(load_catalog(session))


def form_of(row: ResourceRow) -> ResourceForm:
    """The edit dialog's form for a listed resource."""
    return ResourceForm(
        kind=row.kind,
        subkind=row.subkind,
        name=row.name,
        short_name=row.short_name,
        capacity=str(row.capacity),
        serves=row.serves,
        notes=row.notes,
    )


# --------------------------------------------------------------------------------------------
# Checking a form


def serves_problem(
    catalog: Catalog, kind: str | None, subkind: str | None, serves: Sequence[str]
) -> str:
    """What is wrong with the session types a resource is kept for ("" when nothing): a code
    the catalog lacks, or (given its kind and subkind) a type that never asks for such a
    resource.  The settings form and the configuration import both ask this."""
    unknown = [c for c in serves if c not in catalog.session_types]
    if unknown:
        return f"no session type {', '.join(unknown)}"
    if kind is None or subkind is None:
        return ""
    unused = [
        catalog.session_types[c].name
        for c in serves
        if not any(
            n.kind.value == kind and n.subkind == subkind for n in catalog.session_types[c].needs
        )
    ]
    if unused:
        return (
            f"{', '.join(unused)} never use{'s' if len(unused) == 1 else ''}"
            f" a {subkind_label(subkind)}"
        )
    return ""


def validate_resource(
    session: Session, form: ResourceForm, catalog: Catalog, *, resource_id: int | None = None
) -> tuple[dict[str, str], dict[str, Any]]:
    """(field -> message for each mistake, the column values of a valid form)."""
    errors: dict[str, str] = {}
    kind = form.kind.strip()
    subkind = form.subkind.strip()
    name = " ".join(form.name.split())
    short_name = form.short_name.strip()
    if kind not in KINDS:
        errors["kind"] = "choose a room or equipment"
    elif subkind not in SUBKINDS[ResourceKind(kind)]:
        known = ", ".join(subkind_label(s) for s in SUBKINDS[ResourceKind(kind)])
        errors["subkind"] = f"choose one of: {known}"
    if not name:
        errors["name"] = "enter a name"
    elif len(name) > NAME_LENGTH:
        errors["name"] = f"at most {NAME_LENGTH} characters"
    if len(short_name) > SHORT_NAME_LENGTH:
        errors["short_name"] = f"at most {SHORT_NAME_LENGTH} characters"
    capacity = 0
    text = form.capacity.strip()
    if not text.isdigit() or int(text) < 1:
        errors["capacity"] = "enter a whole number, 1 or more"
    else:
        capacity = int(text)
    serves = tuple(dict.fromkeys(c.strip() for c in form.serves if c.strip()))
    if "kind" not in errors and "subkind" not in errors:
        problem = serves_problem(catalog, kind, subkind, serves)
    else:
        problem = serves_problem(catalog, None, None, serves)
    if problem:
        errors["serves"] = problem
    same = func.lower(Resource.name) == name.lower()
    if short_name:
        same = same | (func.lower(Resource.short_name) == short_name.lower())
    others = select(Resource.name, Resource.short_name).where(same)
    if resource_id is not None:
        others = others.where(Resource.id != resource_id)
    for other_name, other_short in session.execute(others):
        if name and other_name.lower() == name.lower():
            errors.setdefault("name", f"{other_name} already exists; choose another name")
        if short_name and other_short.lower() == short_name.lower():
            errors.setdefault(
                "short_name", f"{other_name} already has the short name {other_short}"
            )
    values = {
        "kind": kind,
        "subkind": subkind,
        "name": name,
        "short_name": short_name,
        "capacity": capacity,
        "serves": sorted(serves),
        "notes": form.notes.strip(),
    }
    return errors, values


_AUDITED = ("kind", "subkind", "name", "short_name", "capacity", "serves", "notes", "active")


def _state(res: Resource) -> dict[str, Any]:
    return {
        "kind": res.kind,
        "subkind": res.subkind,
        "name": res.name,
        "short_name": res.short_name,
        "capacity": res.capacity,
        "serves": sorted(res.serves or ()),
        "notes": res.notes,
        "active": res.active,
    }


def _locked(session: Session, resource_id: int) -> Resource:
    """The resource, row-locked for the transaction on PostgreSQL (bookings share-lock it)."""
    res = session.scalar(select(Resource).where(Resource.id == resource_id).with_for_update())
    if res is None or res.kind not in KINDS:
        raise NotFound(f"no room or equipment #{resource_id}")
    return res


def _stranded(
    session: Session, res: Resource, values: dict[str, Any], catalog: Catalog, now: dt.datetime
) -> dict[str, str]:
    """Field messages for an edit that would leave booked sessions ahead holding a resource that
    no longer suits them (another subkind, or session types served that leave theirs out)."""
    old, new = set(res.serves or ()), set(values["serves"])
    narrowed = bool(new) and (not old or not new >= old)  # empty: every type
    if values["subkind"] == res.subkind and not narrowed:
        return {}
    ahead = sessions_ahead(session, res.id, now, catalog)
    if values["subkind"] != res.subkind and ahead:
        return {"subkind": _still_booked(ahead, "move them first or add a new one")}
    left_out = [s for s in ahead if new and s.session_type not in new]
    if left_out:
        return {"serves": _still_booked(left_out, "tick their session type or move them first")}
    return {}


def _still_booked(ahead: Sequence[HeldSession], advice: str) -> str:
    n = len(ahead)
    shown = "; ".join(s.label for s in ahead[:_LISTED])
    more = f"; and {n - _LISTED} more" if n > _LISTED else ""
    plural = "s" if n != 1 else ""
    return f"{n} booked session{plural} ahead would no longer fit ({shown}{more}): {advice}"


# How many sessions a field message lists before "and N more".
_LISTED = 3


def _clash(form: ResourceForm) -> InvalidFields:
    # Another workstation took the name between this transaction's check and its write.
    return InvalidFields({"name": f"{form.name.strip()} already exists; choose another name"})


# --------------------------------------------------------------------------------------------
# Writing


def add_resource(
    db: Database, actor: Actor, form: ResourceForm, *, now: dt.datetime | None = None
) -> int:
    """Add a room or piece of equipment; returns its id.  InvalidFields (nothing saved) for a
    form with mistakes; PermissionDenied (recorded) unless the actor may configure."""
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    try:
        with db.write() as session:
            catalog = load_catalog(session)
            errors, values = validate_resource(session, form, catalog)
            if errors:
                raise InvalidFields(errors)
            last = session.scalar(
                select(func.max(Resource.sort_order)).where(Resource.kind == values["kind"])
            )
            res = Resource(**values, sort_order=(last or 0) + 1, active=True)
            session.add(res)
            session.flush()
            audit.record(
                session, actor, "add_resource", "resource", res.id, after=_state(res), now=now
            )
            changes.bump(session, now)
            return res.id
    except IntegrityError as err:
        raise _clash(form) from err


def update_resource(
    db: Database,
    actor: Actor,
    resource_id: int,
    form: ResourceForm,
    *,
    now: dt.datetime | None = None,
) -> tuple[str, ...]:
    """Save an edited room or piece of equipment (rename, subkind, capacity, session types
    served, notes); returns the names of the fields that changed (empty: nothing written)."""
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    try:
        with db.write() as session:
            res = _locked(session, resource_id)
            catalog = load_catalog(session)
            errors, values = validate_resource(session, form, catalog, resource_id=resource_id)
            if values["kind"] != res.kind and "kind" not in errors:
                errors["kind"] = "a room stays a room and equipment stays equipment; add a new one"
            if not errors:
                errors.update(_stranded(session, res, values, catalog, now))
            if errors:
                raise InvalidFields(errors)
            before = _state(res)
            for name, value in values.items():
                setattr(res, name, value)
            after = _state(res)
            changed = tuple(n for n in _AUDITED if before[n] != after[n])
            if not changed:
                return ()
            audit.record(
                session,
                actor,
                "edit_resource",
                "resource",
                res.id,
                before={n: before[n] for n in changed},
                after={n: after[n] for n in changed},
                now=now,
            )
            changes.bump(session, now)
            return changed
    except IntegrityError as err:
        raise _clash(form) from err


def retire_resource(
    db: Database,
    actor: Actor,
    resource_id: int,
    *,
    force: bool = False,
    now: dt.datetime | None = None,
) -> RetireResult:
    """Retire a room or piece of equipment: it is offered for nothing from now on, and keeps
    its past holds.  With booked sessions ahead it raises ResourceInUse listing them, unless
    ``force`` (then they stay booked, and the result says which)."""
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        res = _locked(session, resource_id)
        if not res.active:
            return RetireResult(resource_id, ())
        catalog = load_catalog(session)
        ahead = sessions_ahead(session, resource_id, now, catalog)
        if ahead and not force:
            n = len(ahead)
            raise ResourceInUse(
                f"{res.name} still has {n} booked session{'s' if n != 1 else ''} ahead: "
                + "; ".join(s.label for s in ahead)
                + f". Mark it out of service instead ({AVAILABILITY_PAGE}) so they are"
                " re-planned, or move them first.",
                ahead,
            )
        res.active = False
        detail = (
            f"left {len(ahead)} booked session{'s' if len(ahead) != 1 else ''} ahead holding it: "
            + ", ".join(f"#{s.appointment_id}" for s in ahead)
            if ahead
            else ""
        )
        audit.record(
            session,
            actor,
            "retire_resource",
            "resource",
            res.id,
            before={"active": True},
            after={"active": False},
            detail=detail,
            now=now,
        )
        changes.bump(session, now)
        return RetireResult(resource_id, tuple(ahead))


def reactivate_resource(
    db: Database, actor: Actor, resource_id: int, *, now: dt.datetime | None = None
) -> None:
    """Put a retired room or piece of equipment back into use."""
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        res = _locked(session, resource_id)
        if res.active:
            return
        res.active = True
        audit.record(
            session,
            actor,
            "reactivate_resource",
            "resource",
            res.id,
            before={"active": False},
            after={"active": True},
            now=now,
        )
        changes.bump(session, now)


__all__ = [
    "HeldSession",
    "ResourceChoices",
    "ResourceForm",
    "ResourceInUse",
    "ResourceList",
    "ResourceRow",
    "RetireResult",
    "add_resource",
    "form_of",
    "list_resources",
    "reactivate_resource",
    "resource_choices",
    "retire_resource",
    "serves_problem",
    "sessions_ahead",
    "update_resource",
]
