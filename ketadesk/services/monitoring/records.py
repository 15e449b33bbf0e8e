"""Session monitoring records: opening one as a form, and saving it (checked, audited, and
an adverse event opening its follow-up).

DOMAIN.md "Monitoring during the session".  The checks a session type asks for and when they
fall due (session_types.toml ``bp_checks``), the observation time before discharge
(``observation_from`` / ``observation_minutes``) and the limits of a believable or worrying
reading (clinic.toml ``[monitoring]``) all come from configuration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import SessionTypeSpec
from ketadesk.scheduling.chair_rules import check_due_times, reading_place
from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import (
    Actor,
    Database,
    InvalidFields,
    InvalidRequest,
    utcnow,
)
from ketadesk.services.common.session_words import session_words
from ketadesk.services.followups import urgent_reviews
from ketadesk.services.followups.actions import open_adverse_event_follow_up
from ketadesk.services.monitoring import completion, late_entries, scale_readings
from ketadesk.services.monitoring.reading_schedule import (
    STARTED_STATUSES,
    checks_after_dose,
    due_after_dose,
    late_minutes,
    pre_dose_labels,
    reading_schedule,
    started_at,
    taken_readings,
)
from ketadesk.services.monitoring.record_forms import (
    MONITORING_ROLES,
    ParsedReading,
    ParsedRecord,
    ReadingForm,
    RecordForm,
    RecordRules,
    RecordSheet,
    SaveResult,
    StaffChoice,
)
from ketadesk.services.monitoring.rems import owes_rems, rems_asks, rems_gaps
from ketadesk.services.monitoring.stored_records import (
    find_appointment,
    find_record,
    session_type_of,
)
from ketadesk.services.monitoring.validation import validate_record
from ketadesk.store import changes
from ketadesk.store.clinic_config import StoredConfig, load_config
from ketadesk.store.models import (
    Appointment,
    Patient,
    Resource,
    SessionRecord,
    StaffMember,
    VitalReading,
)

#: The warning key of a dose recorded while an urgent review stands (``[urgent_review] dosing``).
URGENT_REVIEW_WARNING = "urgent_review"
#: The warning key of the chair's rules under a "warn" policy (``[chair]``).
CHAIR_WARNING = "chair"


def _rules(config: StoredConfig, spec: SessionTypeSpec, appointment: Appointment) -> RecordRules:
    settings = config.catalog.settings
    calendar = ClinicCalendar(settings)
    return RecordRules(
        day=calendar.local_date(appointment.starts_at),
        settings=settings,
        session_name=spec.name,
        observation_minutes=spec.observation_minutes,
        check_labels=tuple(c.label for c in spec.bp_checks),
        pre_dose_labels=pre_dose_labels(spec),
        after_dose=checks_after_dose(spec),
    )


def _version(record: SessionRecord | None) -> str:
    return "" if record is None else record.updated_at.isoformat()


def _due_times(
    session: Session, appointment: Appointment, spec: SessionTypeSpec, record: SessionRecord | None
) -> dict[str, dt.datetime]:
    """When each configured check is due, by the one rule of the record, the chair board and
    the paper (``chair_rules.check_due_times``)."""
    started = (
        started_at(session, [appointment.id]).get(appointment.id)
        if appointment.status in STARTED_STATUSES
        else None
    )
    return dict(
        check_due_times(
            spec,
            appointment.starts_at,
            started_at=started,
            dose_started_at=record.dose_started_at if record is not None else None,
        )
    )


def _form_of(
    record: SessionRecord | None,
    spec: SessionTypeSpec,
    rules: RecordRules,
    booked_monitor: int | None,
    due: Mapping[str, dt.datetime],
) -> RecordForm:
    """The stored record as a form; "Monitored by", until someone is recorded, offers who the
    booking assigned to the chair (``booked_monitor``).

    The readings are listed as the printed session record lists them
    (``chair_rules.reading_place``): in the order taken, extra readings and rechecks among the
    configured checks, and a check not taken yet at its due time (``due``).  (The dialog put
    every configured check first, so a pre-dose recheck came after "Before discharge".)"""
    local = rules

    def hhmm(value: dt.datetime | None) -> str:
        return "" if value is None else local.clock(value)

    def text(value: int | None) -> str:
        return "" if value is None else str(value)

    stored = {r.label: r for r in record.readings} if record is not None else {}
    placed: list[tuple[tuple[int, dt.datetime], ReadingForm]] = []
    for c in spec.bp_checks:
        taken = stored.pop(c.label, None)
        placed.append(
            (
                reading_place(taken.taken_at if taken is not None else None, due.get(c.label)),
                _reading_form(taken, c.label, True, hhmm, text),
            )
        )
    placed.extend(
        (reading_place(r.taken_at, None), _reading_form(r, r.label, False, hhmm, text))
        for r in stored.values()
    )
    placed.sort(key=lambda p: p[0])  # stable: a check before an extra taken at its time
    rows = [row for _place, row in placed]
    if record is None:
        return RecordForm(readings=tuple(rows), monitored_by_id=booked_monitor)
    return RecordForm(
        readings=tuple(rows),
        dose_mg=text(record.dose_mg),
        devices=text(record.devices),
        lot_number=record.lot_number,
        dose_started=hhmm(record.dose_started_at),
        discharged=hhmm(record.discharged_at),
        monitored_by_id=(
            record.monitored_by_id if record.monitored_by_id is not None else booked_monitor
        ),
        sedation=record.sedation,
        dissociation=record.dissociation,
        respiratory_depression=record.respiratory_depression,
        events=record.events,
        concomitant_meds=(
            tuple(record.concomitant_meds) if record.concomitant_meds is not None else None
        ),
        vitals_acceptable=record.vitals_acceptable,
        ready_to_leave=hhmm(record.ready_to_leave_at),
        sedation_resolved=record.sedation_resolved,
        dissociation_resolved=record.dissociation_resolved,
        respiratory_resolved=record.respiratory_resolved,
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


def _booked_monitor(appointment: Appointment, staff: Sequence[StaffChoice]) -> int | None:
    """Who the booking put in charge of the chair: the session's nurse, else its prescriber
    (the first of ``MONITORING_ROLES`` it holds), among the clinic's monitoring staff."""
    role_of = {s.id: s.role for s in staff}
    held = [
        h.resource_id
        for h in sorted(appointment.holds, key=lambda h: h.starts_at)
        if h.resource_id in role_of
    ]
    return next((rid for role in MONITORING_ROLES for rid in held if role_of[rid] == role), None)


