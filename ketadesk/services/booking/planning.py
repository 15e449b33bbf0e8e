"""Planning questions asked of the database: openings for a session type, a series plan for a
patient.  Read-only: a plan is a proposal until ``booking.book`` commits it.

The snapshot each question loads covers only the days it looks at, so the cost follows the
window, not the length of the clinic's history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Select, String, Table, bindparam, literal, select
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.catalog import (
    WEEKDAYS,
    ClinicSettings,
    ProtocolSpec,
    ResourceKind,
    SessionTypeSpec,
)
from ketadesk.scheduling.dates import clock
from ketadesk.scheduling.dosing_days import dosed_day_spans
from ketadesk.scheduling.gating import (
    GateResult,
    PatientFacts,
    PriorAuthSpent,
    ScreeningStatus,
    check_gates,
    eligibility_settings,
    prior_auth_units_spent,
)
from ketadesk.scheduling.model import PlannedSession
from ketadesk.scheduling.openings import OpeningSearch, Preferences, find_openings
from ketadesk.scheduling.planner import (
    DEFAULT_SEARCH_DAYS,
    SeriesPlan,
    plan_series,
    spacing_problems,
)
from ketadesk.scheduling.protocol_rules import SPACING_RULES, WINDOW_CAP
from ketadesk.scheduling.statuses import (
    PRIOR_AUTH_SPENDING_STATUSES,
    RELEASED_STATUSES,
)
from ketadesk.services.booking.rule_check import judge_new_plan
from ketadesk.services.common.context import InvalidRequest, NotFound
from ketadesk.store import raw
from ketadesk.store.clinic_config import StoredConfig, load_catalog, load_config
from ketadesk.store.database import Database
from ketadesk.store.days_away import patient_away_ranges
from ketadesk.store.models import Appointment, Patient, Resource, SessionType
from ketadesk.store.pipeline import prefetched
from ketadesk.store.queries import overlapping
from ketadesk.store.snapshot import autoflush, load_snapshot


@dataclass(frozen=True)
class PlanWishes:
    """What the desk asks for, in the words of the command line or the booking dialog."""

    weekdays: tuple[str, ...] = ()
    time: dt.time | None = None  # preferred local start time
    earliest: dt.time | None = None
    latest: dt.time | None = None
    room: str | None = None  # a room's name
    staff: str | None = None  # a staff member's name


@dataclass(frozen=True)
class SeriesProposal:
    """A planned series for one patient, with everything the desk needs to decide."""

    patient_id: int
    patient_name: str
    protocol: str
    plan: SeriesPlan
    gates: tuple[GateResult, ...]
    resource_names: Mapping[int, str]
    calendar: ClinicCalendar = field(repr=False)

    @property
    def sessions(self) -> tuple[PlannedSession, ...]:
        return self.plan.sessions


@dataclass(frozen=True)
class OpeningsAnswer:
    session_type: str
    search: OpeningSearch
    resource_names: Mapping[int, str]
    calendar: ClinicCalendar = field(repr=False)


def _resource_id(session: Session, name: str, kind: ResourceKind) -> int:
    found = session.scalar(
        select(Resource.id).where(Resource.name == name, Resource.kind == kind.value)
    )
    if found is None:
        known = session.scalars(
            select(Resource.name)
            .where(Resource.kind == kind.value, Resource.active.is_(True))
            .order_by(Resource.sort_order, Resource.name)
        ).all()
        # "; " between names: staff names carry commas ("Maria Reyes, RN").
        raise NotFound(f"no {kind.value} called {name!r}; known: {'; '.join(known)}")
    return found


def _preferences(
    session: Session,
    wishes: PlanWishes,
    default_weekdays: Sequence[str],
    specs: Sequence[SessionTypeSpec],
    settings: ClinicSettings,
) -> Preferences:
    for day in wishes.weekdays:
        if day not in WEEKDAYS:
            raise InvalidRequest(f"{day!r} is not a weekday; use {', '.join(WEEKDAYS)}")
    if wishes.earliest and wishes.latest and wishes.earliest > wishes.latest:
        raise InvalidRequest(
            f"the earliest start ({clock(wishes.earliest, settings.time_format)}) is after the "
            f"latest ({clock(wishes.latest, settings.time_format)})"
        )
    room = _resource_id(session, wishes.room, ResourceKind.ROOM) if wishes.room else None
    staff = _resource_id(session, wishes.staff, ResourceKind.STAFF) if wishes.staff else None
    _check_wishes_fit(session, wishes, room, staff, specs, settings)
    return Preferences(
        weekdays=tuple(wishes.weekdays) or tuple(default_weekdays),
        earliest_start=wishes.earliest,
        latest_start=wishes.latest,
        preferred_room=room,
        preferred_staff=staff,
        preferred_start=wishes.time,
    )


def _check_wishes_fit(
    session: Session,
    wishes: PlanWishes,
    room: int | None,
    staff: int | None,
    specs: Sequence[SessionTypeSpec],
    settings: ClinicSettings,
) -> None:
    """Refuse a wish the sessions can never meet, rather than quietly plan around it."""
    names = " / ".join(spec.name for spec in specs)
    for wished, kind, label in ((room, ResourceKind.ROOM, "room"), (staff, ResourceKind.STAFF, "")):
        if wished is None:
            continue
        subkind = session.scalar(select(Resource.subkind).where(Resource.id == wished))
        wanted = {n.subkind for spec in specs for n in spec.needs if n.kind is kind}
        if subkind not in wanted:
            needs = " or ".join(sorted(w.replace("_", " ") for w in wanted)) or "none"
            name = wishes.room if kind is ResourceKind.ROOM else wishes.staff
            what = (subkind or "").replace("_", " ")
            if kind is ResourceKind.ROOM and what != "office":
                what = f"{what} room"
            article = "an" if what[:1] in "aeiou" else "a"
            raise InvalidRequest(
                f"{name} is {article} {what}; {names} needs a {needs} {label}".rstrip()
            )
    if wishes.time is not None:
        opening = [h for h in settings.hours.values() if h is not None]
        start = wishes.time.hour * 60 + wishes.time.minute
        longest = max(spec.total_minutes for spec in specs)
        if not any(
            o.hour * 60 + o.minute <= start and start + longest <= c.hour * 60 + c.minute
            for o, c in opening
        ):
            raise InvalidRequest(
                f"a session at {clock(wishes.time, settings.time_format)} does not fit the "
                "opening hours on any day "
                f"({names} takes up to {longest} minutes)"
            )


def _protocol_types(protocol: ProtocolSpec, catalog: Catalog) -> list[SessionTypeSpec]:
    """The session types a protocol's dosing stages book (what a room or time wish is about)."""
    codes = [stage.session_type for stage in protocol.stages]
    dosing = [catalog.session_types[c] for c in codes if catalog.session_types[c].dosing]
    return dosing or [catalog.session_types[c] for c in codes]


