"""Timed sedation (MOAA/S) and dissociation (CADSS) readings of a session: recording one (a
score, and the time: now unless typed), and where they stand (owed, due, missed) for the
monitoring dialog, the chair board, the discharge and the printed record.

The rules are pure (``scheduling/scale_rules.py``); this module reads the session's type, its
recorded dose start and its readings, and writes a reading in one short transaction, audited
(``record_scale_reading``).  The scales a type uses and when they are owed are its
``scales`` (session_types.toml); what counts as resolved is ``[scales]`` (clinic.toml).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import SessionTypeSpec
from ketadesk.scheduling.chair_rules import earliest_discharge
from ketadesk.scheduling.dates import parse_clock_time
from ketadesk.scheduling.late_entries import LateEntry
from ketadesk.scheduling.scale_rules import (
    CADSS,
    MOAAS,
    MOAAS_ANCHORS,
    ScaleReading,
    ScaleSchedule,
    ScaleSettings,
    parse_scale_settings,
    scale_schedule,
    scale_slots,
    score_problem,
)
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
from ketadesk.services.monitoring import late_entries
from ketadesk.services.monitoring.reading_schedule import STARTED_STATUSES
from ketadesk.services.monitoring.record_forms import OwedRow, ScaleRow, ScaleSheet
from ketadesk.services.monitoring.stored_records import (
    find_appointment,
    find_record,
    session_type_of,
)
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_config
from ketadesk.store.models import ScaleReading as StoredScaleReading
from ketadesk.store.models import User


def scale_settings(catalog: Catalog) -> ScaleSettings:
    return parse_scale_settings(catalog.settings.extra.get("scales"), "database")


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def readings_by_session(session: Session, ids: Iterable[int]) -> dict[int, list[ScaleReading]]:
    """The scale readings of each of ``ids`` in the order taken, with who recorded them (one
    read for them all: the chair board)."""
    ids = sorted(set(ids))
    out: dict[int, list[ScaleReading]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = session.execute(
        select(
            StoredScaleReading.appointment_id,
            StoredScaleReading.scale,
            StoredScaleReading.taken_at,
            StoredScaleReading.score,
            User.display_name,
            User.username,
        )
        .outerjoin(User, User.id == StoredScaleReading.recorded_by_id)
        .where(StoredScaleReading.appointment_id.in_(ids))
        .order_by(StoredScaleReading.taken_at, StoredScaleReading.id)
    ).all()
    for aid, scale, taken_at, score, display, username in rows:
        out[aid].append(ScaleReading(scale, _aware(taken_at), score, display or username or ""))
    return out


def schedule_of(
    catalog: Catalog,
    spec: SessionTypeSpec,
    dose_at: dt.datetime | None,
    readings: Sequence[ScaleReading],
    *,
    now: dt.datetime,
) -> ScaleSchedule | None:
    """Where the session's owed readings stand at ``now``: laid from the recorded dose start
    (None before one is recorded, or for a type without scales)."""
    if not spec.scales or dose_at is None:
        return None
    dose_at = _aware(dose_at)
    monitoring = catalog.settings.monitoring
    return scale_schedule(
        scale_slots(spec.scales, dose_at, earliest_discharge(dose_at, spec.observation_minutes)),
        readings,
        now=now,
        early_minutes=monitoring.get("reading_early_minutes", 0),
        late_minutes=monitoring.get("reading_late_minutes", 0),
        settings=scale_settings(catalog),
    )


def _plan_words(spec: SessionTypeSpec, settings: ScaleSettings) -> str:
    parts = []
    for plan in spec.scales:
        times = [f"+{m}" if m else "at dose" for m in plan.at_minutes]
        words = ", ".join(times)
        if plan.at_minutes and any(m for m in plan.at_minutes):
            words += " min"
        if plan.at_discharge:
            words += (", " if plan.at_minutes else "") + "at discharge"
        parts.append(f"{settings.name(plan.scale)} {words}")
    return "; ".join(parts)


def _sheet(
    session: Session, catalog: Catalog, spec: SessionTypeSpec, appointment_id: int, now: dt.datetime
) -> ScaleSheet:
    settings = scale_settings(catalog)
    calendar = ClinicCalendar(catalog.settings)
    zone, fmt = calendar.tz, catalog.settings.time_format
    readings = readings_by_session(session, [appointment_id])[appointment_id]
    record = find_record(session, appointment_id)
    dose_at = record.dose_started_at if record is not None else None
    schedule = schedule_of(catalog, spec, dose_at, readings, now=now)
    late = late_entries.scale_entries(session, catalog, appointment_id)
    return ScaleSheet(
        appointment_id=appointment_id,
        scales={p.scale: settings.name(p.scale) for p in spec.scales},
        highest={p.scale: settings.highest(p.scale) for p in spec.scales},
        readings=tuple(
            ScaleRow(
                r.taken_at.astimezone(zone),
                r.scale,
                settings.name(r.scale),
                r.score,
                settings.score_words(r.scale, r.score),
                r.recorded_by,
                MOAAS_ANCHORS.get(r.score, "") if r.scale == MOAAS else "",
                _late_words(late, r, zone, fmt),
            )
            for r in readings
        ),
        owed=tuple(
            OwedRow(c.slot.label(settings), c.slot.due_at.astimezone(zone), c.state)
            for c in schedule.checks
        )
        if schedule is not None
        else (),
        next_words=schedule.next_words(zone, fmt) if schedule is not None else "",
        missed_words=schedule.missed_words(zone, fmt) if schedule is not None else "",
        dose_recorded=dose_at is not None,
        plan_words=_plan_words(spec, settings),
    )


def _late_words(
    late: Mapping[late_entries.ScaleKey, LateEntry], r: ScaleReading, zone: ZoneInfo, fmt: str
) -> str:
    entry = late.get(late_entries.scale_key(r.scale, r.taken_at, r.score))
    return entry.words(zone, fmt) if entry is not None else ""


def sheet_in(session: Session, appointment_id: int, *, now: dt.datetime) -> ScaleSheet | None:
    """The session's scale sheet inside a caller's read (the monitoring record's opening);
    None for a session type without scales."""
    appointment = find_appointment(session, appointment_id)
    config = load_config(session)
    spec = session_type_of(config, appointment)
    if not spec.scales:
        return None
    return _sheet(session, config.catalog, spec, appointment_id, now)


def scale_sheet(
    db: Database, actor: Actor, appointment_id: int, *, now: dt.datetime | None = None
) -> ScaleSheet | None:
    """The session's scale readings and what is owed (None: its type uses no scale).  Clinical
    data: refused to a role that may not "read clinical"."""
    require(actor, "read_clinical", db, now=now)
    now = now or utcnow()
    with db.read() as session:
        return sheet_in(session, appointment_id, now=now)


def record_scale_reading(
    db: Database,
    actor: Actor,
    appointment_id: int,
    scale: str,
    score: str,
    *,
    taken: str = "",
    now: dt.datetime | None = None,
) -> ScaleSheet:
    """Record one reading: ``score`` as typed, taken at ``taken`` (a time of day on the
    session's day, as typed; blank: now).  Refused with the problem named (InvalidFields by
    field: "score", "taken"; InvalidRequest for the session): a scale the session type does not
    use, a score outside the scale, a session not started or released, a time in the future.
    Audited; returns the session's sheet as it now stands."""
    now = now or utcnow()
    require(actor, "record_monitoring", db, now=now)
    with db.write() as session:
        appointment = find_appointment(session, appointment_id)
        config = load_config(session)
        spec = session_type_of(config, appointment)
        settings = scale_settings(config.catalog)
        used = {p.scale for p in spec.scales}
        if scale not in used:
            names = ", ".join(settings.name(s) for s in sorted(used)) or "none"
            raise InvalidRequest(
                f"{spec.name} does not use the {settings.name(scale)} scale "
                f"(its scales: {names}; session_types.toml scales)"
            )
        if appointment.status in RELEASED_STATUSES:
            raise InvalidRequest(
                f"{session_words(session, appointment)} is "
                f"{appointment.status.replace('_', ' ')}: there is no session to record"
            )
        if appointment.status not in STARTED_STATUSES:
            raise InvalidRequest(
                "Start the session first: scale readings are recorded on a session in progress"
            )
        errors: dict[str, str] = {}
        problem = score_problem(scale, score, settings)
        if problem is not None:
            errors["score"] = problem
        calendar = ClinicCalendar(config.catalog.settings)
        taken_at = now
        if taken.strip():
            time = parse_clock_time(taken)
            if time is None:
                errors["taken"] = f"“{taken.strip()}” is not a time: type it as 2:30 PM or 14:30"
            else:
                day = calendar.local_date(appointment.starts_at)
                taken_at = calendar.at_local(day, time.hour * 60 + time.minute)
                if taken_at > now + dt.timedelta(minutes=1):
                    errors["taken"] = (
                        f"{calendar.clock(taken_at)} is still to come: a reading is recorded "
                        "when it is taken"
                    )
        if errors:
            raise InvalidFields(errors)
        value = int(score.strip())
        row = StoredScaleReading(
            appointment_id=appointment_id,
            scale=scale,
            taken_at=taken_at,
            score=value,
            recorded_by_id=actor.user_id,
            recorded_at=now,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            "record_scale_reading",
            "scale_reading",
            row.id,
            patient_id=appointment.patient_id,
            after={"scale": scale, "score": value, "taken_at": taken_at.isoformat()},
            detail=(
                f"{settings.score_words(scale, value)} at {calendar.clock(taken_at)} "
                f"(appointment #{appointment_id})"
            ),
            now=now,
        )
        changes.bump(session, now)
        sheet = _sheet(session, config.catalog, spec, appointment_id, now)
        zone = calendar.tz
        mine = next(
            (
                r
                for r in reversed(sheet.readings)
                if r.scale == scale and r.score == value and r.taken_at == taken_at.astimezone(zone)
            ),
            None,
        )
        return dataclasses.replace(sheet, just_recorded=mine)


def effect_summary(catalog: Catalog, readings: Sequence[ScaleReading]) -> dict[str, str]:
    """What the REMS form's "sedation" and "dissociation" say where timed readings exist:
    "MOAA/S lowest 3 (1:16 PM), last 5 (2:41 PM)", "CADSS highest 12 (1:56 PM), last 0 (2:40
    PM)"; an effect without readings is left out (the record's word stands)."""
    settings = scale_settings(catalog)
    calendar = ClinicCalendar(catalog.settings)
    out: dict[str, str] = {}
    for scale, effect, worst_word in (
        (MOAAS, "sedation", "lowest"),
        (CADSS, "dissociation", "highest"),
    ):
        taken = [r for r in readings if r.scale == scale]
        if not taken:
            continue
        worst = (
            min(taken, key=lambda r: r.score)
            if scale == MOAAS
            else max(taken, key=lambda r: r.score)
        )
        last = max(taken, key=lambda r: r.taken_at)
        out[effect] = (
            f"{settings.name(scale)} {worst_word} {worst.score} "
            f"({calendar.clock(worst.taken_at)}), last {last.score} "
            f"({calendar.clock(last.taken_at)})"
        )
    return out
