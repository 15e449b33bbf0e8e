"""Session monitoring records: BP checks, dose, discharge, and the REMS Patient Monitoring Form.

DOMAIN.md "Monitoring during the session".  The checks a session type asks for and when they
fall due (session_types.toml ``bp_checks``), the observation time before discharge
(``observation_from`` / ``observation_minutes``) and the limits of a believable or worrying
reading (clinic.toml ``[monitoring]``) all come from configuration.

A form holds what the nurse typed (times as local "HH:MM" on the session's day, numbers as
text); ``validate_record`` checks it without the database, so a dialog can mark fields as the
user types, and ``save_record`` checks it again inside the writing transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import ClinicSettings, SessionTypeSpec
from ketadesk.services.access import audit
from ketadesk.services.common.context import (
    Actor,
    Database,
    InvalidFields,
    InvalidRequest,
    NotFound,
    require,
    utcnow,
)
from ketadesk.store import changes
from ketadesk.store.clinic_config import StoredConfig, load_config
from ketadesk.store.models import (
    RELEASED_STATUSES,
    Appointment,
    Patient,
    Resource,
    SessionRecord,
    StaffMember,
    VitalReading,
)

__all__ = [
    "DISSOCIATION_CHOICES",
    "SEDATION_CHOICES",
    "CheckDue",
    "Checked",
    "ReadingForm",
    "ReadingsDue",
    "RecordForm",
    "RecordRules",
    "RecordSheet",
    "RemsForm",
    "RemsReading",
    "SaveResult",
    "StaffChoice",
    "load_record",
    "missing_from_form",
    "open_record",
    "reading_field",
    "reading_schedule",
    "readings_due",
    "rems_form",
    "rems_missing",
    "rems_missing_many",
    "save_record",
    "validate_record",
]

# What the REMS Patient Monitoring Form asks about sedation and dissociation.  Words, not clinic
# numbers: the form records whether the effect was seen and how strong.
SEDATION_CHOICES = ("none", "mild", "moderate", "severe")
DISSOCIATION_CHOICES = ("none", "mild", "moderate", "severe")
# Roles whose staff may be named as having monitored a session.
MONITORING_ROLES = ("nurse", "prescriber")
# The follow-up kind of the REMS Patient Monitoring Form (session_types.toml followups).
REMS_FOLLOW_UP = "rems_form"
LOT_MAX = 40

_TIME_RE = re.compile(r"^\s*(\d{1,2})[:.h]?(\d{2})\s*$")


# ---------------------------------------------------------------------------------------------
# Forms and what the dialog needs


@dataclass(frozen=True)
class ReadingForm:
    """One row of readings as typed: a configured check ("+40 min") or an extra reading."""

    label: str
    time: str = ""  # local "HH:MM" on the session's day
    systolic: str = ""
    diastolic: str = ""
    heart_rate: str = ""
    spo2: str = ""
    scheduled: bool = True  # one of the session type's configured BP checks

    @property
    def is_blank(self) -> bool:
        return not any(
            v.strip()
            for v in (self.time, self.systolic, self.diastolic, self.heart_rate, self.spo2)
        )


@dataclass(frozen=True)
class RecordForm:
    """A monitoring record as the user typed it.

    ``version`` is the stored record's last-saved stamp when the form was loaded ("" for a new
    record): a save over someone else's newer save is refused rather than overwriting it.
    """

    readings: tuple[ReadingForm, ...] = ()
    dose_mg: str = ""
    devices: str = ""
    lot_number: str = ""
    dose_started: str = ""
    discharged: str = ""
    monitored_by_id: int | None = None
    sedation: str = ""
    dissociation: str = ""
    respiratory_depression: bool = False
    events: str = ""
    version: str = ""


def reading_field(index: int, name: str) -> str:
    """The error/warning key of one reading's field: ``readings[1].systolic``."""
    return f"readings[{index}].{name}"


@dataclass(frozen=True)
class RecordRules:
    """What checking a record needs, without the database: the day, the limits, the checks."""

    day: dt.date
    settings: ClinicSettings
    session_name: str
    observation_minutes: int | None
    check_labels: tuple[str, ...]
    pre_dose_labels: frozenset[str] = frozenset()

    @property
    def monitoring(self) -> Mapping[str, int]:
        return self.settings.monitoring

    @property
    def calendar(self) -> ClinicCalendar:
        return ClinicCalendar(self.settings)

    def at(self, minute_of_day: int) -> dt.datetime:
        return self.calendar.at_local(self.day, minute_of_day)

    def hhmm(self, instant: dt.datetime) -> str:
        return self.calendar.local(instant).strftime("%H:%M")


@dataclass(frozen=True)
class ParsedReading:
    label: str
    taken_at: dt.datetime
    systolic: int | None
    diastolic: int | None
    heart_rate: int | None
    spo2: int | None