def find_patient(session: Session, chart: str) -> Patient:
    patient = session.scalar(select(Patient).where(Patient.chart_number == chart))
    if patient is None:
        raise NotFound(f"no patient with chart number {chart!r}")
    return patient


_APPOINTMENT = cast(Table, Appointment.__table__)
_SESSION_TYPE = cast(Table, SessionType.__table__)
_PATIENT = cast(Table, Patient.__table__)


def _prior_auth_sessions(bounded: bool) -> Select[Any]:
    """A patient's sessions in a spending status (id, type, status, start), of every type (the
    prior-authorized ones are picked out by the caller, so the statement has no list to expand
    and runs on the driver's cursor, ``store/raw.py``); ``bounded``: only from the instant
    ``since`` (the local midnight the authorization starts), the index on (patient, start)
    reading no older ones."""
    statement = (
        select(
            _APPOINTMENT.c.id,
            _SESSION_TYPE.c.code,
            _APPOINTMENT.c.status,
            _APPOINTMENT.c.starts_at,
        )
        .join(_SESSION_TYPE, _SESSION_TYPE.c.id == _APPOINTMENT.c.session_type_id)
        .where(
            _APPOINTMENT.c.patient_id == bindparam("patient_id"),
            _APPOINTMENT.c.status.in_(
                [literal(s, String) for s in sorted(PRIOR_AUTH_SPENDING_STATUSES)]
            ),
        )
    )
    if bounded:
        statement = statement.where(
            _APPOINTMENT.c.starts_at >= bindparam("since", type_=_APPOINTMENT.c.starts_at.type)
        )
    return statement


_PRIOR_AUTH_SESSIONS = {bounded: _prior_auth_sessions(bounded) for bounded in (False, True)}
# All of them, whenever they start: a booking on PostgreSQL sends the patient's reads ahead
# (``patient_reads``), before it knows when the authorization starts.
PRIOR_AUTH_SESSIONS_ALL = _PRIOR_AUTH_SESSIONS[False]

