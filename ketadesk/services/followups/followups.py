"""Follow-ups: kept in step with the sessions that owe them, listed as a queue, worked off.

``sync_follow_ups`` runs inside the booking, moving and status transactions
(``services.booking``): it creates what a session owes (the PHQ-9 at booking, the next-day call
and REMS form once completed, the booster review when an induction's last session is done),
re-dates what a move shifted, cancels what a cancelled or missed session no longer owes and
re-opens it when that is undone.  It is idempotent: one live follow-up per appointment and kind,
and calling it twice changes nothing.

The queue (``follow_up_queue``, ``queue_counts``) reads open and snoozed follow-ups into
sections (overdue, due today, upcoming); the actions (``record_attempt``,
``complete_follow_up``, ``snooze_follow_up``, ``record_adverse_event``) check the role twice:
``work_follow_up``, and for clinical kinds the clinical roles of clinic.toml ``[followups]``.

While a follow-up is open its ``outcome`` column holds its note (why it was snoozed, what the
adverse event was); once done, the outcome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.catalog import FOLLOWUP_KINDS, FollowUpSettings, ResourceKind
from ketadesk.scheduling.followup_rules import (
    SECTION_TITLES,
    URGENT,
    OwedFollowUp,
    Section,
    adverse_event_follow_up,
    completion_follow_up,
    countdown_text,
    kind_label,
    reattempt_at,
    section_of,
    session_follow_ups,
    stage_finished,
    stage_ranges,
)
from ketadesk.scheduling.statuses import AFTER_SESSION_STATUSES, RELEASED_STATUSES
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import (
    Actor,
    InvalidFields,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    utcnow,
)
from ketadesk.services.monitoring.rems import rems_missing_many
from ketadesk.store import changes
from ketadesk.store.clinic_config import StoredConfig, load_catalog, load_config
from ketadesk.store.database import Database
from ketadesk.store.models import (
    Appointment,
    FollowUp,
    FollowUpAttempt,
    Patient,
    Protocol,
    Resource,
    ResourceHold,
    Series,
    SessionType,
)
from ketadesk.store.snapshot import autoflush, calendar_of, load_closures

# A follow-up in one of these still asks for work.
LIVE_STATUSES = ("open", "snoozed")
ATTEMPT_RESULTS = {"reached": "Reached", "no_answer": "No answer", "voicemail": "Left voicemail"}
UNREACHED = frozenset({"no_answer", "voicemail"})
# What a follow-up's outcome says when the session that owed it no longer does.
_NOT_OWED = {
    "cancelled": "Session cancelled",
    "no_show": "Session missed (no-show)",
}
_NO_LONGER_OWED = "No longer owed"
_SYNC_OUTCOMES = frozenset({*_NOT_OWED.values(), _NO_LONGER_OWED})
# How far past a session a follow-up may fall: the longest rule (a booster review after six
# weeks) plus a margin for business days over holidays; bounds the closures read.
_CALENDAR_DAYS_AHEAD = 120


# ---------------------------------------------------------------------------------------------
# Keeping follow-ups in step with sessions (inside the caller's transaction)


@dataclass(frozen=True, slots=True)
class _Appt:
    id: int
    patient_id: int
    type_code: str
    status: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    series_id: int | None
    series_index: int | None


def _load_appointments(
    session: Session, ids: Collection[int], codes: dict[int, str]
) -> list[_Appt]:
    rows = session.connection().execute(_APPOINTMENTS, {"ids": sorted(ids)})
    return [
        _Appt(id_, patient, codes[type_id], status, starts, ends, series, index)
        for id_, patient, type_id, status, starts, ends, series, index in rows
    ]


@dataclass(slots=True)
class _Stored:
    """A follow-up row as sync reads and changes it (plain Core: sync runs inside every
    booking, so it stays off the ORM)."""

    id: int
    appointment_id: int
    kind: str
    status: str
    due_at: dt.datetime
    deadline_at: dt.datetime | None
    snoozed_until: dt.datetime | None
    outcome: str


_FU = cast(Table, FollowUp.__table__)
_APPOINTMENT = cast(Table, Appointment.__table__)
_APPOINTMENTS = select(
    _APPOINTMENT.c.id,
    _APPOINTMENT.c.patient_id,
    _APPOINTMENT.c.session_type_id,
    _APPOINTMENT.c.status,
    _APPOINTMENT.c.starts_at,
    _APPOINTMENT.c.ends_at,
    _APPOINTMENT.c.series_id,
    _APPOINTMENT.c.series_index,
).where(_APPOINTMENT.c.id.in_(bindparam("ids", expanding=True)))
_STORED = (
    select(
        _FU.c.id,
        _FU.c.appointment_id,
        _FU.c.kind,
        _FU.c.status,
        _FU.c.due_at,
        _FU.c.deadline_at,
        _FU.c.snoozed_until,
        _FU.c.outcome,
    )
    .where(_FU.c.appointment_id.in_(bindparam("ids", expanding=True)))
    .order_by(_FU.c.created_at, _FU.c.id)
)
_HOLD = cast(Table, ResourceHold.__table__)
_RESOURCE = cast(Table, Resource.__table__)
_STAFF_HOLDS = (
    select(_HOLD.c.appointment_id, _RESOURCE.c.subkind, _RESOURCE.c.id)
    .join(_RESOURCE, _RESOURCE.c.id == _HOLD.c.resource_id)
    .where(
        _HOLD.c.appointment_id.in_(bindparam("ids", expanding=True)),
        _RESOURCE.c.kind == ResourceKind.STAFF.value,
    )
    .order_by(_HOLD.c.starts_at)
)
_INSERT_FOLLOW_UP = insert(_FU).returning(_FU.c.id)
_UPDATE_FOLLOW_UP = update(_FU).where(_FU.c.id == bindparam("fid"))


def sync_follow_ups(
    session: Session,
    actor: Actor,
    appointment_ids: Iterable[int],
    *,
    now: dt.datetime,
    config: StoredConfig | None = None,
) -> int:
    """Bring the follow-ups of these appointments (and of their series' stages) in line with
    what they owe now; returns how many follow-ups were created, re-dated, cancelled,
    re-opened or settled.  Runs in the caller's transaction and writes an audit event per
    change.  ``config``: the stored configuration, when the caller has already read it."""
    ids = set(appointment_ids)
    if not ids:
        return 0
    autoflush(session)
    conn = session.connection()
    config = config or load_config(session)
    catalog = config.catalog
    codes = {tid: code for code, tid in config.session_type_ids.items()}
    appointments = _load_appointments(session, ids, codes)
    if not appointments:
        return 0
    # Business days need the clinic's closures; a booking (before-session rules only) does not.
    calendars: list[ClinicCalendar] = []

    def calendar() -> ClinicCalendar:
        if not calendars:
            calendars.append(_calendar(session, catalog, appointments))
        return calendars[0]

    plain = calendar_of(catalog.settings)
    # Each appointment's owed follow-ups, by kind; and which kinds it manages (the others, an
    # urgent review or an adverse event, belong to the services that create them).
    owed: dict[int, dict[str, OwedFollowUp]] = {}
    managed: dict[int, set[str]] = {}
    by_id: dict[int, _Appt] = {}
    for a in appointments:
        spec = catalog.session_types[a.type_code]
        by_id[a.id] = a
        managed[a.id] = {rule.kind for rule in spec.followups}
        cal = calendar() if a.status in AFTER_SESSION_STATUSES else plain
        owed[a.id] = {
            f.kind: f for f in session_follow_ups(spec, a.starts_at, a.ends_at, a.status, cal)
        }
    _series_reviews(session, catalog, calendar, appointments, codes, by_id, owed, managed)
    existing: dict[tuple[int, str], list[_Stored]] = {}
    for found in conn.execute(_STORED, {"ids": sorted(by_id)}):
        stored = _Stored(*found)
        existing.setdefault((stored.appointment_id, stored.kind), []).append(stored)
    attempted = _attempted(
        session, [r.id for rows in existing.values() for r in rows if r.status in LIVE_STATUSES]
    )
    staff = _staff_of(session, by_id) if any(owed.values()) else {}
    entries: list[dict[str, Any]] = []
    changed = 0
    for appt_id, kinds in managed.items():
        a = by_id[appt_id]
        for kind in sorted(kinds):
            want = owed[appt_id].get(kind)
            rows = existing.get((appt_id, kind), [])
            live = [r for r in rows if r.status in LIVE_STATUSES]
            values: dict[str, Any]
            if live:
                row = live[0]
                before = _state(row)
                if want is None:
                    outcome = _NOT_OWED.get(a.status, _NO_LONGER_OWED)
                    values = {"status": "cancelled", "outcome": outcome, "completed_at": now}
                    action = "cancel_follow_up"
                elif (row.due_at, row.deadline_at) != (want.due, want.deadline) and (
                    row.status == "open" and row.id not in attempted
                ):
                    values = {"due_at": want.due, "deadline_at": want.deadline}
                    action = "redate_follow_up"
                else:
                    continue
            elif want is None or any(_settled(r) for r in rows):
                continue
            else:
                reopen = next(
                    (r for r in reversed(rows) if r.status == "cancelled" and r.outcome), None
                )
                if reopen is not None:
                    row, before, action = reopen, _state(reopen), "reopen_follow_up"
                    values = {
                        "status": "open",
                        "outcome": "",
                        "completed_at": None,
                        "due_at": want.due,
                        "deadline_at": want.deadline,
                    }
                else:
                    fid = conn.execute(
                        _INSERT_FOLLOW_UP,
                        {
                            "patient_id": a.patient_id,
                            "appointment_id": a.id,
                            "kind": kind,
                            "due_at": want.due,
                            "deadline_at": want.deadline,
                            "assignee_role": want.assignee_role,
                            "assignee_id": staff.get((a.id, want.assignee_role)),
                            "priority": want.priority,
                            "status": "open",
                            "outcome": "",
                            "created_at": now,
                        },
                    ).scalar_one()
                    row = _Stored(fid, a.id, kind, "open", want.due, want.deadline, None, "")
                    before, action, values = None, "open_follow_up", {}
            if values:
                conn.execute(_UPDATE_FOLLOW_UP.values(**values), {"fid": row.id})
                for name, value in values.items():
                    if hasattr(row, name):
                        setattr(row, name, value)
            changed += 1
            entries.append(
                audit.entry(
                    actor,
                    action,
                    "follow_up",
                    row.id,
                    patient_id=a.patient_id,
                    before=before,
                    after=_state(row),
                    detail=f"{kind_label(kind)} for appointment #{a.id}",
                    now=now,
                )
            )
    changed += _close_by_sessions_held(session, actor, appointments, catalog, now, entries)
    if entries:
        session.flush()
        audit.write(session, entries)
    return changed


def _close_by_sessions_held(
    session: Session,
    actor: Actor,
    appointments: Sequence[_Appt],
    catalog: Catalog,
    now: dt.datetime,
    entries: list[dict[str, Any]],
) -> int:
    """A follow-up that asks for a session (integration after a KAP dose, the booster review)
    is done once a session of that type was held for the patient inside its window."""
    # The kinds that are also session types (integration, booster_review).
    held = [a for a in appointments if a.status == "completed" and a.type_code in FOLLOWUP_KINDS]
    closed = 0
    for a in held:
        source = aliased(Appointment)
        rows = session.scalars(
            select(FollowUp)
            .join(source, source.id == FollowUp.appointment_id)
            .where(
                FollowUp.patient_id == a.patient_id,
                FollowUp.kind == a.type_code,
                FollowUp.status.in_(LIVE_STATUSES),
                source.starts_at < a.starts_at,
            )
        ).all()
        name = catalog.session_types[a.type_code].name
        for row in rows:
            if row.deadline_at is not None and a.starts_at >= row.deadline_at:
                continue
            before = _state(row)
            row.status, row.completed_at, row.completed_by_id = "done", now, actor.user_id
            row.outcome = f"{name} held (appointment #{a.id})"
            closed += 1
            entries.append(
                audit.entry(
                    actor,
                    "complete_follow_up",
                    "follow_up",
                    row.id,
                    patient_id=a.patient_id,
                    before=before,
                    after=_state(row),
                    detail=row.outcome,
                    now=now,
                )
            )
    return closed


def _clinic_calendar(session: Session, catalog: Catalog, window: Interval) -> ClinicCalendar:
    """The clinic's own calendar over ``window``: holidays and whole-clinic closures, no staff."""
    return calendar_of(catalog.settings, closures=load_closures(session, window, ()))


def _settled(row: _Stored) -> bool:
    """Done, or closed by a person (not by this module when its session was not held): a
    follow-up settled like that is never owed again."""
    return row.status == "done" or (row.status == "cancelled" and row.outcome not in _SYNC_OUTCOMES)


def _calendar(session: Session, catalog: Catalog, appointments: Sequence[_Appt]) -> ClinicCalendar:
    """The clinic's calendar (holidays and whole-clinic closures) from the earliest session on."""
    start = min(a.starts_at for a in appointments) - dt.timedelta(days=1)
    end = max(a.ends_at for a in appointments) + dt.timedelta(days=_CALENDAR_DAYS_AHEAD)
    return _clinic_calendar(session, catalog, Interval(start, end))


def _series_reviews(
    session: Session,
    catalog: Catalog,
    calendar: Callable[[], ClinicCalendar],
    appointments: Sequence[_Appt],
    codes: dict[int, str],
    by_id: dict[int, _Appt],
    owed: dict[int, dict[str, OwedFollowUp]],
    managed: dict[int, set[str]],
) -> None:
    """A stage's ``on_complete`` follow-up (the booster review) is owed by its last session
    once every live session of the stage is completed; the stage's other sessions owe none."""
    series_ids = {a.series_id for a in appointments if a.series_id is not None}
    if not series_ids:
        return
    protocols: dict[int, str] = {}
    planned: dict[int, int] = {}
    for sid, code, count in session.execute(
        select(Series.id, Protocol.code, Series.planned_count)
        .join(Protocol, Protocol.id == Series.protocol_id)
        .where(Series.id.in_(sorted(series_ids)))
    ):
        protocols[sid], planned[sid] = code, count
    staged = {
        sid: [(stage, lo, hi) for stage, lo, hi in stage_ranges(catalog.protocols[code])]
        for sid, code in protocols.items()
        if code in catalog.protocols
        and any(s.on_complete is not None for s in catalog.protocols[code].stages)
    }
    if not staged:
        return
    member_ids = session.scalars(
        select(Appointment.id).where(Appointment.series_id.in_(sorted(staged)))
    ).all()
    members = _load_appointments(session, member_ids, codes)
    role = _settings(catalog).series_review_role
    for sid, stages in staged.items():
        for stage, lo, hi in stages:
            if stage.on_complete is None:
                continue
            kind = stage.on_complete.followup
            in_stage = [
                a
                for a in members
                if a.series_id == sid and a.series_index is not None and lo <= a.series_index <= hi
            ]
            live = [a for a in in_stage if a.status not in RELEASED_STATUSES]
            last = max(live, key=lambda a: (a.starts_at, a.id), default=None)
            done = stage_finished(
                lo, hi, planned[sid], ((a.series_index or 0, a.status) for a in in_stage)
            )
            for a in in_stage:
                by_id.setdefault(a.id, a)
                owed.setdefault(a.id, {})
                managed.setdefault(a.id, set()).add(kind)
            if done and last is not None:
                owed[last.id][kind] = completion_follow_up(
                    stage.on_complete, last.ends_at, calendar(), role
                )


def _settings(catalog: Catalog) -> FollowUpSettings:
    return catalog.settings.followups


def _attempted(session: Session, follow_up_ids: Sequence[int]) -> set[int]:
    if not follow_up_ids:
        return set()
    return set(
        session.scalars(
            select(FollowUpAttempt.follow_up_id)
            .where(FollowUpAttempt.follow_up_id.in_(sorted(follow_up_ids)))
            .distinct()
        )
    )


def _staff_of(session: Session, appointments: dict[int, _Appt]) -> dict[tuple[int, str], int]:
    """The staff member of each role who held each session (its nurse, its therapist)."""
    rows = session.connection().execute(_STAFF_HOLDS, {"ids": sorted(appointments)})
    found: dict[tuple[int, str], int] = {}
    for appointment_id, role, resource_id in rows:
        found.setdefault((appointment_id, role), resource_id)
    return found


def _state(row: FollowUp | _Stored) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "status": row.status,
        "due_at": row.due_at.isoformat(),
        "deadline_at": row.deadline_at.isoformat() if row.deadline_at else None,
        "snoozed_until": row.snoozed_until.isoformat() if row.snoozed_until else None,
        "outcome": row.outcome,
    }


