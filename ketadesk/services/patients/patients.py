"""Patients: registering and editing them from a form, and finding them as a user types.

Forms come in as text, exactly as typed (``PatientForm``); ``validate_patient`` names every bad
field so a window can mark it, and nothing is written until the whole form is right.

Dates are accepted as ``YYYY-MM-DD`` (ISO) or in the US short format ``MM/DD/YYYY`` (the
clinic's locale); ``patient_form`` gives them back as ISO text.

Finding a patient (``search_patients``) works on a folded index of every patient's names, chart
number, phone digits and date of birth, kept per database and rebuilt only when the database
changed (the change counter, or the patient count and highest id, moved), so each keystroke
costs a single-row read and a few bisections, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import re
import threading
import unicodedata
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import (
    Actor,
    InvalidFields,
    NotFound,
    PermissionDenied,
    utcnow,
)
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import AuditEvent, Patient

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = [
    "CLINICAL_FIELDS",
    "CONTACT_FIELDS",
    "DATE_FIELDS",
    "FIELD_LABELS",
    "PHONE_FIELDS",
    "SCREENING_STATUSES",
    "PatientForm",
    "PatientMatch",
    "format_date",
    "parse_date",
    "patient_form",
    "patient_match",
    "prepare_search",
    "register_patient",
    "search_patients",
    "update_patient",
    "validate_patient",
]

_PATIENT = cast(Table, Patient.__table__)

# The values the patient table's "screening" check constraint allows.
SCREENING_STATUSES = ("pending", "cleared", "not_eligible")


@dataclass(frozen=True, slots=True)
class PatientForm:
    """A patient as typed into a form: every value is text (dates as ``YYYY-MM-DD`` or
    ``MM/DD/YYYY``; ``prior_auth_sessions`` a whole number or empty)."""

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
    "prior_auth_number",
    "prior_auth_expires_on",
    "prior_auth_sessions",
    "contraindications",
)
DATE_FIELDS = (
    "date_of_birth",
    "screening_cleared_on",
    "consent_signed_on",
    "rems_enrolled_on",
    "prior_auth_expires_on",
)
PHONE_FIELDS = ("phone", "emergency_contact_phone", "driver_phone")
# Facts about something that has already happened: a date after today is a typing mistake.
_PAST_DATE_FIELDS = ("screening_cleared_on", "consent_signed_on", "rems_enrolled_on")
_REQUIRED_FIELDS = ("first_name", "last_name")

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
    "prior_auth_sessions": "Prior authorization sessions",
    "contraindications": "Contraindications",
}

assert set(CONTACT_FIELDS) | set(CLINICAL_FIELDS) == {
    f.name for f in dataclasses.fields(PatientForm)
}

# Nobody alive was born more than this many years ago: an older date of birth is a typo.
_OLDEST_AGE_YEARS = 130


# --------------------------------------------------------------------------------------------
# Parsing and validating a form

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_PHONE_CHARS = re.compile(r"[0-9 +().\-]+")
# Deliberately loose (one @, a dot in the domain, no spaces): the mail server is the judge.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
# A phone number in the North American Numbering Plan: 10 digits, optionally after a "1".
_NANP_DIGITS = 10
# E.164: an international number has at most 15 digits; 8 is the shortest in real use.
_INTL_DIGITS = (8, 15)


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
        raise ValueError(f"{text!r} is not a date: type YYYY-MM-DD or MM/DD/YYYY")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueError(f"{text!r} is not a real date") from None


def format_date(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


def _phone_problem(text: str) -> str | None:
    if not _PHONE_CHARS.fullmatch(text):
        return "a phone number has only digits, spaces and + ( ) - ."
    digits = re.sub(r"\D", "", text)
    if text.lstrip().startswith("+"):
        low, high = _INTL_DIGITS
        if not low <= len(digits) <= high:
            return f"an international number has {low} to {high} digits (this has {len(digits)})"
        return None
    if len(digits) == _NANP_DIGITS + 1 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != _NANP_DIGITS:
        return (
            f"a phone number needs {_NANP_DIGITS} digits with the area code "
            f"(this has {len(digits)}); start international numbers with +"
        )
    return None


def _max_length(name: str) -> int | None:
    length = getattr(_PATIENT.c[name].type, "length", None)
    return length if isinstance(length, int) else None


def validate_patient(form: PatientForm, *, today: dt.date) -> dict[str, str]:
    """What is wrong with a form: field name -> a message to show at the field (empty: fine)."""
    errors: dict[str, str] = {}
    for name in _REQUIRED_FIELDS:
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
            problem = _phone_problem(text)
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
        errors["prior_auth_sessions"] = "a whole number of sessions, 1 or more"
    return errors


def _values(form: PatientForm) -> dict[str, Any]:
    """A valid form as column values."""
    values: dict[str, Any] = {}
    for name in CONTACT_FIELDS + CLINICAL_FIELDS:
        text = getattr(form, name).strip()
        if name in DATE_FIELDS:
            values[name] = parse_date(text) if text else None
        elif name == "prior_auth_sessions":
            values[name] = int(text) if text else None
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


_CHART_ATTEMPTS = 10


def register_patient(
    db: Database, actor: Actor, form: PatientForm, *, now: dt.datetime | None = None
) -> int:
    """Register a new patient from a form; returns the new patient's id.

    Raises InvalidFields (nothing saved) for a form with mistakes; PermissionDenied when the
    actor may not register patients, or fills in clinical facts without the right to edit them.
    """
    require(actor, "register_patient", db, now=now)
    now = now or utcnow()
    defaults = _defaults()
    for attempt in range(_CHART_ATTEMPTS):
        try:
            with db.write() as session:
                errors = validate_patient(form, today=_clinic_today(session, now))
                if errors:
                    raise InvalidFields(errors)
                values = _values(form)
                if any(values[n] != defaults[n] for n in CLINICAL_FIELDS):
                    require(actor, "edit_patient_clinical")
                patient = Patient(chart_number=next_chart_number(session), created_at=now, **values)
                session.add(patient)
                session.flush()
                after = {
                    name: _jsonable(value)
                    for name, value in values.items()
                    if value != defaults[name] or name in _REQUIRED_FIELDS
                }
                after["chart_number"] = patient.chart_number
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
        elif value is None:
            texts[name] = ""
        else:
            texts[name] = str(value)
    return PatientForm(**texts)


def patient_form(db: Database, patient_id: int) -> PatientForm:
    """A patient's current values as a form (dates as ISO text); NotFound if there is none."""
    with db.read() as session:
        patient = session.get(Patient, patient_id)
        if patient is None:
            raise NotFound(f"no patient with id {patient_id}")
        return _form_of(patient)


