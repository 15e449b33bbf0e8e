"""A patient as typed into a form: its fields, who may change which, and the checks that name
every bad field so a window can mark it.

Forms come in as text, exactly as typed (``PatientForm``).  Dates are accepted as ``YYYY-MM-DD``
(ISO) or in the US short format ``MM/DD/YYYY`` (the clinic's locale); ``format_date`` gives
them back as ISO text.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table

from ketadesk.services.common.phones import phone_problem
from ketadesk.store.models import Patient

_PATIENT = cast(Table, Patient.__table__)

# The values the patient table's "screening" check constraint allows.
SCREENING_STATUSES = ("pending", "cleared", "not_eligible")


@dataclass(frozen=True, slots=True)
class PatientForm:
    """A patient as typed into a form: every value is text (dates as ``YYYY-MM-DD`` or
    ``MM/DD/YYYY``; ``prior_auth_sessions`` a whole number of authorized units or empty;
    ``eligibility_flags`` the codes of the recorded [eligibility] contraindications and
    precautions, comma-separated; ``self_pay`` "yes" for a self-pay patient, empty for
    insurance, ``SELF_PAY_TEXTS``)."""

    first_name: str = ""
    last_name: str = ""
    preferred_name: str = ""
    date_of_birth: str = ""
    phone: str = ""
    email: str = ""
    address: str = ""
    emergency_contact_name: str = ""
    emergency_contact_phone: str = ""
    driver_name: str = ""
    driver_phone: str = ""
    notes: str = ""
    # Clinical gating facts (DOMAIN.md "Gating before a dosing session").
    screening_status: str = "pending"
    screening_cleared_on: str = ""
    consent_signed_on: str = ""
    rems_enrolled_on: str = ""
    rems_patient_id: str = ""
    prior_auth_number: str = ""
    prior_auth_expires_on: str = ""
    prior_auth_sessions: str = ""
    contraindications: str = ""
    eligibility_flags: str = ""
    prior_auth_starts_on: str = ""
    # Payment: "yes" self-pay (no prior authorization needed), "" insurance.
    self_pay: str = ""


# Who may change what: the front desk keeps contact details, clinicians the gating facts.
CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "preferred_name",
    "date_of_birth",
    "phone",
    "email",
    "address",
    "emergency_contact_name",
    "emergency_contact_phone",
    "driver_name",
    "driver_phone",
    "notes",
)
CLINICAL_FIELDS = (
    "screening_status",
    "screening_cleared_on",
    "consent_signed_on",
    "rems_enrolled_on",
    "rems_patient_id",
    "self_pay",
    "prior_auth_number",
    "prior_auth_starts_on",
    "prior_auth_expires_on",
    "prior_auth_sessions",
    "eligibility_flags",
    "contraindications",
)
DATE_FIELDS = (
    "date_of_birth",
    "screening_cleared_on",
    "consent_signed_on",
    "rems_enrolled_on",
    "prior_auth_expires_on",
    "prior_auth_starts_on",
)
PHONE_FIELDS = ("phone", "emergency_contact_phone", "driver_phone")
# Facts about something that has already happened: a date after today is a typing mistake.
_PAST_DATE_FIELDS = ("screening_cleared_on", "consent_signed_on", "rems_enrolled_on")
REQUIRED_FIELDS = ("first_name", "last_name")
# The prior authorization: not needed (greyed in the form) for a self-pay patient.
PRIOR_AUTH_FIELDS = (
    "prior_auth_number",
    "prior_auth_starts_on",
    "prior_auth_expires_on",
    "prior_auth_sessions",
)

FIELD_LABELS: Mapping[str, str] = {
    "first_name": "First name",
    "last_name": "Last name",
    "preferred_name": "Preferred name",
    "date_of_birth": "Date of birth",
    "phone": "Phone",
    "email": "Email",
    "address": "Address",
    "emergency_contact_name": "Emergency contact",
    "emergency_contact_phone": "Emergency contact phone",
    "driver_name": "Driver / escort",
    "driver_phone": "Driver phone",
    "notes": "Notes",
    "screening_status": "Screening",
    "screening_cleared_on": "Screening cleared on",
    "consent_signed_on": "Consent signed on",
    "rems_enrolled_on": "REMS enrolled on",
    "rems_patient_id": "REMS patient ID",
    "prior_auth_number": "Prior authorization number",
    "prior_auth_expires_on": "Prior authorization expires on",
    "prior_auth_sessions": "Prior authorization units",
    "contraindications": "Other flags",
    "eligibility_flags": "Contraindications",
    "prior_auth_starts_on": "Prior authorization starts on",
    "self_pay": "Payment",
}

#: The payment choices as the form offers them: (text, words).
PAYMENT_CHOICES = (("", "Insurance"), ("yes", "Self-pay"))

#: How a form (or an import's column) says the payment: text -> self-pay (case and spaces
#: aside); the form itself writes "yes" or "".
SELF_PAY_TEXTS: Mapping[str, bool] = {
    "": False,
    "no": False,
    "insurance": False,
    "false": False,
    "yes": True,
    "self-pay": True,
    "self pay": True,
    "true": True,
}


def parse_self_pay(text: str) -> bool:
    """A form's ``self_pay`` text as a flag; ValueError names the accepted words."""
    key = text.strip().lower()
    if key not in SELF_PAY_TEXTS:
        raise ValueError(f"{text.strip()!r} is not a payment: type self-pay or insurance")
    return SELF_PAY_TEXTS[key]