PATIENT_FACTS = select(
    _PATIENT.c.screening_status,
    _PATIENT.c.screening_cleared_on,
    _PATIENT.c.consent_signed_on,
    _PATIENT.c.rems_enrolled_on,
    _PATIENT.c.prior_auth_expires_on,
    _PATIENT.c.prior_auth_sessions,
    _PATIENT.c.driver_name,
    _PATIENT.c.date_of_birth,
    _PATIENT.c.eligibility_flags,
    _PATIENT.c.prior_auth_starts_on,
    _PATIENT.c.self_pay,
).where(_PATIENT.c.id == bindparam("patient_id"))


def _prior_auth_codes(catalog: Catalog) -> list[str]:
    return [c for c, t in catalog.session_types.items() if "prior_auth_valid" in t.gating]


def prior_auth_spent(
    session: Session,
    catalog: Catalog,
    patient_id: int,
    starts_on: dt.date | None,
    *,
    excluding: Sequence[int] = (),
) -> PriorAuthSpent:
    """The units of the patient's prior authorization that their sessions on record have spent
    (``scheduling.gating.prior_auth_spends``: booked ahead or given, of the prior-authorized
    types, on or after ``starts_on`` at the clinic's local date), but the appointments
    ``excluding`` names."""
    codes = set(_prior_auth_codes(catalog))
    if not codes:
        return PriorAuthSpent()
    calendar = ClinicCalendar(catalog.settings)
    params: dict[str, Any] = {"patient_id": patient_id}
    if starts_on is not None:
        params["since"] = calendar.day_bounds(starts_on).start
    ahead = prefetched(session, PRIOR_AUTH_SESSIONS_ALL, {"patient_id": patient_id})
    if ahead is None:
        rows = raw.rows(
            raw.connection(session), _PRIOR_AUTH_SESSIONS[starts_on is not None], params
        )
    else:  # the bound the statement would have applied
        since = params.get("since")
        rows = ahead if since is None else [row for row in ahead if row[3] >= since]
    skip = set(excluding)
    return prior_auth_units_spent(
        (
            (code, status, calendar.local_date(start))
            for id_, code, status, start in rows
            if code in codes and id_ not in skip
        ),
        starts_on,
        eligibility_settings(catalog.settings),
    )


def _facts(
    screening_status: str,
    screening_cleared_on: dt.date | None,
    consent_signed_on: dt.date | None,
    rems_enrolled_on: dt.date | None,
    prior_auth_expires_on: dt.date | None,
    prior_auth_sessions: int | None,
    driver_name: str,
    date_of_birth: dt.date | None,
    eligibility_flags: Sequence[str] | None,
    prior_auth_starts_on: dt.date | None,
    *,
    spent: PriorAuthSpent,
    self_pay: bool = False,
) -> PatientFacts:
    left = prior_auth_sessions
    if left is not None:
        left = max(0, left - spent.units)
    return PatientFacts(
        screening_status=ScreeningStatus(screening_status),
        screening_cleared_on=screening_cleared_on,
        consent_signed_on=consent_signed_on,
        rems_enrolled_on=rems_enrolled_on,
        prior_auth_expires_on=prior_auth_expires_on,
        prior_auth_sessions_left=left,
        driver_name=driver_name,
        date_of_birth=date_of_birth,
        flags=frozenset(eligibility_flags or ()),
        prior_auth_starts_on=prior_auth_starts_on,
        prior_auth_given=spent.given,
        self_pay=bool(self_pay),
    )


def patient_facts(
    session: Session, patient: Patient, catalog: Catalog, *, excluding: Sequence[int] = ()
) -> PatientFacts:
    """The gating facts of a patient's record; the units the patient's sessions on record
    have spent (``prior_auth_spent``) count against the authorization, except the appointments
    ``excluding`` names (those being moved or started, judged at their new dates)."""
    spent = PriorAuthSpent()
    if patient.prior_auth_sessions is not None and not patient.self_pay:
        autoflush(session)
        spent = prior_auth_spent(
            session, catalog, patient.id, patient.prior_auth_starts_on, excluding=excluding
        )
    return _facts(
        patient.screening_status,
        patient.screening_cleared_on,
        patient.consent_signed_on,
        patient.rems_enrolled_on,
        patient.prior_auth_expires_on,
        patient.prior_auth_sessions,
        patient.driver_name,
        patient.date_of_birth,
        patient.eligibility_flags,
        patient.prior_auth_starts_on,
        spent=spent,
        self_pay=bool(patient.self_pay),
    )