def open_record(
    db: Database, actor: Actor, appointment_id: int, *, now: dt.datetime | None = None
) -> RecordSheet:
    """The session's monitoring record as a form, with what the dialog shows around it.

    Clinical data: refused to a role that may not "read clinical"; the opening is recorded in
    the audit trail (one event per opening of the dialog)."""
    require(actor, "read_clinical", db, now=now)
    now = now or utcnow()
    with db.read() as session:
        appointment = find_appointment(session, appointment_id)
        config = load_config(session)
        spec = session_type_of(config, appointment)
        record = find_record(session, appointment_id)
        patient = session.get(Patient, appointment.patient_id)
        assert patient is not None
        rules = _rules(config, spec, appointment)
        staff = _staff(session)
        due = _due_times(session, appointment, spec, record)
        sheet = RecordSheet(
            appointment_id=appointment_id,
            patient_id=patient.id,
            patient_name=patient.display_name,
            chart_number=patient.chart_number,
            session_name=spec.name,
            status=appointment.status,
            starts_at=appointment.starts_at,
            rules=rules,
            form=_form_of(record, spec, rules, _booked_monitor(appointment, staff), due),
            schedule=reading_schedule(
                appointment_id,
                spec,
                appointment.starts_at,
                record.dose_started_at if record is not None else None,
                taken_readings(record),
                now=now,
                late_minutes=late_minutes(config),
                started_at=started_at(session, [appointment_id]).get(appointment_id)
                if appointment.status in STARTED_STATUSES
                else None,
            ),
            staff=staff,
            missing=tuple(rems_gaps(record, spec, rems_asks(config.catalog.settings))),
            rems=owes_rems(spec),
            overrides=completion.overrides_of(session, appointment_id),
            override_roles=completion.chair_settings(config.catalog).override_roles,
            uses_devices=spec.dose is not None,
            after_dose=due_after_dose(spec),
            scales=scale_readings.sheet_in(session, appointment_id, now=now),
            late_entries=_late_words(session, config, appointment_id),
        )
    _record_view(db, actor, sheet.patient_id, appointment_id, now)
    return sheet