@dataclass(frozen=True)
class ParsedRecord:
    dose_mg: int | None
    devices: int | None
    lot_number: str
    dose_started_at: dt.datetime | None
    discharged_at: dt.datetime | None
    monitored_minutes: int | None
    monitored_by_id: int | None
    sedation: str
    dissociation: str
    respiratory_depression: bool
    events: str
    readings: tuple[ParsedReading, ...]


@dataclass(frozen=True)
class Checked:
    """A form checked: refusals and warnings by field; ``record`` only when nothing is refused."""

    errors: dict[str, str]
    warnings: dict[str, str]
    record: ParsedRecord | None


@dataclass(frozen=True)
class CheckDue:
    """One configured BP check of a session: when it is due and whether it was taken."""

    label: str
    due_at: dt.datetime
    taken_at: dt.datetime | None
    state: str  # "done" | "upcoming" | "due" | "late"


@dataclass(frozen=True)
class ReadingsDue:
    """Where a session stands with its BP checks at ``now`` (the chair board shows this).

    ``next_label``/``next_due_at`` name the first check not yet taken (None when all are);
    ``late`` says whether any check is more than the configured grace past due.
    ``discharge_allowed_at`` is the dose start (actual, else planned) plus the observation
    minutes, None where the session type sets none.
    """

    appointment_id: int
    checks: tuple[CheckDue, ...]
    next_label: str | None
    next_due_at: dt.datetime | None
    late: bool
    dose_started_at: dt.datetime | None
    discharge_allowed_at: dt.datetime | None


@dataclass(frozen=True)
class StaffChoice:
    id: int
    name: str
    role: str


@dataclass(frozen=True)
class RecordSheet:
    """Everything the monitoring dialog shows for one session."""

    appointment_id: int
    patient_id: int
    patient_name: str
    chart_number: str
    session_name: str
    status: str
    starts_at: dt.datetime
    rules: RecordRules
    form: RecordForm
    schedule: ReadingsDue
    staff: tuple[StaffChoice, ...]
    missing: tuple[str, ...]
    rems: bool  # the session type owes a REMS Patient Monitoring Form


@dataclass(frozen=True)
class SaveResult:
    record_id: int
    warnings: dict[str, str]
    missing: tuple[str, ...]


@dataclass(frozen=True)
class RemsReading:
    label: str
    taken_at: dt.datetime | None
    systolic: int | None
    diastolic: int | None
    heart_rate: int | None
    spo2: int | None


@dataclass(frozen=True)
class RemsForm:
    """The fields of the REMS Patient Monitoring Form for one session, from its record."""

    appointment_id: int
    patient_name: str
    rems_patient_id: str
    session_date: dt.date
    dose_mg: int | None
    devices: int | None
    lot_number: str
    dose_started_at: dt.datetime | None
    discharged_at: dt.datetime | None
    monitored_minutes: int | None
    monitored_by: str
    readings: tuple[RemsReading, ...]
    sedation: str
    dissociation: str
    respiratory_depression: bool | None  # None when no record exists yet
    events: str
    missing: tuple[str, ...] = field(default=())

    @property
    def complete(self) -> bool:
        return not self.missing


# ---------------------------------------------------------------------------------------------
# Checking a form (pure)


def _parse_time(text: str, rules: RecordRules) -> dt.datetime | str:
    """The instant of a local "HH:MM" on the session's day, or what is wrong with the text."""
    m = _TIME_RE.match(text)
    if not m:
        return f"“{text.strip()}” is not a time: type it as HH:MM"
    hour, minute = int(m.group(1)), int(m.group(2))
    if hour > 23 or minute > 59:
        return f"“{text.strip()}” is not a time of day (00:00-23:59)"
    return rules.at(hour * 60 + minute)


def _parse_int(text: str) -> int | str | None:
    cleaned = text.strip()
    if not cleaned:
        return None
    if not re.fullmatch(r"[+-]?\d+", cleaned):
        return f"“{cleaned}” is not a whole number"
    return int(cleaned)


