"""The chair's rules at the steps that write: recording a dose (a pre-dose BP, the hard stop,
the dose itself), recording a discharge, and completing a session; and a prescriber's override
of a refusal, with a reason.

The rules are pure (``scheduling/chair_rules.py``); this module gathers their facts from the
database (the record and its readings, the patient's earlier doses, the series' protocol) and
applies the clinic's ``[chair]`` policy.  An override is a ``gating_override`` row for the
appointment (rule ``chair.<rule>``), audited, printed on the day sheet and the session record,
and listed on the monitoring record; once stored, the step it overrides goes ahead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling import chair_rules
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import SessionTypeSpec
from ketadesk.scheduling.chair_rules import (
    RULES,
    BpReading,
    ChairFinding,
    ChairSettings,
    DischargeVerdict,
    Effects,
    parse_chair_settings,
)
from ketadesk.scheduling.ride_home import RideHome, needs_ride, ride_problem, ride_question
from ketadesk.scheduling.scale_rules import (
    ScaleReading,
    scale_discharge_problems,
    scaled_effects,
)
from ketadesk.scheduling.words import role_name
from ketadesk.services.access import audit
from ketadesk.services.common.context import (
    Actor,
    Database,
    InvalidRequest,
    PermissionDenied,
    utcnow,
)
from ketadesk.services.monitoring.reading_schedule import pre_dose_labels
from ketadesk.services.monitoring.record_forms import ChairOverride, ParsedRecord
from ketadesk.services.monitoring.scale_readings import readings_by_session, scale_settings
from ketadesk.services.monitoring.stored_records import find_appointment, find_record
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_config
from ketadesk.store.models import (
    Appointment,
    GatingOverride,
    Patient,
    Series,
    SessionRecord,
    User,
)

#: The prefix of a chair override's rule in ``gating_override``.
PREFIX = "chair."


class ChairRefused(InvalidRequest):
    """A step in the chair breaks rules the clinic blocks: ``findings`` name each rule and
    fact; ``override_roles`` may set them aside with a reason (``override``)."""

    def __init__(self, doing: str, findings: Sequence[ChairFinding], roles: Sequence[str]):
        self.findings = tuple(findings)
        self.override_roles = tuple(roles)
        who = " or ".join(role_name(r) for r in roles)
        super().__init__(
            f"cannot {doing}: "
            + "; ".join(f.text for f in findings)
            + f". A {who} may override it with a reason on the session's monitoring record."
        )


class RideNeeded(InvalidRequest):
    """Completing a session whose type forbids driving afterwards (``drives_after_hours``)
    needs the ride home answered (``RideHome``): the driver or escort is here, or why not.
    ``driver_name`` / ``driver_phone``: what the patient record holds, to prefill the answer;
    ``question``: the rule in words, for the dialog."""

    def __init__(self, question: str, driver_name: str, driver_phone: str, problem: str = ""):
        self.question = question
        self.driver_name = driver_name
        self.driver_phone = driver_phone
        super().__init__(f"cannot complete this session: {problem or question}")


def chair_settings(catalog: Catalog) -> ChairSettings:
    return parse_chair_settings(catalog.settings.extra.get("chair"))


def overridden(session: Session, appointment_id: int) -> set[str]:
    """The chair rules a prescriber has set aside for this session."""
    rows = session.scalars(
        select(GatingOverride.rule).where(
            GatingOverride.appointment_id == appointment_id,
            GatingOverride.rule.startswith(PREFIX),
        )
    )
    return {r.removeprefix(PREFIX) for r in rows}


def overridden_by_session(session: Session, ids: Iterable[int]) -> dict[int, set[str]]:
    """The chair rules set aside for each of ``ids`` (one read for them all: the chair board)."""
    ids = list(ids)
    out: dict[int, set[str]] = {i: set() for i in ids}
    if not ids:
        return out
    rows = session.execute(
        select(GatingOverride.appointment_id, GatingOverride.rule).where(
            GatingOverride.appointment_id.in_(ids), GatingOverride.rule.startswith(PREFIX)
        )
    )
    for appointment_id, rule in rows:
        if appointment_id is not None:
            out[appointment_id].add(rule.removeprefix(PREFIX))
    return out


def overrides_of(session: Session, appointment_id: int) -> tuple[ChairOverride, ...]:
    """The session's chair overrides, oldest first, for the record and the printed page."""
    rows = session.execute(
        select(GatingOverride.rule, GatingOverride.reason, GatingOverride.at, User.username)
        .outerjoin(User, User.id == GatingOverride.user_id)
        .where(
            GatingOverride.appointment_id == appointment_id,
            GatingOverride.rule.startswith(PREFIX),
        )
        .order_by(GatingOverride.at, GatingOverride.id)
    ).all()
    out = []
    for rule, reason, at, username in rows:
        key = rule.removeprefix(PREFIX)
        title = RULES[key][0] if key in RULES else key
        at = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
        out.append(ChairOverride(key, title, reason, username or "system", at))
    return tuple(out)


