"""Booking, moving and the life of an appointment, one short transaction each.

The no-double-booking guarantee lives here and in the database:
- every write re-reads the holds it competes with *inside* its transaction and writes only if the
  plan still fits (SQLite: the transaction began IMMEDIATE, so no other writer can slip in between;
  PostgreSQL: the resources involved are row-locked in id order first, which also serializes the
  capacity count for shared resources);
- on PostgreSQL an exclusion constraint refuses overlapping exclusive holds whatever the code does.
A plan that lost the race raises ``BookingConflict`` naming what took the slot; nothing is written,
and the caller still holds its draft to re-plan.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    bindparam,
    delete,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling.availability import (
    Availability,
    HoldRow,
    Refusal,
    RefusalKind,
    instant,
    seconds,
)
from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.catalog import HoldMode, ResourceKind
from ketadesk.scheduling.gating import GateResult, PatientFacts, Severity
from ketadesk.scheduling.model import PlannedHold, PlannedSession, ResourceInfo
from ketadesk.scheduling.planner import spacing_problems
from ketadesk.scheduling.statuses import MOVABLE_STATUSES, RELEASED_STATUSES, TRANSITIONS
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.booking.planning import gate_sessions, load_patient_facts
from ketadesk.services.common.context import (
    Actor,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ServiceError,
    utcnow,
)
from ketadesk.services.followups import followups
from ketadesk.store import changes
from ketadesk.store.clinic_config import StoredConfig, load_catalog, load_config
from ketadesk.store.database import Database
from ketadesk.store.models import (
    Appointment,
    AppointmentEvent,
    GatingOverride,
    Patient,
    Resource,
    ResourceHold,
    Series,
    SessionType,
)
from ketadesk.store.queries import LONGEST_BOOKING
from ketadesk.store.snapshot import autoflush, epoch_seconds, load_calendar


class BookingConflict(ServiceError):
    """The plan no longer fits; ``reasons`` says what is in the way, one line each."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = tuple(reasons)
        super().__init__("; ".join(self.reasons))


@dataclass(frozen=True)
class BookingRequest:
    patient_id: int
    sessions: tuple[PlannedSession, ...]
    protocol: str | None = None  # a series when given, else single sessions
    preferences: Mapping[str, Any] = field(default_factory=dict)
    overrides: Mapping[str, str] = field(default_factory=dict)  # gating rule -> reason


@dataclass(frozen=True)
class BookingResult:
    series_id: int | None
    appointment_ids: tuple[int, ...]


@dataclass(frozen=True)
class StatusChange:
    appointment_id: int
    from_status: str
    to_status: str
    version: int
    event_id: int


#: What each action is called wherever a person sees it (buttons, menus, the undo stack), in
#: the order they are offered; one that asks for a reason (cancel) gets "…" on buttons.
ACTION_NAMES: dict[str, str] = {
    "check_in": "Check in",
    "start": "Start session",
    "complete": "Complete",
    "no_show": "No-show",
    "cancel": "Cancel",
}
ASKS_REASON = frozenset({"cancel"})


def action_button_text(action: str) -> str:
    """The action's name on a button or menu item ("Cancel…" when it will ask why)."""
    return ACTION_NAMES[action] + ("…" if action in ASKS_REASON else "")


# ---------------------------------------------------------------------------------------------
# Checking a plan against what is in the database, inside the writing transaction


# The statements a booking runs, built once: a booking is a dozen short statements, and building,
# keying and ORM-processing each anew would cost more than running it.  Plain Core on the tables,
# parameters bound at execution.
_RESOURCE = cast(Table, Resource.__table__)
_SERIES = cast(Table, Series.__table__)
_APPOINTMENT = cast(Table, Appointment.__table__)
_HOLD = cast(Table, ResourceHold.__table__)
_EVENT = cast(Table, AppointmentEvent.__table__)
_OVERRIDE = cast(Table, GatingOverride.__table__)