def validate_record(form: RecordForm, rules: RecordRules, *, now: dt.datetime) -> Checked:
    """Refusals (impossible values) and warnings (worrying values) for a form, by field."""
    errors: dict[str, str] = {}
    warnings: dict[str, str] = {}
    mon = rules.monitoring
    local = rules

    def when(key: str, text: str) -> dt.datetime | None:
        if not text.strip():
            return None
        value = _parse_time(text, rules)
        if isinstance(value, str):
            errors[key] = value
            return None
        if value > now:
            errors[key] = f"{text.strip()} is later than now ({local.hhmm(now)})"
            return None
        return value

    def number(key: str, text: str, what: str, low: str | None, high: str | None) -> int | None:
        value = _parse_int(text)
        if isinstance(value, str):
            errors[key] = value
            return None
        if value is None:
            return None
        lowest = mon.get(low) if low else None
        highest = mon.get(high) if high else None
        if (lowest is not None and value < lowest) or (highest is not None and value > highest):
            if lowest is None:
                bounds = f"at most {highest}"
            elif highest is None:
                bounds = f"at least {lowest}"
            else:
                bounds = f"between {lowest} and {highest}"
            errors[key] = f"{what} {value} cannot be real: it must be {bounds}"
            return None
        return value

    def positive(key: str, text: str, what: str) -> int | None:
        value = _parse_int(text)
        if isinstance(value, str):
            errors[key] = value
            return None
        if value is not None and value <= 0:
            errors[key] = f"{what} must be more than 0, not {value}"
            return None
        return value

    dose_mg = positive("dose_mg", form.dose_mg, "the dose")
    devices = positive("devices", form.devices, "the number of devices")
    lot = form.lot_number.strip()
    if len(lot) > LOT_MAX:
        errors["lot_number"] = f"a lot number has at most {LOT_MAX} characters"
    for key, value, choices in (
        ("sedation", form.sedation, SEDATION_CHOICES),
        ("dissociation", form.dissociation, DISSOCIATION_CHOICES),
    ):
        if value and value not in choices:
            errors[key] = f"choose one of: {', '.join(choices)}"
    dose_at = when("dose_started", form.dose_started)
    discharged_at = when("discharged", form.discharged)

    readings: list[ParsedReading] = []
    for i, row in enumerate(form.readings):
        if row.is_blank:
            continue
        label = row.label.strip()
        if not label:
            errors[reading_field(i, "label")] = "name this reading (for example “+60 min”)"
        taken = when(reading_field(i, "time"), row.time)
        if not row.time.strip():
            errors[reading_field(i, "time")] = f"enter the time of the {label or 'reading'}"
        sys_ = number(
            reading_field(i, "systolic"),
            row.systolic,
            "systolic",
            "bp_min_systolic",
            "bp_max_systolic",
        )
        dia = number(
            reading_field(i, "diastolic"),
            row.diastolic,
            "diastolic",
            "bp_min_diastolic",
            "bp_max_diastolic",
        )
        hr = number(
            reading_field(i, "heart_rate"),
            row.heart_rate,
            "heart rate",
            "heart_rate_min",
            "heart_rate_max",
        )
        spo2 = number(reading_field(i, "spo2"), row.spo2, "SpO2", "spo2_min", "spo2_max")
        has_sys, has_dia = bool(row.systolic.strip()), bool(row.diastolic.strip())
        if has_sys != has_dia:
            missing_key = "diastolic" if has_sys else "systolic"
            errors.setdefault(
                reading_field(i, missing_key),
                f"a blood pressure needs both numbers: enter the {missing_key}",
            )
        if sys_ is not None and dia is not None:
            if sys_ <= dia:
                errors[reading_field(i, "systolic")] = (
                    f"{sys_}/{dia} cannot be real: the systolic must be higher than the diastolic"
                )
            else:
                high_sys, high_dia = mon.get("bp_warn_systolic"), mon.get("bp_warn_diastolic")
                if (high_sys is not None and sys_ > high_sys) or (
                    high_dia is not None and dia > high_dia
                ):
                    advice = (
                        "consider delaying the dose"
                        if label in rules.pre_dose_labels
                        else "recheck while it stays elevated"
                    )
                    warnings[reading_field(i, "systolic")] = (
                        f"BP {sys_}/{dia} is above {high_sys}/{high_dia}: {advice}"
                    )
        low_spo2 = mon.get("spo2_warn_below")
        if spo2 is not None and low_spo2 is not None and spo2 < low_spo2:
            warnings[reading_field(i, "spo2")] = f"SpO2 {spo2}% is below {low_spo2}%"
        if taken is not None and not errors.get(reading_field(i, "label")):
            readings.append(ParsedReading(label, taken, sys_, dia, hr, spo2))

    labels = [r.label for r in readings]
    for i, row in enumerate(form.readings):
        if not row.is_blank and labels.count(row.label.strip()) > 1:
            errors.setdefault(reading_field(i, "label"), f"“{row.label.strip()}” is recorded twice")

    minutes: int | None = None
    if discharged_at is not None:
        if dose_at is None:
            if "dose_started" not in errors:
                errors["dose_started"] = "enter when the dose started, to check the discharge"
        elif discharged_at < dose_at:
            errors["discharged"] = (
                f"discharge at {local.hhmm(discharged_at)} is before the dose started "
                f"({local.hhmm(dose_at)})"
            )
        else:
            minutes = int((discharged_at - dose_at).total_seconds() // 60)
            need = rules.observation_minutes
            if need is not None and minutes < need:
                # DOMAIN.md: discharge only after at least the observation minutes.  A refusal:
                # the record may not show a discharge the clinic's rules do not allow.
                errors["discharged"] = (
                    f"only {minutes} min after the dose: {rules.session_name} needs at least "
                    f"{need} min of observation before discharge (earliest "
                    f"{local.hhmm(dose_at + dt.timedelta(minutes=need))})"
                )
    if discharged_at is not None and not errors:
        last = max(
            (r for r in readings if r.systolic is not None and r.diastolic is not None),
            key=lambda r: r.taken_at,
            default=None,
        )
        high_sys, high_dia = mon.get("bp_warn_systolic"), mon.get("bp_warn_diastolic")
        if (
            last is not None
            and last.systolic is not None
            and last.diastolic is not None
            and (
                (high_sys is not None and last.systolic > high_sys)
                or (high_dia is not None and last.diastolic > high_dia)
            )
        ):
            warnings["discharged"] = (
                f"the last BP ({last.systolic}/{last.diastolic} at {local.hhmm(last.taken_at)}) "
                "is still elevated"
            )

    if errors:
        return Checked(errors, warnings, None)
    return Checked(
        errors,
        warnings,
        ParsedRecord(
            dose_mg=dose_mg,
            devices=devices,
            lot_number=lot,
            dose_started_at=dose_at,
            discharged_at=discharged_at,
            monitored_minutes=minutes,
            monitored_by_id=form.monitored_by_id,
            sedation=form.sedation,
            dissociation=form.dissociation,
            respiratory_depression=form.respiratory_depression,
            events=form.events.strip(),
            readings=tuple(readings),
        ),
    )


# ---------------------------------------------------------------------------------------------
# When the BP checks are due


def _anchor_phase(spec: SessionTypeSpec) -> str | None:
    """The phase observation is counted from: configured, else the first dosing phase."""
    if spec.observation_from is not None:
        return spec.observation_from
    return next((p.key for p in spec.phases if p.shade == "dosing"), None)


def _planned_dose(spec: SessionTypeSpec, starts_at: dt.datetime) -> dt.datetime | None:
    anchor = _anchor_phase(spec)
    if anchor is None:
        return None
    return starts_at + dt.timedelta(minutes=spec.phase_offsets()[anchor][0])


def _pre_dose_labels(spec: SessionTypeSpec) -> frozenset[str]:
    anchor = _anchor_phase(spec)
    offsets = spec.phase_offsets()
    if anchor is None:
        return frozenset()
    dose = offsets[anchor][0]
    return frozenset(
        c.label for c in spec.bp_checks if offsets[c.phase][0] + c.offset_minutes < dose
    )


def reading_schedule(
    appointment_id: int,
    spec: SessionTypeSpec,
    starts_at: dt.datetime,
    dose_started_at: dt.datetime | None,
    taken: Mapping[str, dt.datetime],
    *,
    now: dt.datetime,
    late_minutes: int,
) -> ReadingsDue:
    """When each configured BP check is due (shifted with the actual dose start, if recorded),
    which were taken (``taken``: label -> time) and which are due or late at ``now``."""
    planned = _planned_dose(spec, starts_at)
    shift = (
        dose_started_at - planned
        if dose_started_at is not None and planned is not None
        else dt.timedelta()
    )
    offsets = spec.phase_offsets()
    grace = dt.timedelta(minutes=late_minutes)
    checks: list[CheckDue] = []
    for check in spec.bp_checks:
        due = starts_at + dt.timedelta(minutes=offsets[check.phase][0] + check.offset_minutes)
        due += shift
        at = taken.get(check.label)
        if at is not None:
            state = "done"
        elif now < due:
            state = "upcoming"
        elif now <= due + grace:
            state = "due"
        else:
            state = "late"
        checks.append(CheckDue(check.label, due, at, state))
    pending = [c for c in checks if c.state != "done"]
    dose = dose_started_at if dose_started_at is not None else planned
    allowed = (
        dose + dt.timedelta(minutes=spec.observation_minutes)
        if dose is not None and spec.observation_minutes is not None
        else None
    )
    return ReadingsDue(
        appointment_id=appointment_id,
        checks=tuple(checks),
        next_label=pending[0].label if pending else None,
        next_due_at=pending[0].due_at if pending else None,
        late=any(c.state == "late" for c in checks),
        dose_started_at=dose_started_at,
        discharge_allowed_at=allowed,
    )


def _late_minutes(config: StoredConfig) -> int:
    return config.catalog.settings.monitoring.get("reading_late_minutes", 0)


def readings_due(
    db_or_session: Database | Session, appointment_ids: Iterable[int], *, now: dt.datetime
) -> dict[int, ReadingsDue]:
    """The BP-check state of each appointment (unknown ids are left out)."""
    ids = sorted(set(appointment_ids))
    if isinstance(db_or_session, Session):
        return _readings_due(db_or_session, ids, now)
    with db_or_session.read() as session:
        return _readings_due(session, ids, now)


def _readings_due(session: Session, ids: list[int], now: dt.datetime) -> dict[int, ReadingsDue]:
    if not ids:
        return {}
    config = load_config(session)
    late = _late_minutes(config)
    appointments = session.execute(
        select(Appointment.id, Appointment.session_type_id, Appointment.starts_at).where(
            Appointment.id.in_(ids)
        )
    ).all()
    records = {
        r.appointment_id: r
        for r in session.scalars(
            select(SessionRecord)
            .where(SessionRecord.appointment_id.in_(ids))
            .options(selectinload(SessionRecord.readings))
        )
    }
    result: dict[int, ReadingsDue] = {}
    for appointment_id, type_id, starts_at in appointments:
        spec = config.catalog.session_types[config.session_type_code(type_id)]
        record = records.get(appointment_id)
        result[appointment_id] = reading_schedule(
            appointment_id,
            spec,
            starts_at,
            record.dose_started_at if record is not None else None,
            _taken(record),
            now=now,
            late_minutes=late,
        )
    return result


def _taken(record: SessionRecord | None) -> dict[str, dt.datetime]:
    if record is None:
        return {}
    return {
        r.label: r.taken_at
        for r in record.readings
        if r.systolic is not None and r.diastolic is not None
    }


# ---------------------------------------------------------------------------------------------
# Reading and saving a record


def _appointment(session: Session, appointment_id: int) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"appointment #{appointment_id} does not exist")
    return appointment


