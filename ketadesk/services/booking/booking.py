"""Booking a patient's sessions (one or a whole series), checked and written in one short
transaction: gates and spacing, the plan against the database (``plan_check``), the rows, the
audit trail and the follow-ups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Executable,
    Table,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import ResourceKind
from ketadesk.scheduling.gating import GateResult, PatientFacts, Severity
from ketadesk.scheduling.model import PlannedHold, PlannedSession, ResourceInfo
from ketadesk.scheduling.protocol_rules import SPACING
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.booking import override_rights, rule_check
from ketadesk.services.booking.contention import retried_once
from ketadesk.services.booking.expiry import EXPIRED, release_expired
from ketadesk.services.booking.patient_reads import patient_reads
from ketadesk.services.booking.plan_check import (
    booking_reads,
    calendar_for,
    check_patient_free,
    conflict_from,
    verify_plan,
)
from ketadesk.services.booking.planning import gate_sessions, load_patient_facts
from ketadesk.services.common.context import (
    SYSTEM,
    Actor,
    InvalidRequest,
    NotFound,
    ServiceError,
    utcnow,
)
from ketadesk.services.followups import sync
from ketadesk.store import changes, raw, reference
from ketadesk.store.clinic_config import StoredConfig
from ketadesk.store.database import Database
from ketadesk.store.days_away import PATIENT_AWAY
from ketadesk.store.models import (
    Appointment,
    AppointmentEvent,
    GatingOverride,
    ResourceHold,
    Series,
)
from ketadesk.store.pipeline import Ahead, prefetched


@dataclass(frozen=True)
class BookingRequest:
    patient_id: int
    sessions: tuple[PlannedSession, ...]
    protocol: str | None = None  # a series when given, else single sessions
    preferences: Mapping[str, Any] = field(default_factory=dict)
    overrides: Mapping[str, str] = field(default_factory=dict)  # gating rule -> reason
    # Pencilled in: held until ``hold_until`` (the clinic's ``tentative_hold_hours`` from now
    # when not given), without the gates, and confirmed later (services/booking/tentative.py).
    tentative: bool = False
    hold_until: dt.datetime | None = None
    # A change of protocol (services/booking/protocol_change.py): the ended series this one
    # follows, linked in ``series.previous_series_id``.
    previous_series_id: int | None = None


@dataclass(frozen=True)
class BookingResult:
    series_id: int | None
    appointment_ids: tuple[int, ...]


class _Checked(NamedTuple):
    """What a booking's check found, for its writes: the configuration it was judged on, the
    plan's resources, and the tentative hold's deadline."""

    config: StoredConfig
    resources: Mapping[int, ResourceInfo]
    hold_until: dt.datetime | None


# The rows a booking writes, as plain Core inserts built once (see ``plan_check``).
_SERIES = cast(Table, Series.__table__)
_APPOINTMENT = cast(Table, Appointment.__table__)
_HOLD = cast(Table, ResourceHold.__table__)
_EVENT = cast(Table, AppointmentEvent.__table__)
_OVERRIDE = cast(Table, GatingOverride.__table__)
_INSERT_SERIES = insert(_SERIES).returning(_SERIES.c.id)
_INSERT_APPOINTMENTS = insert(_APPOINTMENT).returning(
    _APPOINTMENT.c.id, sort_by_parameter_order=True
)
_INSERT_APPOINTMENTS_WITH_IDS = insert(_APPOINTMENT)
_INSERT_HOLDS = insert(_HOLD)
_INSERT_EVENTS = insert(_EVENT)
_INSERT_OVERRIDES = insert(_OVERRIDE)


def room_of(session: PlannedSession, resources: Mapping[int, ResourceInfo]) -> int | None:
    for hold in session.holds:
        res = resources.get(hold.resource_id)
        if res is not None and res.kind is ResourceKind.ROOM:
            return res.id
    return None


def _staff_roles(session: PlannedSession, resources: Mapping[int, ResourceInfo]) -> dict[str, int]:
    """Each staff role's first holder in a session (its nurse, its therapist), as
    ``sync`` assigns follow-ups: by the holds' start, in the order they are written."""
    found: dict[str, int] = {}
    for hold in sorted(session.holds, key=lambda h: h.span.start):
        res = resources.get(hold.resource_id)
        if res is not None and res.kind is ResourceKind.STAFF:
            found.setdefault(res.subkind, res.id)
    return found


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
    raw.insert_rows(
        raw.connection(session), _INSERT_HOLDS, [_hold_row(appointment_id, h) for h in holds]
    )


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
    # A day the patient is away is theirs to decide, not a clinician's: anyone who books may go
    # past it (``override_rights``); the engine then judges each override (``rule_check.enforce``).
    override_rights.require_override(actor, request.overrides, db, now=now)
    if request.hold_until is not None and not request.tentative:
        raise InvalidRequest("a deadline (hold until) is only for a tentative hold")
    if request.hold_until is not None and request.hold_until <= now:
        raise InvalidRequest("hold until: the tentative hold's deadline is already past")
    first_start = min(s.start for s in request.sessions)
    if request.hold_until is not None and request.hold_until > first_start:
        raise InvalidRequest(
            "hold until: the tentative hold's deadline is after its first session starts; "
            "confirm the session by then, or choose an earlier deadline"
        )

    def check(session: Session) -> _Checked:
        # The configuration, resources, shifts and closures: on SQLite kept between
        # bookings while nothing else was written (checked here, inside this transaction),
        # on PostgreSQL read in one round trip.
        # PostgreSQL: with them, everything the checks below read, sent ahead in the same
        # round trip, in the order and under the locks they would have read it in (each
        # piece is handed to the check that asks for it; see ``_reads_ahead``).
        ahead = None
        if raw.connection(session).dialect.name == "postgresql":

            def ahead(ref: reference.Reference) -> list[Ahead]:
                cal = calendar_for(session, ref.config.catalog, request.sessions, ref=ref)
                return [*_reads_ahead(cal, request, now), _new_ids_read(request, ref)]

        ref = reference.booking_reference(session, now=now, ahead=ahead)
        config = ref.config
        catalog = config.catalog
        patient_id = request.patient_id
        calendar = calendar_for(session, catalog, request.sessions, ref=ref)
        # Expired tentative holds are free: released before anything about the patient is
        # read, so the patient's own expired hold is not "another course" or "another
        # appointment" in the way (``verify_plan`` is told it is done).
        release_expired(session, now)
        facts = load_patient_facts(session, patient_id, catalog)
        if facts is None:
            raise NotFound(f"no patient #{patient_id}")
        type_ids = config.session_type_ids
        unknown = {s.session_type for s in request.sessions} - set(type_ids)
        if unknown:
            raise NotFound(f"unknown session type {sorted(unknown)[0]!r}")
        _check_gates(catalog, calendar, facts, request)
        # The protocol's rules (gaps, doses per window, order, courses at once) among the
        # patient's sessions as they are now (scheduling/protocol_rules.py).
        rule_check.enforce(
            rule_check.judge_new_plan(
                session,
                config,
                calendar,
                patient_id,
                request.sessions,
                request.protocol,
                request.overrides,
            ),
            actor,
            catalog,
            fresh=request.overrides,
            what="the plan",
        )
        hold_until = request.hold_until
        if request.tentative and hold_until is None:
            # The clinic's hours, but never past the first session: a hold that outlived the
            # session it holds would print "held until" a time the session is already over.
            hold_until = min(
                now + dt.timedelta(hours=catalog.settings.tentative_hold_hours), first_start
            )
        resources = verify_plan(
            session,
            calendar,
            request.sessions,
            known=ref.resources,
            now=now,
            catalog=catalog,
            expired_released=True,
        )
        check_patient_free(session, calendar, patient_id, request.sessions, config)
        return _Checked(config, resources, hold_until)

    ahead_checked: tuple[_Checked, raw.ReadLog] | None = None

    def check_ahead() -> None:
        """SQLite, while another writer holds the write lock: the whole check, made now on
        what is committed, every read logged (``store/raw.logged``).  The write transaction
        then reads the same statements again and, when each returns the same rows, the
        verdict stands as if made there (it is a function of those rows alone); else it
        checks again from scratch.  Anything this cannot log (a refusal, an expired hold to
        release, a read through SQLAlchemy) leaves the check to the write transaction."""
        nonlocal ahead_checked
        ahead_checked = None
        try:
            with db.read() as session:
                with raw.logged(raw.connection(session)) as log:
                    checked = check(session)
                ahead_checked = (checked, log)
        except Exception:
            # Only ever a head start: whatever went wrong, the write transaction checks from
            # scratch (and raises what it finds there).
            ahead_checked = None

    def write() -> BookingResult:
        nonlocal ahead_checked
        ahead_checked = None
        with db.write(while_waiting=check_ahead) as session:
            found = ahead_checked
            if found is not None and raw.replays(raw.connection(session), found[1]):
                checked = found[0]
            else:
                checked = check(session)
            return _write(session, actor, request, checked, now)

    try:
        return retried_once(write)
    except IntegrityError as err:
        raise conflict_from(err) from None


