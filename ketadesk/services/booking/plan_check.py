"""Checking a plan against what is in the database, inside the writing transaction.

Every write locks in one order, so two of them queue up instead of deadlocking: the existing
appointments it changes (``appointment_changes.lock_appointments``, in id order), then on
PostgreSQL the reference rows (``store/reference.REFERENCE_LOCK`` shared: no resource, shift or
closure changes before it commits) and the (resource, clinic day) pairs it will hold (in that
order, below), then the patient (``check_patient_free``), and the change counter last
(``store.changes.bump``, after a flush of every row the write adds).

The no-double-booking guarantee lives here and in the database:
- every write re-reads the holds it competes with *inside* its transaction and writes only if the
  plan still fits (SQLite: the transaction began IMMEDIATE, so no other writer can slip in between;
  PostgreSQL: the (resource, day) pairs involved are locked in order first, which also
  serializes the capacity count for shared resources);
- on PostgreSQL an exclusion constraint refuses overlapping exclusive holds whatever the code does.
A plan that lost the race raises ``BookingConflict`` naming what took the slot; nothing is written,
and the caller still holds its draft to re-plan.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    String,
    Table,
    any_,
    bindparam,
    func,
    literal,
    literal_column,
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
from ketadesk.scheduling.catalog import ResourceKind
from ketadesk.scheduling.dates import clock_span, short_date
from ketadesk.scheduling.derived_holds import hold_mismatches
from ketadesk.scheduling.dosing_days import crowded_days
from ketadesk.scheduling.model import PlannedHold, PlannedSession, ResourceInfo
from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.services.booking.expiry import release_expired
from ketadesk.services.common.context import (
    InvalidRequest,
    ServiceError,
    utcnow,
)
from ketadesk.store import raw
from ketadesk.store.clinic_config import StoredConfig, load_config
from ketadesk.store.models import (
    Appointment,
    Patient,
    Resource,
    ResourceHold,
    SessionType,
)
from ketadesk.store.pipeline import Read, read_or_prefetched, read_together, utc
from ketadesk.store.queries import LONGEST_BOOKING
from ketadesk.store.reference import SHARE_REFERENCE, Reference
from ketadesk.store.snapshot import autoflush, epoch_seconds, load_calendar


class BookingConflict(ServiceError):
    """The plan no longer fits; ``reasons`` says what is in the way, one line each."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = tuple(reasons)
        super().__init__("; ".join(self.reasons))


class HoldsMismatch(BookingConflict):
    """The plan's holds are not the ones its session types take (a hand-built or stale plan:
    the session type changed since it was planned); ``reasons`` names each difference."""


# The statements a check runs, built once: a booking is a dozen short statements, and building,
# keying and ORM-processing each anew would cost more than running it.  Plain Core on the tables,
# parameters bound at execution.
_RESOURCE = cast(Table, Resource.__table__)
_APPOINTMENT = cast(Table, Appointment.__table__)
_HOLD = cast(Table, ResourceHold.__table__)


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
        _RESOURCE.c.serves,
    )
    .where(_RESOURCE.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_RESOURCE.c.id)
)
# PostgreSQL: no one edits a resource (its capacity, whether it is active), a shift or a
# closure while a booking counts on it: every write that checks a plan holds
# ``store/reference.REFERENCE_LOCK`` shared, which the triggers of those tables take
# exclusively (migration 0019), and reads the resources after it (no row lock, so no page
# written and no multixact shared by every booking of the same nurse).  Bookings do not queue
# behind one another for it.  What they do queue on is a transaction-scoped advisory lock per
# resource and clinic day the plan holds, taken in (resource, day) order: two plans can only
# compete (an overlap, a shared resource's capacity) for the same resource on the same day, so
# bookings of the same nurse on other days go ahead at once, and the capacity count cannot be
# raced.  One order for every writer (all go through ``verify_plan``) keeps it free of deadlocks.
_LOCK_RESOURCE_DAYS = text(
    "SELECT pg_advisory_xact_lock(k.resource_id, k.day) FROM ("
    "SELECT resource_id, day FROM unnest(CAST(:resource_ids AS integer[]),"
    " CAST(:days AS integer[])) AS u(resource_id, day) ORDER BY resource_id, day) AS k"
)

