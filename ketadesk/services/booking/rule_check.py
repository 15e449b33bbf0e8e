"""The protocol rules engine (``scheduling/protocol_rules.py``) over the database: a patient's
live sessions read as the engine sees them, the overrides on record, the refusal that names
each rule, and an override recorded (a role's decision with a reason, audited).

Every step that places a session calls it: booking (``booking.book``), the live drag check
(``move_check``), the move and its re-check in the transaction (``appointment_changes.move``),
the series move (``series_moves.move_series``), ``ketadesk move``, the make-up
(``rebooking/makeup.py``) and a closure's consequences (``settings/consequences.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import cast

from sqlalchemy import String, Table, bindparam, literal, select
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.gating import PatientFacts, Severity
from ketadesk.scheduling.model import PlannedSession
from ketadesk.scheduling.protocol_rules import (
    DESK_RULES,
    SPACING,
    SPACING_RULES,
    CourseSession,
    Finding,
    ProtocolRuleSettings,
    judge,
    rule_settings,
    stopping,
)
from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.scheduling.words import role_name
from ketadesk.services.access import audit
from ketadesk.services.booking import override_rights
from ketadesk.services.common.context import Actor, InvalidRequest, PermissionDenied
from ketadesk.store import raw
from ketadesk.store.clinic_config import StoredConfig
from ketadesk.store.days_away import patient_away_ranges
from ketadesk.store.models import Appointment, GatingOverride, Protocol, Series
from ketadesk.store.pipeline import prefetched, utc
from ketadesk.store.snapshot import autoflush


class RuleRefused(InvalidRequest):
    """A change breaks a protocol or gating rule; ``findings`` name each rule and the fact."""

    def __init__(
        self, findings: Sequence[Finding], roles: Sequence[str] = (), *, what: str = "the move"
    ) -> None:
        self.findings = tuple(findings)
        self.override_roles = tuple(roles)
        super().__init__(
            f"{what} breaks the clinic's rules: " + "; ".join(f.text(roles) for f in self.findings)
        )

    def overridable_by(self, actor: Actor) -> tuple[Finding, ...]:
        """The rules ``actor`` may push past with a reason: all of them when every one is a
        "warn" rule its role may override (``override_rights``: a day the patient is away,
        whoever makes the change; a clinical rule, one of ``override_roles``), else none."""
        if any(f.severity is not Severity.WARN for f in self.findings):
            return ()
        rules = [f.rule for f in self.findings]
        if not override_rights.may_override(actor, rules, self.override_roles):
            return ()
        return self.findings


# The patient's live sessions, built once as plain Core (every booking, move and drag check
# runs it; building the ORM statement anew each time cost more than running it).
_APPOINTMENT = cast(Table, Appointment.__table__)
_SERIES = cast(Table, Series.__table__)
_PROTOCOL = cast(Table, Protocol.__table__)
COURSE_SESSIONS = (
    select(
        _APPOINTMENT.c.id,
        _APPOINTMENT.c.series_id,
        _APPOINTMENT.c.series_index,
        _APPOINTMENT.c.session_type_id,
        _APPOINTMENT.c.starts_at,
        _PROTOCOL.c.code,
        _SERIES.c.planned_count,
    )
    .select_from(
        _APPOINTMENT.outerjoin(_SERIES, _SERIES.c.id == _APPOINTMENT.c.series_id).outerjoin(
            _PROTOCOL, _PROTOCOL.c.id == _SERIES.c.protocol_id
        )
    )
    .where(
        _APPOINTMENT.c.patient_id == bindparam("patient_id"),
        # Constants written into the statement: nothing to expand at every execution.
        _APPOINTMENT.c.status.not_in([literal(s, String) for s in sorted(RELEASED_STATUSES)]),
    )
)


def course_sessions(
    session: Session, config: StoredConfig, calendar: ClinicCalendar, patient_id: int
) -> list[CourseSession]:
    """The patient's live sessions (not cancelled or missed) as the rules engine sees them."""
    autoflush(session)
    params = {"patient_id": patient_id}
    rows = prefetched(session, COURSE_SESSIONS, params)
    if rows is None:
        rows = raw.rows(raw.connection(session), COURSE_SESSIONS, params)
    return [
        CourseSession(
            key=id_,
            series=series_id,
            index=index,
            session_type=config.session_type_code(type_id),
            protocol=protocol or "",
            start=utc(start),
            day=calendar.local_date(start),
            count=count or 0,
        )
        for id_, series_id, index, type_id, start, protocol, count in rows
    ]