def _spec(config: StoredConfig, appointment: Appointment) -> SessionTypeSpec:
    return config.catalog.session_types[config.session_type_code(appointment.session_type_id)]


def _record(session: Session, appointment_id: int) -> SessionRecord | None:
    return session.scalars(
        select(SessionRecord)
        .where(SessionRecord.appointment_id == appointment_id)
        .options(selectinload(SessionRecord.readings))
    ).one_or_none()


def _rules(config: StoredConfig, spec: SessionTypeSpec, appointment: Appointment) -> RecordRules:
    settings = config.catalog.settings
    calendar = ClinicCalendar(settings)
    return RecordRules(
        day=calendar.local_date(appointment.starts_at),
        settings=settings,
        session_name=spec.name,
        observation_minutes=spec.observation_minutes,
        check_labels=tuple(c.label for c in spec.bp_checks),
        pre_dose_labels=_pre_dose_labels(spec),
    )


def _version(record: SessionRecord | None) -> str:
    return "" if record is None else record.updated_at.isoformat()


def _form_of(record: SessionRecord | None, spec: SessionTypeSpec, rules: RecordRules) -> RecordForm:
    local = rules

    def hhmm(value: dt.datetime | None) -> str:
        return "" if value is None else local.hhmm(value)

    def text(value: int | None) -> str:
        return "" if value is None else str(value)

    stored = {r.label: r for r in record.readings} if record is not None else {}
    rows = [
        _reading_form(stored.pop(c.label, None), c.label, True, hhmm, text) for c in spec.bp_checks
    ]
    extra = sorted(stored.values(), key=lambda r: r.taken_at)
    rows.extend(_reading_form(r, r.label, False, hhmm, text) for r in extra)
    if record is None:
        return RecordForm(readings=tuple(rows))
    return RecordForm(
        readings=tuple(rows),
        dose_mg=text(record.dose_mg),
        devices=text(record.devices),
        lot_number=record.lot_number,
        dose_started=hhmm(record.dose_started_at),
        discharged=hhmm(record.discharged_at),
        monitored_by_id=record.monitored_by_id,
        sedation=record.sedation,
        dissociation=record.dissociation,
        respiratory_depression=record.respiratory_depression,
        events=record.events,
        version=_version(record),
    )