def load_patient_facts(
    session: Session, patient_id: int, catalog: Catalog, *, excluding: Sequence[int] = ()
) -> PatientFacts | None:
    """``patient_facts`` of a patient by id: the record in one statement, the units spent in
    a second when there is an authorization (None: no such patient)."""
    autoflush(session)
    ahead = prefetched(session, PATIENT_FACTS, {"patient_id": patient_id})
    found = (
        raw.rows(raw.connection(session), PATIENT_FACTS, {"patient_id": patient_id})
        if ahead is None
        else ahead
    )
    row = found[0] if found else None
    if row is None:
        return None
    authorized, starts_on, self_pay = row[5], row[9], bool(row[10])
    spent = (
        PriorAuthSpent()
        if authorized is None or self_pay
        else prior_auth_spent(session, catalog, patient_id, starts_on, excluding=excluding)
    )
    (screening, cleared, consent, rems, expires, _, driver, born, flags, _, _) = row
    return _facts(
        screening,
        cleared,
        consent,
        rems,
        expires,
        authorized,
        driver,
        born,
        flags,
        starts_on,
        spent=spent,
        self_pay=self_pay,
    )


def gate_sessions(
    catalog: Catalog,
    facts: PatientFacts,
    sessions: Sequence[PlannedSession],
    calendar: ClinicCalendar,
    overrides: Mapping[str, str] | None = None,
) -> list[GateResult]:
    """The gating results of a plan, session type by session type."""
    by_type: dict[str, list[dt.date]] = {}
    for s in sessions:
        by_type.setdefault(s.session_type, []).append(calendar.local_date(s.start))
    results: list[GateResult] = []
    for code, dates in by_type.items():
        for result in check_gates(
            catalog.session_types[code], facts, dates, catalog.settings, overrides or {}
        ):
            if result not in results:
                results.append(result)
    return results


def horizon_days(protocol: ProtocolSpec, search_days: int = DEFAULT_SEARCH_DAYS) -> int:
    """How many days a plan of ``protocol`` can reach, so its snapshot covers all of it: the
    first session's search, then each stage's window (or its sessions at the widest gap), with
    room for a last session's alternatives."""
    days = search_days
    for stage in protocol.stages:
        reach = stage.count * max(stage.max_gap_days, 1)
        days += min(reach, stage.window_days) if stage.window_days else reach
        if stage.followed_by:
            days += stage.followed_by.max_days
    return days + search_days


def _window(catalog: Catalog, first: dt.date, days: int) -> Interval:
    calendar = ClinicCalendar(catalog.settings)
    return Interval(
        calendar.day_bounds(first).start,
        calendar.day_bounds(first + dt.timedelta(days=days)).end,
    )


@dataclass(frozen=True)
class PatientBusy:
    """The patient's other live sessions in a window: when they are taken, and on which local
    days they are dosed (``scheduling/dosing_days``: only doses count against the day's cap)."""

    sessions: tuple[Interval, ...]
    doses: tuple[tuple[dt.date, bool], ...]  # (local day, doses) of each session

    def for_type(self, spec: SessionTypeSpec, calendar: ClinicCalendar) -> list[Interval]:
        """When a session of ``spec`` cannot be planned: the patient's other sessions, and, for
        a session that doses, the whole days already holding the clinic's limit of doses (the
        rule booking judges by, ``plan_check.check_patient_free``)."""
        return [*self.sessions, *dosed_day_spans(calendar, spec.dosing, self.doses)]


def _patient_busy(
    session: Session,
    patient_id: int,
    window: Interval,
    catalog: Catalog,
    calendar: ClinicCalendar,
    *,
    excluding: int | None = None,
) -> PatientBusy:
    """The patient's other live sessions overlapping ``window`` (``excluding`` one: a session
    being moved is not in its own way)."""
    rows = session.execute(
        select(Appointment.starts_at, Appointment.ends_at, SessionType.code)
        .join(SessionType, SessionType.id == Appointment.session_type_id)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.id != (excluding if excluding is not None else -1),
            Appointment.status.not_in(tuple(RELEASED_STATUSES)),
            *overlapping(Appointment.starts_at, Appointment.ends_at, window),
        )
    ).all()
    doses = []
    for starts, _, code in rows:
        spec = catalog.session_types.get(code)
        doses.append((calendar.local_date(starts), spec is not None and spec.dosing))
    return PatientBusy(tuple(Interval(a, b) for a, b, _ in rows), tuple(doses))


