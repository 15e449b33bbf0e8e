"""Looking up what a monitoring record belongs to: the appointment, its session type and the
stored record with its readings.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ketadesk.scheduling.catalog import SessionTypeSpec
from ketadesk.services.common.context import (
    NotFound,
)
from ketadesk.store.clinic_config import StoredConfig
from ketadesk.store.models import (
    Appointment,
    SessionRecord,
)


def find_appointment(session: Session, appointment_id: int) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"appointment #{appointment_id} does not exist")
    return appointment


def session_type_of(config: StoredConfig, appointment: Appointment) -> SessionTypeSpec:
    return config.catalog.session_types[config.session_type_code(appointment.session_type_id)]


def find_record(session: Session, appointment_id: int) -> SessionRecord | None:
    return session.scalars(
        select(SessionRecord)
        .where(SessionRecord.appointment_id == appointment_id)
        .options(selectinload(SessionRecord.readings))
    ).one_or_none()


def find_records(session: Session, ids: Iterable[int]) -> dict[int, SessionRecord]:
    """The stored records of ``ids`` with their readings, by appointment (one round of reads
    for them all; sessions without a record are left out)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    return {
        r.appointment_id: r
        for r in session.scalars(
            select(SessionRecord)
            .where(SessionRecord.appointment_id.in_(ids))
            .options(selectinload(SessionRecord.readings))
        )
    }
