"""The REMS Patient Monitoring Form: what it still lacks for a session, for one appointment or a
whole queue of them, and its fields for printing.

Imports neither the follow-ups nor the record-saving module, so both can use it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import ClinicSettings, SessionTypeSpec
from ketadesk.scheduling.safety_followups import parse_rems_form_settings
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import (
    Actor,
    Database,
)
from ketadesk.services.monitoring.reading_schedule import taken_readings
from ketadesk.services.monitoring.record_forms import (
    REMS_FOLLOW_UP,
    Checked,
    RecordForm,
    RecordRules,
    RemsForm,
    RemsReading,
    reading_field,
)
from ketadesk.services.monitoring.scale_readings import effect_summary, readings_by_session
from ketadesk.services.monitoring.stored_records import (
    find_appointment,
    find_record,
    session_type_of,
)
from ketadesk.store.clinic_config import load_config
from ketadesk.store.models import (
    Appointment,
    Patient,
    Resource,
    SessionRecord,
    VitalReading,
)


def owes_rems(spec: SessionTypeSpec) -> bool:
    return any(rule.kind == REMS_FOLLOW_UP for rule in spec.followups)


def rems_asks(settings: ClinicSettings) -> tuple[str, ...]:
    """Which of the newer REMS form fields the clinic's form asks (``[rems_form] asks``)."""
    return parse_rems_form_settings(settings.extra.get("rems_form")).asks


# The newer fields of the form, in its order, as a gap reads.
_EXTRA_WORDS = {
    "concomitant_medicines": "concomitant medicines",
    "spo2": "SpO2",
    "vitals_acceptable": "vital signs acceptable (yes/no)",
    "ready_to_leave": "time ready to leave",
}


def _missing_words(
    have: Mapping[str, bool],
    check_labels: Sequence[str],
    bp_done: Iterable[str],
    minutes: int | None,
    observation_minutes: int | None,
    asks: Sequence[str] = (),
) -> list[str]:
    """What the REMS form still lacks, in plain words, in the form's order.

    ``have`` says which fields hold a value (dose_mg, devices, lot_number, dose_started,
    sedation, dissociation, discharged, monitored_by, and the ``asks`` of REMS_EXTRA_FIELDS).
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
    missing.extend(_EXTRA_WORDS[key] for key in asks if not have.get(key, False))
    return missing


def rems_gaps(
    record: SessionRecord | None,
    spec: SessionTypeSpec,
    asks: Sequence[str] = (),
    scaled: Collection[str] = (),
) -> list[str]:
    """What the REMS form still lacks for a stored record (None: nothing recorded yet);
    nothing for a session type that owes no REMS form.  ``asks``: the newer fields the form
    in use asks (``rems_asks``); ``scaled``: the effects ("sedation", "dissociation") timed
    scale readings answer (``scale_readings.effect_summary``)."""
    if not owes_rems(spec):
        return []
    labels = [check.label for check in spec.bp_checks]
    if record is None:
        return _missing_words(defaultdict(bool), labels, (), None, spec.observation_minutes, asks)
    have = {
        "dose_mg": record.dose_mg is not None,
        "devices": record.devices is not None,
        "lot_number": bool(record.lot_number.strip()),
        "dose_started": record.dose_started_at is not None,
        "sedation": bool(record.sedation) or "sedation" in scaled,
        "dissociation": bool(record.dissociation) or "dissociation" in scaled,
        "discharged": record.discharged_at is not None,
        "monitored_by": record.monitored_by_id is not None,
        "concomitant_medicines": record.concomitant_meds is not None,
        "spo2": any(r.spo2 is not None for r in record.readings),
        "vitals_acceptable": record.vitals_acceptable is not None,
        "ready_to_leave": record.ready_to_leave_at is not None,
    }
    return _missing_words(
        have,
        labels,
        taken_readings(record),
        record.monitored_minutes,
        spec.observation_minutes,
        asks,
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
        "concomitant_medicines": form.concomitant_meds is not None,
        "spo2": any(
            row.spo2.strip() and reading_field(i, "spo2") not in checked.errors
            for i, row in enumerate(form.readings)
        ),
        "vitals_acceptable": form.vitals_acceptable is not None,
        "ready_to_leave": filled("ready_to_leave", form.ready_to_leave),
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
    return _missing_words(
        have,
        rules.check_labels,
        bp_done,
        minutes,
        rules.observation_minutes,
        rems_asks(rules.settings),
    )


def rems_missing(session: Session, appointment_id: int) -> list[str]:
    """What the REMS Patient Monitoring Form still lacks for this appointment, in plain words
    ("BP +40 min", "discharge time", "dose, devices and lot"); empty when it is complete."""
    appointment = find_appointment(session, appointment_id)
    config = load_config(session)
    spec = session_type_of(config, appointment)
    return rems_gaps(find_record(session, appointment_id), spec, rems_asks(config.catalog.settings))


def rems_missing_many(session: Session, appointment_ids: Iterable[int]) -> dict[int, list[str]]:
    """``rems_missing`` for many appointments in three queries (a queue of REMS forms)."""
    ids = sorted(set(appointment_ids))
    if not ids:
        return {}
    config = load_config(session)
    asks = rems_asks(config.catalog.settings)
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
        aid: rems_gaps(
            records.get(aid),
            config.catalog.session_types[config.session_type_code(type_id)],
            asks,
        )
        for aid, type_id in types.items()
    }


def rems_form(
    db: Database, actor: Actor, appointment_id: int, *, now: dt.datetime | None = None
) -> RemsForm:
    """The REMS Patient Monitoring Form's fields for one session, and what is still missing.

    Clinical data: refused to a role that may not "read clinical", the reading recorded in the
    audit trail."""
    require(actor, "read_clinical", db, now=now)
    with db.read() as session:
        appointment = find_appointment(session, appointment_id)
        config = load_config(session)
        spec = session_type_of(config, appointment)
        record = find_record(session, appointment_id)
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
        # Timed MOAA/S and CADSS readings answer "sedation / dissociation" where present.
        scaled = effect_summary(
            config.catalog, readings_by_session(session, [appointment_id])[appointment_id]
        )
        form = RemsForm(
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
            sedation=scaled.get("sedation") or (record.sedation if record else ""),
            dissociation=scaled.get("dissociation") or (record.dissociation if record else ""),
            respiratory_depression=record.respiratory_depression if record else None,
            events=record.events if record else "",
            missing=tuple(
                rems_gaps(record, spec, rems_asks(config.catalog.settings), tuple(scaled))
            ),
            concomitant_meds=(
                tuple(record.concomitant_meds)
                if record is not None and record.concomitant_meds is not None
                else None
            ),
            vitals_acceptable=record.vitals_acceptable if record else None,
            ready_to_leave_at=record.ready_to_leave_at if record else None,
        )
        patient_id = patient.id
    audit.record_view(
        db,
        actor,
        "REMS monitoring form",
        patient_id,
        entity="appointment",
        entity_id=appointment_id,
        now=now,
    )
    return form


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