# ---------------------------------------------------------------------------------------------
# The queue


@dataclass(frozen=True)
class FollowUpItem:
    """One follow-up as the queue shows it (times in the clinic's zone)."""

    id: int
    patient_id: int
    patient_name: str
    chart_number: str
    phone: str
    kind: str
    kind_label: str
    section: Section
    due: dt.datetime
    deadline: dt.datetime | None
    countdown: str
    priority: str
    status: str
    assignee_role: str
    assignee_name: str
    appointment_id: int | None
    session_label: str
    attempts: int
    last_attempt: str  # "No answer Tue 14:10", or ""
    attempts_left: int
    note: str  # why it was snoozed, what the adverse event was
    snoozed_until: dt.datetime | None
    missing: tuple[str, ...]  # REMS form: what the monitoring record still lacks

    @property
    def overdue(self) -> bool:
        return self.section is Section.OVERDUE

    @property
    def urgent(self) -> bool:
        return self.priority == URGENT


@dataclass(frozen=True)
class FollowUpQueue:
    now: dt.datetime
    overdue: tuple[FollowUpItem, ...]
    due_today: tuple[FollowUpItem, ...]
    upcoming: tuple[FollowUpItem, ...]

    def sections(self) -> tuple[tuple[Section, str, tuple[FollowUpItem, ...]], ...]:
        return (
            (Section.OVERDUE, SECTION_TITLES[Section.OVERDUE], self.overdue),
            (Section.DUE_TODAY, SECTION_TITLES[Section.DUE_TODAY], self.due_today),
            (Section.UPCOMING, SECTION_TITLES[Section.UPCOMING], self.upcoming),
        )

    @property
    def items(self) -> tuple[FollowUpItem, ...]:
        return self.overdue + self.due_today + self.upcoming

    def item(self, follow_up_id: int) -> FollowUpItem | None:
        return next((i for i in self.items if i.id == follow_up_id), None)

    def counts(self) -> dict[str, int]:
        return {
            "overdue": len(self.overdue),
            "due_today": len(self.due_today),
            "upcoming": len(self.upcoming),
            "urgent": sum(1 for i in self.items if i.urgent),
        }