# --------------------------------------------------------------------------------------------
# Finding


@dataclass(frozen=True, slots=True)
class PatientMatch:
    id: int
    chart_number: str
    display_name: str  # "Last, First"
    date_of_birth: dt.date | None
    phone: str
    active: bool


# Letters NFKD does not take apart, so "Søren" is found by "soren".
_LETTERS = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "æ": "ae", "œ": "oe", "þ": "th", "ı": "i"})
_WORD_BREAK = re.compile(r"[\W_]+")
_NON_DIGIT = re.compile(r"\D")
_NON_ALNUM = re.compile(r"[\W_]+")
_DIGITS_QUERY = re.compile(r"[0-9 +().\-]*[0-9][0-9 +().\-]*")


def _fold(text: str) -> str:
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_LETTERS)


def _name_keys(folded: Iterable[str]) -> set[str]:
    """The words of folded names (and each name run together, for "O'Brien" typed "obrien")."""
    keys: set[str] = set()
    for text in folded:
        if text.isalnum():
            keys.add(text)
            continue
        words = [w for w in _WORD_BREAK.split(text) if w]
        keys.update(words)
        if len(words) > 1:
            keys.add("".join(words))
    return keys


@dataclass(frozen=True, slots=True)
class _SearchIndex:
    version: tuple[int, int, int]
    matches: Sequence[PatientMatch]  # in display order: active first, then by name
    keys: Sequence[str]  # sorted name and chart keys
    owners: Sequence[int]  # the position in ``matches`` each key belongs to
    phone_digits: Sequence[str]
    chart_digits: Sequence[str]
    by_birth: Mapping[dt.date, Sequence[int]]


_INDEX_COLUMNS = (
    Patient.id,
    Patient.chart_number,
    Patient.first_name,
    Patient.last_name,
    Patient.preferred_name,
    Patient.date_of_birth,
    Patient.phone,
    Patient.active,
)


def _build_index(rows: Iterable[Any], version: tuple[int, int, int]) -> _SearchIndex:
    entries = []
    for pid, chart, first, last, preferred, born, phone, active in rows:
        folded = (_fold(last), _fold(first), _fold(preferred), _NON_ALNUM.sub("", chart.lower()))
        sort_key = (not active, folded[0], folded[1], pid)
        entries.append((sort_key, folded, pid, chart, first, last, born, phone, bool(active)))
    entries.sort(key=lambda e: e[0])
    matches: list[PatientMatch] = []
    pairs: list[tuple[str, int]] = []
    phones: list[str] = []
    charts: list[str] = []
    by_birth: dict[dt.date, list[int]] = {}
    for pos, (_, folded, pid, chart, first, last, born, phone, active) in enumerate(entries):
        matches.append(PatientMatch(pid, chart, f"{last}, {first}", born, phone, active))
        pairs.extend((key, pos) for key in _name_keys(folded))
        phones.append(_NON_DIGIT.sub("", phone or ""))
        charts.append(_NON_DIGIT.sub("", chart))
        if born is not None:
            by_birth.setdefault(born, []).append(pos)
    pairs.sort()
    return _SearchIndex(
        version=version,
        matches=matches,
        keys=[k for k, _ in pairs],
        owners=[p for _, p in pairs],
        phone_digits=phones,
        chart_digits=charts,
        by_birth=by_birth,
    )


