"""Monitoring records for the demo clinic's dosing sessions.

Every attended dosing session gets what its nurse would have written down: the session type's
configured BP checks (and a few extra readings where it configures none, as for an infusion),
the dose, device count and lot, the dose start, sedation and dissociation, the discharge after
the configured observation time, and who monitored.  A few readings run above the clinic's
warning thresholds.  Sessions in progress at the demo's "now" have the readings taken so far.
One recent session that owes a REMS Patient Monitoring Form is left incomplete (no lot, no
+40 min reading) so that its open REMS follow-up lists what is still missing.

Plain Core inserts in the demo's writing transaction: a five-year clinic has tens of thousands.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from ketadesk.scheduling.catalog import SessionTypeSpec
from ketadesk.services.monitoring.record_forms import MONITORING_ROLES, REMS_FOLLOW_UP
from ketadesk.store.clinic_config import load_config
from ketadesk.store.models import (
    Appointment,
    FollowUp,
    ResourceHold,
    SessionRecord,
    StaffMember,
    VitalReading,
)

_RECORD = cast(Table, SessionRecord.__table__)
_READING = cast(Table, VitalReading.__table__)
_CHUNK = 5_000
_MINUTE = dt.timedelta(minutes=1)

# Readings a nurse takes where the session type configures no BP checks (minutes after the
# dose start; the last one at the end of the session).
_EXTRA_READINGS = (("Start", 0), ("+15 min", 15), ("+30 min", 30))
_EVENTS = (
    "Nausea at +30 min, settled without treatment.",
    "Felt dizzy standing up; sat for 10 min before leaving.",
    "Anxious during dissociation; reassured, resolved.",
    "Headache, resolved by discharge.",
)


@dataclass(frozen=True)
class DemoRecords:
    records: int
    readings: int
    incomplete_appointment_id: int | None


def write_records(session: Session, *, seed: int, now: dt.datetime) -> DemoRecords:
    """Write the monitoring records of every attended dosing session up to ``now``."""
    config = load_config(session)
    catalog = config.catalog
    settings = catalog.settings
    dosing = {
        type_id: catalog.session_types[code]
        for code, type_id in config.session_type_ids.items()
        if catalog.session_types[code].dosing
    }
    if not dosing:
        return DemoRecords(0, 0, None)
    rows = session.execute(
        select(
            Appointment.id,
            Appointment.session_type_id,
            Appointment.starts_at,
            Appointment.ends_at,
            Appointment.status,
            Appointment.series_index,
            Appointment.patient_id,
        )
        .where(
            Appointment.session_type_id.in_(dosing),
            Appointment.status.in_(("completed", "in_progress")),
            Appointment.starts_at <= now,
        )
        .order_by(Appointment.starts_at, Appointment.id)
    ).all()
    monitors = _monitoring_staff(session)
    incomplete = _incomplete_choice(session, rows, dosing)
    rng = random.Random(seed * 104729 + 17)
    first_id = (session.scalar(select(func.max(SessionRecord.id))) or 0) + 1
    records: list[dict[str, Any]] = []
    readings: list[dict[str, Any]] = []
    patients: dict[int, tuple[int, int]] = {}
    mon = settings.monitoring
    for appointment_id, type_id, starts, ends, status, index, patient_id in rows:
        spec = dosing[type_id]
        base = patients.setdefault(patient_id, _baseline(rng, mon))
        record_id = first_id + len(records)
        record, taken = _record(
            rng, spec, appointment_id, record_id, starts, ends, status, index, now, base, mon
        )
        record["monitored_by_id"] = monitors.get(appointment_id)
        if appointment_id == incomplete:
            record["lot_number"] = ""
            taken = [r for r in taken if r["label"] != _second_check(spec)]
        records.append(record)
        readings.extend(taken)
    _insert(session, _RECORD, records)
    _insert(session, _READING, readings)
    if records and session.get_bind().dialect.name == "postgresql":
        # The record ids were chosen here: move the id sequence past them.
        session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('session_record', 'id'), "
                "(SELECT MAX(id) FROM session_record))"
            )
        )
    return DemoRecords(len(records), len(readings), incomplete)


def _insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert(table), rows[start : start + _CHUNK])


def _monitoring_staff(session: Session) -> dict[int, int]:
    """The nurse (else prescriber) each dosing appointment held: who monitored it."""
    found: dict[int, int] = {}
    for appointment_id, resource_id, role in session.execute(
        select(ResourceHold.appointment_id, ResourceHold.resource_id, StaffMember.role)
        .join(StaffMember, StaffMember.resource_id == ResourceHold.resource_id)
        .where(StaffMember.role.in_(MONITORING_ROLES))
        .order_by(ResourceHold.appointment_id, ResourceHold.id)
    ):
        if appointment_id not in found or role == MONITORING_ROLES[0]:
            found[appointment_id] = resource_id
    return found


def _incomplete_choice(
    session: Session, rows: Iterable[Any], dosing: dict[int, SessionTypeSpec]
) -> int | None:
    """The latest completed session whose REMS form is still open (else the latest that owes
    one): its record is left incomplete."""
    owing = [
        r[0]
        for r in rows
        if r[4] == "completed"
        and any(rule.kind == REMS_FOLLOW_UP for rule in dosing[r[1]].followups)
        and dosing[r[1]].bp_checks
    ]
    if not owing:
        return None
    open_forms = set(
        session.scalars(
            select(FollowUp.appointment_id).where(
                FollowUp.kind == REMS_FOLLOW_UP,
                FollowUp.status == "open",
                FollowUp.appointment_id.in_(owing[-200:]),
            )
        )
    )
    candidates = [a for a in owing if a in open_forms]
    chosen: int = candidates[-1] if candidates else owing[-1]
    return chosen


def _second_check(spec: SessionTypeSpec) -> str | None:
    return spec.bp_checks[1].label if len(spec.bp_checks) > 1 else None


def _baseline(rng: random.Random, mon: Mapping[str, int]) -> tuple[int, int]:
    """A patient's usual BP: mostly normal, some near or over the warning line."""
    warn_sys = mon["bp_warn_systolic"]
    warn_dia = mon["bp_warn_diastolic"]
    systolic = round(rng.gauss(warn_sys - 20, 8))
    diastolic = round(rng.gauss(warn_dia - 14, 5))
    return systolic, min(diastolic, systolic - 35)