def _reading_form(
    reading: VitalReading | None, label: str, scheduled: bool, hhmm: Any, text: Any
) -> ReadingForm:
    if reading is None:
        return ReadingForm(label=label, scheduled=scheduled)
    return ReadingForm(
        label=label,
        time=hhmm(reading.taken_at),
        systolic=text(reading.systolic),
        diastolic=text(reading.diastolic),
        heart_rate=text(reading.heart_rate),
        spo2=text(reading.spo2),
        scheduled=scheduled,
    )


def _staff(session: Session) -> tuple[StaffChoice, ...]:
    rows = session.execute(
        select(Resource.id, Resource.name, StaffMember.role)
        .join(StaffMember, StaffMember.resource_id == Resource.id)
        .where(Resource.active, StaffMember.role.in_(MONITORING_ROLES))
        .order_by(Resource.sort_order, Resource.name)
    ).all()
    return tuple(StaffChoice(id_, name, role) for id_, name, role in rows)


def _owes_rems(spec: SessionTypeSpec) -> bool:
    return any(rule.kind == REMS_FOLLOW_UP for rule in spec.followups)


def open_record(
    db: Database, appointment_id: int, *, now: dt.datetime | None = None
) -> RecordSheet:
    """The session's monitoring record as a form, with what the dialog shows around it."""
    now = now or utcnow()
    with db.read() as session:
        appointment = _appointment(session, appointment_id)
        config = load_config(session)
        spec = _spec(config, appointment)
        record = _record(session, appointment_id)
        patient = session.get(Patient, appointment.patient_id)
        assert patient is not None
        rules = _rules(config, spec, appointment)
        return RecordSheet(
            appointment_id=appointment_id,
            patient_id=patient.id,
            patient_name=patient.display_name,
            chart_number=patient.chart_number,
            session_name=spec.name,
            status=appointment.status,
            starts_at=appointment.starts_at,
            rules=rules,
            form=_form_of(record, spec, rules),
            schedule=reading_schedule(
                appointment_id,
                spec,
                appointment.starts_at,
                record.dose_started_at if record is not None else None,
                _taken(record),
                now=now,
                late_minutes=_late_minutes(config),
            ),
            staff=_staff(session),
            missing=tuple(_missing(record, spec)),
            rems=_owes_rems(spec),
        )