_INDEXES: weakref.WeakKeyDictionary[Engine, _SearchIndex] = weakref.WeakKeyDictionary()
_INDEX_LOCK = threading.Lock()


# What tells that the patients changed: their number and highest id (a new patient, however it
# was written) and the latest audit event about a patient (every edit through the services).
# Not the change counter: every booking moves it, and a booking changes no patient.
_PATIENTS_VERSION = select(func.count(), func.max(Patient.id)).select_from(Patient)
_LAST_PATIENT_EDIT = select(func.max(AuditEvent.id)).where(AuditEvent.entity == "patient")


def _index(db: Database) -> _SearchIndex:
    with db.read() as session:
        count, highest = session.execute(_PATIENTS_VERSION).one()
        edited = session.scalar(_LAST_PATIENT_EDIT)
        version = (count or 0, highest or 0, edited or 0)
        with _INDEX_LOCK:
            cached = _INDEXES.get(db.engine)
        if cached is not None and cached.version == version:
            return cached
        index = _build_index(session.execute(select(*_INDEX_COLUMNS)), version)
    with _INDEX_LOCK:
        _INDEXES[db.engine] = index
    return index


def patient_match(db: Database, patient_id: int) -> PatientMatch:
    """One patient as a search shows them (one row read); NotFound if there is none."""
    with db.read() as session:
        row = session.execute(select(*_INDEX_COLUMNS).where(Patient.id == patient_id)).one_or_none()
    if row is None:
        raise NotFound(f"no patient with id {patient_id}")
    pid, chart, first, last, _preferred, born, phone, active = row
    return PatientMatch(pid, chart, f"{last}, {first}", born, phone, bool(active))


def prepare_search(db: Database) -> None:
    """Build the search index now (a window calls it off the GUI thread when it opens, so the
    first keystroke does not pay for it)."""
    _index(db)


def _prefixed(index: _SearchIndex, key: str) -> set[int]:
    found: set[int] = set()
    at = bisect.bisect_left(index.keys, key)
    keys = index.keys
    while at < len(keys) and keys[at].startswith(key):
        found.add(index.owners[at])
        at += 1
    return found


def _digit_matches(index: _SearchIndex, digits: str) -> set[int]:
    """Patients whose phone holds these digits, or whose chart number's digits start so."""
    wanted = [digits]
    if len(digits) == _NANP_DIGITS + 1 and digits.startswith("1"):
        wanted.append(digits[1:])
    found = {pos for pos, phone in enumerate(index.phone_digits) if any(w in phone for w in wanted)}
    found.update(pos for pos, chart in enumerate(index.chart_digits) if chart.startswith(digits))
    return found


def _try_date(text: str) -> dt.date | None:
    try:
        return parse_date(text)
    except ValueError:
        return None


def search_patients(db: Database, text: str, *, limit: int = 50) -> list[PatientMatch]:
    """Patients matching what was typed, best first (at most ``limit``).

    Every word must match: the start of a first, last or preferred name (any order, case and
    accents ignored), a chart number (or its start), phone digits (any formatting), or a date
    of birth (YYYY-MM-DD or MM/DD/YYYY).  Active patients come before inactive ones, then by
    name; an exact chart number comes first of all.
    """
    query = text.strip()
    if not query:
        return []
    index = _index(db)
    born = _try_date(query)
    if born is not None:
        found = set(index.by_birth.get(born, ()))
    elif _DIGITS_QUERY.fullmatch(query):
        found = _digit_matches(index, _NON_DIGIT.sub("", query))
    else:
        found_words: set[int] | None = None
        for word in query.replace(",", " ").split():
            day = _try_date(word)
            if day is not None:
                hits = set(index.by_birth.get(day, ()))
            else:
                key = "".join(_WORD_BREAK.split(_fold(word)))
                if not key:
                    continue
                hits = _prefixed(index, key)
                if key.isdigit():
                    hits |= _digit_matches(index, key)
            found_words = hits if found_words is None else found_words & hits
            if not found_words:
                return []
        found = found_words or set()
    folded = _fold(query)
    ordered = sorted(found, key=lambda pos: (_fold(index.matches[pos].chart_number) != folded, pos))
    return [index.matches[pos] for pos in ordered[:limit]]