_EXISTING_HOLDS = select(
    _HOLD.c.appointment_id,
    _HOLD.c.resource_id,
    epoch_seconds(_HOLD.c.starts_at),
    epoch_seconds(_HOLD.c.ends_at),
    _HOLD.c.exclusive,
    _HOLD.c.units,
).where(
    _HOLD.c.active.is_(True),
    # SQLite: the ids as one JSON array (``json_each``), so the statement is the same whatever
    # their number and runs on the driver's cursor (``store/raw.py``); the index on
    # (resource_id, starts_at, ends_at) still serves each id.
    _HOLD.c.resource_id.in_(
        select(literal_column("value")).select_from(func.json_each(bindparam("ids_json")))
    ),
    *_overlapping_bound(_HOLD.c.starts_at, _HOLD.c.ends_at),
)

# PostgreSQL: the resources share-locked, their (resource, day) locks and the holds in their way
# go to the server together, in that order (``store/pipeline.py``: one round trip; each
# statement still waits for its locks, and reads what was committed when it starts, as if sent
# alone).  The ids are one array parameter (``= ANY``), not a list expanded into the statement.
_IDS = bindparam("ids", type_=ARRAY(Integer))
_RESOURCES_ANY = (
    select(*_LOCK_RESOURCES.selected_columns)
    .where(_RESOURCE.c.id == any_(_IDS))
    .order_by(_RESOURCE.c.id)
)
_EXISTING_HOLDS_ANY = select(*_EXISTING_HOLDS.selected_columns).where(
    _HOLD.c.active.is_(True),
    _HOLD.c.resource_id == any_(_IDS),
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


def _lock_resources(
    session: Session, ids: Iterable[int], known: Mapping[int, ResourceInfo] | None = None
) -> dict[int, ResourceInfo]:
    """SQLite: the resources of ``ids`` (those that exist), unchanged for the rest of the
    transaction (its IMMEDIATE lock keeps every other writer out), so resources ``known``
    from the cache (``store/reference.py``, validated in this transaction) need no read."""
    wanted = sorted(set(ids))
    conn = raw.connection(session)
    if known is not None:
        return {rid: known[rid] for rid in wanted if rid in known}
    autoflush(session)
    return _resource_infos(conn.execute(_LOCK_RESOURCES, {"ids": wanted}))


def _resource_infos(rows: Iterable[Sequence[Any]]) -> dict[int, ResourceInfo]:
    """Resources by id from rows of (id, kind, subkind, name, capacity, active, serves)."""
    return {
        rid: ResourceInfo(
            id=rid,
            kind=ResourceKind(kind),
            subkind=subkind,
            name=name,
            capacity=capacity,
            active=active,
            serves=frozenset(serves or ()),
        )
        for rid, kind, subkind, name, capacity, active, serves in rows
    }


def _locked_and_existing(
    session: Session,
    calendar: ClinicCalendar,
    holds: Sequence[PlannedHold],
    window: Interval,
    ignore: set[int],
    known: Mapping[int, ResourceInfo] | None,
) -> tuple[dict[int, ResourceInfo], list[_Existing]]:
    """The resources the holds name, locked (their rows, then on PostgreSQL the (resource,
    day) locks of ``_resource_days``), and the active holds in their way read under them."""
    conn = raw.connection(session)
    if conn.dialect.name != "postgresql":
        locked = _lock_resources(session, (h.resource_id for h in holds), known)
        return locked, _existing_holds(session, locked, window, ignore)
    autoflush(session)
    wanted = sorted({h.resource_id for h in holds})
    days, holds_read = _resource_reads(calendar, holds, window)
    if known is not None:
        # The booking's reference rows, read under ``REFERENCE_LOCK`` (held shared since):
        # no resource can change before this transaction ends.  The reads may have gone to
        # the server already, with the booking's others (``booking_reads``).
        _, hold_rows = read_or_prefetched(session, [days, holds_read])
        locked = {rid: known[rid] for rid in wanted if rid in known}
    else:
        _, resource_rows, _, hold_rows = read_together(
            conn,
            [(SHARE_REFERENCE, {}), (_RESOURCES_ANY, {"ids": wanted}), days, holds_read],
        )
        locked = _resource_infos(resource_rows)
    existing = [
        (appointment_id, (rid, start, end, bool(exclusive), units))
        for appointment_id, rid, start, end, exclusive, units in hold_rows
        if appointment_id not in ignore and rid in locked
    ]
    return locked, existing


def _resource_reads(
    calendar: ClinicCalendar, holds: Sequence[PlannedHold], window: Interval
) -> tuple[Read, Read]:
    """PostgreSQL: the (resource, day) locks of ``holds`` and the active holds in their way."""
    wanted = sorted({h.resource_id for h in holds})
    return (
        (_LOCK_RESOURCE_DAYS, _resource_days(calendar, holds)),
        (_EXISTING_HOLDS_ANY, {"ids": wanted, **_window(window)}),
    )


def _plan_window(holds: Sequence[PlannedHold]) -> Interval:
    return Interval(min(h.span.start for h in holds), max(h.span.end for h in holds))


def booking_reads(
    calendar: ClinicCalendar, sessions: Sequence[PlannedSession], patient_id: int
) -> tuple[list[Read], list[Read]]:
    """PostgreSQL: what ``verify_plan`` (its locks, then the holds in the way) and
    ``check_patient_free`` (the patient's lock, then their bookings) will read for a new plan,
    as two lists of reads, for a booking to send ahead with its others in one round trip
    (``store/pipeline.prefetch``), in this lock order: the resources' first, the patient's
    after.  Reads the patient's other rows may go between the two (after the patient's lock)."""
    holds = [h for s in sessions for h in s.holds]
    resources = list(_resource_reads(calendar, holds, _plan_window(holds))) if holds else []
    patient: list[Read] = [
        (_LOCK_PATIENT, {"patient_id": patient_id}),
        (_PATIENT_BOOKED, {"patient_id": patient_id, **_window(_patient_days(calendar, sessions))}),
    ]
    return resources, patient


def _patient_days(calendar: ClinicCalendar, sessions: Sequence[PlannedSession]) -> Interval:
    """The clinic days a plan's sessions touch, whose bookings of the patient it meets."""
    first = min(s.start for s in sessions)
    last = max(s.end for s in sessions)
    return Interval(
        calendar.day_bounds(calendar.local_date(first)).start,
        calendar.day_bounds(calendar.local_date(last)).end,
    )


def _resource_days(calendar: ClinicCalendar, holds: Sequence[PlannedHold]) -> dict[str, Any]:
    """PostgreSQL: ``_LOCK_RESOURCE_DAYS``'s parameters, each (resource, clinic day) the holds
    touch, to wait for and then hold to the end of the transaction.  Two holds that overlap
    share a day of their resource, so every plan that could compete with this one for a
    resource queues there (see the note on the locks)."""
    keys: set[tuple[int, int]] = set()
    for hold in holds:
        day = calendar.local_date(hold.span.start)
        last = calendar.local_date(hold.span.end)
        while day <= last:
            keys.add((hold.resource_id, day.toordinal()))
            day += dt.timedelta(days=1)
    ordered = sorted(keys)
    return {"resource_ids": [r for r, _ in ordered], "days": [d for _, d in ordered]}


# An active hold in the way of a plan: the appointment holding it, and the hold as
# ``Availability`` reads it (resource id, start and end in epoch seconds, exclusive, units).
_Existing = tuple[int, HoldRow]


def _existing_holds(
    session: Session, resource_ids: Iterable[int], window: Interval, ignore: set[int]
) -> list[_Existing]:
    rows = raw.rows(
        raw.connection(session),
        _EXISTING_HOLDS,
        {"ids_json": json.dumps(sorted(set(resource_ids))), **_window(window)},
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
        id_: f"{last}, {first[:1]}. ({type_name})"
        for id_, last, first, type_name in session.execute(stmt)
    }


def _type_name(config: StoredConfig, type_id: int) -> str:
    code = config.session_type_code(type_id)
    spec = config.catalog.session_types.get(code)
    return spec.name if spec is not None else code


def _fmt(calendar: ClinicCalendar, span: Interval) -> str:
    a, b = calendar.local(span.start), calendar.local(span.end)
    return f"{short_date(a)} {clock_span(a, b, calendar.settings.time_format)}"


def verify_plan(
    session: Session,
    calendar: ClinicCalendar,
    sessions: Sequence[PlannedSession],
    *,
    ignore_appointments: Iterable[int] = (),
    known: Mapping[int, ResourceInfo] | None = None,
    now: dt.datetime | None = None,
    catalog: Catalog | None = None,
    expired_released: bool = False,
) -> dict[int, ResourceInfo]:
    """Raise BookingConflict unless every hold of ``sessions`` fits the database right now;
    return the resources involved, locked for the rest of the transaction.

    The holds must be the ones each session's type takes (``check_derived_holds``, raising
    ``HoldsMismatch``), whoever built the plan.  The rules are the scheduling package's
    (``Availability``), applied to the holds read inside this transaction; this function adds
    only who is in the way, for the message.  ``known``: the resources as
    ``store/reference.booking_reference`` gave them in this transaction (which holds them
    unchanged to its end); ``catalog``: the configuration as read in this
    transaction (read here when not given); ``expired_released``: the caller has released the
    expired tentative holds in this transaction already (``expiry.release_expired``).
    """
    holds = [h for s in sessions for h in s.holds]
    if not holds:
        raise InvalidRequest("nothing to book: the plan holds no resources")
    # Expired tentative holds are free: released here, before PostgreSQL's exclusion constraint
    # or the count below could see them.
    if not expired_released:
        release_expired(session, now or utcnow())
    window = _plan_window(holds)
    locked, existing = _locked_and_existing(
        session, calendar, holds, window, set(ignore_appointments), known
    )
    check_derived_holds(
        catalog if catalog is not None else load_config(session).catalog,
        calendar,
        sessions,
        locked,
    )
    availability = Availability(
        calendar, list(locked.values()), hold_rows=[row for _, row in existing]
    )
    unserved = _unserved(session, sessions, locked, calendar)
    if unserved:
        raise BookingConflict(unserved)
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


def check_derived_holds(
    catalog: Catalog,
    calendar: ClinicCalendar,
    sessions: Sequence[PlannedSession],
    resources: Mapping[int, ResourceInfo],
) -> None:
    """Raise ``HoldsMismatch`` unless each session holds exactly what its session type takes
    on the resources it was given (``scheduling/derived_holds.hold_mismatches``): a room held
    as "presence", or not at all, would otherwise sit on top of another booking."""
    reasons: list[str] = []
    for planned in sessions:
        spec = catalog.session_types.get(planned.session_type)
        if spec is None:
            reasons.append(f"unknown session type {planned.session_type!r}")
            continue
        reasons += hold_mismatches(spec, planned, calendar, resources)
    if reasons:
        raise HoldsMismatch(list(dict.fromkeys(reasons)))


def _unserved(
    session: Session,
    sessions: Sequence[PlannedSession],
    resources: Mapping[int, ResourceInfo],
    calendar: ClinicCalendar,
) -> list[str]:
    """A reason for each resource a plan holds for a session type it does not serve (Settings,
    Rooms and equipment, "Session types served")."""
    found = [
        (res, planned)
        for planned in sessions
        for rid in dict.fromkeys(h.resource_id for h in planned.holds)
        if (res := resources.get(rid)) is not None and not res.serves_type(planned.session_type)
    ]
    if not found:
        return []
    # Read only when refusing: the session types' names, for the message.
    names: dict[str, str] = {}
    for code, name in session.execute(select(SessionType.code, SessionType.name)):
        names[code] = name
    reasons = [
        f"{res.name} is not used for {names.get(planned.session_type, planned.session_type)}"
        f" sessions ({_fmt(calendar, Interval(planned.start, planned.end))}); see Settings,"
        " Rooms and equipment"
        for res, planned in found
    ]
    return list(dict.fromkeys(reasons))


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


# NO KEY UPDATE, like the resources: an audit event or follow-up written for this patient by
# another workstation (a foreign key check) must not wait on it, or it could wait in a cycle.
_LOCK_PATIENT = text("SELECT id FROM patient WHERE id = :patient_id FOR NO KEY UPDATE")


def check_patient_free(
    session: Session,
    calendar: ClinicCalendar,
    patient_id: int,
    sessions: Sequence[PlannedSession],
    config: StoredConfig,
    *,
    ignore: int | Iterable[int] | None = None,
    lock: bool = True,
) -> None:
    """A patient is in one session at a time, and has at most the clinic's number of dosing
    sessions on one day: refuse a plan that breaks either against the patient's bookings
    (other than ``ignore``: the appointments the plan moves).  ``lock``: on PostgreSQL, lock
    the patient's row first, as a write must (a question asked in a read need not)."""
    ignored = {ignore} if isinstance(ignore, int) else set(ignore or ())
    catalog = config.catalog
    spans = sorted((s.start, s.end) for s in sessions)
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:
            raise InvalidRequest("two sessions of the plan overlap each other")
    autoflush(session)
    conn = raw.connection(session)
    reads: list[Read] = [
        (_PATIENT_BOOKED, {"patient_id": patient_id, **_window(_patient_days(calendar, sessions))})
    ]
    if lock and conn.dialect.name == "postgresql":
        # Two workstations booking the same patient on different resources would not meet on
        # any resource lock; this one (always taken after the resources) makes them queue.
        # Sent with the read, which runs once it is granted (one round trip; a booking sends
        # both ahead with its other reads, ``booking_reads``).
        reads.insert(0, (_LOCK_PATIENT, {"patient_id": patient_id}))
    rows = [
        (appt_id, utc(starts), utc(ends), type_id)
        for appt_id, starts, ends, type_id in read_or_prefetched(session, reads)[-1]
    ]
    dosing_ids = {
        type_id
        for code, type_id in config.session_type_ids.items()
        if catalog.session_types[code].dosing
    }
    booked: list[tuple[dt.date, bool, str]] = []
    for appt_id, starts, ends, type_id in rows:
        if appt_id in ignored:
            continue
        other = Interval(starts, ends)
        # The session as the desk knows it, its type and time: not its internal number.
        what = f"{_type_name(config, type_id)} {_fmt(calendar, other)}"
        for s in sessions:
            if other.overlaps(Interval(s.start, s.end)):
                raise BookingConflict([f"the patient already has {what}"])
        booked.append(
            (
                calendar.local_date(starts),
                type_id in dosing_ids,
                what,
            )
        )
    # The planner keeps off the same days by the same rule (``planning.PatientBusy``).
    crowded = crowded_days(
        [
            (calendar.local_date(s.start), catalog.session_types[s.session_type].dosing)
            for s in sessions
        ],
        booked,
        catalog.settings.dosing_sessions_per_patient_day,
    )
    if crowded:
        day = crowded[0]
        raise BookingConflict(
            [
                f"the patient would have {day.count} dosing sessions on "
                f"{short_date(day.day)} (at most {day.limit}); already booked: "
                + ", ".join(day.booked)
            ]
        )


def calendar_for(
    session: Session,
    catalog: Catalog,
    sessions: Sequence[PlannedSession],
    *,
    ref: Reference | None = None,
) -> ClinicCalendar:
    """The calendar a plan is checked against: its window's closures, and the closures and
    shifts of the resources it holds (nothing else can refuse it).  ``ref``: the booking's
    cached reference rows (validated in this transaction), instead of reading them."""
    window = Interval(min(s.start for s in sessions), max(s.end for s in sessions))
    for s in sessions:
        for h in s.holds:
            window = Interval(min(window.start, h.span.start), max(window.end, h.span.end))
    resource_ids = {h.resource_id for s in sessions for h in s.holds}
    if ref is not None:
        return ref.calendar(session, window, resource_ids)
    return load_calendar(session, window, catalog, resource_ids=resource_ids)


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