def load_record(db: Database, appointment_id: int) -> RecordForm:
    """The session's monitoring record as a form (an empty one with its checks if none yet)."""
    with db.read() as session:
        appointment = _appointment(session, appointment_id)
        config = load_config(session)
        spec = _spec(config, appointment)
        return _form_of(_record(session, appointment_id), spec, _rules(config, spec, appointment))


def _snapshot(record: SessionRecord) -> dict[str, Any]:
    def iso(value: dt.datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "dose_mg": record.dose_mg,
        "devices": record.devices,
        "lot_number": record.lot_number,
        "dose_started_at": iso(record.dose_started_at),
        "discharged_at": iso(record.discharged_at),
        "monitored_minutes": record.monitored_minutes,
        "monitored_by_id": record.monitored_by_id,
        "sedation": record.sedation,
        "dissociation": record.dissociation,
        "respiratory_depression": record.respiratory_depression,
        "events": record.events,
        "readings": [
            {
                "label": r.label,
                "taken_at": iso(r.taken_at),
                "systolic": r.systolic,
                "diastolic": r.diastolic,
                "heart_rate": r.heart_rate,
                "spo2": r.spo2,
            }
            for r in sorted(record.readings, key=lambda r: r.taken_at)
        ],
    }


def save_record(
    db: Database,
    actor: Actor,
    appointment_id: int,
    form: RecordForm,
    *,
    now: dt.datetime | None = None,
) -> SaveResult:
    """Check and save a session's monitoring record, whole or not at all.

    Refusals raise InvalidFields (by field); warnings (a BP above the configured thresholds, a
    low SpO2) come back in the result.  Audited with the record before and after.
    """
    now = now or utcnow()
    require(actor, "record_monitoring", db, now=now)
    with db.write() as session:
        appointment = _appointment(session, appointment_id)
        config = load_config(session)
        spec = _spec(config, appointment)
        if not spec.dosing:
            raise InvalidRequest(
                f"{spec.name} is not a dosing session: it has no monitoring record"
            )
        if appointment.status in RELEASED_STATUSES:
            raise InvalidRequest(
                f"appointment #{appointment_id} is {appointment.status.replace('_', ' ')}: "
                "there is no session to record"
            )
        checked = validate_record(form, _rules(config, spec, appointment), now=now)
        errors = dict(checked.errors)
        if form.monitored_by_id is not None and form.monitored_by_id not in {
            s.id for s in _staff(session)
        }:
            errors["monitored_by_id"] = "choose a nurse or prescriber of the clinic"
        if errors:
            raise InvalidFields(errors)
        parsed = checked.record
        assert parsed is not None
        record = _record(session, appointment_id)
        if _version(record) != form.version:
            when = (
                _rules(config, spec, appointment).hhmm(record.updated_at)
                if record is not None
                else "meanwhile"
            )
            raise InvalidRequest(
                f"someone else saved this monitoring record ({when}) after you opened it: "
                "close it and open it again to see their changes"
            )
        before = _snapshot(record) if record is not None else None
        if record is None:
            record = SessionRecord(appointment_id=appointment_id)
            session.add(record)
        record.dose_mg = parsed.dose_mg
        record.devices = parsed.devices
        record.lot_number = parsed.lot_number
        record.dose_started_at = parsed.dose_started_at
        record.discharged_at = parsed.discharged_at
        record.monitored_minutes = parsed.monitored_minutes
        record.monitored_by_id = parsed.monitored_by_id
        record.sedation = parsed.sedation
        record.dissociation = parsed.dissociation
        record.respiratory_depression = parsed.respiratory_depression
        record.events = parsed.events
        record.updated_at = now
        record.readings[:] = [
            VitalReading(
                label=r.label,
                taken_at=r.taken_at,
                systolic=r.systolic,
                diastolic=r.diastolic,
                heart_rate=r.heart_rate,
                spo2=r.spo2,
            )
            for r in parsed.readings
        ]
        session.flush()
        missing = _missing(record, spec)
        adverse = _adverse_event(parsed.events, parsed.respiratory_depression)
        if adverse and (
            before is None
            or _adverse_event(
                str(before.get("events") or ""), bool(before.get("respiratory_depression"))
            )
            != adverse
        ):
            # A new or changed adverse event is owed a follow-up (one per session while open).
            from ketadesk.services.followups.followups import open_adverse_event_follow_up

            open_adverse_event_follow_up(session, actor, appointment_id, adverse, now=now)
        audit.record(
            session,
            actor,
            "record_monitoring",
            "session_record",
            record.id,
            patient_id=appointment.patient_id,
            before=before,
            after=_snapshot(record),
            detail=(
                f"monitoring record of appointment #{appointment_id}"
                + (f"; REMS form still missing: {', '.join(missing)}" if missing else "")
            ),
            now=now,
        )
        changes.bump(session, now)
        return SaveResult(record.id, dict(checked.warnings), tuple(missing))


