"""When a session's BP checks fall due (session_types.toml ``bp_checks``), shifted with the
actual dose start, and which are taken, due or late: for the monitoring dialog and the chair board.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketadesk.scheduling.catalog import SessionTypeSpec
from ketadesk.scheduling.chair_rules import (
    BpReading,
    bp_recheck_owed,
    check_due_times,
    dose_phase,
    earliest_discharge,
    parse_chair_settings,
    pre_dose_recheck_owed,
)
from ketadesk.services.common.context import (
    Database,
)
from ketadesk.services.monitoring.record_forms import CheckDue, ReadingsDue
from ketadesk.services.monitoring.stored_records import find_records
from ketadesk.store.clinic_config import StoredConfig, load_config
from ketadesk.store.models import (
    Appointment,
    AppointmentEvent,
    SessionRecord,
)


def _anchor_phase(spec: SessionTypeSpec) -> str | None:
    """The phase observation is counted from: configured, else the first dosing phase."""
    return dose_phase(spec)


def _planned_dose(spec: SessionTypeSpec, starts_at: dt.datetime) -> dt.datetime | None:
    anchor = _anchor_phase(spec)
    if anchor is None:
        return None
    return starts_at + dt.timedelta(minutes=spec.phase_offsets()[anchor][0])


def pre_dose_labels(spec: SessionTypeSpec) -> frozenset[str]:
    anchor = _anchor_phase(spec)
    offsets = spec.phase_offsets()
    if anchor is None:
        return frozenset()
    dose = offsets[anchor][0]
    return frozenset(
        c.label for c in spec.bp_checks if offsets[c.phase][0] + c.offset_minutes < dose
    )


def checks_after_dose(spec: SessionTypeSpec) -> dict[str, int]:
    """The checks due at or after the dose, each with its minutes after the dose start."""
    anchor = _anchor_phase(spec)
    if anchor is None:
        return {}
    offsets = spec.phase_offsets()
    dose = offsets[anchor][0]
    minutes = {c.label: offsets[c.phase][0] + c.offset_minutes - dose for c in spec.bp_checks}
    return {label: m for label, m in minutes.items() if m >= 0}


def due_after_dose(spec: SessionTypeSpec) -> dict[str, int]:
    """How long after the dose start each check after it falls due, as ``reading_schedule``
    lays it: never later than the earliest discharge (a check laid past it is due by then).
    What the chair board and the monitoring record say while no dose start is recorded."""
    cap = spec.observation_minutes
    return {
        label: minutes if cap is None else min(minutes, cap)
        for label, minutes in checks_after_dose(spec).items()
    }


def reading_schedule(
    appointment_id: int,
    spec: SessionTypeSpec,
    starts_at: dt.datetime,
    dose_started_at: dt.datetime | None,
    taken: Mapping[str, dt.datetime],
    *,
    now: dt.datetime,
    late_minutes: int,
    started_at: dt.datetime | None = None,
) -> ReadingsDue:
    """When each configured BP check is due (laid from the actual start, ``started_at``, once
    the session has started, as the chair board lays its phases; shifted with the actual dose
    start, if recorded), which were taken (``taken``: label -> time) and which are due or late
    at ``now``."""
    planned = _planned_dose(spec, started_at if started_at is not None else starts_at)
    dose = dose_started_at if dose_started_at is not None else planned
    allowed = earliest_discharge(dose, spec.observation_minutes)
    grace = dt.timedelta(minutes=late_minutes)
    checks: list[CheckDue] = []
    after_dose = checks_after_dose(spec)
    # One rule lays them, for this record, the chair board and the printed session record.
    for label, due in check_due_times(
        spec, starts_at, started_at=started_at, dose_started_at=dose_started_at
    ):
        at = taken.get(label)
        if at is not None:
            state = "done"
        elif now < due:
            state = "upcoming"
        elif now <= due + grace:
            state = "due"
        else:
            state = "late"
        checks.append(CheckDue(label, due, at, state, after_dose.get(label)))
    pending = [c for c in checks if c.state != "done"]
    return ReadingsDue(
        appointment_id=appointment_id,
        checks=tuple(checks),
        next_label=pending[0].label if pending else None,
        next_due_at=pending[0].due_at if pending else None,
        late=any(c.state == "late" for c in checks),
        dose_started_at=dose_started_at,
        discharge_allowed_at=allowed,
    )


def late_minutes(config: StoredConfig) -> int:
    return config.catalog.settings.monitoring.get("reading_late_minutes", 0)


def readings_due(
    db_or_session: Database | Session,
    appointment_ids: Iterable[int],
    *,
    now: dt.datetime,
    records: Mapping[int, SessionRecord] | None = None,
) -> dict[int, ReadingsDue]:
    """The BP-check state of each appointment (unknown ids are left out).  ``records``: their
    stored records already read (``stored_records.find_records``), so as not to read them
    twice."""
    ids = sorted(set(appointment_ids))
    if isinstance(db_or_session, Session):
        return _readings_due(db_or_session, ids, now, records)
    with db_or_session.read() as session:
        return _readings_due(session, ids, now, records)


def _readings_due(
    session: Session,
    ids: list[int],
    now: dt.datetime,
    records: Mapping[int, SessionRecord] | None = None,
) -> dict[int, ReadingsDue]:
    if not ids:
        return {}
    config = load_config(session)
    late = late_minutes(config)
    chair = parse_chair_settings(config.catalog.settings.extra.get("chair"), "database")
    monitoring = config.catalog.settings.monitoring
    appointments = session.execute(
        select(
            Appointment.id, Appointment.session_type_id, Appointment.starts_at, Appointment.status
        ).where(Appointment.id.in_(ids))
    ).all()
    started = started_at(session, ids)
    if records is None:
        records = find_records(session, ids)
    result: dict[int, ReadingsDue] = {}
    for appointment_id, type_id, starts_at, status in appointments:
        spec = config.catalog.session_types[config.session_type_code(type_id)]
        record = records.get(appointment_id)
        due = reading_schedule(
            appointment_id,
            spec,
            starts_at,
            record.dose_started_at if record is not None else None,
            taken_readings(record),
            now=now,
            late_minutes=late,
            started_at=started.get(appointment_id) if status in STARTED_STATUSES else None,
        )
        if record is not None:
            bp = [
                BpReading(r.label, _aware(r.taken_at), r.systolic, r.diastolic, r.spo2)
                for r in record.readings
            ]
            labels = {c.label for c in spec.bp_checks}
            dose_at = _aware(record.dose_started_at) if record.dose_started_at else None
            owed = pre_dose_recheck_owed(bp, pre_dose_labels(spec), labels, dose_at, chair)
            recheck = bp_recheck_owed(
                bp,
                pre_dose_labels(spec),
                labels,
                dose_at,
                chair,
                warn_systolic=monitoring.get("bp_warn_systolic"),
                warn_diastolic=monitoring.get("bp_warn_diastolic"),
            )
            due = dataclasses.replace(
                due,
                recheck_after=owed.taken_at if owed is not None else None,
                recheck=recheck,
            )
        result[appointment_id] = due
    return result


#: Statuses of a session that has started: its checks are laid from when it did.
STARTED_STATUSES = frozenset({"in_progress", "completed"})


def started_at(session: Session, ids: Iterable[int]) -> dict[int, dt.datetime]:
    """When each session was last started (its latest move to "in progress")."""
    ids = list(ids)
    if not ids:
        return {}
    stmt = (
        select(AppointmentEvent.appointment_id, func.max(AppointmentEvent.at))
        .where(
            AppointmentEvent.appointment_id.in_(ids), AppointmentEvent.to_status == "in_progress"
        )
        .group_by(AppointmentEvent.appointment_id)
    )
    return {
        aid: at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
        for aid, at in session.execute(stmt)
    }


def taken_readings(record: SessionRecord | None) -> dict[str, dt.datetime]:
    if record is None:
        return {}
    return {
        r.label: r.taken_at
        for r in record.readings
        if r.systolic is not None and r.diastolic is not None
    }


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


#: Statuses of a session whose patient is in the clinic: a BP recheck owed is said for them.
IN_CLINIC_STATUSES = frozenset({"checked_in", "in_progress"})


def bp_alert(
    session: Session, appointment_id: int, *, now: dt.datetime, starting: bool = False
) -> str:
    """The BP recheck a session owes now, in the words the chair board says it ("Do not
    dose: BP 186/112 over the hard stop (180/110) at 10:50 AM; recheck after rest, due 11:05
    AM"), for the session's page and Start; "" when none is owed or the patient is not in the
    clinic (checked in or in progress); ``starting``: a session being started, whatever its
    status (a start straight from "booked" says it too)."""
    status = session.scalar(select(Appointment.status).where(Appointment.id == appointment_id))
    if status not in IN_CLINIC_STATUSES and not starting:
        return ""
    owed = _readings_due(session, [appointment_id], now).get(appointment_id)
    if owed is None or owed.recheck is None:
        return ""
    settings = load_config(session).catalog.settings
    return owed.recheck.words(ZoneInfo(settings.timezone), settings.time_format)
