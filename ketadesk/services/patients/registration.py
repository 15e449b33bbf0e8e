"""Registering and editing patients from a form: nothing is written until the whole form is
right, and each role changes only the fields it keeps (the front desk contact details,
clinicians the gating facts).

A role that may not "read clinical" gets the form without the clinical facts it has no need to
see (``WITHHELD_FIELDS``: screening, consent, REMS, contraindications); an edit saved with that
form as ``original`` leaves them as stored, since the user did not touch them.  Opening a
patient's form is recorded in the audit trail ("view").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketadesk.scheduling.gating import eligibility_settings
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import (
    Actor,
    InvalidFields,
    NotFound,
    PermissionDenied,
    may,
    utcnow,
)
from ketadesk.services.patients.duplicates import DuplicateKeys, DuplicatePatient, duplicates_in
from ketadesk.services.patients.patient_fields import (
    CLINICAL_FIELDS,
    CONTACT_FIELDS,
    DATE_FIELDS,
    REQUIRED_FIELDS,
    PatientForm,
    flag_codes,
    flags_text,
    format_date,
    parse_date,
    parse_self_pay,
    self_pay_text,
    validate_patient,
)
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import Patient

# The clinical fields a role without "read clinical" is not shown (the front desk keeps the
# prior authorization, so those fields stay in its form).
WITHHELD_FIELDS = (
    "screening_status",
    "screening_cleared_on",
    "consent_signed_on",
    "rems_enrolled_on",
    "rems_patient_id",
    "contraindications",
    "eligibility_flags",
)


def _values(form: PatientForm) -> dict[str, Any]:
    """A valid form as column values."""
    values: dict[str, Any] = {}
    for name in CONTACT_FIELDS + CLINICAL_FIELDS:
        text = getattr(form, name).strip()
        if name in DATE_FIELDS:
            values[name] = parse_date(text) if text else None
        elif name == "prior_auth_sessions":
            values[name] = int(text) if text else None
        elif name == "eligibility_flags":
            values[name] = flag_codes(text) or None
        elif name == "self_pay":
            values[name] = parse_self_pay(text)
        else:
            values[name] = text
    return values


def _defaults() -> dict[str, Any]:
    return _values(PatientForm())


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _clinic_today(session: Session, now: dt.datetime) -> dt.date:
    zone = ZoneInfo(load_catalog(session).settings.timezone)
    return now.astimezone(zone).date()


def _flag_errors(session: Session, form: PatientForm) -> dict[str, str]:
    """A recorded contraindication or precaution the clinic's [eligibility] does not list."""
    known = eligibility_settings(load_catalog(session).settings).flag_labels
    unknown = [c for c in flag_codes(form.eligibility_flags) if c not in known]
    if not unknown:
        return {}
    return {
        "eligibility_flags": f"{unknown[0]!r} is not a contraindication or precaution of the "
        "clinic ([eligibility] in the clinic rules)"
    }


@dataclass(frozen=True, slots=True)
class EligibilityChoices:
    """What the patient form offers to record: the clinic's contraindications and
    precautions (code -> label), and how long a consent is valid (0: no limit)."""

    contraindications: Mapping[str, str]
    precautions: Mapping[str, str]
    consent_valid_months: int


def eligibility_choices(db: Database) -> EligibilityChoices:
    """The clinic's [eligibility] lists, for the patient form's checkboxes."""
    with db.read() as session:
        elig = eligibility_settings(load_catalog(session).settings)
    return EligibilityChoices(
        dict(elig.contraindications), dict(elig.precautions), elig.consent_valid_months
    )


# --------------------------------------------------------------------------------------------
# Writing


_CHART_PARTS = re.compile(r"(.*?)(\d+)")


def next_chart_number(session: Session) -> str:
    """The next chart number in the clinic's own pattern: the prefix and width of the most
    recently registered patient's number, one past the highest number with that prefix."""
    latest = session.scalar(select(Patient.chart_number).order_by(Patient.id.desc()).limit(1))
    match = _CHART_PARTS.fullmatch(latest or "")
    if match is None:
        # No patient yet (or the latest one has a hand-made chart number): plain numbers.
        prefix, width = "", 1
    else:
        prefix, width = match.group(1), len(match.group(2))
    highest = 0
    for (chart,) in session.execute(
        select(Patient.chart_number).where(Patient.chart_number.startswith(prefix, autoescape=True))
    ):
        rest = chart[len(prefix) :]
        if rest.isdigit():
            highest = max(highest, int(rest))
    return f"{prefix}{highest + 1:0{width}d}"


def chart_number_after(chart: str) -> str:
    """The chart number that follows ``chart`` in its own pattern ("BT-0099" -> "BT-0100")."""
    match = _CHART_PARTS.fullmatch(chart)
    if match is None:
        raise ValueError(f"chart number {chart!r} does not end in digits")
    prefix, digits = match.group(1), match.group(2)
    return f"{prefix}{int(digits) + 1:0{len(digits)}d}"


# What a CSV import (services/patients/csv_import.py) registers with, as registration does.
values_of = _values
defaults = _defaults
jsonable = _jsonable
clinic_today = _clinic_today

_CHART_ATTEMPTS = 10