def _overlapping_bound(starts_at: Any, ends_at: Any) -> tuple[ColumnElement[bool], ...]:
    """``store.queries.overlapping`` with the window bound at execution (see ``_window``)."""
    return (
        starts_at >= bindparam("since"),
        starts_at < bindparam("until"),
        ends_at > bindparam("begins"),
    )


def _window(window: Interval) -> dict[str, dt.datetime]:
    return {
        "since": window.start - LONGEST_BOOKING,
        "until": window.end,
        "begins": window.start,
    }


_LOCK_RESOURCES = (
    select(
        _RESOURCE.c.id,
        _RESOURCE.c.kind,
        _RESOURCE.c.subkind,
        _RESOURCE.c.name,
        _RESOURCE.c.capacity,
        _RESOURCE.c.active,
    )
    .where(_RESOURCE.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_RESOURCE.c.id)
)
# PostgreSQL: row locks in id order.  Concurrent bookings of the same resources queue up here,
# and the capacity count cannot be raced; id order keeps it free of deadlocks.
_LOCK_RESOURCES_FOR_UPDATE = _LOCK_RESOURCES.with_for_update()

_EXISTING_HOLDS = select(
    _HOLD.c.appointment_id,
    _HOLD.c.resource_id,
    epoch_seconds(_HOLD.c.starts_at),
    epoch_seconds(_HOLD.c.ends_at),
    _HOLD.c.exclusive,
    _HOLD.c.units,
).where(
    _HOLD.c.active.is_(True),
    _HOLD.c.resource_id.in_(bindparam("ids", expanding=True)),
    *_overlapping_bound(_HOLD.c.starts_at, _HOLD.c.ends_at),
)

_PATIENT_BOOKED = select(
    _APPOINTMENT.c.id,
    _APPOINTMENT.c.starts_at,
    _APPOINTMENT.c.ends_at,
    _APPOINTMENT.c.session_type_id,
).where(
    _APPOINTMENT.c.patient_id == bindparam("patient_id"),
    # Constants written into the statement: nothing to expand at every execution.
    _APPOINTMENT.c.status.not_in([literal(s, String) for s in sorted(RELEASED_STATUSES)]),
    *_overlapping_bound(_APPOINTMENT.c.starts_at, _APPOINTMENT.c.ends_at),
)

_INSERT_SERIES = insert(_SERIES).returning(_SERIES.c.id)
_INSERT_APPOINTMENTS = insert(_APPOINTMENT).returning(
    _APPOINTMENT.c.id, sort_by_parameter_order=True
)
_INSERT_HOLDS = insert(_HOLD)
_INSERT_EVENTS = insert(_EVENT)
_INSERT_OVERRIDES = insert(_OVERRIDE)


def _lock_resources(session: Session, ids: Iterable[int]) -> dict[int, ResourceInfo]:
    autoflush(session)
    conn = session.connection()
    stmt = _LOCK_RESOURCES_FOR_UPDATE if conn.dialect.name == "postgresql" else _LOCK_RESOURCES
    return {
        rid: ResourceInfo(
            id=rid,
            kind=ResourceKind(kind),
            subkind=subkind,
            name=name,
            capacity=capacity,
            active=active,
        )
        for rid, kind, subkind, name, capacity, active in conn.execute(
            stmt, {"ids": sorted(set(ids))}
        )
    }


# An active hold in the way of a plan: the appointment holding it, and the hold as
# ``Availability`` reads it (resource id, start and end in epoch seconds, exclusive, units).
_Existing = tuple[int, HoldRow]


def _existing_holds(
    session: Session, resource_ids: Iterable[int], window: Interval, ignore: set[int]
) -> list[_Existing]:
    rows = session.connection().execute(
        _EXISTING_HOLDS, {"ids": sorted(set(resource_ids)), **_window(window)}
    )
    return [
        (appointment_id, (rid, start, end, bool(exclusive), units))
        for appointment_id, rid, start, end, exclusive, units in rows
        if appointment_id not in ignore
    ]


