"""A patient's days away as the scheduling rule takes them (``scheduling/days_away.py``), read
by every step that places a session: planning, booking, moves, a closure's re-plan."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.days_away import AwayRange
from ketadesk.store.models import PatientAway


def patient_away_ranges(session: Session, patient_id: int) -> list[AwayRange]:
    """Every range on the patient's record, past ones too, in date order."""
    rows = session.execute(
        select(PatientAway.id, PatientAway.first_day, PatientAway.last_day, PatientAway.reason)
        .where(PatientAway.patient_id == patient_id)
        .order_by(PatientAway.first_day, PatientAway.id)
    ).all()
    return [AwayRange(first, last, reason, key) for key, first, last, reason in rows]
