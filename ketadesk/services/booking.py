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
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling.availability import Availability, Refusal, RefusalKind
from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.catalog import HoldMode, ResourceKind
from ketadesk.scheduling.gating import GateResult, Severity
from ketadesk.scheduling.model import ExistingHold, PlannedHold, PlannedSession, ResourceInfo
from ketadesk.scheduling.planner import spacing_problems
from ketadesk.services import audit
from ketadesk.services.context import Actor, InvalidRequest, NotFound, ServiceError, require, utcnow
from ketadesk.services.planning import gate_sessions, patient_facts
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import (
    RELEASED_STATUSES,
    Appointment,
    AppointmentEvent,
    GatingOverride,
    Patient,
    Protocol,
    Resource,
    ResourceHold,
    Series,
    SessionType,
)
from ketadesk.store.queries import overlapping
from ketadesk.store.snapshot import load_calendar


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


# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "check_in": (frozenset({"booked"}), "checked_in"),
    "start": (frozenset({"booked", "checked_in"}), "in_progress"),
    "complete": (frozenset({"checked_in", "in_progress"}), "completed"),
    "no_show": (frozenset({"booked"}), "no_show"),
    "cancel": (frozenset({"booked", "checked_in"}), "cancelled"),
}
RELEASING = RELEASED_STATUSES


# ---------------------------------------------------------------------------------------------
# Checking a plan against what is in the database, inside the writing transaction


@dataclass(frozen=True)
class _Holder:
    resource_id: int
    span: Interval
    exclusive: bool
    units: int
    label: str  # who holds it, for messages


def _lock_resources(session: Session, ids: Iterable[int]) -> dict[int, Resource]:
    stmt = select(Resource).where(Resource.id.in_(sorted(set(ids)))).order_by(Resource.id)
    if session.get_bind().dialect.name == "postgresql":
        # Row locks in id order: concurrent bookings of the same resources queue up here, and
        # the capacity count below cannot be raced.  Id order keeps it free of deadlocks.
        stmt = stmt.with_for_update()
    return {r.id: r for r in session.scalars(stmt)}