def _holder_labels(session: Session, appointment_ids: Iterable[int]) -> dict[int, str]:
    """Who holds what, for messages: read only when a plan was refused because of them."""
    stmt = (
        select(Appointment.id, Patient.last_name, Patient.first_name, SessionType.name)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(SessionType, SessionType.id == Appointment.session_type_id)
        .where(Appointment.id.in_(sorted(set(appointment_ids))))
    )
    return {
        id_: f"{last}, {first[:1]}. ({type_name}, appointment #{id_})"
        for id_, last, first, type_name in session.execute(stmt)
    }


def _fmt(calendar: ClinicCalendar, span: Interval) -> str:
    a, b = calendar.local(span.start), calendar.local(span.end)
    return f"{a:%a %-d %b %H:%M}-{b:%H:%M}"


def verify_plan(
    session: Session,
    calendar: ClinicCalendar,
    sessions: Sequence[PlannedSession],
    *,
    ignore_appointments: Iterable[int] = (),
) -> dict[int, ResourceInfo]:
    """Raise BookingConflict unless every hold of ``sessions`` fits the database right now;
    return the resources involved, locked for the rest of the transaction.

    The rules are the scheduling package's (``Availability``), applied to the holds read inside
    this transaction; this function adds only who is in the way, for the message.
    """
    holds = [h for s in sessions for h in s.holds]
    if not holds:
        raise InvalidRequest("nothing to book: the plan holds no resources")
    locked = _lock_resources(session, (h.resource_id for h in holds))
    window = Interval(min(h.span.start for h in holds), max(h.span.end for h in holds))
    existing = _existing_holds(session, locked, window, set(ignore_appointments))
    availability = Availability(
        calendar, list(locked.values()), hold_rows=[row for _, row in existing]
    )
    refused: list[tuple[Refusal, _Existing | None]] = []
    for planned in sessions:
        for refusal in availability.refusals(planned.holds):
            refused.append((refusal, _taken_by(refusal, planned.holds, existing)))
        availability.add(planned.holds)
    if refused:
        labels = _holder_labels(session, (by[0] for _, by in refused if by is not None))
        reasons = [_explain(refusal, by, labels, locked, calendar) for refusal, by in refused]
        raise BookingConflict(list(dict.fromkeys(reasons)))
    return locked


def _taken_by(
    refusal: Refusal, holds: Sequence[PlannedHold], existing: Sequence[_Existing]
) -> _Existing | None:
    """The exclusive hold another booking has where a plan's exclusive hold was refused."""
    if refusal.kind is not RefusalKind.TAKEN:
        return None
    for hold in holds:
        if hold.resource_id != refusal.resource_id or not hold.exclusive:
            continue
        start, end = seconds(hold.span.start), seconds(hold.span.end)
        for other in existing:
            rid, other_start, other_end, exclusive, _units = other[1]
            if rid == hold.resource_id and exclusive and other_start < end and start < other_end:
                return other
    return None


def _explain(
    refusal: Refusal,
    taken_by: _Existing | None,
    labels: Mapping[int, str],
    resources: Mapping[int, ResourceInfo],
    calendar: ClinicCalendar,
) -> str:
    """A refusal in words, naming the appointment in the way when another booking took it."""
    if taken_by is not None:
        appointment_id, (rid, start, end, _exclusive, _units) = taken_by
        label = labels.get(appointment_id, f"appointment #{appointment_id}")
        span = Interval(instant(start), instant(end))
        return f"{resources[rid].name} was just taken by {label} {_fmt(calendar, span)}"
    return refusal.message


_LOCK_PATIENT = text("SELECT id FROM patient WHERE id = :patient_id FOR UPDATE")