def _record(
    rng: random.Random,
    spec: SessionTypeSpec,
    appointment_id: int,
    record_id: int,
    starts: dt.datetime,
    ends: dt.datetime,
    status: str,
    series_index: int | None,
    now: dt.datetime,
    base: tuple[int, int],
    mon: Mapping[str, int],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    offsets = spec.phase_offsets()
    anchor = spec.observation_from or next(
        (p.key for p in spec.phases if p.shade == "dosing"), spec.phases[0].key
    )
    planned_dose = starts + dt.timedelta(minutes=offsets[anchor][0])
    dose_at = planned_dose + _MINUTE * rng.choice((0, 0, 2, 3, 5, 8))
    shift = dose_at - planned_dose
    finished = status == "completed"
    if spec.observation_minutes is not None:
        discharge = dose_at + _MINUTE * (spec.observation_minutes + rng.choice((5, 10, 10, 15, 25)))
    else:
        discharge = ends + shift
    taken: list[dict[str, Any]] = []
    sys0, dia0 = base
    spo2_floor = mon["spo2_warn_below"]

    def reading(label: str, at: dt.datetime, rise: tuple[int, int]) -> None:
        if at > now:
            return
        systolic = sys0 + rise[0] + rng.randint(-6, 6)
        diastolic = min(dia0 + rise[1] + rng.randint(-4, 4), systolic - 30)
        taken.append(
            {
                "record_id": record_id,
                "label": label,
                "taken_at": at,
                "systolic": systolic,
                "diastolic": diastolic,
                "heart_rate": rng.randint(60, 92),
                "spo2": rng.choice((96, 97, 97, 98, 98, 99, 99, spo2_floor + 2)),
            }
        )

    if spec.bp_checks:
        for check in spec.bp_checks:
            due = starts + dt.timedelta(minutes=offsets[check.phase][0] + check.offset_minutes)
            at = due + shift + _MINUTE * rng.randint(0, 4)
            if check.phase == spec.phases[-1].key and finished:
                at = min(at, discharge - _MINUTE * 5)
            peak = 0 < (at - dose_at).total_seconds() // 60 <= 60
            rise = (rng.randint(5, 18), rng.randint(3, 8)) if peak else (rng.randint(-2, 5), 0)
            reading(check.label, at, rise)
    else:
        for label, minutes in _EXTRA_READINGS:
            reading(label, dose_at + _MINUTE * minutes, (rng.randint(0, 8), rng.randint(0, 4)))
        if finished:
            reading("Before discharge", discharge - _MINUTE * 5, (rng.randint(-2, 4), 0))
    large = series_index is not None and series_index > 2 and rng.random() < 0.7
    # Whole devices where the session type doses in devices (Spravato), mg otherwise (IV).
    devices = (3 if large else 2) if spec.dose is not None else None
    dose_mg = (84 if large else 56) if spec.dose is not None else rng.choice((30, 35, 40, 45, 50))
    record: dict[str, Any] = {
        "id": record_id,
        "appointment_id": appointment_id,
        "dose_mg": dose_mg if dose_at <= now else None,
        "devices": devices if dose_at <= now else None,
        "lot_number": f"{rng.choice('ABCDEFGH')}{rng.randint(1000, 9999)}"
        if dose_at <= now
        else "",
        "dose_started_at": dose_at if dose_at <= now else None,
        "discharged_at": discharge if finished else None,
        "monitored_minutes": int((discharge - dose_at).total_seconds() // 60) if finished else None,
        "monitored_by_id": None,
        "sedation": rng.choice(("none", "none", "mild", "mild", "moderate")) if finished else "",
        "dissociation": rng.choice(("none", "mild", "mild", "moderate")) if finished else "",
        "respiratory_depression": False,
        # A finished session was discharged once its effects had resolved (the chair's rules).
        "sedation_resolved": finished,
        "dissociation_resolved": finished,
        "respiratory_resolved": finished,
        "events": rng.choice(_EVENTS) if finished and rng.random() < 0.08 else "",
        "updated_at": min(now, discharge if finished else now),
        # What current REMS forms also ask; no random draw, so the demo stays as it was.
        "concomitant_meds": [] if finished else None,
        "vitals_acceptable": True if finished else None,
        "ready_to_leave_at": discharge - _MINUTE * 5 if finished else None,
    }
    return record, taken