def _adverse_event(events: str, respiratory_depression: bool) -> str:
    """The adverse event a record describes, in words; "" when it describes none."""
    parts = []
    if respiratory_depression:
        parts.append("respiratory depression")
    text = events.strip()
    if text and text.lower() not in NO_EVENT_WORDS:
        parts.append(text)
    return "; ".join(parts)


#: What nurses write in the events box when nothing happened (no follow-up is owed).
NO_EVENT_WORDS = frozenset({"none", "none.", "nil", "no", "n/a", "none recorded", "-", "—"})


# ---------------------------------------------------------------------------------------------
# The REMS Patient Monitoring Form


def _missing_words(
    have: Mapping[str, bool],
    check_labels: Sequence[str],
    bp_done: Iterable[str],
    minutes: int | None,
    observation_minutes: int | None,
) -> list[str]:
    """What the REMS form still lacks, in plain words, in the form's order.

    ``have`` says which fields hold a value (dose_mg, devices, lot_number, dose_started,
    sedation, dissociation, discharged, monitored_by).
    """
    missing: list[str] = []
    dose = [
        name
        for key, name in (("dose_mg", "dose"), ("devices", "devices"), ("lot_number", "lot"))
        if not have[key]
    ]
    if dose:
        missing.append(_and(dose))
    if not have["dose_started"]:
        missing.append("dose start time")
    done = set(bp_done)
    missing.extend(f"BP {label}" for label in check_labels if label not in done)
    observations = [key for key in ("sedation", "dissociation") if not have[key]]
    if observations:
        missing.append(_and(observations))
    if not have["discharged"]:
        missing.append("discharge time")
    elif observation_minutes is not None and minutes is not None and minutes < observation_minutes:
        missing.append(f"at least {observation_minutes} min monitored (recorded {minutes})")
    if not have["monitored_by"]:
        missing.append("who monitored")
    return missing


def _missing(record: SessionRecord | None, spec: SessionTypeSpec) -> list[str]:
    """What the REMS form still lacks for a stored record (None: nothing recorded yet);
    nothing for a session type that owes no REMS form."""
    if not _owes_rems(spec):
        return []
    labels = [check.label for check in spec.bp_checks]
    if record is None:
        return _missing_words(defaultdict(bool), labels, (), None, spec.observation_minutes)
    have = {
        "dose_mg": record.dose_mg is not None,
        "devices": record.devices is not None,
        "lot_number": bool(record.lot_number.strip()),
        "dose_started": record.dose_started_at is not None,
        "sedation": bool(record.sedation),
        "dissociation": bool(record.dissociation),
        "discharged": record.discharged_at is not None,
        "monitored_by": record.monitored_by_id is not None,
    }
    return _missing_words(
        have, labels, _taken(record), record.monitored_minutes, spec.observation_minutes
    )


