"""``ketadesk check``'s warnings: booked sessions that break a protocol or gating rule
(``scheduling/protocol_rules.py``), judged as a drag would judge them, overrides on record
honoured.  Warnings, not problems: the rows are sound; a clinician should look."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.protocol_rules import CourseSession, judge, rule_settings
from ketadesk.scheduling.statuses import MOVABLE_STATUSES, RELEASED_STATUSES
from ketadesk.services.booking.planning import load_patient_facts
from ketadesk.services.booking.rule_check import stored_overrides
from ketadesk.services.clinic.integrity_report import Problem
from ketadesk.store.clinic_config import load_config
from ketadesk.store.models import Appointment, Patient, Protocol, Series

RULE_CODE = "rule"


def rule_warnings(session: Session) -> tuple[Problem, ...]:
    """One warning per rule a patient's booked sessions break, naming the rule and the fact."""
    config = load_config(session)
    catalog = config.catalog
    calendar = ClinicCalendar(catalog.settings)
    roles = rule_settings(catalog.settings).override_roles
    rows = session.execute(
        select(
            Appointment.id,
            Appointment.patient_id,
            Appointment.series_id,
            Appointment.series_index,
            Appointment.session_type_id,
            Appointment.starts_at,
            Appointment.status,
            Protocol.code,
            Series.planned_count,
        )
        .outerjoin(Series, Series.id == Appointment.series_id)
        .outerjoin(Protocol, Protocol.id == Series.protocol_id)
        .where(Appointment.status.not_in(tuple(RELEASED_STATUSES)))
        .order_by(Appointment.patient_id, Appointment.starts_at)
    ).all()
    by_patient: dict[int, list[tuple[CourseSession, str]]] = defaultdict(list)
    for id_, patient_id, series_id, index, type_id, start, status, protocol, count in rows:
        by_patient[patient_id].append(
            (
                CourseSession(
                    key=id_,
                    series=series_id,
                    index=index,
                    session_type=config.session_type_code(type_id),
                    protocol=protocol or "",
                    start=start,
                    day=calendar.local_date(start),
                    count=count or 0,
                ),
                status,
            )
        )
    names = dict(
        session.execute(
            select(Patient.id, Patient.last_name + ", " + Patient.first_name).where(
                Patient.id.in_(sorted(by_patient))
            )
        ).all()
    )
    out: list[Problem] = []
    for patient_id, entries in by_patient.items():
        sessions = [s for s, _ in entries]
        judged = [s for s, status in entries if status in MOVABLE_STATUSES]
        if not judged:
            continue
        # The booked sessions are judged, in date order, against the units the sessions
        # already given have left (``prior_auth_valid``, as booking and the day sheet count).
        facts = load_patient_facts(session, patient_id, catalog, excluding=[s.key for s in judged])
        overrides = stored_overrides(
            session, [s.key for s in sessions], {s.series for s in sessions if s.series}
        )
        findings = judge(
            sessions,
            {s.key for s in judged},
            protocols=catalog.protocols,
            session_types=catalog.session_types,
            clinic=catalog.settings,
            facts=facts,
            overrides=overrides,
        )
        for f in findings:
            if not f.stops:
                continue
            out.append(
                Problem(
                    code=RULE_CODE,
                    message=f"warning: {names.get(patient_id, f'patient #{patient_id}')}: "
                    f"{f.text(roles)}",
                    appointment_ids=tuple(s.key for s in judged),
                    at=judged[0].start,
                )
            )
    return tuple(out)