def _readings_of(record: SessionRecord | ParsedRecord | None) -> list[BpReading]:
    if record is None:
        return []
    return [
        BpReading(r.label, r.taken_at, r.systolic, r.diastolic, r.spo2) for r in record.readings
    ]


def _effects(record: SessionRecord | ParsedRecord | None) -> Effects | None:
    if record is None:
        return None
    return Effects(
        sedation=record.sedation,
        dissociation=record.dissociation,
        respiratory_depression=record.respiratory_depression,
        sedation_resolved=record.sedation_resolved,
        dissociation_resolved=record.dissociation_resolved,
        respiratory_resolved=record.respiratory_resolved,
    )


def _starting_and_previous(
    session: Session, catalog: Catalog, appointment: Appointment
) -> tuple[tuple[int, ...] | None, int | None]:
    """The doses this session may start with (None when it is not a first session) and the
    patient's previous dose of the session type (None when there is none)."""
    if appointment.series_id is not None and appointment.series_index == 1:
        series = session.get(Series, appointment.series_id)
        code = _protocol_code(session, series.protocol_id) if series is not None else None
        protocol = catalog.protocols.get(code) if code else None
        if protocol is not None and protocol.starting_dose_mg is not None:
            return protocol.starting_dose_mg, None
    previous = session.execute(
        select(SessionRecord.dose_mg, SessionRecord.devices)
        .join(Appointment, Appointment.id == SessionRecord.appointment_id)
        .where(
            Appointment.patient_id == appointment.patient_id,
            Appointment.session_type_id == appointment.session_type_id,
            Appointment.id != appointment.id,
            Appointment.starts_at < appointment.starts_at,
            (SessionRecord.dose_mg.is_not(None)) | (SessionRecord.devices.is_not(None)),
        )
        .order_by(Appointment.starts_at.desc())
        .limit(1)
    ).first()
    if previous is None:
        return None, None
    return None, previous.dose_mg


def _protocol_code(session: Session, protocol_id: int) -> str | None:
    config = load_config(session)
    return next((c for c, pid in config.protocol_ids.items() if pid == protocol_id), None)


def record_findings(
    session: Session,
    catalog: Catalog,
    spec: SessionTypeSpec,
    appointment: Appointment,
    before: SessionRecord | None,
    parsed: ParsedRecord,
) -> list[ChairFinding]:
    """What a monitoring record about to be saved breaks: the pre-dose rules when a dose is
    recorded for the first time, the dose rules when the dose changes, the discharge rules
    when a discharge time is recorded or changed.  A save that leaves those alone is not
    judged again (a lot number fixed after the session)."""
    settings = chair_settings(catalog)
    zone = ClinicCalendar(catalog.settings).tz
    findings: list[ChairFinding] = []
    dosed_before = before is not None and (
        before.dose_mg is not None or before.dose_started_at is not None
    )
    doses_now = parsed.dose_mg is not None or parsed.dose_started_at is not None
    if doses_now and not dosed_before:
        findings += chair_rules.pre_dose_findings(
            _readings_of(parsed),
            pre_dose_labels(spec),
            parsed.dose_started_at,
            settings,
            zone=zone,
            time_format=catalog.settings.time_format,
            check_labels={c.label for c in spec.bp_checks},
        )
    dose_changed = before is None or (before.dose_mg, before.devices) != (
        parsed.dose_mg,
        parsed.devices,
    )
    if dose_changed and spec.dose is not None:
        starting, previous = _starting_and_previous(session, catalog, appointment)
        if starting is None and previous is None:
            starting = spec.dose.starting_mg or None
        findings += chair_rules.dose_findings(
            parsed.dose_mg,
            parsed.devices,
            spec.dose,
            settings,
            starting_mg=starting,
            previous_mg=previous,
        )
    discharge_changed = parsed.discharged_at is not None and (
        before is None or before.discharged_at != parsed.discharged_at
    )
    if discharge_changed:
        assert parsed.discharged_at is not None
        scales = readings_by_session(session, [appointment.id])[appointment.id]
        findings += _discharge(catalog, spec, parsed, parsed.discharged_at, scales)
    return findings


