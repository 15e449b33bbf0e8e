"""Timed sedation (MOAA/S) and dissociation (CADSS) readings of a session: recording one (a
score, and the time: now unless typed), correcting one typed wrong (the right score and why;
the reading as recorded stays), and where they stand (owed, due, missed) for the monitoring
dialog, the chair board, the discharge and the printed record.

The rules are pure (``scheduling/scale_rules.py``); this module reads the session's type, its
recorded dose start and its readings, and writes a reading in one short transaction, audited
(``record_scale_reading``, ``correct_scale_reading``).  The scales a type uses and when they
are owed are its ``scales`` (session_types.toml); what counts as resolved is ``[scales]``
(clinic.toml).  A correction is a row of its own naming the reading it corrects; every read
here takes the readings as they now stand, so the board, the discharge, the REMS form and the
paper all use the corrected score.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

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


@dataclass(frozen=True, slots=True)
class _Stored:
    """A stored reading row with who recorded it and, for a correction, what it corrects, why,
    who corrected it and when."""

    id: int
    appointment_id: int
    scale: str
    taken_at: dt.datetime
    score: int
    recorded_by: str
    corrects_id: int | None
    reason: str
    corrected_by: str
    corrected_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class _Current:
    """A reading as it now stands (never corrected since), with the rows it replaced, the
    first recorded first."""

    reading: _Stored
    replaced: tuple[_Stored, ...]


def _stored_rows(session: Session, ids: Sequence[int]) -> dict[int, list[_Stored]]:
    out: dict[int, list[_Stored]] = {i: [] for i in ids}
    if not ids:
        return out
    recorder, corrector = aliased(User), aliased(User)
    rows = session.execute(
        select(
            StoredScaleReading.id,
            StoredScaleReading.appointment_id,
            StoredScaleReading.scale,
            StoredScaleReading.taken_at,
            StoredScaleReading.score,
            recorder.display_name,
            recorder.username,
            StoredScaleReading.corrects_id,
            StoredScaleReading.correction_reason,
            corrector.display_name,
            corrector.username,
            StoredScaleReading.corrected_at,
        )
        .outerjoin(recorder, recorder.id == StoredScaleReading.recorded_by_id)
        .outerjoin(corrector, corrector.id == StoredScaleReading.corrected_by_id)
        .where(StoredScaleReading.appointment_id.in_(ids))
        .order_by(StoredScaleReading.taken_at, StoredScaleReading.id)
    ).all()
    for (
        rid,
        aid,
        scale,
        taken_at,
        score,
        r_display,
        r_user,
        corrects,
        reason,
        c_display,
        c_user,
        corrected_at,
    ) in rows:
        out[aid].append(
            _Stored(
                rid,
                aid,
                scale,
                _aware(taken_at),
                score,
                r_display or r_user or "",
                corrects,
                reason or "",
                c_display or c_user or "",
                _aware(corrected_at) if corrected_at is not None else None,
            )
        )
    return out


def _current(rows: Sequence[_Stored]) -> list[_Current]:
    """The readings as they now stand, in the order taken: a corrected one gives way to its
    correction, which carries the rows it replaced."""
    by_id = {r.id: r for r in rows}
    replaced = {r.corrects_id for r in rows if r.corrects_id is not None}
    out: list[_Current] = []
    for row in rows:
        if row.id in replaced:
            continue
        chain: list[_Stored] = []
        step = row
        while step.corrects_id is not None and step.corrects_id in by_id:
            step = by_id[step.corrects_id]
            chain.append(step)
        out.append(_Current(row, tuple(reversed(chain))))
    return out


def readings_by_session(session: Session, ids: Iterable[int]) -> dict[int, list[ScaleReading]]:
    """The scale readings of each of ``ids`` as they now stand (a corrected one by its
    correction), in the order taken, with who recorded them (one read for them all: the
    chair board, the discharge, the REMS form and the paper)."""
    stored = _stored_rows(session, sorted(set(ids)))
    return {aid: [_rule_reading(c) for c in _current(rows)] for aid, rows in stored.items()}


def _correction_words(current: _Current, clock: Callable[[dt.datetime], str]) -> str:
    """ "corrected from 2: typo (Dr Patel, 1:20 PM)"; a correction corrected again says each
    step, the first first; "" for a reading never corrected."""
    steps = [*current.replaced, current.reading]
    words = []
    for before, after in itertools.pairwise(steps):
        when = clock(after.corrected_at) if after.corrected_at is not None else ""
        by = ", ".join(part for part in (after.corrected_by, when) if part)
        words.append(f"from {before.score}: {after.reason}" + (f" ({by})" if by else ""))
    return "corrected " + "; then ".join(words) if words else ""


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


def _rule_reading(current: _Current) -> ScaleReading:
    row = current.reading
    return ScaleReading(row.scale, row.taken_at, row.score, row.recorded_by)


def _row(
    current: _Current,
    settings: ScaleSettings,
    zone: dt.tzinfo,
    clock: Callable[[dt.datetime], str],
    entered: str = "",
) -> ScaleRow:
    r = current.reading
    return ScaleRow(
        r.taken_at.astimezone(zone),
        r.scale,
        settings.name(r.scale),
        r.score,
        settings.score_words(r.scale, r.score),
        r.recorded_by,
        MOAAS_ANCHORS.get(r.score, "") if r.scale == MOAAS else "",
        entered,
        reading_id=r.id,
        corrected_from=tuple(step.score for step in current.replaced),
        correction=_correction_words(current, clock),
    )


def _sheet(
    session: Session, catalog: Catalog, spec: SessionTypeSpec, appointment_id: int, now: dt.datetime
) -> ScaleSheet:
    settings = scale_settings(catalog)
    calendar = ClinicCalendar(catalog.settings)
    zone, fmt = calendar.tz, catalog.settings.time_format
    current = _current(_stored_rows(session, [appointment_id])[appointment_id])
    readings = [_rule_reading(c) for c in current]
    record = find_record(session, appointment_id)
    dose_at = record.dose_started_at if record is not None else None
    schedule = schedule_of(catalog, spec, dose_at, readings, now=now)
    late = late_entries.scale_entries(session, catalog, appointment_id)
    return ScaleSheet(
        appointment_id=appointment_id,
        scales={p.scale: settings.name(p.scale) for p in spec.scales},
        highest={p.scale: settings.highest(p.scale) for p in spec.scales},
        readings=tuple(
            _row(c, settings, zone, calendar.clock, _late_words(late, _rule_reading(c), zone, fmt))
            for c in current
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


def correct_scale_reading(
    db: Database,
    actor: Actor,
    reading_id: int,
    score: str,
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> ScaleSheet:
    """Correct a reading typed wrong: ``score`` as typed, ``reason`` why.  The reading stays as
    recorded; a new row names it (``corrects_id``) with the right score, the reason, who
    corrected it and when, and keeps the reading's time and who recorded it; the board, the
    discharge and the paper read the correction.  Refused with the problem named
    (InvalidFields by field: "score", "reason"; InvalidRequest: a reading already corrected,
    a session released).  Audited (``correct_scale_reading``, the score before and after);
    returns the session's sheet as it now stands, ``just_recorded`` the corrected reading."""
    now = now or utcnow()
    require(actor, "record_monitoring", db, now=now)
    with db.write() as session:
        # Locked (PostgreSQL; SQLite writes one at a time): a correction made meanwhile at
        # another workstation is then seen below, not raced into the unique index.
        original = session.get(StoredScaleReading, reading_id, with_for_update=True)
        if original is None:
            raise InvalidRequest("that scale reading is no longer on record: open the record again")
        appointment = find_appointment(session, original.appointment_id)
        if appointment.status in RELEASED_STATUSES:
            raise InvalidRequest(
                f"{session_words(session, appointment)} is "
                f"{appointment.status.replace('_', ' ')}: its readings are not corrected"
            )
        config = load_config(session)
        spec = session_type_of(config, appointment)
        settings = scale_settings(config.catalog)
        calendar = ClinicCalendar(config.catalog.settings)
        scale = original.scale
        taken_at = _aware(original.taken_at)
        name = settings.name(scale)
        later = session.scalar(
            select(StoredScaleReading).where(StoredScaleReading.corrects_id == reading_id)
        )
        if later is not None:
            raise InvalidRequest(
                f"the {name} of {calendar.clock(taken_at)} was corrected to {later.score} "
                "meanwhile (at another workstation?): open the record again to see it"
            )
        errors: dict[str, str] = {}
        problem = score_problem(scale, score, settings)
        if problem is not None:
            errors["score"] = problem
        elif int(score.strip()) == original.score:
            errors["score"] = (
                f"the {name} of {calendar.clock(taken_at)} already says {original.score}: "
                "type the right score"
            )
        if not reason.strip():
            errors["reason"] = (
                f"say why the {name} is corrected (e.g. typo): the reason is kept with it"
            )
        if errors:
            raise InvalidFields(errors)
        value = int(score.strip())
        row = StoredScaleReading(
            appointment_id=original.appointment_id,
            scale=scale,
            taken_at=original.taken_at,
            score=value,
            recorded_by_id=original.recorded_by_id,
            recorded_at=original.recorded_at,
            corrects_id=original.id,
            correction_reason=reason.strip(),
            corrected_by_id=actor.user_id,
            corrected_at=now,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            "correct_scale_reading",
            "scale_reading",
            row.id,
            patient_id=appointment.patient_id,
            before={"id": original.id, "scale": scale, "score": original.score},
            after={
                "id": row.id,
                "scale": scale,
                "score": value,
                "corrects_id": original.id,
                "reason": reason.strip(),
                "taken_at": taken_at.isoformat(),
            },
            detail=(
                f"{settings.score_words(scale, original.score)} at {calendar.clock(taken_at)} "
                f"corrected to {value}: {reason.strip()} (appointment #{appointment.id})"
            ),
            now=now,
        )
        changes.bump(session, now)
        sheet = _sheet(session, config.catalog, spec, appointment.id, now)
        mine = next((r for r in sheet.readings if r.reading_id == row.id), None)
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