def _check_patient_free(
    session: Session,
    calendar: ClinicCalendar,
    patient_id: int,
    sessions: Sequence[PlannedSession],
    config: StoredConfig,
    *,
    ignore: int | None = None,
) -> None:
    """A patient is in one session at a time, and has at most the clinic's number of dosing
    sessions on one day: refuse a plan that breaks either against the patient's bookings."""
    catalog = config.catalog
    spans = sorted((s.start, s.end) for s in sessions)
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:
            raise InvalidRequest("two sessions of the plan overlap each other")
    autoflush(session)
    if session.get_bind().dialect.name == "postgresql":
        # Two workstations booking the same patient on different resources would not meet on
        # any resource lock; this one (always taken after the resources) makes them queue.
        session.connection().execute(_LOCK_PATIENT, {"patient_id": patient_id})
    days = Interval(
        calendar.day_bounds(calendar.local_date(spans[0][0])).start,
        calendar.day_bounds(calendar.local_date(spans[-1][1])).end,
    )
    rows = (
        session.connection()
        .execute(_PATIENT_BOOKED, {"patient_id": patient_id, **_window(days)})
        .all()
    )
    dosing_ids = {
        type_id
        for code, type_id in config.session_type_ids.items()
        if catalog.session_types[code].dosing
    }
    limit = catalog.settings.dosing_sessions_per_patient_day
    per_day: dict[dt.date, list[str]] = {}
    for s in sessions:
        if catalog.session_types[s.session_type].dosing:
            per_day.setdefault(calendar.local_date(s.start), []).append("")
    for appt_id, starts, ends, type_id in rows:
        if appt_id == ignore:
            continue
        other = Interval(starts, ends)
        for s in sessions:
            if other.overlaps(Interval(s.start, s.end)):
                raise BookingConflict(
                    [f"the patient already has appointment #{appt_id} {_fmt(calendar, other)}"]
                )
        day = calendar.local_date(starts)
        if type_id in dosing_ids and day in per_day:
            per_day[day].append(f"#{appt_id} {_fmt(calendar, other)}")
    for day, entries in per_day.items():
        if len(entries) > limit:
            booked = ", ".join(e for e in entries if e)
            raise BookingConflict(
                [
                    f"the patient would have {len(entries)} dosing sessions on "
                    f"{day:%a %-d %b} (at most {limit}); already booked: {booked}"
                ]
            )


# ---------------------------------------------------------------------------------------------
# Writing


def room_of(session: PlannedSession, resources: Mapping[int, ResourceInfo]) -> int | None:
    for hold in session.holds:
        res = resources.get(hold.resource_id)
        if res is not None and res.kind is ResourceKind.ROOM:
            return res.id
    return None


def _hold_row(appointment_id: int, h: PlannedHold) -> dict[str, Any]:
    return {
        "appointment_id": appointment_id,
        "resource_id": h.resource_id,
        "need": h.need,
        "mode": h.mode.value,
        "exclusive": h.exclusive,
        "units": h.units,
        "starts_at": h.span.start,
        "ends_at": h.span.end,
        "active": True,
    }


def write_holds(session: Session, appointment_id: int, holds: Iterable[PlannedHold]) -> None:
    """Insert an appointment's holds (a plain multi-row insert; the caller has checked them)."""
    rows = [_hold_row(appointment_id, h) for h in holds]
    if rows:
        session.connection().execute(_INSERT_HOLDS, rows)


def snapshot_of(a: Appointment) -> dict[str, Any]:
    return _snapshot(a.status, a.starts_at, a.ends_at, a.room_id)


def _snapshot(
    status: str, starts_at: dt.datetime, ends_at: dt.datetime, room_id: int | None
) -> dict[str, Any]:
    return {
        "status": status,
        "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat(),
        "room_id": room_id,
    }


def _calendar_for(
    session: Session, catalog: Catalog, sessions: Sequence[PlannedSession]
) -> ClinicCalendar:
    """The calendar a plan is checked against: its window's closures, and the closures and
    shifts of the resources it holds (nothing else can refuse it)."""
    window = Interval(min(s.start for s in sessions), max(s.end for s in sessions))
    for s in sessions:
        for h in s.holds:
            window = Interval(min(window.start, h.span.start), max(window.end, h.span.end))
    resource_ids = {h.resource_id for s in sessions for h in s.holds}
    return load_calendar(session, window, catalog, resource_ids=resource_ids)