def _names(session: Session) -> dict[int, str]:
    rows = session.execute(select(Resource.id, Resource.name))
    return {row[0]: row[1] for row in rows}


def propose_series(
    db: Database,
    *,
    chart: str,
    protocol: str,
    start: dt.date,
    wishes: PlanWishes = PlanWishes(),
    today: dt.date,
) -> SeriesProposal:
    """Plan a whole series for a patient from ``start`` (a dry run: nothing is written)."""
    if start < today:
        raise InvalidRequest(f"the start date {start:%Y-%m-%d} is in the past")
    with db.read() as session:
        config = load_config(session)
        catalog = config.catalog
        spec = catalog.protocols.get(protocol)
        if spec is None:
            raise NotFound(
                f"no protocol {protocol!r}; known: {', '.join(sorted(catalog.protocols))}"
            )
        patient = find_patient(session, chart)
        prefs = _preferences(
            session, wishes, spec.default_weekdays, _protocol_types(spec, catalog), catalog.settings
        )
        window = _window(catalog, start, horizon_days(spec))
        snapshot = load_snapshot(session, window, catalog)
        availability = snapshot.availability()
        busy = _patient_busy(session, patient.id, window, catalog, snapshot.calendar)
        plan = plan_series(
            spec,
            start,
            prefs,
            availability,
            catalog.session_types,
            patient_busy=busy.sessions,
            patient_doses=busy.doses,
            patient_away=patient_away_ranges(session, patient.id),
        )
        facts = patient_facts(session, patient, catalog)
        placed = [s for s in plan.sessions if s.placed]
        gates = gate_sessions(catalog, facts, placed, snapshot.calendar)
        # The protocol rules the plan's own problems do not say (the series order, a course at
        # once).
        gates += rule_gates(
            session,
            config,
            snapshot.calendar,
            patient.id,
            placed,
            protocol,
            said={*SPACING_RULES, WINDOW_CAP},
        )
        return SeriesProposal(
            patient_id=patient.id,
            patient_name=f"{patient.last_name}, {patient.first_name}",
            protocol=protocol,
            plan=plan,
            gates=tuple(gates),
            resource_names=_names(session),
            calendar=snapshot.calendar,
        )


def rule_gates(
    session: Session,
    config: StoredConfig,
    calendar: ClinicCalendar,
    patient_id: int,
    placed: Sequence[PlannedSession],
    protocol: str | None,
    *,
    said: Collection[str] = (),
) -> list[GateResult]:
    """What booking ``placed`` would break among the patient's sessions
    (scheduling/protocol_rules.py), as gates a proposal shows and a clinician overrides like
    gating warnings, so the desk sees before *Book* what the booking would refuse; ``said``:
    rules the proposal reports otherwise (a series plan's own spacing problems).  ``config``:
    as the proposal read it (one read of the configuration per proposal)."""
    return [
        f.as_gate()
        for f in judge_new_plan(session, config, calendar, patient_id, placed, protocol)
        if f.rule not in said
    ]


def search_openings(
    db: Database,
    *,
    session_type: str,
    first: dt.date,
    days: int,
    wishes: PlanWishes = PlanWishes(),
    today: dt.date,
    limit: int | None = None,
) -> OpeningsAnswer:
    """Every feasible start of a session type over ``days`` days from ``first``."""
    if days < 1:
        raise InvalidRequest("the search needs at least one day")
    if first < today:
        raise InvalidRequest(f"the first day {first:%Y-%m-%d} is in the past")
    with db.read() as session:
        catalog = load_catalog(session)
        spec = catalog.session_types.get(session_type)
        if spec is None:
            known = ", ".join(sorted(catalog.session_types))
            raise NotFound(f"no session type {session_type!r}; known: {known}")
        prefs = _preferences(session, wishes, (), [spec], catalog.settings)
        window = _window(catalog, first, days)
        snapshot = load_snapshot(session, window, catalog)
        availability = snapshot.availability()
        search = find_openings(
            availability, spec, first, first + dt.timedelta(days=days - 1), prefs, limit=limit
        )
        return OpeningsAnswer(session_type, search, _names(session), snapshot.calendar)