_PRIORITY_RANK = {URGENT: 0, "high": 1}


def follow_up_queue(
    db: Database,
    *,
    now: dt.datetime | None = None,
    kind: str | None = None,
    assignee_role: str | None = None,
    assignee_id: int | None = None,
) -> FollowUpQueue:
    """Open and snoozed follow-ups up to the configured horizon, in sections, urgent first,
    then by when they are due; filtered by kind, assignee role and assignee when given.
    Follow-ups collected at check-in (a PHQ-9 before a session) show from their day on."""
    now = now or utcnow()
    with db.read() as session:
        return _queue(
            session, now, kind=kind, role=assignee_role, assignee=assignee_id, details=True
        )


@dataclass(frozen=True)
class Assignee:
    """A staff member follow-ups may be assigned to, for the queue's filter."""

    id: int
    name: str
    role: str


def assignees(db: Database) -> list[Assignee]:
    """The clinic's active staff, by role then name."""
    with db.read() as session:
        rows = session.execute(
            select(Resource.id, Resource.name, Resource.subkind)
            .where(Resource.kind == ResourceKind.STAFF.value, Resource.active.is_(True))
            .order_by(Resource.subkind, Resource.sort_order, Resource.name)
        ).all()
    return [Assignee(rid, name, role) for rid, name, role in rows]