def book(
    db: Database, actor: Actor, request: BookingRequest, *, now: dt.datetime | None = None
) -> BookingResult:
    """Book a whole plan (a series, or single sessions) all or nothing.

    One write transaction: it reads the configuration and re-checks gating, the resources' holds
    and the patient's other appointments as the database has them now, then writes the series,
    appointments, holds, events and audit events and bumps the change counter.
    """
    require(actor, "book", db, now=now)
    now = now or utcnow()
    if not request.sessions:
        raise InvalidRequest("nothing to book: the plan is empty")
    unplaced = [s for s in request.sessions if not s.placed]
    if unplaced:
        raise InvalidRequest(
            "the plan still has unplaced sessions: "
            + "; ".join(f"#{s.index}: {', '.join(s.problems)}" for s in unplaced)
        )
    past = [s for s in request.sessions if s.start < now]
    if past:
        raise InvalidRequest(f"session #{past[0].index} would start in the past")
    if request.overrides:
        require(actor, "override_gate", db, now=now)
    try:
        with db.write() as session:
            config = load_config(session)
            catalog = config.catalog
            facts = load_patient_facts(session, request.patient_id, catalog)
            if facts is None:
                raise NotFound(f"no patient #{request.patient_id}")
            patient_id = request.patient_id
            calendar = _calendar_for(session, catalog, request.sessions)
            type_ids = config.session_type_ids
            unknown = {s.session_type for s in request.sessions} - set(type_ids)
            if unknown:
                raise NotFound(f"unknown session type {sorted(unknown)[0]!r}")
            _check_gates_and_spacing(catalog, calendar, facts, request)
            resources = verify_plan(session, calendar, request.sessions)
            _check_patient_free(session, calendar, patient_id, request.sessions, config)
            conn = session.connection()
            series_id = None
            if request.protocol is not None:
                protocol_id = config.protocol_ids.get(request.protocol)
                if protocol_id is None:
                    raise NotFound(f"unknown protocol {request.protocol!r}")
                series_id = conn.execute(
                    _INSERT_SERIES,
                    {
                        "patient_id": patient_id,
                        "protocol_id": protocol_id,
                        "status": "active",
                        "planned_count": len(request.sessions),
                        "preferences": dict(request.preferences),
                        "created_at": now,
                    },
                ).scalar_one()
            ordered = sorted(request.sessions, key=lambda s: s.index)
            rooms = [room_of(planned, resources) for planned in ordered]
            appointment_ids: list[int] = list(
                conn.execute(
                    _INSERT_APPOINTMENTS,
                    [
                        {
                            "patient_id": patient_id,
                            "series_id": series_id,
                            "series_index": planned.index if series_id is not None else None,
                            "session_type_id": type_ids[planned.session_type],
                            "room_id": room,
                            "starts_at": planned.start,
                            "ends_at": planned.end,
                            "status": "booked",
                            "late_cancel": False,
                            "checklist": {},
                            "notes": "",
                            "version": 1,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for planned, room in zip(ordered, rooms, strict=True)
                    ],
                ).scalars()
            )
            conn.execute(
                _INSERT_HOLDS,
                [
                    _hold_row(appointment_id, hold)
                    for appointment_id, planned in zip(appointment_ids, ordered, strict=True)
                    for hold in planned.holds
                ],
            )
            conn.execute(
                _INSERT_EVENTS,
                [
                    {
                        "appointment_id": appointment_id,
                        "at": now,
                        "user_id": actor.user_id,
                        "action": "book",
                        "from_status": None,
                        "to_status": "booked",
                        "reason": "",
                        "detail": {},
                    }
                    for appointment_id in appointment_ids
                ],
            )
            if request.overrides:
                conn.execute(
                    _INSERT_OVERRIDES,
                    [
                        {
                            "appointment_id": appointment_id,
                            "series_id": series_id,
                            "rule": rule,
                            "reason": reason,
                            "user_id": actor.user_id,
                            "at": now,
                        }
                        for appointment_id in appointment_ids
                        for rule, reason in request.overrides.items()
                    ],
                )
            audit.write(
                session,
                [
                    audit.entry(
                        actor,
                        "book",
                        "appointment",
                        appointment_id,
                        patient_id=patient_id,
                        after=_snapshot("booked", planned.start, planned.end, room),
                        now=now,
                    )
                    for appointment_id, planned, room in zip(
                        appointment_ids, ordered, rooms, strict=True
                    )
                ],
            )
            followups.sync_follow_ups(session, actor, appointment_ids, now=now, config=config)
            changes.bump(session, now)
            return BookingResult(series_id=series_id, appointment_ids=tuple(appointment_ids))
    except IntegrityError as err:
        raise conflict_from(err) from None


class GateRefused(ServiceError):
    """A gating rule stops the booking: a block, or a warning no clinician has overridden."""

    def __init__(self, results: Sequence[GateResult]) -> None:
        self.results = tuple(results)
        super().__init__(
            "; ".join(
                r.message
                + (
                    ""
                    if r.severity is Severity.BLOCK
                    else " (a nurse or prescriber may override this with a reason)"
                )
                for r in self.results
            )
        )


SPACING_RULE = "spacing"  # the override key for a series that breaks its protocol's gaps


def _check_gates_and_spacing(
    catalog: Catalog,
    calendar: ClinicCalendar,
    facts: PatientFacts,
    request: BookingRequest,
) -> None:
    results = gate_sessions(catalog, facts, request.sessions, calendar, request.overrides)
    stopping = [r for r in results if r.stops_booking]
    if stopping:
        raise GateRefused(stopping)
    if request.protocol is None:
        return
    protocol = catalog.protocols.get(request.protocol)
    if protocol is None:
        raise NotFound(f"unknown protocol {request.protocol!r}")
    problems = spacing_problems(protocol, request.sessions, calendar, catalog.session_types)
    if problems and not request.overrides.get(SPACING_RULE, "").strip():
        raise InvalidRequest(
            "the plan breaks the protocol's spacing: "
            + "; ".join(problems)
            + " (a nurse or prescriber may override this with a reason)"
        )


def conflict_from(err: IntegrityError) -> ServiceError:
    sqlstate = getattr(err.orig, "sqlstate", None)
    if sqlstate == "23P01":  # PostgreSQL exclusion_violation: another workstation won the race
        return BookingConflict(
            [
                "a room, monitor or staff member was just taken at another "
                "workstation; re-plan to see what is free"
            ]
        )
    return ServiceError(f"the database refused the change: {str(err.orig).splitlines()[0]}")


def move(
    db: Database,
    actor: Actor,
    appointment_id: int,
    new: PlannedSession,
    *,
    expected_version: int | None = None,
    reason: str = "",
    now: dt.datetime | None = None,
) -> StatusChange:
    """Move one appointment to a new time and resources (given by the planner)."""
    require(actor, "move", db, now=now)
    now = now or utcnow()
    if not new.placed:
        raise InvalidRequest("the new time is not placed: " + ", ".join(new.problems))
    if new.start < now:
        raise InvalidRequest("an appointment cannot be moved into the past")
    try:
        with db.write() as session:
            appointment = _get_appointment(session, appointment_id, expected_version)
            if appointment.status not in MOVABLE_STATUSES:
                raise InvalidRequest(
                    f"appointment #{appointment_id} is {appointment.status.replace('_', ' ')} "
                    "and cannot be moved"
                )
            config = load_config(session)
            catalog = config.catalog
            type_code = config.session_type_code(appointment.session_type_id)
            if new.session_type != type_code:
                raise InvalidRequest(
                    f"appointment #{appointment_id} is a {type_code} session; a move keeps the "
                    f"session type (got {new.session_type})"
                )
            calendar = _calendar_for(session, catalog, [new])
            resources = verify_plan(session, calendar, [new], ignore_appointments=[appointment.id])
            _check_patient_free(
                session, calendar, appointment.patient_id, [new], config, ignore=appointment.id
            )
            session.execute(delete(_HOLD).where(_HOLD.c.appointment_id == appointment.id))
            event = relocate(session, actor, appointment, new, resources, reason=reason, now=now)
            changes.bump(session, now)
            session.flush()
            return StatusChange(
                appointment.id,
                appointment.status,
                appointment.status,
                appointment.version,
                event.id,
            )
    except IntegrityError as err:
        raise conflict_from(err) from None


def relocate(
    session: Session,
    actor: Actor,
    appointment: Appointment,
    planned: PlannedSession,
    resources: Mapping[int, ResourceInfo],
    *,
    reason: str,
    now: dt.datetime,
    detail: Mapping[str, Any] | None = None,
) -> AppointmentEvent:
    """Put an appointment at its new time and resources, with its event and audit.

    Its old holds must already be deleted (a series move deletes all of its sessions' holds
    first, so one session may take the slot the next one leaves).
    """
    before = snapshot_of(appointment)
    session.expire(appointment, ["holds"])
    write_holds(session, appointment.id, planned.holds)
    appointment.starts_at = planned.start
    appointment.ends_at = planned.end
    appointment.room_id = room_of(planned, resources)
    appointment.updated_at = now
    session.flush()
    after = snapshot_of(appointment)
    event = AppointmentEvent(
        appointment_id=appointment.id,
        at=now,
        user_id=actor.user_id,
        action="move",
        from_status=appointment.status,
        to_status=appointment.status,
        reason=reason,
        detail={"before": before, "after": after, **(detail or {})},
    )
    session.add(event)
    audit.record(
        session,
        actor,
        "move",
        "appointment",
        appointment.id,
        patient_id=appointment.patient_id,
        before=before,
        after=after,
        detail=reason,
        now=now,
    )
    followups.sync_follow_ups(session, actor, [appointment.id], now=now)
    return event


def _get_appointment(
    session: Session, appointment_id: int, expected_version: int | None
) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"no appointment #{appointment_id}")
    if expected_version is not None and appointment.version != expected_version:
        raise BookingConflict(
            [f"appointment #{appointment_id} was changed at another workstation; reload it"]
        )
    return appointment