def stored_overrides(
    session: Session, appointment_ids: Collection[int], series_ids: Collection[int]
) -> dict[str, str]:
    """The overrides on record for these appointments or their series: rule -> reason."""
    if not appointment_ids and not series_ids:
        return {}
    rows = session.execute(
        select(GatingOverride.rule, GatingOverride.reason)
        .where(
            GatingOverride.appointment_id.in_(sorted(appointment_ids))
            | GatingOverride.series_id.in_(sorted(series_ids))
        )
        .order_by(GatingOverride.id)
    ).all()
    return {rule: reason for rule, reason in rows if reason.strip()}


def moved_into(
    sessions: Sequence[CourseSession],
    moved: Mapping[int, PlannedSession],
    calendar: ClinicCalendar,
) -> tuple[list[CourseSession], dict[int, dt.date]]:
    """The patient's sessions with ``moved`` (appointment id -> new place) put at their new
    times, and each moved session's day before."""
    before: dict[int, dt.date] = {}
    out: list[CourseSession] = []
    for s in sessions:
        new = moved.get(s.key)
        if new is None:
            out.append(s)
            continue
        before[s.key] = s.day
        out.append(replace(s, start=new.start, day=calendar.local_date(new.start)))
    return out, before


def judge_moves(
    session: Session,
    config: StoredConfig,
    patient_id: int,
    moved: Mapping[int, PlannedSession],
    *,
    facts: PatientFacts | None,
    overrides: Mapping[str, str] | None = None,
) -> list[Finding]:
    """What moving the patient's appointments (id -> new place) breaks, with the overrides on
    record for them and their series and the ones given now.  ``facts`` leave the moved
    appointments out of the prior authorization's units (``load_patient_facts(...,
    excluding=moved)``): each is judged, and spends its units, at its new date."""
    return judge_changes(session, config, patient_id, moved, facts=facts, overrides=overrides)


def judge_changes(
    session: Session,
    config: StoredConfig,
    patient_id: int,
    moved: Mapping[int, PlannedSession],
    *,
    added: Sequence[tuple[int, PlannedSession]] = (),
    facts: PatientFacts | None,
    overrides: Mapping[str, str] | None = None,
) -> list[Finding]:
    """What moving the patient's appointments (id -> new place) and adding sessions to their
    series (``added``: series id and the planned session, its index the place it takes, as a
    make-up does) breaks.  ``facts`` leave the moved appointments out of the prior
    authorization's units; an added session spends its own."""
    catalog = config.catalog
    calendar = ClinicCalendar(catalog.settings)
    current = course_sessions(session, config, calendar, patient_id)
    sessions, before = moved_into(current, moved, calendar)
    new = _added(session, config, calendar, added)
    series_ids = {s.series for s in current if s.key in moved and s.series is not None}
    series_ids |= {s.series for s in new if s.series is not None}
    given = stored_overrides(session, list(moved), series_ids)
    given.update({k: v for k, v in (overrides or {}).items() if v.strip()})
    return judge(
        [*sessions, *new],
        set(moved) | {s.key for s in new},
        protocols=catalog.protocols,
        session_types=catalog.session_types,
        clinic=catalog.settings,
        before=before,
        facts=facts,
        overrides=given,
        away=patient_away_ranges(session, patient_id),
    )


def _added(
    session: Session,
    config: StoredConfig,
    calendar: ClinicCalendar,
    added: Sequence[tuple[int, PlannedSession]],
) -> list[CourseSession]:
    """Sessions not booked yet, in booked series, as the engine sees them (negative keys)."""
    if not added:
        return []
    series = {
        id_: (protocol, count)
        for id_, protocol, count in session.execute(
            select(Series.id, Protocol.code, Series.planned_count)
            .join(Protocol, Protocol.id == Series.protocol_id)
            .where(Series.id.in_(sorted({series_id for series_id, _ in added})))
        )
    }
    out: list[CourseSession] = []
    for n, (series_id, p) in enumerate(added):
        protocol, count = series.get(series_id, ("", 0))
        out.append(
            CourseSession(
                key=-(n + 1),
                series=series_id,
                index=p.index,
                session_type=p.session_type,
                protocol=protocol,
                start=p.start,
                day=calendar.local_date(p.start),
                count=count,
            )
        )
    return out