def _existing_holders(
    session: Session, resource_ids: Iterable[int], window: Interval, ignore: set[int]
) -> list[_Holder]:
    stmt = (
        select(
            ResourceHold.resource_id,
            ResourceHold.starts_at,
            ResourceHold.ends_at,
            ResourceHold.exclusive,
            ResourceHold.units,
            Appointment.id,
            Patient.last_name,
            Patient.first_name,
            SessionType.name,
        )
        .join(Appointment, Appointment.id == ResourceHold.appointment_id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(SessionType, SessionType.id == Appointment.session_type_id)
        .where(
            ResourceHold.active.is_(True),
            ResourceHold.resource_id.in_(sorted(set(resource_ids))),
            *overlapping(ResourceHold.starts_at, ResourceHold.ends_at, window),
        )
    )
    holders = []
    for row in session.execute(stmt):
        if row[5] in ignore:
            continue
        holders.append(
            _Holder(
                resource_id=row[0],
                span=Interval(row[1], row[2]),
                exclusive=row[3],
                units=row[4],
                label=f"{row[6]}, {row[7][:1]}. ({row[8]}, appointment #{row[5]})",
            )
        )
    return holders


def _fmt(calendar: ClinicCalendar, span: Interval) -> str:
    a, b = calendar.local(span.start), calendar.local(span.end)
    return f"{a:%a %-d %b %H:%M}-{b:%H:%M}"


def verify_plan(
    session: Session,
    calendar: ClinicCalendar,
    sessions: Sequence[PlannedSession],
    *,
    ignore_appointments: Iterable[int] = (),
) -> dict[int, Resource]:
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
    existing = _existing_holders(session, locked, window, set(ignore_appointments))
    availability = Availability(
        calendar,
        [
            ResourceInfo(
                id=r.id,
                kind=ResourceKind(r.kind),
                subkind=r.subkind,
                name=r.name,
                capacity=r.capacity,
                active=r.active,
            )
            for r in locked.values()
        ],
        [
            ExistingHold(
                resource_id=h.resource_id,
                span=h.span,
                mode=HoldMode.EXCLUSIVE if h.exclusive else HoldMode.SHARED,
                units=h.units,
            )
            for h in existing
        ],
    )
    reasons: list[str] = []
    for planned in sessions:
        for refusal in availability.refusals(planned.holds):
            reasons.append(_explain(refusal, planned.holds, existing, locked, calendar))
        availability.add(planned.holds)
    if reasons:
        raise BookingConflict(list(dict.fromkeys(reasons)))
    return locked


def _explain(
    refusal: Refusal,
    holds: Sequence[PlannedHold],
    existing: Sequence[_Holder],
    resources: Mapping[int, Resource],
    calendar: ClinicCalendar,
) -> str:
    """A refusal in words, naming the appointment in the way when another booking took it."""
    if refusal.kind is RefusalKind.TAKEN:
        for hold in holds:
            if hold.resource_id != refusal.resource_id or not hold.exclusive:
                continue
            for other in existing:
                if (
                    other.resource_id == hold.resource_id
                    and other.exclusive
                    and other.span.overlaps(hold.span)
                ):
                    name = resources[hold.resource_id].name
                    return f"{name} was just taken by {other.label} {_fmt(calendar, other.span)}"
    return refusal.message


def _check_patient_free(
    session: Session,
    calendar: ClinicCalendar,
    patient_id: int,
    sessions: Sequence[PlannedSession],
    *,
    ignore: int | None = None,
) -> None:
    """A patient is in one session at a time: refuse a plan that overlaps another booking."""
    spans = sorted((s.start, s.end) for s in sessions)
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:
            raise InvalidRequest("two sessions of the plan overlap each other")
    rows = session.execute(
        select(Appointment.id, Appointment.starts_at, Appointment.ends_at).where(
            Appointment.patient_id == patient_id,
            Appointment.status.not_in(tuple(RELEASING)),
            *overlapping(
                Appointment.starts_at, Appointment.ends_at, Interval(spans[0][0], spans[-1][1])
            ),
        )
    ).all()
    for appt_id, starts, ends in rows:
        if appt_id == ignore:
            continue
        other = Interval(starts, ends)
        for s in sessions:
            if other.overlaps(Interval(s.start, s.end)):
                raise BookingConflict(
                    [f"the patient already has appointment #{appt_id} {_fmt(calendar, other)}"]
                )


# ---------------------------------------------------------------------------------------------
# Writing


def _session_type_ids(session: Session) -> dict[str, int]:
    return {code: id_ for id_, code in session.execute(select(SessionType.id, SessionType.code))}


def _room_of(session: PlannedSession, resources: Mapping[int, Resource]) -> int | None:
    for hold in session.holds:
        res = resources.get(hold.resource_id)
        if res is not None and res.kind == ResourceKind.ROOM.value:
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


def _write_holds(appointment: Appointment, holds: Iterable[PlannedHold]) -> None:
    for h in holds:
        appointment.holds.append(
            ResourceHold(
                resource_id=h.resource_id,
                need=h.need,
                mode=h.mode.value,
                exclusive=h.exclusive,
                units=h.units,
                starts_at=h.span.start,
                ends_at=h.span.end,
                active=True,
            )
        )


def _snapshot_of(a: Appointment) -> dict[str, Any]:
    return {
        "status": a.status,
        "starts_at": a.starts_at.isoformat(),
        "ends_at": a.ends_at.isoformat(),
        "room_id": a.room_id,
    }


def _calendar_for(
    session: Session, catalog: Catalog, sessions: Sequence[PlannedSession]
) -> ClinicCalendar:
    window = Interval(min(s.start for s in sessions), max(s.end for s in sessions))
    return load_calendar(session, window, catalog)


def book(
    db: Database, actor: Actor, request: BookingRequest, *, now: dt.datetime | None = None
) -> BookingResult:
    """Book a whole plan (a series, or single sessions) all or nothing."""
    require(actor, "book")
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
        require(actor, "override_gate")
    try:
        with db.write() as session:
            catalog = load_catalog(session)
            patient = session.get(Patient, request.patient_id)
            if patient is None:
                raise NotFound(f"no patient #{request.patient_id}")
            calendar = _calendar_for(session, catalog, request.sessions)
            type_ids = _session_type_ids(session)
            unknown = {s.session_type for s in request.sessions} - set(type_ids)
            if unknown:
                raise NotFound(f"unknown session type {sorted(unknown)[0]!r}")
            _check_gates_and_spacing(session, catalog, calendar, patient, request)
            resources = verify_plan(session, calendar, request.sessions)
            _check_patient_free(session, calendar, patient.id, request.sessions)
            series = None
            if request.protocol is not None:
                protocol = session.scalar(select(Protocol).where(Protocol.code == request.protocol))
                if protocol is None:
                    raise NotFound(f"unknown protocol {request.protocol!r}")
                series = Series(
                    patient_id=patient.id,
                    protocol_id=protocol.id,
                    status="active",
                    planned_count=len(request.sessions),
                    preferences=dict(request.preferences),
                    created_at=now,
                )
                session.add(series)
                session.flush()
            appointments = []
            for planned in sorted(request.sessions, key=lambda s: s.index):
                appointment = Appointment(
                    patient_id=patient.id,
                    series_id=series.id if series else None,
                    series_index=planned.index if series else None,
                    session_type_id=type_ids[planned.session_type],
                    room_id=_room_of(planned, resources),
                    starts_at=planned.start,
                    ends_at=planned.end,
                    status="booked",
                    created_at=now,
                    updated_at=now,
                )
                session.add(appointment)
                appointments.append(appointment)
            session.flush()
            ordered = sorted(request.sessions, key=lambda s: s.index)
            # Plain multi-row inserts: a series writes dozens of holds, and the unit of work's
            # per-object bookkeeping would cost more than the rest of the booking.
            session.execute(
                insert(ResourceHold),
                [
                    _hold_row(appointment.id, hold)
                    for appointment, planned in zip(appointments, ordered, strict=True)
                    for hold in planned.holds
                ],
            )
            session.execute(
                insert(AppointmentEvent),
                [
                    {
                        "appointment_id": appointment.id,
                        "at": now,
                        "user_id": actor.user_id,
                        "action": "book",
                        "from_status": None,
                        "to_status": "booked",
                        "reason": "",
                        "detail": {},
                    }
                    for appointment in appointments
                ],
            )
            for appointment in appointments:
                for rule, reason in request.overrides.items():
                    session.add(
                        GatingOverride(
                            appointment_id=appointment.id,
                            series_id=series.id if series else None,
                            rule=rule,
                            reason=reason,
                            user_id=actor.user_id,
                            at=now,
                        )
                    )
                audit.record(
                    session,
                    actor,
                    "book",
                    "appointment",
                    appointment.id,
                    patient_id=patient.id,
                    after=_snapshot_of(appointment),
                    now=now,
                )
            changes.bump(session, now)
            return BookingResult(
                series_id=series.id if series else None,
                appointment_ids=tuple(a.id for a in appointments),
            )
    except IntegrityError as err:
        raise _conflict_from(err) from None


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
    session: Session,
    catalog: Catalog,
    calendar: ClinicCalendar,
    patient: Patient,
    request: BookingRequest,
) -> None:
    facts = patient_facts(session, patient, catalog)
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