def _late_words(session: Session, config: StoredConfig, appointment_id: int) -> dict[str, str]:
    """Each reading entered late, by its label, in words ("entered 11:02 AM, 62 min later, by
    Kim Nguyen"): the dialog marks its row."""
    settings = config.catalog.settings
    zone = ClinicCalendar(settings).tz
    return {
        label: entry.words(zone, settings.time_format)
        for label, entry in late_entries.vital_entries(
            session, config.catalog, appointment_id
        ).items()
    }


def _record_view(
    db: Database, actor: Actor, patient_id: int, appointment_id: int, now: dt.datetime
) -> None:
    audit.record_view(
        db,
        actor,
        "monitoring record",
        patient_id,
        entity="appointment",
        entity_id=appointment_id,
        now=now,
    )


def load_record(
    db: Database, actor: Actor, appointment_id: int, *, now: dt.datetime | None = None
) -> RecordForm:
    """The session's monitoring record as a form (an empty one with its checks if none yet),
    refused and recorded as ``open_record`` is."""
    require(actor, "read_clinical", db, now=now)
    now = now or utcnow()
    with db.read() as session:
        appointment = find_appointment(session, appointment_id)
        config = load_config(session)
        spec = session_type_of(config, appointment)
        record = find_record(session, appointment_id)
        form = _form_of(
            record,
            spec,
            _rules(config, spec, appointment),
            _booked_monitor(appointment, _staff(session)),
            _due_times(session, appointment, spec, record),
        )
        patient_id = appointment.patient_id
    _record_view(db, actor, patient_id, appointment_id, now)
    return form


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
        "concomitant_meds": record.concomitant_meds,
        "vitals_acceptable": record.vitals_acceptable,
        "ready_to_leave_at": iso(record.ready_to_leave_at),
        "sedation_resolved": record.sedation_resolved,
        "dissociation_resolved": record.dissociation_resolved,
        "respiratory_resolved": record.respiratory_resolved,
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
        appointment = find_appointment(session, appointment_id)
        config = load_config(session)
        spec = session_type_of(config, appointment)
        if not spec.dosing:
            raise InvalidRequest(
                f"{spec.name} is not a dosing session: it has no monitoring record"
            )
        if appointment.status in RELEASED_STATUSES:
            raise InvalidRequest(
                f"{session_words(session, appointment)} is "
                f"{appointment.status.replace('_', ' ')}: there is no session to record"
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
        _refuse_dose_before_start(appointment, parsed)
        record = find_record(session, appointment_id)
        if _version(record) != form.version:
            when = (
                _rules(config, spec, appointment).clock(record.updated_at)
                if record is not None
                else "meanwhile"
            )
            raise InvalidRequest(
                f"someone else saved this monitoring record ({when}) after you opened it: "
                "close it and open it again to see their changes"
            )
        before = _snapshot(record) if record is not None else None
        warnings = {**checked.warnings, **checked.stops}  # (a hard stop is said as well)
        dosed_before = record is not None and (
            record.dose_mg is not None or record.dose_started_at is not None
        )
        if not dosed_before and (parsed.dose_mg is not None or parsed.dose_started_at is not None):
            # Recording a dose is dosing: a standing urgent review refuses it, or warns.
            warned = urgent_reviews.dosing_check(
                session, config.catalog, appointment.patient_id, now=now, doing="record a dose"
            )
            if warned:
                warnings[URGENT_REVIEW_WARNING] = warned
        # The chair's rules (pre-dose BP, hard stop, dose, discharge): refused unless a
        # prescriber overrode them; a "warn" policy's findings come back as warnings.
        chair_warnings = completion.judge(
            session,
            config.catalog,
            appointment_id,
            completion.record_findings(session, config.catalog, spec, appointment, record, parsed),
            "save this record",
        )
        if chair_warnings:
            warnings[CHAIR_WARNING] = "; ".join(chair_warnings)
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
        record.concomitant_meds = (
            list(parsed.concomitant_meds) if parsed.concomitant_meds is not None else None
        )
        record.vitals_acceptable = parsed.vitals_acceptable
        record.ready_to_leave_at = parsed.ready_to_leave_at
        record.sedation_resolved = parsed.sedation_resolved
        record.dissociation_resolved = parsed.dissociation_resolved
        record.respiratory_resolved = parsed.respiratory_resolved
        record.updated_at = now
        entered = _entry_stamps(record.readings)
        record.readings[:] = [
            VitalReading(
                label=r.label,
                taken_at=r.taken_at,
                systolic=r.systolic,
                diastolic=r.diastolic,
                heart_rate=r.heart_rate,
                spo2=r.spo2,
                **_entered(entered, r, now, actor),
            )
            for r in parsed.readings
        ]
        session.flush()
        missing = rems_gaps(record, spec, rems_asks(config.catalog.settings))
        adverse = _adverse_event(parsed.events, parsed.respiratory_depression)
        if adverse and (
            before is None
            or _adverse_event(
                str(before.get("events") or ""), bool(before.get("respiratory_depression"))
            )
            != adverse
        ):
            # A new or changed adverse event is owed a follow-up (one per session while open).
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
        return SaveResult(record.id, warnings, tuple(missing), _version(record))


def _values(taken_at: dt.datetime, r: VitalReading | ParsedReading) -> tuple[Any, ...]:
    return (taken_at, r.systolic, r.diastolic, r.heart_rate, r.spo2)


def _entry_stamps(
    stored: Sequence[VitalReading],
) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """When and by whom each stored reading was entered, by its time and values."""
    return [
        (
            _values(r.taken_at, r),
            {"recorded_at": r.recorded_at, "recorded_by_id": r.recorded_by_id},
        )
        for r in stored
    ]


def _entered(
    stamps: list[tuple[tuple[Any, ...], dict[str, Any]]],
    reading: ParsedReading,
    now: dt.datetime,
    actor: Actor,
) -> dict[str, Any]:
    """When and by whom ``reading`` was entered: a reading saved again as it was (same time,
    same values, its name aside) keeps its first entry; a new or changed one is entered now,
    by ``actor``.  The whole record is saved each time, so without this every save would
    stamp every reading anew and no late entry could be told from one on time."""
    key = _values(reading.taken_at, reading)
    for i, (values, stamp) in enumerate(stamps):
        if values == key:
            del stamps[i]  # one stored reading keeps one entry
            return stamp
    return {"recorded_at": now, "recorded_by_id": actor.user_id}


#: What a dose on a session not started is refused with, on each dose field.
START_FIRST = (
    "Start the session first: a dose is recorded only on a session in progress "
    "(Start judges the session's rules again, takes its chair and begins its monitoring)"
)


def _refuse_dose_before_start(appointment: Appointment, parsed: ParsedRecord) -> None:
    """A dose on a session never started is refused, not saved: the patient would stay
    "checked in", drop off the chair board as a grey "Waiting" line, and never meet the rules
    Start judges (a user trial: 84 mg recorded on a session checked in to a room another
    patient held).  Not started for them either: Start asks its own questions (a rule to
    override, a chair another patient holds) that a save cannot ask.  Readings before the dose
    (the pre-dose BP at check-in) are saved as ever."""
    if appointment.status in STARTED_STATUSES:
        return
    if parsed.dose_mg is None and parsed.devices is None and parsed.dose_started_at is None:
        return
    field = "dose_started" if parsed.dose_started_at is not None else "dose_mg"
    raise InvalidFields({field: START_FIRST})


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