def _discharge(
    catalog: Catalog,
    spec: SessionTypeSpec,
    record: SessionRecord | ParsedRecord | None,
    at: dt.datetime,
    scales: Sequence[ScaleReading] = (),
) -> list[ChairFinding]:
    zone = ClinicCalendar(catalog.settings).tz
    dose_at = record.dose_started_at if record is not None else None
    problems = scale_discharge_problems(
        spec.scales,
        scales,
        discharge_at=at,
        discharge_due=chair_rules.earliest_discharge(
            _aware(dose_at) if dose_at is not None else None, spec.observation_minutes
        ),
        settings=scale_settings(catalog),
        early_minutes=catalog.settings.monitoring.get("reading_early_minutes", 0),
        zone=zone,
        time_format=catalog.settings.time_format,
    )
    return chair_rules.discharge_findings(
        session_name=spec.name,
        dose_at=record.dose_started_at if record is not None else None,
        discharge_at=at,
        observation_minutes=spec.observation_minutes,
        required_labels=[c.label for c in spec.bp_checks],
        readings=_readings_of(record),
        effects=_effects(record),
        settings=chair_settings(catalog),
        monitored_by_recorded=record is not None and record.monitored_by_id is not None,
        spo2_below=catalog.settings.monitoring.get("spo2_warn_below"),
        zone=zone,
        time_format=catalog.settings.time_format,
        scale_problems=[(p.fact, p.brief) for p in problems],
        scaled=scaled_effects(spec.scales),
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def judged_at_discharge(spec: SessionTypeSpec | None) -> bool:
    """Whether completing a session of this type is judged by the discharge rules: a dosing
    type with readings to take or observation minutes to wait."""
    return (
        spec is not None
        and spec.dosing
        and (bool(spec.bp_checks) or spec.observation_minutes is not None)
    )


def discharge_verdict(
    catalog: Catalog,
    spec: SessionTypeSpec,
    record: SessionRecord | None,
    overridden_rules: Collection[str],
    *,
    now: dt.datetime,
    scales: Sequence[ScaleReading] = (),
) -> DischargeVerdict:
    """May this session's patient be discharged: at the record's discharge time, else at
    ``now``.  The one verdict both the completion (``check_complete``) and the chair board
    use; ``scales``: the session's timed scale readings (``readings_by_session``)."""
    at = record.discharged_at if record is not None and record.discharged_at else now
    dose_at = record.dose_started_at if record is not None else None
    return chair_rules.discharge_verdict(
        _discharge(catalog, spec, record, at, scales),
        overridden_rules,
        earliest=chair_rules.earliest_discharge(dose_at, spec.observation_minutes),
    )


def judge(
    session: Session,
    catalog: Catalog,
    appointment_id: int,
    findings: Sequence[ChairFinding],
    doing: str,
) -> list[str]:
    """Refuse (ChairRefused) what the clinic blocks and nobody overrode; the warnings left."""
    refused = chair_rules.blocking(findings, overridden(session, appointment_id))
    if refused:
        raise ChairRefused(doing, refused, chair_settings(catalog).override_roles)
    return [f.text for f in findings if not f.blocks]


def check_complete(session: Session, appointment: Appointment, *, now: dt.datetime) -> list[str]:
    """Completing a dosing session is discharging its patient: refused (ChairRefused) before
    the observation minutes, without every configured reading, or with effects not marked
    resolved, unless a prescriber overrode it; the warnings of a "warn" policy come back.

    The discharge time is the record's, else ``now``.  A session type without monitoring
    (no readings and no observation minutes) is not judged."""
    config = load_config(session)
    spec = config.catalog.session_types.get(config.session_type_code(appointment.session_type_id))
    if spec is None or not judged_at_discharge(spec):
        return []
    verdict = discharge_verdict(
        config.catalog,
        spec,
        find_record(session, appointment.id),
        overridden(session, appointment.id),
        now=now,
        scales=readings_by_session(session, [appointment.id])[appointment.id],
    )
    if verdict.refusals:
        roles = chair_settings(config.catalog).override_roles
        raise ChairRefused("complete this session", verdict.refusals, roles)
    return [f.text for f in verdict.warnings]


def check_ride(
    session: Session, appointment: Appointment, ride: RideHome | None
) -> RideHome | None:
    """The ride home a completion records: None for a session type that does not need one;
    refused (``RideNeeded``) when the type needs one and ``ride`` is missing or incomplete.
    The one rule wherever a session is completed (``appointment_changes.change_status``)."""
    config = load_config(session)
    spec = config.catalog.session_types.get(config.session_type_code(appointment.session_type_id))
    if spec is None or not needs_ride(spec):
        return None
    patient = session.get(Patient, appointment.patient_id)
    name = patient.display_name if patient is not None else "the patient"
    driver = patient.driver_name if patient is not None else ""
    phone = patient.driver_phone if patient is not None else ""
    question = ride_question(spec, name, driver)
    if ride is None:
        raise RideNeeded(question, driver, phone)
    problem = ride_problem(ride)
    if problem is not None:
        raise RideNeeded(question, driver, phone, problem)
    return ride


def record_discharge(
    session: Session, appointment: Appointment, *, now: dt.datetime
) -> dict[str, Any] | None:
    """Completing a monitored session records its discharge: the time typed on the record, or
    ``now``, and the minutes monitored from the dose start (a user trial's completed sessions
    printed "Discharge time ____ Minutes monitored ____").  Nothing for a session without a
    monitoring record.

    Returns what the record held before (``DISCHARGE_FIELDS``, stored with the completion's
    event), so that undoing the completion puts it back (``restore_discharge``); None when
    there is no record."""
    record = find_record(session, appointment.id)
    if record is None:
        return None
    before = {
        "discharged_at": _iso(record.discharged_at),
        "monitored_minutes": record.monitored_minutes,
    }
    if record.discharged_at is None:
        record.discharged_at = now
    discharged = record.discharged_at
    dose = record.dose_started_at
    if dose is not None and discharged is not None:
        if dose.tzinfo is None:
            dose = dose.replace(tzinfo=dt.UTC)
        if discharged.tzinfo is None:
            discharged = discharged.replace(tzinfo=dt.UTC)
        record.monitored_minutes = max(0, int((discharged - dose).total_seconds() // 60))
    return before


#: What a completion fills in on the monitoring record, and its undo puts back.
DISCHARGE_FIELDS = ("discharged_at", "monitored_minutes")


def restore_discharge(
    session: Session, appointment: Appointment, before: Mapping[str, Any]
) -> None:
    """Undoing a completion: the record's discharge time and minutes monitored as they were
    before it (``record_discharge``'s answer), not the time the completion filled in."""
    record = find_record(session, appointment.id)
    if record is None:
        return
    stamp = before.get("discharged_at")
    record.discharged_at = dt.datetime.fromisoformat(stamp) if stamp else None
    minutes = before.get("monitored_minutes")
    record.monitored_minutes = int(minutes) if minutes is not None else None


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).isoformat()


def override(
    db: Database,
    actor: Actor,
    appointment_id: int,
    rules: Collection[str],
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> tuple[ChairOverride, ...]:
    """Set chair rules aside for one session, with a reason: only the configured roles
    (``[chair] override_roles``, a prescriber by default); stored, audited, and shown on the
    record, the day sheet and the printed session record.  Returns the session's overrides."""
    now = now or utcnow()
    unknown = [r for r in rules if r not in RULES]
    if not rules or unknown:
        raise InvalidRequest(
            f"not a chair rule: {', '.join(unknown)}" if unknown else "name the rules to override"
        )
    if not reason.strip():
        raise InvalidRequest("an override needs a reason")
    try:
        with db.write() as session:
            appointment = find_appointment(session, appointment_id)
            config = load_config(session)
            roles = chair_settings(config.catalog).override_roles
            if actor.role not in roles:
                who = " or ".join(role_name(r) for r in roles)
                raise PermissionDenied(
                    f"only a {who} may override a chair rule "
                    f"({', '.join(RULES[r][0] for r in rules)})",
                    actor=actor,
                    action="override_chair_rule",
                )
            have = overridden(session, appointment_id)
            for rule in rules:
                if rule in have:
                    continue
                session.add(
                    GatingOverride(
                        appointment_id=appointment_id,
                        rule=PREFIX + rule,
                        reason=reason.strip(),
                        user_id=actor.user_id,
                        at=now,
                    )
                )
            session.flush()
            audit.record(
                session,
                actor,
                "override_chair_rule",
                "appointment",
                appointment_id,
                patient_id=appointment.patient_id,
                after={"rules": sorted(rules), "reason": reason.strip()},
                detail=f"{', '.join(RULES[r][0] for r in sorted(rules))}: {reason.strip()}",
                now=now,
            )
            changes.bump(session, now)
            return overrides_of(session, appointment_id)
    except PermissionDenied as err:
        audit.record_refusal(db, err, entity="appointment", entity_id=appointment_id, now=now)
        raise