def missing_from_form(form: RecordForm, rules: RecordRules, checked: Checked) -> list[str]:
    """What the REMS form would still lack if ``form`` were saved as it stands (a field with a
    refusal counts as empty): the dialog's live "still missing" line."""

    def filled(key: str, text: str) -> bool:
        return bool(text.strip()) and key not in checked.errors

    have = {
        "dose_mg": filled("dose_mg", form.dose_mg),
        "devices": filled("devices", form.devices),
        "lot_number": filled("lot_number", form.lot_number),
        "dose_started": filled("dose_started", form.dose_started),
        "sedation": bool(form.sedation),
        "dissociation": bool(form.dissociation),
        "discharged": filled("discharged", form.discharged),
        "monitored_by": form.monitored_by_id is not None,
    }
    bp_done = [
        row.label.strip()
        for i, row in enumerate(form.readings)
        if row.systolic.strip()
        and row.diastolic.strip()
        and row.time.strip()
        and not any(
            reading_field(i, name) in checked.errors for name in ("time", "systolic", "diastolic")
        )
    ]
    minutes = checked.record.monitored_minutes if checked.record is not None else None
    return _missing_words(have, rules.check_labels, bp_done, minutes, rules.observation_minutes)


def rems_missing(session: Session, appointment_id: int) -> list[str]:
    """What the REMS Patient Monitoring Form still lacks for this appointment, in plain words
    ("BP +40 min", "discharge time", "dose, devices and lot"); empty when it is complete."""
    appointment = _appointment(session, appointment_id)
    spec = _spec(load_config(session), appointment)
    return _missing(_record(session, appointment_id), spec)


def rems_missing_many(session: Session, appointment_ids: Iterable[int]) -> dict[int, list[str]]:
    """``rems_missing`` for many appointments in three queries (a queue of REMS forms)."""
    ids = sorted(set(appointment_ids))
    if not ids:
        return {}
    config = load_config(session)
    types = dict(
        session.execute(
            select(Appointment.id, Appointment.session_type_id).where(Appointment.id.in_(ids))
        ).all()
    )
    records = {
        r.appointment_id: r
        for r in session.scalars(
            select(SessionRecord)
            .where(SessionRecord.appointment_id.in_(ids))
            .options(selectinload(SessionRecord.readings))
        )
    }
    return {
        aid: _missing(
            records.get(aid),
            config.catalog.session_types[config.session_type_code(type_id)],
        )
        for aid, type_id in types.items()
    }


def rems_form(db: Database, appointment_id: int) -> RemsForm:
    """The REMS Patient Monitoring Form's fields for one session, and what is still missing."""
    with db.read() as session:
        appointment = _appointment(session, appointment_id)
        config = load_config(session)
        spec = _spec(config, appointment)
        record = _record(session, appointment_id)
        patient = session.get(Patient, appointment.patient_id)
        assert patient is not None
        day = ClinicCalendar(config.catalog.settings).local_date(appointment.starts_at)
        monitored_by = ""
        if record is not None and record.monitored_by_id is not None:
            staff = session.get(Resource, record.monitored_by_id)
            monitored_by = staff.name if staff is not None else ""
        stored = {r.label: r for r in record.readings} if record is not None else {}
        readings = tuple(
            _rems_reading(label, stored.get(label))
            for label in _reading_labels(spec, stored.values())
        )
        return RemsForm(
            appointment_id=appointment_id,
            patient_name=patient.display_name,
            rems_patient_id=patient.rems_patient_id,
            session_date=day,
            dose_mg=record.dose_mg if record else None,
            devices=record.devices if record else None,
            lot_number=record.lot_number if record else "",
            dose_started_at=record.dose_started_at if record else None,
            discharged_at=record.discharged_at if record else None,
            monitored_minutes=record.monitored_minutes if record else None,
            monitored_by=monitored_by,
            readings=readings,
            sedation=record.sedation if record else "",
            dissociation=record.dissociation if record else "",
            respiratory_depression=record.respiratory_depression if record else None,
            events=record.events if record else "",
            missing=tuple(_missing(record, spec)),
        )


def _reading_labels(spec: SessionTypeSpec, stored: Iterable[VitalReading]) -> list[str]:
    labels = [c.label for c in spec.bp_checks]
    extra = sorted((r for r in stored if r.label not in labels), key=lambda r: r.taken_at)
    return labels + [r.label for r in extra]


def _rems_reading(label: str, reading: VitalReading | None) -> RemsReading:
    if reading is None:
        return RemsReading(label, None, None, None, None, None)
    return RemsReading(
        label,
        reading.taken_at,
        reading.systolic,
        reading.diastolic,
        reading.heart_rate,
        reading.spo2,
    )


def _and(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def with_reading(form: RecordForm, index: int, **values: Any) -> RecordForm:
    """A copy of ``form`` with reading ``index`` changed (tests and the dialog use it)."""
    rows = list(form.readings)
    rows[index] = dataclasses.replace(rows[index], **values)
    return dataclasses.replace(form, readings=tuple(rows))