def queue_counts(db: Database, *, now: dt.datetime | None = None) -> dict[str, int]:
    """How many follow-ups are overdue, due today, upcoming, and urgent (the left panel)."""
    now = now or utcnow()
    with db.read() as session:
        return _queue(session, now, details=False).counts()


def _queue(
    session: Session,
    now: dt.datetime,
    *,
    kind: str | None = None,
    role: str | None = None,
    assignee: int | None = None,
    details: bool,
) -> FollowUpQueue:
    catalog = load_catalog(session)
    settings = _settings(catalog)
    today = ClinicCalendar(catalog.settings).local_date(now)
    calendar = _clinic_calendar(
        session,
        catalog,
        Interval(now - dt.timedelta(days=1), now + dt.timedelta(days=settings.upcoming_days + 2)),
    )
    horizon = calendar.day_bounds(today + dt.timedelta(days=settings.upcoming_days)).end
    # What is collected at check-in (a PHQ-9) joins the queue on its day, not a week ahead.
    at_check_in = {
        rule.kind
        for spec in catalog.session_types.values()
        for rule in spec.followups
        if rule.before_session
    }
    stmt = (
        select(
            FollowUp,
            Patient.first_name,
            Patient.last_name,
            Patient.chart_number,
            Patient.phone,
            SessionType.name,
            Appointment.starts_at,
            Resource.name,
        )
        .join(Patient, Patient.id == FollowUp.patient_id)
        .outerjoin(Appointment, Appointment.id == FollowUp.appointment_id)
        .outerjoin(SessionType, SessionType.id == Appointment.session_type_id)
        .outerjoin(Resource, Resource.id == FollowUp.assignee_id)
        .where(FollowUp.status.in_(LIVE_STATUSES), FollowUp.due_at < horizon)
    )
    if kind:
        stmt = stmt.where(FollowUp.kind == kind)
    if role:
        stmt = stmt.where(FollowUp.assignee_role == role)
    if assignee is not None:
        stmt = stmt.where(FollowUp.assignee_id == assignee)
    rows = session.execute(stmt).all()
    attempts: dict[int, list[tuple[dt.datetime, str]]] = {}
    if details and rows:
        for fid, at, result in session.execute(
            select(FollowUpAttempt.follow_up_id, FollowUpAttempt.at, FollowUpAttempt.result)
            .where(FollowUpAttempt.follow_up_id.in_(sorted(r[0].id for r in rows)))
            .order_by(FollowUpAttempt.at, FollowUpAttempt.id)
        ):
            attempts.setdefault(fid, []).append((at, result))
    # What each REMS form still lacks, for the whole queue at once.
    rems_gaps: dict[int, list[str]] = {}
    if details:
        rems_gaps = rems_missing_many(
            session,
            (
                r[0].appointment_id
                for r in rows
                if r[0].kind == "rems_form" and r[0].appointment_id is not None
            ),
        )
    sections: dict[Section, list[FollowUpItem]] = {s: [] for s in Section}
    for f, first, last, chart, phone, type_name, starts_at, staff_name in rows:
        due = f.due_at
        if f.status == "snoozed" and f.snoozed_until is not None and f.snoozed_until > due:
            due = f.snoozed_until
        section = section_of(now, due, f.deadline_at, calendar, settings.upcoming_days)
        if section is Section.LATER or (section is Section.UPCOMING and f.kind in at_check_in):
            continue
        tried = attempts.get(f.id, [])
        missing: tuple[str, ...] = ()
        if f.kind == "rems_form" and f.appointment_id is not None:
            missing = tuple(rems_gaps.get(f.appointment_id, ()))
        last_try = ""
        if tried:
            at, result = tried[-1]
            last_try = f"{ATTEMPT_RESULTS.get(result, result)} {calendar.local(at):%a %H:%M}"
        sections[section].append(
            FollowUpItem(
                id=f.id,
                patient_id=f.patient_id,
                patient_name=f"{last}, {first}",
                chart_number=chart,
                phone=phone,
                kind=f.kind,
                kind_label=kind_label(f.kind),
                section=section,
                due=calendar.local(due),
                deadline=calendar.local(f.deadline_at) if f.deadline_at else None,
                countdown=countdown_text(now, due, f.deadline_at, calendar),
                priority=f.priority,
                status=f.status,
                assignee_role=f.assignee_role,
                assignee_name=staff_name or "",
                appointment_id=f.appointment_id,
                session_label=(
                    f"{type_name}, {calendar.local(starts_at):%a %-d %b %H:%M}"
                    if type_name and starts_at
                    else ""
                ),
                attempts=len(tried),
                last_attempt=last_try,
                attempts_left=max(0, settings.max_attempts - sum(1 for _ in tried)),
                note=f.outcome,
                snoozed_until=(
                    calendar.local(f.snoozed_until)
                    if f.status == "snoozed" and f.snoozed_until
                    else None
                ),
                missing=missing,
            )
        )
    for items in sections.values():
        items.sort(key=lambda i: (_PRIORITY_RANK.get(i.priority, 9), i.deadline or i.due, i.due))
    return FollowUpQueue(
        now=now,
        overdue=tuple(sections[Section.OVERDUE]),
        due_today=tuple(sections[Section.DUE_TODAY]),
        upcoming=tuple(sections[Section.UPCOMING]),
    )