def register_patient(
    db: Database,
    actor: Actor,
    form: PatientForm,
    *,
    confirmed_new: bool = False,
    now: dt.datetime | None = None,
) -> int:
    """Register a new patient from a form; returns the new patient's id.

    Raises InvalidFields (nothing saved) for a form with mistakes; PermissionDenied when the
    actor may not register patients, or fills in clinical facts without the right to edit them;
    DuplicatePatient when a chart with the same name, date of birth and phone exists, unless
    the caller confirms (``confirmed_new``) that this is another person.
    """
    require(actor, "register_patient", db, now=now)
    now = now or utcnow()
    defaults = _defaults()
    for attempt in range(_CHART_ATTEMPTS):
        try:
            with db.write() as session:
                errors = validate_patient(form, today=_clinic_today(session, now))
                errors.update(_flag_errors(session, form))
                if errors:
                    raise InvalidFields(errors)
                values = _values(form)
                if any(values[n] != defaults[n] for n in CLINICAL_FIELDS):
                    require(actor, "edit_patient_clinical")
                if not confirmed_new:
                    exact = tuple(
                        d for d in duplicates_in(session, DuplicateKeys.of(form)) if d.exact
                    )
                    if exact:
                        raise DuplicatePatient(exact)
                patient = Patient(chart_number=next_chart_number(session), created_at=now, **values)
                session.add(patient)
                session.flush()
                after = {
                    name: _jsonable(value)
                    for name, value in values.items()
                    if value != defaults[name] or name in REQUIRED_FIELDS
                }
                after["chart_number"] = patient.chart_number
                if confirmed_new:
                    after["confirmed_new"] = True
                audit.record(
                    session,
                    actor,
                    "register_patient",
                    "patient",
                    patient.id,
                    patient_id=patient.id,
                    after=after,
                    now=now,
                )
                changes.bump(session, now)
                return patient.id
        except IntegrityError:
            # Another workstation took the same chart number a moment ago: take the next one.
            if attempt == _CHART_ATTEMPTS - 1:
                raise
        except PermissionDenied as err:  # checked inside the transaction, now rolled back
            audit.record_refusal(db, err, entity="patient", now=now)
            raise
    raise AssertionError("unreachable")


def update_patient(
    db: Database,
    actor: Actor,
    patient_id: int,
    form: PatientForm,
    *,
    original: PatientForm | None = None,
    now: dt.datetime | None = None,
) -> tuple[str, ...]:
    """Save an edited form; returns the names of the fields that changed (empty: nothing to do).

    With ``original`` (the form as it was loaded) only the fields the user changed are written,
    so an edit made meanwhile at another workstation to another field is kept.  Contact fields
    need "edit_patient_contact", clinical fields "edit_patient_clinical", each checked only when
    such a field changes.  Raises InvalidFields (nothing saved), NotFound, PermissionDenied.
    """
    now = now or utcnow()
    try:
        return _update(db, actor, patient_id, form, original, now)
    except PermissionDenied as err:  # checked inside the transaction, now rolled back
        audit.record_refusal(
            db, err, entity="patient", entity_id=patient_id, patient_id=patient_id, now=now
        )
        raise


def _update(
    db: Database,
    actor: Actor,
    patient_id: int,
    form: PatientForm,
    original: PatientForm | None,
    now: dt.datetime,
) -> tuple[str, ...]:
    with db.write() as session:
        patient = session.get(Patient, patient_id)
        if patient is None:
            raise NotFound(f"no patient with id {patient_id}")
        if original is not None:
            # Fields the user did not touch take their stored value before checking.
            stored = _form_of(patient)
            form = dataclasses.replace(
                form,
                **{
                    n: getattr(stored, n)
                    for n in CONTACT_FIELDS + CLINICAL_FIELDS
                    if getattr(form, n) == getattr(original, n)
                },
            )

        errors = validate_patient(form, today=_clinic_today(session, now))
        errors.update(_flag_errors(session, form))
        if errors:
            raise InvalidFields(errors)
        values = _values(form)
        changed = tuple(
            name
            for name in CONTACT_FIELDS + CLINICAL_FIELDS
            if getattr(patient, name) != values[name]
        )
        if not changed:
            return ()
        if any(n in CONTACT_FIELDS for n in changed):
            require(actor, "edit_patient_contact")
        if any(n in CLINICAL_FIELDS for n in changed):
            require(actor, "edit_patient_clinical")
        before = {n: _jsonable(getattr(patient, n)) for n in changed}
        for name in changed:
            setattr(patient, name, values[name])
        audit.record(
            session,
            actor,
            "edit_patient",
            "patient",
            patient_id,
            patient_id=patient_id,
            before=before,
            after={n: _jsonable(values[n]) for n in changed},
            now=now,
        )
        changes.bump(session, now)
        return changed


def _form_of(patient: Patient) -> PatientForm:
    texts: dict[str, str] = {}
    for name in CONTACT_FIELDS + CLINICAL_FIELDS:
        value = getattr(patient, name)
        if isinstance(value, dt.date):
            texts[name] = format_date(value)
        elif name == "eligibility_flags":
            texts[name] = flags_text(value)
        elif name == "self_pay":
            texts[name] = self_pay_text(bool(value))
        elif value is None:
            texts[name] = ""
        else:
            texts[name] = str(value)
    return PatientForm(**texts)


def patient_form(
    db: Database, actor: Actor, patient_id: int, *, now: dt.datetime | None = None
) -> PatientForm:
    """A patient's current values as a form (dates as ISO text), the ``WITHHELD_FIELDS`` empty
    for a role that may not "read clinical"; the opening is recorded in the audit trail.
    NotFound if there is no such patient."""
    clinical = may(actor, "read_clinical")
    with db.read() as session:
        patient = session.get(Patient, patient_id)
        if patient is None:
            raise NotFound(f"no patient with id {patient_id}")
        form = _form_of(patient)
        chart = patient.chart_number
    if not clinical:
        form = dataclasses.replace(form, **dict.fromkeys(WITHHELD_FIELDS, ""))
    audit.record_view(
        db,
        actor,
        "patient details" if clinical else "patient details (without clinical facts)",
        patient_id,
        detail=f"chart {chart}",
        now=now,
    )
    return form