def self_pay_text(self_pay: bool) -> str:
    """A stored flag as the form's text."""
    return "yes" if self_pay else ""


assert set(CONTACT_FIELDS) | set(CLINICAL_FIELDS) == {
    f.name for f in dataclasses.fields(PatientForm)
}

# Nobody alive was born more than this many years ago: an older date of birth is a typo.
_OLDEST_AGE_YEARS = 130


# --------------------------------------------------------------------------------------------
# Parsing and validating a form

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
# Deliberately loose (one @, a dot in the domain, no spaces): the mail server is the judge.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def parse_date(text: str) -> dt.date:
    """A date typed as ``YYYY-MM-DD`` or ``MM/DD/YYYY``; ValueError says what is wrong."""
    text = text.strip()
    iso = _ISO_DATE.fullmatch(text)
    us = _US_DATE.fullmatch(text)
    if iso:
        year, month, day = (int(g) for g in iso.groups())
    elif us:
        month, day, year = (int(g) for g in us.groups())
    else:
        raise ValueError(f"{text!r} is not a date: type it month first, MM/DD/YYYY")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueError(f"{text!r} is not a real date") from None


def format_date(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


def _max_length(name: str) -> int | None:
    length = getattr(_PATIENT.c[name].type, "length", None)
    return length if isinstance(length, int) else None


_FLAG_CODE = re.compile(r"[a-z][a-z0-9_]*")


def flag_codes(text: str) -> list[str]:
    """The codes of a form's ``eligibility_flags`` text, sorted, each once."""
    return sorted({c.strip() for c in text.split(",") if c.strip()})


def flags_text(codes: Sequence[str] | None) -> str:
    """Stored codes as the form's text."""
    return ",".join(sorted(codes or ()))


def validate_patient(form: PatientForm, *, today: dt.date) -> dict[str, str]:
    """What is wrong with a form: field name -> a message to show at the field (empty: fine)."""
    errors: dict[str, str] = {}
    for name in REQUIRED_FIELDS:
        if not getattr(form, name).strip():
            errors[name] = f"{FIELD_LABELS[name]} is required"
    for name in CONTACT_FIELDS + CLINICAL_FIELDS:
        if name in errors or name in DATE_FIELDS:
            continue
        limit = _max_length(name)
        value = getattr(form, name).strip()
        if limit is not None and len(value) > limit:
            errors[name] = f"at most {limit} characters ({len(value)} typed)"
    dates: dict[str, dt.date] = {}
    for name in DATE_FIELDS:
        text = getattr(form, name).strip()
        if not text:
            continue
        try:
            dates[name] = parse_date(text)
        except ValueError as err:
            errors[name] = str(err)
    born = dates.get("date_of_birth")
    if born is not None:
        if born > today:
            errors["date_of_birth"] = "a date of birth cannot be in the future"
        elif today.year - born.year > _OLDEST_AGE_YEARS:
            errors["date_of_birth"] = f"{born:%Y} is more than {_OLDEST_AGE_YEARS} years ago"
    for name in _PAST_DATE_FIELDS:
        when = dates.get(name)
        if when is not None and when > today:
            errors[name] = f"{FIELD_LABELS[name].lower()} cannot be after today"
        elif when is not None and born is not None and when < born:
            errors[name] = "before the date of birth"
    for name in PHONE_FIELDS:
        text = getattr(form, name).strip()
        if text and name not in errors:
            problem = phone_problem(text)
            if problem:
                errors[name] = problem
    email = form.email.strip()
    if email and "email" not in errors and not _EMAIL.fullmatch(email):
        errors["email"] = "not an email address (name@example.com)"
    status = form.screening_status.strip()
    if status not in SCREENING_STATUSES:
        errors["screening_status"] = "choose one of: " + ", ".join(SCREENING_STATUSES)
    elif status == "cleared" and not form.screening_cleared_on.strip():
        errors.setdefault("screening_cleared_on", "give the date screening was cleared")
    sessions = form.prior_auth_sessions.strip()
    if sessions and (not sessions.isdigit() or int(sessions) < 1):
        errors["prior_auth_sessions"] = "a whole number of units, 1 or more"
    starts, expires = dates.get("prior_auth_starts_on"), dates.get("prior_auth_expires_on")
    if starts is not None and expires is not None and expires < starts:
        errors["prior_auth_expires_on"] = "before the prior authorization starts"
    try:
        parse_self_pay(form.self_pay)
    except ValueError as err:
        errors["self_pay"] = str(err)
    bad = [c for c in flag_codes(form.eligibility_flags) if not _FLAG_CODE.fullmatch(c)]
    if bad:
        errors["eligibility_flags"] = f"{bad[0]!r} is not a contraindication or precaution code"
    for field in dataclasses.fields(form):
        value = getattr(form, field.name)
        # PostgreSQL cannot store a NUL (and SQLite's C strings end at one): said first, here.
        if isinstance(value, str) and "\x00" in value:
            errors[field.name] = "holds a NUL character (\\0), which cannot be stored; retype it"
    return errors