# ---------------------------------------------------------------------------------------------
# Working the queue


@dataclass(frozen=True)
class AttemptResult:
    follow_up_id: int
    attempts: int
    reached: bool
    next_attempt_at: dt.datetime | None  # None: reached, or no calls left
    attempts_left: int


def _check_kind(actor: Actor, kind: str, settings: FollowUpSettings) -> None:
    if kind in settings.clinical_kinds and actor.role not in settings.clinical_roles:
        roles = " or ".join(r.replace("_", " ") for r in settings.clinical_roles)
        raise PermissionDenied(
            f"{actor.username} ({actor.role.replace('_', ' ')}) may not work a "
            f"{kind_label(kind)}: it is for a {roles}",
            actor=actor,
            action="work_follow_up",
        )


def _live_follow_up(session: Session, actor: Actor, follow_up_id: int) -> tuple[FollowUp, Catalog]:
    """The follow-up to work on, refused unless it is live and the actor may work its kind."""
    row = session.get(FollowUp, follow_up_id)
    if row is None:
        raise NotFound(f"no follow-up #{follow_up_id}")
    catalog = load_catalog(session)
    _check_kind(actor, row.kind, _settings(catalog))
    if row.status not in LIVE_STATUSES:
        raise InvalidRequest(
            f"the {kind_label(row.kind)} (#{follow_up_id}) is already {row.status}; "
            "reload the queue"
        )
    return row, catalog


