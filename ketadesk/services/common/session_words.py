"""A session as a message to the desk names it: the patient, the session and its time
("Patel, Imani's IV ketamine infusion Mon Dec 7 13:00"), never the appointment's internal
number, which nobody at the clinic can look up (trial 3, A17: "appointment #460 is
cancelled")."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.dates import short_date_time
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Appointment, Patient, SessionType


def session_words(session: Session, appointment: Appointment) -> str:
    """ "Patel, Imani's IV ketamine infusion Mon Dec 7 13:00" (read only for a message)."""
    row = session.execute(
        select(Patient.last_name, Patient.first_name, SessionType.name)
        .select_from(Appointment)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(SessionType, SessionType.id == Appointment.session_type_id)
        .where(Appointment.id == appointment.id)
    ).one_or_none()
    settings = load_catalog(session).settings
    when = short_date_time(
        appointment.starts_at.astimezone(ZoneInfo(settings.timezone)), settings.time_format
    )
    if row is None:
        return f"the session of {when}"
    last, first, type_name = row
    return f"{last}, {first}'s {type_name} {when}"