def judge_new_plan(
    session: Session,
    config: StoredConfig,
    calendar: ClinicCalendar,
    patient_id: int,
    planned: Sequence[PlannedSession],
    protocol: str | None,
    overrides: Mapping[str, str] | None = None,
    *,
    ignore: Collection[int] = (),
) -> list[Finding]:
    """What booking ``planned`` (a series of ``protocol``, or single sessions) breaks among the
    patient's sessions (but the appointments ``ignore`` names: tentative holds past their
    deadline, free though not yet released); gating is judged by the booking itself
    (``gate_sessions``)."""
    current = [
        s for s in course_sessions(session, config, calendar, patient_id) if s.key not in ignore
    ]
    new = [
        CourseSession(
            key=-(n + 1),
            series=-1 if protocol is not None else None,
            index=p.index if protocol is not None else None,
            session_type=p.session_type,
            protocol=protocol or "",
            start=p.start,
            day=calendar.local_date(p.start),
            count=len(planned),
        )
        for n, p in enumerate(planned)
    ]
    catalog = config.catalog
    return judge(
        [*current, *new],
        {s.key for s in new},
        protocols=catalog.protocols,
        session_types=catalog.session_types,
        clinic=catalog.settings,
        overrides=overrides,
        away=patient_away_ranges(session, patient_id),
    )


def enforce(
    findings: Sequence[Finding],
    actor: Actor,
    catalog: Catalog,
    *,
    fresh: Mapping[str, str] | None = None,
    what: str = "the move",
) -> list[Finding]:
    """Raise ``RuleRefused`` naming every rule that stops the change; a rule overridden by a
    reason given now (``fresh``) must be the decision of a role allowed to override.  Returns
    the findings overridden now (to record)."""
    rules = rule_settings(catalog.settings)
    refused = stopping(findings)
    if refused:
        raise RuleRefused(refused, rules.override_roles, what=what)
    given = {k for k, v in (fresh or {}).items() if v.strip()}
    now_overridden = [
        f for f in findings if f.overridden and (f.rule in given or _by_spacing(f, given))
    ]
    if now_overridden and not rules.may_override(actor.role, [f.rule for f in now_overridden]):
        titles = sorted({f.title for f in now_overridden if f.rule not in DESK_RULES})
        raise PermissionDenied(
            f"Only a {_roles(rules)} may go ahead with a reason against "
            + " and ".join(f"“{t}”" for t in titles),
            actor=actor,
            action="override_rule",
        )
    return now_overridden


def _by_spacing(finding: Finding, given: Collection[str]) -> bool:
    return SPACING in given and finding.rule in SPACING_RULES


def _roles(rules: ProtocolRuleSettings) -> str:
    return " or ".join(role_name(r) for r in rules.override_roles)


def record_overrides(
    session: Session,
    actor: Actor,
    findings: Iterable[Finding],
    appointment_id: int,
    patient_id: int,
    *,
    now: dt.datetime,
) -> None:
    """Each override given now, kept with the appointment (the day sheet prints it) and
    audited.  The same decision made again (a redo of an overridden move: same rule, reason
    and user) is audited again but not stored twice."""
    findings = list(findings)
    on_record: set[tuple[str, str, int | None]] = set()
    if findings:
        rows = session.execute(
            select(GatingOverride.rule, GatingOverride.reason, GatingOverride.user_id).where(
                GatingOverride.appointment_id == appointment_id
            )
        ).all()
        on_record = {(rule, reason, user) for rule, reason, user in rows}
    for f in findings:
        assert f.override_reason is not None
        if (f.rule, f.override_reason, actor.user_id) not in on_record:
            session.add(
                GatingOverride(
                    appointment_id=appointment_id,
                    rule=f.rule,
                    reason=f.override_reason,
                    user_id=actor.user_id,
                    at=now,
                )
            )
        audit.record(
            session,
            actor,
            "override_rule",
            "appointment",
            appointment_id,
            patient_id=patient_id,
            after={"rule": f.rule, "reason": f.override_reason, "fact": f.message},
            detail=f"{f.rule}: {f.override_reason}",
            now=now,
        )