def _or(words: Sequence[str]) -> str:
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else "".join(words)


def _refused(db: Database, err: PermissionDenied, follow_up_id: int, now: dt.datetime) -> None:
    patient_id = None
    with db.read() as session:
        patient_id = session.scalar(select(FollowUp.patient_id).where(FollowUp.id == follow_up_id))
    audit.record_refusal(
        db, err, entity="follow_up", entity_id=follow_up_id, patient_id=patient_id, now=now
    )


def record_attempt(
    db: Database,
    actor: Actor,
    follow_up_id: int,
    result: str,
    notes: str = "",
    *,
    now: dt.datetime | None = None,
) -> AttemptResult:
    """Record one call: reached, no answer or voicemail.  An unreached call is tried again
    ``retry_hours`` later (clinic.toml [followups]) while calls are left."""
    now = now or utcnow()
    require(actor, "work_follow_up", db, now=now)
    if result not in ATTEMPT_RESULTS:
        raise InvalidFields(
            {"result": "say how the call went: " + _or(list(ATTEMPT_RESULTS.values())).lower()}
        )
    try:
        with db.write() as session:
            row, catalog = _live_follow_up(session, actor, follow_up_id)
            settings = _settings(catalog)
            before = _state(row)
            tried = (
                session.scalar(select(func.count()).where(FollowUpAttempt.follow_up_id == row.id))
                or 0
            )
            session.add(
                FollowUpAttempt(
                    follow_up_id=row.id,
                    at=now,
                    user_id=actor.user_id,
                    result=result,
                    notes=notes.strip(),
                )
            )
            attempts = tried + 1
            left = max(0, settings.max_attempts - attempts)
            next_at = None
            if result in UNREACHED and left > 0:
                calendar = _clinic_calendar(
                    session, catalog, Interval(now, now + dt.timedelta(days=_CALENDAR_DAYS_AHEAD))
                )
                next_at = reattempt_at(calendar, now, settings.retry_hours)
                row.due_at = next_at
            if row.status == "snoozed":
                row.status, row.snoozed_until, row.outcome = "open", None, ""
            session.flush()
            after = {**_state(row), "attempts": attempts, "result": result}
            audit.record(
                session,
                actor,
                "record_call",
                "follow_up",
                row.id,
                patient_id=row.patient_id,
                before={**before, "attempts": tried},
                after=after,
                detail=notes.strip(),
                now=now,
            )
            changes.bump(session, now)
            return AttemptResult(row.id, attempts, result == "reached", next_at, left)
    except PermissionDenied as err:
        _refused(db, err, follow_up_id, now)
        raise