def _write(
    session: Session,
    actor: Actor,
    request: BookingRequest,
    checked: _Checked,
    now: dt.datetime,
) -> BookingResult:
    """A checked plan's rows: the series, the appointments, their holds, events, overrides
    and follow-ups, the audit events and the change counter, in that order.

    PostgreSQL: with the new appointments' and follow-ups' ids taken from their sequences
    ahead (``_NEW_IDS``, read with the booking's other reads), all of them go in one round
    trip (``store/raw.Batch``).  SQLite (or ids not taken ahead): the appointments first, their
    ids wanted by the rest, then the rest but the audit events, the follow-ups' ids wanted by
    theirs, then the audit events and the counter."""
    config, resources, hold_until = checked
    catalog = config.catalog
    type_ids = config.session_type_ids
    patient_id = request.patient_id
    status = "tentative" if request.tentative else "booked"
    action = "pencil" if request.tentative else "book"
    conn = raw.connection(session)
    series_id = None
    if request.protocol is not None:
        protocol_id = config.protocol_ids.get(request.protocol)
        if protocol_id is None:
            raise NotFound(f"unknown protocol {request.protocol!r}")
        if request.previous_series_id is not None:
            _check_previous(session, patient_id, request.previous_series_id)
        ((series_id,),) = raw.insert_returning(
            conn,
            _INSERT_SERIES,
            [
                {
                    "patient_id": patient_id,
                    "protocol_id": protocol_id,
                    "status": "active",
                    "planned_count": len(request.sessions),
                    "preferences": dict(request.preferences),
                    "created_at": now,
                    "previous_series_id": request.previous_series_id,
                }
            ],
        )
    ordered = sorted(request.sessions, key=lambda s: s.index)
    rooms = [room_of(planned, resources) for planned in ordered]
    appointment_rows: list[dict[str, Any]] = [
        {
            "patient_id": patient_id,
            "series_id": series_id,
            "series_index": planned.index if series_id is not None else None,
            "session_type_id": type_ids[planned.session_type],
            "room_id": room,
            "starts_at": planned.start,
            "ends_at": planned.end,
            "status": status,
            "hold_until": hold_until,
            "late_cancel": False,
            "checklist": {},
            "notes": "",
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for planned, room in zip(ordered, rooms, strict=True)
    ]
    # The follow-ups the new sessions owe, from what this booking knows (no reads), audited
    # with the appointments.  A tentative hold owes none until it is confirmed.
    owed_count = len(_owed(request, ordered, resources, catalog, [0] * len(ordered)))
    ids = _new_ids(session, len(ordered), owed_count)
    batch = raw.Batch(conn)
    follow_ups = -1
    if ids is not None:
        appointment_ids, follow_up_ids = ids
        batch.insert(
            _INSERT_APPOINTMENTS_WITH_IDS,
            [{"id": i, **row} for i, row in zip(appointment_ids, appointment_rows, strict=True)],
        )
    else:
        first = raw.Batch(conn)
        appointments = first.insert_returning(_INSERT_APPOINTMENTS, appointment_rows)
        appointment_ids = [appointment_id for (appointment_id,) in first.run()[appointments]]
    owed = _owed(request, ordered, resources, catalog, appointment_ids)
    detail = {"hold_until": hold_until.isoformat()} if hold_until is not None else {}
    batch.insert(
        _INSERT_HOLDS,
        [
            _hold_row(appointment_id, hold)
            for appointment_id, planned in zip(appointment_ids, ordered, strict=True)
            for hold in planned.holds
        ],
    )
    batch.insert(
        _INSERT_EVENTS,
        [
            {
                "appointment_id": appointment_id,
                "at": now,
                "user_id": actor.user_id,
                "action": action,
                "from_status": None,
                "to_status": status,
                "reason": "",
                "detail": detail,
            }
            for appointment_id in appointment_ids
        ],
    )
    batch.insert(
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
    if ids is not None:
        batch.insert(
            sync.INSERT_FOLLOW_UPS_WITH_IDS,
            [
                {"id": i, **row}
                for i, row in zip(follow_up_ids, sync.follow_up_rows(owed, now), strict=True)
            ],
        )
    else:
        follow_ups = batch.insert_returning(sync.INSERT_FOLLOW_UPS, sync.follow_up_rows(owed, now))
        follow_up_ids = [fid for (fid,) in batch.run()[follow_ups]]
        batch = raw.Batch(conn)
    entries = [
        audit.entry(
            actor,
            action,
            "appointment",
            appointment_id,
            patient_id=patient_id,
            after=_snapshot(status, planned.start, planned.end, room) | detail,
            now=now,
        )
        for appointment_id, planned, room in zip(appointment_ids, ordered, rooms, strict=True)
    ] + sync.opened_entries(actor, follow_up_ids, owed, now)
    # Each override given (a role's decision with a reason) is audited as a move's is
    # (``rule_check.record_overrides``); none in the common case.
    entries += [
        audit.entry(
            actor,
            "override_rule",
            "appointment",
            appointment_id,
            patient_id=patient_id,
            after={"rule": rule, "reason": reason},
            detail=f"{rule}: {reason}",
            now=now,
        )
        for appointment_id in appointment_ids
        for rule, reason in request.overrides.items()
    ]
    if series_id is not None and request.previous_series_id is not None:
        entries.append(
            audit.entry(
                actor,
                "change_protocol",
                "series",
                series_id,
                patient_id=patient_id,
                after={"previous_series_id": request.previous_series_id},
                detail=f"{request.protocol} after series #{request.previous_series_id}",
                now=now,
            )
        )
    # Every row written before the change counter, the last lock taken.
    audit.write_in(batch, entries)
    bump = changes.bump_in(batch, now)
    changes.bumped(session, batch.run()[bump], now)
    return BookingResult(series_id=series_id, appointment_ids=tuple(appointment_ids))


def _check_previous(session: Session, patient_id: int, previous_id: int) -> None:
    """A change of protocol books after the patient's old series, which the change ended
    (and which no other series follows yet): refused otherwise, nothing written."""
    previous = session.get(Series, previous_id, with_for_update={"key_share": True})
    if previous is None or previous.patient_id != patient_id:
        raise InvalidRequest(f"series #{previous_id} is not this patient's: nothing was booked")
    if previous.status != "ended":
        raise InvalidRequest(
            "the series this protocol change ends is no longer ended (its end was taken "
            "back): nothing was booked; change the protocol again, or book the new one on "
            "its own"
        )
    follows = session.scalar(
        select(Series.id).where(
            Series.previous_series_id == previous_id, Series.status != "cancelled"
        )
    )
    if follows is not None:
        raise InvalidRequest(
            f"series #{follows} already follows the series this change ended: nothing was booked"
        )


def _owed(
    request: BookingRequest,
    ordered: Sequence[PlannedSession],
    resources: Mapping[int, ResourceInfo],
    catalog: Catalog,
    appointment_ids: Sequence[int],
) -> sync.Owed:
    """The follow-ups the new appointments (with these ids) owe: none for a tentative hold."""
    if request.tentative:
        return []
    return sync.owed_by_new_bookings(
        [
            sync.NewAppointment(
                id=appointment_id,
                patient_id=request.patient_id,
                type_code=planned.session_type,
                starts_at=planned.start,
                ends_at=planned.end,
                staff=_staff_roles(planned, resources),
            )
            for appointment_id, planned in zip(appointment_ids, ordered, strict=True)
        ],
        catalog,
    )


# PostgreSQL: ids for a booking's new appointments and follow-ups, taken from their sequences
# (what their inserts would have taken; a booking that fails leaves a gap, as a failed insert
# does), so that every insert of the booking can go in one round trip.
_NEW_IDS = text(
    "SELECT ARRAY(SELECT nextval(pg_get_serial_sequence('appointment', 'id'))"
    " FROM generate_series(1, :appointments)),"
    " ARRAY(SELECT nextval(pg_get_serial_sequence('follow_up', 'id'))"
    " FROM generate_series(1, :follow_ups))"
)


def _new_ids_read(
    request: BookingRequest, ref: reference.Reference
) -> tuple[Executable, dict[str, Any]]:
    """PostgreSQL: ``_NEW_IDS`` for this plan, to send ahead with the booking's reads."""
    ordered = sorted(request.sessions, key=lambda s: s.index)
    owed = _owed(request, ordered, ref.resources, ref.config.catalog, [0] * len(ordered))
    return (_NEW_IDS, {"appointments": len(ordered), "follow_ups": len(owed)})


def _new_ids(
    session: Session, appointments: int, follow_ups: int
) -> tuple[list[int], list[int]] | None:
    """PostgreSQL: the ids the booking's new rows take (read ahead, else now); None on SQLite,
    whose inserts return them."""
    conn = raw.connection(session)
    if conn.dialect.name != "postgresql":
        return None
    params = {"appointments": appointments, "follow_ups": follow_ups}
    rows = prefetched(session, _NEW_IDS, params)
    if rows is None:
        rows = raw.rows(conn, _NEW_IDS, params)
    appointment_ids, follow_up_ids = rows[0]
    return list(appointment_ids), list(follow_up_ids)


def _reads_ahead(
    calendar: ClinicCalendar, request: BookingRequest, now: dt.datetime
) -> list[Ahead]:
    """PostgreSQL: the booking's reads, to go in one pipeline: the expired tentative holds,
    then the (resource, day) locks and the holds in the way, then the patient's lock and, under
    it, the patient's record, live sessions and bookings those days.  The locks are taken in
    the order every write takes them; each read runs after the locks before it, as when the
    checks ran one after the other, so the patient's gates and protocol rules are judged on
    rows no other booking of this patient can change before this one commits.  The patient's
    five reads go as two statements (``patient_reads``).  Releasing an expired hold (rare)
    forgets them, and they are read again."""
    patient_id = request.patient_id
    resource_reads, (lock_patient, patient_booked) = booking_reads(
        calendar, request.sessions, patient_id
    )
    record, appointments = patient_reads(patient_id, lock_patient, patient_booked)
    return [
        (EXPIRED, {"now": now}),
        *resource_reads,
        record,
        appointments,
        (PATIENT_AWAY, {"patient_id": patient_id}),
    ]


class GateRefused(ServiceError):
    """A gating rule stops the booking: a block, or a warning nobody has overridden (a
    clinician's decision; a day the patient is away, anyone's who books)."""

    def __init__(self, results: Sequence[GateResult]) -> None:
        self.results = tuple(results)
        super().__init__(
            "; ".join(
                r.explained
                + (
                    ""
                    if r.severity is Severity.BLOCK
                    else f" ({override_rights.who_may_override([r.rule])} may override this "
                    "with a reason)"
                )
                for r in self.results
            )
        )

    def overridable_by(self, actor: Actor) -> tuple[GateResult, ...]:
        """The warnings ``actor`` may set aside with a reason: all of them when every one is a
        warning its role may override (``override_rights``), else none."""
        if any(r.severity is not Severity.WARN for r in self.results):
            return ()
        if not override_rights.may_override(actor, [r.rule for r in self.results]):
            return ()
        return self.results


SPACING_RULE = SPACING  # the override key for a series that breaks its protocol's gaps


def _check_gates(
    catalog: Catalog,
    calendar: ClinicCalendar,
    facts: PatientFacts,
    request: BookingRequest,
) -> None:
    # A tentative hold is how a patient whose screening or consent is pending keeps a place:
    # its gates are judged when it is confirmed.
    if not request.tentative:
        results = gate_sessions(catalog, facts, request.sessions, calendar, request.overrides)
        stopping = [r for r in results if r.stops_booking]
        if stopping:
            raise GateRefused(stopping)
    if request.protocol is not None and request.protocol not in catalog.protocols:
        raise NotFound(f"unknown protocol {request.protocol!r}")


@dataclass(frozen=True, slots=True)
class PatientRefusals:
    """Why ``book`` would refuse sessions because of the patient, given no override.

    ``stops``: what no reason lets through, each in the words ``book`` would raise it in (a
    block-level gate or protocol rule, another session at the time, too many dosing sessions
    a day).  ``warnings``: the warn-level gating and protocol rules, as the gates the booking
    dialog shows (``protocol_rules.Finding.as_gate`` for a protocol rule): ``book`` takes the
    sessions once each has a nurse's or prescriber's reason (``BookingRequest.overrides``)."""

    stops: tuple[str, ...] = ()
    warnings: tuple[GateResult, ...] = ()

    @property
    def texts(self) -> tuple[str, ...]:
        """Every refusal in words, the warnings as ``book`` says them when not overridden."""
        if not self.warnings:
            return self.stops
        return (*self.stops, str(GateRefused(self.warnings)))


def patient_refusals(
    session: Session,
    config: StoredConfig,
    calendar: ClinicCalendar,
    patient_id: int,
    sessions: Sequence[PlannedSession],
    *,
    now: dt.datetime,
) -> PatientRefusals:
    """Why ``book`` would refuse ``sessions`` (single sessions, no override given) because of
    the patient: the gates, the protocol rules (doses in a window, courses at once), another
    session at the time and the dosing sessions a day, the warn-level rules apart from what
    stops it whatever anyone says.  The very checks ``book`` makes, asked in a read: no
    lock is taken and nothing is written (a tentative hold past its deadline is passed over
    rather than released).  Whether the resources are free is the caller's question (an
    ``Availability`` of the same holds answers it); raises NotFound for an unknown patient."""
    catalog = config.catalog
    facts = load_patient_facts(session, patient_id, catalog)
    if facts is None:
        raise NotFound(f"no patient #{patient_id}")
    request = BookingRequest(patient_id=patient_id, sessions=tuple(sessions))
    expired = {
        row[0]
        for row in raw.rows(raw.connection(session), EXPIRED, {"now": now})
        if row[1] == patient_id
    }
    stops: list[str] = []
    warnings: list[GateResult] = []
    gates = gate_sessions(catalog, facts, request.sessions, calendar, {})
    blocks = [g for g in gates if g.severity is Severity.BLOCK]
    if blocks:
        stops.append(str(GateRefused(blocks)))
    warnings.extend(g for g in gates if g.severity is Severity.WARN)
    findings = rule_check.judge_new_plan(
        session, config, calendar, patient_id, request.sessions, None, ignore=expired
    )
    try:
        # No override is given: the actor is never asked about (``enforce`` asks who overrides).
        rule_check.enforce(
            [f for f in findings if f.severity is Severity.BLOCK],
            SYSTEM,
            catalog,
            what="booking it",
        )
    except ServiceError as err:
        stops.append(str(err))
    known = {g.rule for g in warnings}
    warnings.extend(
        f.as_gate() for f in findings if f.severity is Severity.WARN and f.rule not in known
    )
    try:
        check_patient_free(
            session, calendar, patient_id, request.sessions, config, ignore=expired, lock=False
        )
    except ServiceError as err:
        stops.append(str(err))
    return PatientRefusals(tuple(stops), tuple(warnings))
