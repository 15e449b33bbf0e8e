"""Each patient's consent to e-mail reminders: opted in or not, who recorded it and when.

Recording it is a write on the patient's chart (``edit_patient_contact``), audited with before
and after; opting in needs an e-mail address on the chart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import Actor, Database, InvalidFields, NotFound, utcnow
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Appointment, Patient, ReminderConsent, ReminderMessage

__all__ = ["ReminderConsentRecord", "reminder_consent", "set_reminder_consent"]


@dataclass(frozen=True, slots=True)
class ReminderConsentRecord:
    """What the patient form shows: the answer, and who recorded it when (None: never asked)."""

    patient_id: int
    opted_in: bool
    recorded_at: dt.datetime | None = None
    recorded_by: str = ""


def _record(patient_id: int, row: ReminderConsent | None) -> ReminderConsentRecord:
    if row is None:
        return ReminderConsentRecord(patient_id, False)
    return ReminderConsentRecord(patient_id, row.opted_in, row.recorded_at, row.recorded_by)


def _audited(record: ReminderConsentRecord) -> dict[str, Any]:
    return {
        "opted_in": record.opted_in,
        "recorded_at": record.recorded_at.isoformat() if record.recorded_at else None,
        "recorded_by": record.recorded_by,
    }


def reminder_consent(db: Database, patient_id: int) -> ReminderConsentRecord:
    """The patient's answer, with the time it was recorded at the clinic (its wall clock: an
    answer taken on a Pacific evening is that day's, not the next UTC day's)."""
    with db.read() as session:
        record = _record(patient_id, session.get(ReminderConsent, patient_id))
        if record.recorded_at is None:
            return record
        zone = ZoneInfo(load_catalog(session).settings.timezone)
        return dataclasses.replace(record, recorded_at=record.recorded_at.astimezone(zone))


def set_reminder_consent(
    db: Database,
    actor: Actor,
    patient_id: int,
    opted_in: bool,
    *,
    now: dt.datetime | None = None,
) -> ReminderConsentRecord:
    """Record the patient's answer; opting out drops the reminders already queued for them.

    Raises PermissionDenied (audited), NotFound, and InvalidFields on "email" when a patient
    without an e-mail address is opted in (nothing saved).
    """
    require(actor, "edit_patient_contact", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        patient = session.get(Patient, patient_id)
        if patient is None:
            raise NotFound(f"no patient #{patient_id}")
        if opted_in and not patient.email.strip():
            raise InvalidFields({"email": "e-mail reminders need the patient's e-mail address"})
        row = session.get(ReminderConsent, patient_id)
        before = _record(patient_id, row)
        if row is not None and row.opted_in == opted_in:
            return before
        if row is None:
            row = ReminderConsent(patient_id=patient_id)
            session.add(row)
        row.opted_in = opted_in
        row.recorded_at = now
        row.recorded_by_id = actor.user_id
        row.recorded_by = actor.username
        after = _record(patient_id, row)
        if not opted_in:
            queued = session.scalars(
                select(ReminderMessage)
                .join(Appointment, Appointment.id == ReminderMessage.appointment_id)
                .where(ReminderMessage.patient_id == patient_id)
                .where(ReminderMessage.status == "queued")
            )
            for message in queued:
                message.status = "dropped"
                message.last_error = "the patient withdrew consent"
                message.updated_at = now
        audit.record(
            session,
            actor,
            "reminder_consent",
            "patient",
            patient_id,
            patient_id=patient_id,
            before=_audited(before),
            after=_audited(after),
            now=now,
        )
        changes.bump(session, now)
    return after