def complete_follow_up(
    db: Database,
    actor: Actor,
    follow_up_id: int,
    outcome: str,
    *,
    now: dt.datetime | None = None,
) -> None:
    """Mark a follow-up done with its outcome (required: what came of it)."""
    now = now or utcnow()
    require(actor, "work_follow_up", db, now=now)
    if not outcome.strip():
        raise InvalidFields({"outcome": "say what came of it (the outcome is required)"})
    text = outcome.strip()

    def done(row: FollowUp) -> None:
        row.status = "done"
        row.outcome = text
        row.completed_at = now
        row.completed_by_id = actor.user_id
        row.snoozed_until = None

    _change_follow_up(db, actor, follow_up_id, "complete_follow_up", text, done, now=now)


def snooze_follow_up(
    db: Database,
    actor: Actor,
    follow_up_id: int,
    until: dt.datetime,
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> None:
    """Put a follow-up aside until a later time, with a reason (both required)."""
    now = now or utcnow()
    require(actor, "work_follow_up", db, now=now)
    errors: dict[str, str] = {}
    if until.tzinfo is None:
        errors["until"] = "needs a time zone"
    elif until <= now:
        errors["until"] = "must be in the future"
    if not reason.strip():
        errors["reason"] = "say why it can wait (the reason is required)"
    if errors:
        raise InvalidFields(errors)
    text = reason.strip()

    def snoozed(row: FollowUp) -> None:
        row.status = "snoozed"
        row.snoozed_until = until
        row.outcome = text

    _change_follow_up(db, actor, follow_up_id, "snooze_follow_up", text, snoozed, now=now)


def _change_follow_up(
    db: Database,
    actor: Actor,
    follow_up_id: int,
    action: str,
    detail: str,
    change: Callable[[FollowUp], None],
    *,
    now: dt.datetime,
) -> None:
    """Apply ``change`` to a live follow-up the actor may work, audited before and after, in
    one transaction; a refusal of the follow-up's kind is audited on its own."""
    try:
        with db.write() as session:
            row, _catalog = _live_follow_up(session, actor, follow_up_id)
            before = _state(row)
            change(row)
            session.flush()
            audit.record(
                session,
                actor,
                action,
                "follow_up",
                row.id,
                patient_id=row.patient_id,
                before=before,
                after=_state(row),
                detail=detail,
                now=now,
            )
            changes.bump(session, now)
    except PermissionDenied as err:
        _refused(db, err, follow_up_id, now)
        raise


def open_adverse_event_follow_up(
    session: Session,
    actor: Actor,
    appointment_id: int,
    description: str,
    *,
    now: dt.datetime,
) -> int:
    """Create the adverse-event follow-up of a session in the caller's transaction (the
    monitoring record calls this when it records an event); one per appointment while open."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"no appointment #{appointment_id}")
    live = session.scalar(
        select(FollowUp).where(
            FollowUp.appointment_id == appointment_id,
            FollowUp.kind == "adverse_event",
            FollowUp.status.in_(LIVE_STATUSES),
        )
    )
    if live is not None:
        return live.id
    catalog = load_catalog(session)
    calendar = _clinic_calendar(
        session, catalog, Interval(now, now + dt.timedelta(days=_CALENDAR_DAYS_AHEAD))
    )
    owed = adverse_event_follow_up(now, calendar, _settings(catalog))
    row = FollowUp(
        patient_id=appointment.patient_id,
        appointment_id=appointment_id,
        kind=owed.kind,
        due_at=owed.due,
        deadline_at=owed.deadline,
        assignee_role=owed.assignee_role,
        priority=owed.priority,
        status="open",
        outcome=description.strip(),
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "create_follow_up",
        "follow_up",
        row.id,
        patient_id=appointment.patient_id,
        after=_state(row),
        detail=f"adverse event: {description.strip()}",
        now=now,
    )
    return row.id


def record_adverse_event(
    db: Database,
    actor: Actor,
    appointment_id: int,
    description: str,
    *,
    now: dt.datetime | None = None,
) -> int:
    """Record that a session had an adverse event: opens its follow-up for the configured
    role (a prescriber by default), due at once; returns the follow-up's id."""
    now = now or utcnow()
    require(actor, "record_monitoring", db, now=now)
    if not description.strip():
        raise InvalidFields({"description": "say what happened"})
    with db.write() as session:
        follow_up_id = open_adverse_event_follow_up(
            session, actor, appointment_id, description, now=now
        )
        changes.bump(session, now)
        return follow_up_id
