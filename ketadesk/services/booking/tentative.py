"""Tentative holds ("pencilled in"): the front desk keeps a place, a single session or a whole
series, for a patient whose screening or consent is still pending.  The hold keeps its resources
until its deadline (``Appointment.hold_until``); it becomes a booking only through ``confirm``,
which judges the gates as a booking does, and the patient's days away (a range added since the
hold was pencilled in: a warning whoever books may override with a reason, audited); past its
deadline it is released (``expiry``).

Placing one is ``booking.book`` with ``BookingRequest(tentative=True)``: the same plan check,
re-check in the transaction, audit and change counter as any booking.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.gating import check_gates
from ketadesk.scheduling.protocol_rules import PATIENT_AWAY, Finding, judge
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.booking import override_rights, rule_check
from ketadesk.services.booking.booking import GateRefused, snapshot_of
from ketadesk.services.booking.contention import retried_once
from ketadesk.services.booking.expiry import RELEASE_REASON, release_expired
from ketadesk.services.booking.planning import load_patient_facts
from ketadesk.services.common.context import Actor, InvalidRequest, NotFound, utcnow
from ketadesk.services.common.session_words import session_words
from ketadesk.services.followups import sync
from ketadesk.store import changes
from ketadesk.store.clinic_config import StoredConfig, load_config
from ketadesk.store.database import Database
from ketadesk.store.days_away import patient_away_ranges
from ketadesk.store.models import Appointment, AppointmentEvent, GatingOverride


@dataclass(frozen=True)
class Confirmation:
    """The appointments a confirmation turned from tentative into booked."""

    appointment_ids: tuple[int, ...]


def confirm(
    db: Database,
    actor: Actor,
    appointment_id: int,
    *,
    overrides: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> Confirmation:
    """Book a tentative hold (with every tentative session of its series), if the patient now
    passes the gates of each session type and is not away on its days; raise ``GateRefused``
    naming each rule otherwise (``GateRefused.overridable_by`` says whether the actor may go
    past them), and say so in words when the hold was released at its deadline.
    ``overrides``: rule -> reason, each stored with the sessions and audited."""
    require(actor, "book", db, now=now)
    given = {k: v.strip() for k, v in (overrides or {}).items() if v.strip()}
    # A day the patient is away is theirs to decide: anyone who books may go past it; a gate
    # is a clinician's (``override_rights``, the booking's own rule).
    override_rights.require_override(actor, given, db, now=now)
    now = now or utcnow()

    def write() -> Confirmation:
        with db.write() as session:
            release_expired(session, now)
            first = session.get(Appointment, appointment_id)
            if first is None:
                raise NotFound(f"no appointment #{appointment_id}")
            if first.status == "released":
                raise InvalidRequest(
                    f"{session_words(session, first)} was released: {RELEASE_REASON}; book it again"
                )
            if first.status != "tentative":
                raise InvalidRequest(
                    f"{session_words(session, first)} is {first.status.replace('_', ' ')}, "
                    "not tentative"
                )
            group = [first]
            if first.series_id is not None:
                group = list(
                    session.scalars(
                        select(Appointment)
                        .where(
                            Appointment.series_id == first.series_id,
                            Appointment.status == "tentative",
                        )
                        .order_by(Appointment.starts_at)
                        .with_for_update()
                    )
                )
            config = load_config(session)
            catalog = config.catalog
            facts = load_patient_facts(session, first.patient_id, catalog)
            if facts is None:
                raise NotFound(f"no patient #{first.patient_id}")
            calendar = ClinicCalendar(catalog.settings)
            by_type: dict[str, list[dt.date]] = {}
            for a in group:
                code = config.session_type_code(a.session_type_id)
                by_type.setdefault(code, []).append(calendar.local_date(a.starts_at))
            results = [
                r
                for code, dates in by_type.items()
                for r in check_gates(
                    catalog.session_types[code], facts, dates, catalog.settings, given
                )
            ]
            away = _days_away(session, config, calendar, first.patient_id, group, given)
            stopping = [r for r in results if r.stops_booking]
            stopping += [f.as_gate() for f in away if f.stops]
            if stopping:
                raise GateRefused(stopping)
            facts_of = {r.rule: r.message for r in results} | {f.rule: f.message for f in away}
            past = [a for a in group if a.starts_at < now]
            if past:
                raise InvalidRequest(
                    f"appointment #{past[0].id} has already begun; a tentative hold in the "
                    "past cannot be confirmed"
                )
            for a in group:
                before = snapshot_of(a) | {
                    "hold_until": a.hold_until.isoformat() if a.hold_until else None
                }
                a.status = "booked"
                a.hold_until = None
                a.updated_at = now
                session.add(
                    AppointmentEvent(
                        appointment_id=a.id,
                        at=now,
                        user_id=actor.user_id,
                        action="confirm",
                        from_status="tentative",
                        to_status="booked",
                        reason="",
                        detail={},
                    )
                )
                for rule, reason in given.items():
                    session.add(
                        GatingOverride(
                            appointment_id=a.id,
                            series_id=a.series_id,
                            rule=rule,
                            reason=reason,
                            user_id=actor.user_id,
                            at=now,
                        )
                    )
                    audit.record(
                        session,
                        actor,
                        "override_rule",
                        "appointment",
                        a.id,
                        patient_id=a.patient_id,
                        after={"rule": rule, "reason": reason, "fact": facts_of.get(rule, "")},
                        detail=f"{rule}: {reason}",
                        now=now,
                    )
                session.flush()
                audit.record(
                    session,
                    actor,
                    "confirm",
                    "appointment",
                    a.id,
                    patient_id=a.patient_id,
                    before=before,
                    after=snapshot_of(a),
                    now=now,
                )
            ids = tuple(a.id for a in group)
            sync.sync_follow_ups(session, actor, ids, now=now, config=config)
            session.flush()  # every row written before the change counter, the last lock taken
            changes.bump(session, now)
            return Confirmation(ids)

    return retried_once(write)


#: The protocol rules a pencilled-in hold is judged by again when it is confirmed: the others
#: were judged when it was pencilled in and at every change since (a booking or move of the
#: patient's other sessions counts the hold as live), while the patient's days away are a fact
#: of their record that can change under the hold with no session changing.
RULES_AT_CONFIRM = frozenset({PATIENT_AWAY})


def _days_away(
    session: Session,
    config: StoredConfig,
    calendar: ClinicCalendar,
    patient_id: int,
    group: Sequence[Appointment],
    given: Mapping[str, str],
) -> list[Finding]:
    """The hold's sessions that fall on the patient's days away, as the rules engine says
    them, overrides on record for them or their series and those given now honoured."""
    keys = {a.id for a in group}
    series = {a.series_id for a in group if a.series_id is not None}
    overrides = rule_check.stored_overrides(session, keys, series) | dict(given)
    found = judge(
        rule_check.course_sessions(session, config, calendar, patient_id),
        keys,
        protocols=config.catalog.protocols,
        session_types=config.catalog.session_types,
        clinic=config.catalog.settings,
        overrides=overrides,
        away=patient_away_ranges(session, patient_id),
    )
    return [f for f in found if f.rule in RULES_AT_CONFIRM]


def release_expired_holds(db: Database, *, now: dt.datetime | None = None) -> tuple[int, ...]:
    """Release every tentative hold past its deadline now (``ketadesk check`` calls this; any
    booking does it on its way).  Bumps the change counter only when something was released."""
    now = now or utcnow()
    with db.write() as session:
        released = release_expired(session, now)
        if released:
            session.flush()
            changes.bump(session, now)
    return tuple(released)