def _conflict_from(err: IntegrityError) -> ServiceError:
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
    require(actor, "move")
    now = now or utcnow()
    if not new.placed:
        raise InvalidRequest("the new time is not placed: " + ", ".join(new.problems))
    if new.start < now:
        raise InvalidRequest("an appointment cannot be moved into the past")
    try:
        with db.write() as session:
            appointment = _get_appointment(session, appointment_id, expected_version)
            if appointment.status not in ("booked", "checked_in"):
                raise InvalidRequest(
                    f"appointment #{appointment_id} is {appointment.status.replace('_', ' ')} "
                    "and cannot be moved"
                )
            type_code = session.scalar(
                select(SessionType.code).where(SessionType.id == appointment.session_type_id)
            )
            if new.session_type != type_code:
                raise InvalidRequest(
                    f"appointment #{appointment_id} is a {type_code} session; a move keeps the "
                    f"session type (got {new.session_type})"
                )
            catalog = load_catalog(session)
            calendar = _calendar_for(session, catalog, [new])
            resources = verify_plan(session, calendar, [new], ignore_appointments=[appointment.id])
            _check_patient_free(
                session, calendar, appointment.patient_id, [new], ignore=appointment.id
            )
            before = _snapshot_of(appointment)
            appointment.holds.clear()
            session.flush()
            _write_holds(appointment, new.holds)
            appointment.starts_at = new.start
            appointment.ends_at = new.end
            appointment.room_id = _room_of(new, resources)
            appointment.updated_at = now
            session.flush()
            after = _snapshot_of(appointment)
            event = AppointmentEvent(
                appointment_id=appointment.id,
                at=now,
                user_id=actor.user_id,
                action="move",
                from_status=appointment.status,
                to_status=appointment.status,
                reason=reason,
                detail={"before": before, "after": after},
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
        raise _conflict_from(err) from None


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
    require(actor, action)
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
        before = _snapshot_of(appointment)
        previous = appointment.status
        appointment.status = target
        appointment.updated_at = now
        detail: dict[str, Any] = {}
        if target in RELEASING:
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
            after=_snapshot_of(appointment),
            detail=reason,
            now=now,
        )
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
            before = _snapshot_of(appointment)
            if appointment.status in RELEASING and last.from_status not in RELEASING:
                catalog = load_catalog(session)
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
                    session_type="",
                    start=appointment.starts_at,
                    end=appointment.ends_at,
                    holds=tuple(held),
                )
                calendar = _calendar_for(session, catalog, [planned])
                verify_plan(session, calendar, [planned], ignore_appointments=[appointment.id])
                _check_patient_free(
                    session, calendar, appointment.patient_id, [planned], ignore=appointment.id
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
                after=_snapshot_of(appointment),
                now=now,
            )
            changes.bump(session, now)
            return StatusChange(
                appointment.id,
                last.to_status or "",
                appointment.status,
                appointment.version,
                event.id,
            )
    except IntegrityError as err:
        raise _conflict_from(err) from None
