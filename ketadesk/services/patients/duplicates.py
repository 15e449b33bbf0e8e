"""Finding the charts a patient being registered (or edited) may already have: the same name and
date of birth, the same phone number or the same e-mail address.

Names are compared without case, accents or extra spaces, phones by their digits, e-mails
without case (``store/patient_keys.py``).  Each criterion is an index lookup (date of birth,
``phone_key``, ``email_key``), so the check stays quick on a clinic with years of charts.
Charts merged into another one are not offered: the chart they were merged into is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ketadesk.services.common.context import Actor, Database, InvalidRequest
from ketadesk.services.patients.patient_fields import PatientForm, format_date, parse_date
from ketadesk.store.models import Patient
from ketadesk.store.patient_keys import email_key, name_key, phone_key

#: Why a chart was offered, as the form shows it.
SAME_NAME_AND_BIRTH = "same name and date of birth"
SAME_PHONE = "same phone"
SAME_EMAIL = "same e-mail"

# Fewer digits than this is no phone number to compare (an extension, a typo in progress).
_MIN_PHONE_DIGITS = 7


@dataclass(frozen=True, slots=True)
class PossibleDuplicate:
    """A chart that may be the same person; ``exact`` when name, birthday and phone all match,
    or neither has a phone (registration refuses that one unless the caller confirms)."""

    patient_id: int
    chart_number: str
    name: str
    date_of_birth: str
    phone: str
    email: str
    reasons: tuple[str, ...]
    exact: bool


class DuplicatePatient(InvalidRequest):
    """Registration refused: the clinic already has this patient (same name, date of birth and
    phone); ``duplicates`` lists the charts.  Register with ``confirmed_new=True`` to add a
    second chart anyway."""

    def __init__(self, duplicates: tuple[PossibleDuplicate, ...]) -> None:
        self.duplicates = duplicates
        charts = ", ".join(f"chart {d.chart_number}" for d in duplicates)
        super().__init__(
            f"this patient is already registered ({charts}): open the existing chart, "
            "or confirm that this is a different person"
        )


@dataclass(frozen=True, slots=True)
class DuplicateKeys:
    """A form's comparison keys (empty where the form has nothing to compare)."""

    name: str
    date_of_birth: dt.date | None
    phone: str
    email: str

    @classmethod
    def of(cls, form: PatientForm) -> DuplicateKeys:
        try:
            born = parse_date(form.date_of_birth) if form.date_of_birth.strip() else None
        except ValueError:
            born = None
        phone = phone_key(form.phone)
        return cls(
            name=name_key(f"{form.first_name} {form.last_name}"),
            date_of_birth=born,
            phone=phone if len(phone) >= _MIN_PHONE_DIGITS else "",
            email=email_key(form.email),
        )


def duplicates_in(
    session: Session, keys: DuplicateKeys, *, exclude_id: int | None = None
) -> tuple[PossibleDuplicate, ...]:
    """The live charts matching ``keys`` on any criterion, exact ones first."""
    criteria = []
    if keys.date_of_birth is not None and keys.name:
        criteria.append(Patient.date_of_birth == keys.date_of_birth)
    if keys.phone:
        criteria.append(Patient.phone_key == keys.phone)
    if keys.email:
        criteria.append(Patient.email_key == keys.email)
    if not criteria:
        return ()
    query = select(Patient).where(or_(*criteria), Patient.merged_into_id.is_(None))
    if exclude_id is not None:
        query = query.where(Patient.id != exclude_id)
    found: list[PossibleDuplicate] = []
    for patient in session.scalars(query.order_by(Patient.id)):
        reasons: list[str] = []
        same_person = (
            keys.date_of_birth is not None
            and patient.date_of_birth == keys.date_of_birth
            and name_key(f"{patient.first_name} {patient.last_name}") == keys.name
        )
        if same_person:
            reasons.append(SAME_NAME_AND_BIRTH)
        same_phone = bool(keys.phone) and patient.phone_key == keys.phone
        if same_phone:
            reasons.append(SAME_PHONE)
        if keys.email and patient.email_key == keys.email:
            reasons.append(SAME_EMAIL)
        if not reasons:
            continue  # a birthday twin with another name
        found.append(
            PossibleDuplicate(
                patient_id=patient.id,
                chart_number=patient.chart_number,
                name=patient.display_name,
                date_of_birth=format_date(patient.date_of_birth),
                phone=patient.phone,
                email=patient.email,
                reasons=tuple(reasons),
                # Neither with a phone counts as the same phone: nothing tells them apart.
                exact=same_person and patient.phone_key == keys.phone,
            )
        )
    found.sort(key=lambda d: (not d.exact, -len(d.reasons), d.patient_id))
    return tuple(found)


def find_duplicates(
    db: Database, actor: Actor, form: PatientForm, *, exclude_id: int | None = None
) -> tuple[PossibleDuplicate, ...]:
    """The charts that may already be the patient in ``form`` (``exclude_id``: the chart being
    edited).  Contact details only, so any signed-in user may ask."""
    del actor  # every signed-in user sees contact details
    keys = DuplicateKeys.of(form)
    with db.read() as session:
        return duplicates_in(session, keys, exclude_id=exclude_id)