def change_status(
    db: Database,
    actor: Actor,
    appointment_id: int,
    action: str,
    *,
    reason: str = "",
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> StatusChange:
    """Check in, start, complete, mark a no-show or cancel an appointment."""
    if action not in TRANSITIONS:
        raise InvalidRequest(f"unknown action {action!r}")
    require(actor, action, db, now=now)
    now = now or utcnow()
    sources, target = TRANSITIONS[action]
    if action == "cancel" and not reason.strip():
        raise InvalidRequest("a cancellation needs a reason")
    with db.write() as session:
        appointment = _get_appointment(session, appointment_id, expected_version)
        if appointment.status not in sources:
            raise InvalidRequest(
                f"appointment #{appointment_id} is {appointment.status.replace('_', ' ')}; "
                f"it cannot be {target.replace('_', ' ')}"
            )
        before = snapshot_of(appointment)
        previous = appointment.status
        appointment.status = target
        appointment.updated_at = now
        detail: dict[str, Any] = {}
        if target in RELEASED_STATUSES:
            for hold in appointment.holds:
                hold.active = False
        if action == "cancel":
            catalog = load_catalog(session)
            late = appointment.starts_at - now < dt.timedelta(
                hours=catalog.settings.late_cancel_hours
            )
            appointment.late_cancel = late
            detail["late_cancel"] = late
        event = AppointmentEvent(
            appointment_id=appointment.id,
            at=now,
            user_id=actor.user_id,
            action=action,
            from_status=previous,
            to_status=target,
            reason=reason,
            detail=detail,
        )
        session.add(event)
        session.flush()
        audit.record(
            session,
            actor,
            action,
            "appointment",
            appointment.id,
            patient_id=appointment.patient_id,
            before=before,
            after=snapshot_of(appointment),
            detail=reason,
            now=now,
        )
        followups.sync_follow_ups(session, actor, [appointment.id], now=now)
        changes.bump(session, now)
        return StatusChange(appointment.id, previous, target, appointment.version, event.id)


def undo_status(
    db: Database,
    actor: Actor,
    appointment_id: int,
    *,
    now: dt.datetime | None = None,
) -> StatusChange:
    """Take back the latest status change (a no-show marked by mistake, a cancel).

    Released holds are taken again only if nobody booked the slot in the meantime.
    """
    now = now or utcnow()
    try:
        with db.write() as session:
            appointment = _get_appointment(session, appointment_id, None)
            last = session.scalar(
                select(AppointmentEvent)
                .where(
                    AppointmentEvent.appointment_id == appointment.id,
                    AppointmentEvent.action.in_((*TRANSITIONS, "undo")),
                )
                .order_by(AppointmentEvent.at.desc(), AppointmentEvent.id.desc())
                .limit(1)
            )
            if last is None or last.action == "undo" or last.from_status is None:
                raise InvalidRequest(f"appointment #{appointment_id} has no change to undo")
            require(actor, last.action)
            if last.to_status != appointment.status:
                raise InvalidRequest(f"appointment #{appointment_id} changed since; reload it")
            before = snapshot_of(appointment)
            if (
                appointment.status in RELEASED_STATUSES
                and last.from_status not in RELEASED_STATUSES
            ):
                config = load_config(session)
                catalog = config.catalog
                held = [
                    PlannedHold(
                        need=h.need,
                        resource_id=h.resource_id,
                        mode=HoldMode(h.mode),
                        span=Interval(h.starts_at, h.ends_at),
                        units=h.units,
                    )
                    for h in appointment.holds
                ]
                planned = PlannedSession(
                    index=appointment.series_index or 1,
                    session_type=config.session_type_code(appointment.session_type_id),
                    start=appointment.starts_at,
                    end=appointment.ends_at,
                    holds=tuple(held),
                )
                calendar = _calendar_for(session, catalog, [planned])
                verify_plan(session, calendar, [planned], ignore_appointments=[appointment.id])
                _check_patient_free(
                    session,
                    calendar,
                    appointment.patient_id,
                    [planned],
                    config,
                    ignore=appointment.id,
                )
                for hold in appointment.holds:
                    hold.active = True
                appointment.late_cancel = False
            appointment.status = last.from_status
            appointment.updated_at = now
            event = AppointmentEvent(
                appointment_id=appointment.id,
                at=now,
                user_id=actor.user_id,
                action="undo",
                from_status=last.to_status,
                to_status=last.from_status,
                detail={"undoes": last.id},
            )
            session.add(event)
            session.flush()
            audit.record(
                session,
                actor,
                f"undo_{last.action}",
                "appointment",
                appointment.id,
                patient_id=appointment.patient_id,
                before=before,
                after=snapshot_of(appointment),
                now=now,
            )
            followups.sync_follow_ups(session, actor, [appointment.id], now=now)
            changes.bump(session, now)
            return StatusChange(
                appointment.id,
                last.to_status or "",
                appointment.status,
                appointment.version,
                event.id,
            )
    except IntegrityError as err:
        raise conflict_from(err) from None
    except PermissionDenied as err:
        # Checked inside the write transaction (the action undone decides who may undo it):
        # the refusal is recorded now that the transaction is over.
        audit.record_refusal(db, err, entity="appointment", entity_id=appointment_id, now=now)
        raise
