"""Keeping follow-ups in step with the sessions that owe them, inside the caller's transaction.

``sync_follow_ups`` runs inside the booking, moving and status transactions
(``services.booking``): it creates what a session owes (the PHQ-9 at booking, the next-day call
and REMS form once completed, the booster review when an induction's last session is done),
re-dates what a move shifted, cancels what a cancelled or missed session no longer owes and
re-opens it when that is undone.  It is idempotent: one live follow-up per appointment and kind,
and calling it twice changes nothing.

While a follow-up is open its ``outcome`` column holds its note (why it was snoozed, what the
adverse event was); once done, the outcome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session, aliased

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.catalog import FOLLOWUP_KINDS, FollowUpSettings, ResourceKind
from ketadesk.scheduling.dropout import OUTREACH_CALL, parse_dropout_settings, puts_at_risk
from ketadesk.scheduling.followup_rules import (
    OwedFollowUp,
    completion_follow_up,
    kind_label,
    outreach_follow_up,
    session_follow_ups,
    stage_finished,
    stage_ranges,
)
from ketadesk.scheduling.statuses import AFTER_SESSION_STATUSES, RELEASED_STATUSES
from ketadesk.services.access import audit
from ketadesk.services.common.context import (
    Actor,
)
from ketadesk.store import raw
from ketadesk.store.clinic_config import StoredConfig, load_config
from ketadesk.store.models import (
    Appointment,
    AppointmentEvent,
    FollowUp,
    FollowUpAttempt,
    Protocol,
    Resource,
    ResourceHold,
    Series,
    SeriesRebooking,
)
from ketadesk.store.snapshot import autoflush, calendar_of, load_closures

# A follow-up in one of these still asks for work.
LIVE_STATUSES = ("open", "snoozed")
# What a follow-up's outcome says when the session that owed it no longer does.
_NOT_OWED = {
    "cancelled": "Session cancelled",
    "no_show": "Session missed (no-show)",
}
_NO_LONGER_OWED = "No longer owed"
# An outreach call the desk's answer to the miss made unnecessary (services/rebooking); an
# answer taken back re-opens it.
_ANSWERED = {
    "made_up": "Answered: make-up booked",
    "waitlisted": "Answered: on the waitlist for a make-up",
    "continue_short": "Answered: the series continues one short",
}
# A series a prescriber ended (services/booking/series_end.py) is not at risk: its misses owe
# no outreach call; the end taken back re-opens them.
_SERIES_ENDED = "Answered: the series was ended"
_SYNC_OUTCOMES = frozenset(
    {*_NOT_OWED.values(), _NO_LONGER_OWED, *_ANSWERED.values(), _SERIES_ENDED}
)
# How far past a session a follow-up may fall: the longest rule (a booster review after six
# weeks) plus a margin for business days over holidays; bounds the closures read.
CALENDAR_DAYS_AHEAD = 120


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
    answered = _outreach_calls(session, catalog, calendar, appointments, owed, managed)
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
                before = follow_up_state(row)
                if want is None:
                    outcome = answered.get(appt_id) if kind == OUTREACH_CALL else None
                    outcome = outcome or _NOT_OWED.get(a.status, _NO_LONGER_OWED)
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
                    row, before, action = reopen, follow_up_state(reopen), "reopen_follow_up"
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
                    after=follow_up_state(row),
                    detail=f"{kind_label(kind)} for appointment #{a.id}",
                    now=now,
                )
            )
    changed += _close_by_sessions_held(session, actor, appointments, catalog, now, entries)
    if entries:
        session.flush()
        audit.write(session, entries)
    return changed


@dataclass(frozen=True, slots=True)
class NewAppointment:
    """An appointment its own transaction has just inserted, as booked: what it owes follows
    from what the booking already knows, so opening its follow-ups reads nothing."""

    id: int
    patient_id: int
    type_code: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    staff: Mapping[str, int]  # staff role (subkind) -> the staff resource holding it first


INSERT_FOLLOW_UPS = insert(_FU).returning(_FU.c.id, sort_by_parameter_order=True)
INSERT_FOLLOW_UPS_WITH_IDS = insert(_FU)  # rows naming their ids


def open_for_new_bookings(
    session: Session,
    actor: Actor,
    booked: Sequence[NewAppointment],
    *,
    now: dt.datetime,
    catalog: Catalog,
) -> list[dict[str, Any]]:
    """Open what newly booked appointments owe (one multi-row insert) and return the audit
    entries for the caller to write with its own.

    What ``sync_follow_ups`` would do for them, without its reads: a new appointment has no
    follow-ups yet, is in a series of its own booking (no stage of it is finished), and owes
    only its type's before-session rules, dated on the plain calendar.  The booking tests check
    that ``sync_follow_ups`` afterwards finds nothing to change.
    """
    owed = owed_by_new_bookings(booked, catalog)
    if not owed:
        return []
    ids = [
        fid
        for (fid,) in raw.insert_returning(
            raw.connection(session), INSERT_FOLLOW_UPS, follow_up_rows(owed, now)
        )
    ]
    return opened_entries(actor, ids, owed, now)


Owed = list[tuple[NewAppointment, OwedFollowUp]]


def owed_by_new_bookings(booked: Sequence[NewAppointment], catalog: Catalog) -> Owed:
    """What newly booked appointments owe (``open_for_new_bookings``), in the order written."""
    plain = calendar_of(catalog.settings)
    owed: Owed = []
    for a in booked:
        spec = catalog.session_types[a.type_code]
        by_kind = {
            f.kind: f for f in session_follow_ups(spec, a.starts_at, a.ends_at, "booked", plain)
        }
        owed.extend((a, by_kind[kind]) for kind in sorted(by_kind))
    return owed


def follow_up_rows(owed: Owed, now: dt.datetime) -> list[dict[str, Any]]:
    """The rows of ``INSERT_FOLLOW_UPS`` for what is owed."""
    return [
        {
            "patient_id": a.patient_id,
            "appointment_id": a.id,
            "kind": f.kind,
            "due_at": f.due,
            "deadline_at": f.deadline,
            "assignee_role": f.assignee_role,
            "assignee_id": a.staff.get(f.assignee_role),
            "priority": f.priority,
            "status": "open",
            "outcome": "",
            "created_at": now,
        }
        for a, f in owed
    ]


def opened_entries(
    actor: Actor, ids: Sequence[int], owed: Owed, now: dt.datetime
) -> list[dict[str, Any]]:
    """The audit entries of the follow-ups opened with ``ids`` (as ``INSERT_FOLLOW_UPS``
    returned them) for what is owed."""
    return [
        audit.entry(
            actor,
            "open_follow_up",
            "follow_up",
            fid,
            patient_id=a.patient_id,
            after=follow_up_state(_Stored(fid, a.id, f.kind, "open", f.due, f.deadline, None, "")),
            detail=f"{kind_label(f.kind)} for appointment #{a.id}",
            now=now,
        )
        for fid, (a, f) in zip(ids, owed, strict=True)
    ]


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
            before = follow_up_state(row)
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
                    after=follow_up_state(row),
                    detail=row.outcome,
                    now=now,
                )
            )
    return closed


def clinic_calendar(session: Session, catalog: Catalog, window: Interval) -> ClinicCalendar:
    """The clinic's own calendar over ``window``: holidays and whole-clinic closures, no staff."""
    closures = load_closures(session, window, (), timezone=catalog.settings.timezone)
    return calendar_of(catalog.settings, closures=closures)


