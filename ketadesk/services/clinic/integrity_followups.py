"""``ketadesk check``'s warnings about sessions that began and lack a follow-up owed from the
start (``owed_from_start`` in ``[session_types]``: the Spravato REMS Patient Monitoring Form).
DOMAIN.md: "A session left in progress still owes its monitoring form": the services open it
when the session starts (``followups/sync.py``), so one missing was written around them (a
trial found two such sessions in the demo clinic); this names each, with what it owes."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.dates import short_date_time
from ketadesk.scheduling.followup_rules import KIND_LABELS, STARTED_STATUSES
from ketadesk.services.clinic.integrity_report import Problem
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Appointment, FollowUp, Patient, SessionType

MISSING_CODE = "missing_follow_up"


def missing_follow_up_warnings(session: Session) -> tuple[Problem, ...]:
    """One warning per session begun (in progress or completed) whose type owes a follow-up
    from the start and that has none of that kind, in time order."""
    catalog = load_catalog(session)
    settings = catalog.settings
    owed: dict[str, list[str]] = {}
    for code, spec in catalog.session_types.items():
        for rule in spec.followups:
            if rule.owed_from_start:
                owed.setdefault(rule.kind, []).append(code)
    if not owed:
        return ()
    calendar = ClinicCalendar(settings)
    out: list[Problem] = []
    for kind, codes in sorted(owed.items()):
        rows = session.execute(
            select(
                Appointment.id,
                Appointment.starts_at,
                Appointment.status,
                SessionType.name,
                Patient.last_name,
                Patient.first_name,
            )
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(
                SessionType.code.in_(sorted(codes)),
                Appointment.status.in_(sorted(STARTED_STATUSES)),
                ~exists().where(FollowUp.appointment_id == Appointment.id, FollowUp.kind == kind),
            )
            .order_by(Appointment.starts_at, Appointment.id)
        ).all()
        label = KIND_LABELS.get(kind, kind.replace("_", " "))
        for id_, starts, status, type_name, last_name, first_name in rows:
            when = short_date_time(calendar.local(starts), settings.time_format)
            state = "still in progress" if status == "in_progress" else status.replace("_", " ")
            out.append(
                Problem(
                    code=MISSING_CODE,
                    message=f"warning: {last_name}, {first_name}: {type_name} {when} is "
                    f"{state} and owes its {label}, but no such follow-up is open or done; "
                    f"the session began, so the form is owed whether or not it was completed "
                    f"(appointment #{id_})",
                    appointment_ids=(id_,),
                    at=starts,
                )
            )
    return tuple(sorted(out, key=lambda p: (p.at is None, p.at, p.appointment_ids)))