def session_json(
    s: PlannedSession, calendar: ClinicCalendar, names: Mapping[int, str]
) -> dict[str, Any]:
    """One planned session as the command line's JSON prints it (times in the clinic's zone)."""
    room = next((names[h.resource_id] for h in s.holds if h.need in ("room", "office")), None)
    resources = list(dict.fromkeys(names[h.resource_id] for h in s.holds))
    return {
        "index": s.index,
        "session_type": s.session_type,
        "start": calendar.local(s.start).isoformat(),
        "end": calendar.local(s.end).isoformat(),
        "room": room,
        "resources": resources,
        "problems": list(s.problems),
        "alternatives": [calendar.local(a).isoformat() for a in s.alternatives],
    }


# How many days either side of a session its alternatives are looked for (a search horizon).
ALTERNATIVE_DAYS = DEFAULT_SEARCH_DAYS // 2


def session_alternatives(
    db: Database,
    *,
    patient_id: int,
    protocol: str,
    sessions: Sequence[PlannedSession],
    index: int,
    wishes: PlanWishes = PlanWishes(),
    today: dt.date,
    per_day: int = 2,
    limit: int = 8,
) -> list[PlannedSession]:
    """Other places for session ``index`` of a proposed series (for the desk to swap it): the
    best openings of its session type within ``ALTERNATIVE_DAYS`` of it, on days the rest of the
    plan and the patient's other bookings leave free, that keep the protocol's spacing."""
    target = next((s for s in sessions if s.index == index), None)
    if target is None:
        raise NotFound(f"the plan has no session {index}")
    with db.read() as session:
        catalog = load_catalog(session)
        spec = catalog.protocols.get(protocol)
        if spec is None:
            raise NotFound(f"no protocol {protocol!r}")
        type_spec = catalog.session_types[target.session_type]
        prefs = _preferences(session, wishes, spec.default_weekdays, [type_spec], catalog.settings)
        calendar = ClinicCalendar(catalog.settings)
        day = calendar.local_date(target.start)
        first = max(today + dt.timedelta(days=1), day - dt.timedelta(days=ALTERNATIVE_DAYS))
        last = day + dt.timedelta(days=ALTERNATIVE_DAYS)
        window = _window(catalog, first, (last - first).days + 1)
        snapshot = load_snapshot(session, window, catalog)
        availability = snapshot.availability()
        others = [s for s in sessions if s.index != index and s.placed]
        availability.add(h for s in others for h in s.holds)
        taken_days = {snapshot.calendar.local_date(s.start) for s in others}
        busy = _patient_busy(session, patient_id, window, catalog, snapshot.calendar).for_type(
            type_spec, snapshot.calendar
        )
        found = find_openings(
            availability,
            type_spec,
            first,
            last,
            dataclasses.replace(prefs, weekdays=()),
            per_day=per_day,
            patient_busy=busy,
            away=patient_away_ranges(session, patient_id),
        )
    out: list[PlannedSession] = []
    for opening in found.openings:
        if opening.start == target.start and target.placed:
            continue
        if snapshot.calendar.local_date(opening.start) in taken_days:
            continue
        candidate = opening.as_session(type_spec, index)
        trial = [candidate if s.index == index else s for s in sessions]
        if spacing_problems(spec, trial, snapshot.calendar, catalog.session_types):
            continue
        out.append(candidate)
        if len(out) == limit:
            break
    return sorted(out, key=lambda s: s.start)


@dataclass(frozen=True)
class BookingChoices:
    """What the booking dialog offers: the stored protocols and rooms, and the catalogue to name
    what a plan holds."""

    protocols: tuple[tuple[str, str], ...]  # (code, name), in the clinic's order
    rooms: tuple[str, ...]  # active rooms' names
    resource_kinds: Mapping[int, str]  # resource id -> "room" | "equipment" | "staff"
    catalog: Catalog


def booking_choices(db: Database) -> BookingChoices:
    with db.read() as session:
        catalog = load_catalog(session)
        rooms = session.scalars(
            select(Resource.name)
            .where(Resource.kind == ResourceKind.ROOM.value, Resource.active.is_(True))
            .order_by(Resource.sort_order, Resource.name)
        ).all()
        kinds: dict[int, str] = {}
        for rid, kind in session.execute(select(Resource.id, Resource.kind)):
            kinds[rid] = kind
    return BookingChoices(
        protocols=tuple((code, spec.name) for code, spec in catalog.protocols.items()),
        rooms=tuple(rooms),
        resource_kinds=kinds,
        catalog=catalog,
    )