def _settled(row: _Stored) -> bool:
    """Done, or closed by a person (not by this module when its session was not held): a
    follow-up settled like that is never owed again."""
    return row.status == "done" or (row.status == "cancelled" and row.outcome not in _SYNC_OUTCOMES)


def _calendar(session: Session, catalog: Catalog, appointments: Sequence[_Appt]) -> ClinicCalendar:
    """The clinic's calendar (holidays and whole-clinic closures) from the earliest session on."""
    start = min(a.starts_at for a in appointments) - dt.timedelta(days=1)
    end = max(a.ends_at for a in appointments) + dt.timedelta(days=CALENDAR_DAYS_AHEAD)
    return clinic_calendar(session, catalog, Interval(start, end))


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
    role = followup_settings(catalog).series_review_role
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


def _outreach_calls(
    session: Session,
    catalog: Catalog,
    calendar: Callable[[], ClinicCalendar],
    appointments: Sequence[_Appt],
    owed: dict[int, dict[str, OwedFollowUp]],
    managed: dict[int, set[str]],
) -> dict[int, str]:
    """A series session missed as ``[dropout] at_risk_events`` count owes an outreach call
    (scheduling/dropout.py) until the desk answers the miss (services/rebooking); returns the
    outcome for each call an answer made unnecessary."""
    in_series = [a for a in appointments if a.series_id is not None]
    for a in in_series:
        managed[a.id].add(OUTREACH_CALL)
    released = [a.id for a in in_series if a.status in _NOT_OWED]
    if not released:
        return {}
    settings = parse_dropout_settings(catalog.settings.extra.get("dropout"))
    late = dict(
        session.execute(
            select(Appointment.id, Appointment.late_cancel).where(Appointment.id.in_(released))
        ).all()
    )
    counted = {
        a.id: a
        for a in in_series
        if a.id in late and puts_at_risk(a.status, bool(late[a.id]), settings)
    }
    if not counted:
        return {}
    ended = set(
        session.scalars(
            select(Series.id).where(
                Series.id.in_(sorted({a.series_id for a in counted.values() if a.series_id})),
                Series.status == "ended",
            )
        )
    )
    closed = {i: _SERIES_ENDED for i, a in counted.items() if a.series_id in ended}
    counted = {i: a for i, a in counted.items() if i not in closed}
    if not counted:
        return closed
    answers = dict(
        session.execute(
            select(SeriesRebooking.appointment_id, SeriesRebooking.decision).where(
                SeriesRebooking.appointment_id.in_(sorted(counted))
            )
        ).all()
    )
    # When the miss was recorded: the latest change into its status.
    recorded: dict[int, dt.datetime] = {}
    for appointment_id, to_status, at in session.execute(
        select(AppointmentEvent.appointment_id, AppointmentEvent.to_status, AppointmentEvent.at)
        .where(AppointmentEvent.appointment_id.in_(sorted(counted)))
        .order_by(AppointmentEvent.at, AppointmentEvent.id)
    ):
        if to_status == counted[appointment_id].status:
            recorded[appointment_id] = at
    for appointment_id, a in counted.items():
        if appointment_id in answers:
            continue
        owed[appointment_id][OUTREACH_CALL] = outreach_follow_up(
            recorded.get(appointment_id, a.starts_at),
            calendar(),
            settings.outreach_business_days,
            settings.outreach_role,
        )
    return {**{i: _ANSWERED[d] for i, d in answers.items() if d in _ANSWERED}, **closed}


def followup_settings(catalog: Catalog) -> FollowUpSettings:
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


def follow_up_state(row: FollowUp | _Stored) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "status": row.status,
        "due_at": row.due_at.isoformat(),
        "deadline_at": row.deadline_at.isoformat() if row.deadline_at else None,
        "snoozed_until": row.snoozed_until.isoformat() if row.snoozed_until else None,
        "outcome": row.outcome,
    }
