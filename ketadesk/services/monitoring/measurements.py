"""Outcome measures (PHQ-9, GAD-7): entering a questionnaire, its urgent answers, and a trend.

Instruments, bands, urgent answers and the response/remission rules come from
resources/config/measures.toml through :mod:`ketadesk.scheduling.measures`; this module stores
the answers, opens the urgent follow-up an answer calls for (once), closes the before-session
measure follow-up the answers fulfil, and reads a patient's scores back as a trend.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.config import load_measures
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.dates import short_date, short_date_time
from ketadesk.scheduling.measures import Band, InstrumentSpec, Trend, score, trend
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import (
    Actor,
    Database,
    InvalidFields,
    NotFound,
    utcnow,
)
from ketadesk.services.followups import urgent_reviews
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Appointment, FollowUp, Measurement, Patient, SessionType

__all__ = [
    "MeasureSubject",
    "MeasureTrend",
    "SavedMeasure",
    "TrendPoint",
    "instrument",
    "instruments",
    "item_field",
    "measure_subject",
    "measure_trend",
    "save_measurement",
]

# Follow-up states that still stand for work to do.
_PENDING = ("open", "snoozed")


@functools.cache
def instruments() -> dict[str, InstrumentSpec]:
    """The configured instruments by code (measures.toml, read once)."""
    return load_measures()


def instrument(code: str) -> InstrumentSpec:
    found = instruments().get(code)
    if found is None:
        known = ", ".join(sorted(instruments()))
        raise NotFound(f"no outcome measure “{code}” is configured (known: {known})")
    return found


def item_field(number: int) -> str:
    """The error key of item ``number`` (1-based): ``item9``."""
    return f"item{number}"


@dataclass(frozen=True)
class SavedMeasure:
    measurement_id: int
    instrument: str
    total: int
    band: str
    urgent: tuple[str, ...]  # plain-words messages, one per urgent answer
    urgent_follow_up_id: int | None  # the urgent review created or already open
    closed_follow_up_ids: tuple[int, ...]  # before-session measure follow-ups now done


@dataclass(frozen=True)
class TrendPoint:
    taken_at: dt.datetime
    day: dt.date  # the clinic's local date
    total: int
    band: str
    urgent: bool


@dataclass(frozen=True)
class MeasureTrend:
    """One patient's scores on one instrument, with what a chart draws around them.

    ``trend`` (baseline, response line, remission threshold, response/remission) is None when
    the patient has no score yet.
    """

    patient_id: int
    instrument: str
    name: str
    title: str
    total_min: int
    total_max: int
    bands: tuple[Band, ...]
    response_drop_percent: int
    points: tuple[TrendPoint, ...]
    trend: Trend | None

    def summary(self) -> str:
        """One sentence for screen readers and tooltips."""
        t = self.trend
        if t is None:
            return f"{self.name}: no scores yet"
        first = short_date(t.baseline_date, year=True, weekday=False)
        last = short_date(t.latest_date, year=True, weekday=False)
        parts = [
            f"{self.name}: {len(self.points)} score{'s' if len(self.points) != 1 else ''}",
            f"baseline {t.baseline} on {first}",
            f"latest {t.latest} ({self.points[-1].band}) on {last}",
        ]
        if t.change_percent is not None and len(self.points) > 1:
            parts.append(f"change {t.change_percent:+.0f}%")
        if t.remission:
            parts.append("in remission")
        elif t.response:
            parts.append("response")
        return ", ".join(parts)


def _check_answers(spec: InstrumentSpec, answers: Sequence[int | None]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if len(answers) != spec.item_count:
        errors["answers"] = f"{spec.name} has {spec.item_count} items; got {len(answers)} answers"
        return errors
    for number, answer in enumerate(answers, start=1):
        if answer is None:
            errors[item_field(number)] = f"item {number} has no answer"
        elif isinstance(answer, bool) or not isinstance(answer, int):
            errors[item_field(number)] = f"item {number}: {answer!r} is not a whole number"
        elif not spec.item_min <= answer <= spec.item_max:
            errors[item_field(number)] = (
                f"item {number}: {answer} is out of range {spec.item_min}-{spec.item_max}"
            )
    return errors


def save_measurement(
    db: Database,
    actor: Actor,
    patient_id: int,
    instrument_code: str,
    answers: Sequence[int | None],
    *,
    appointment_id: int | None = None,
    taken_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> SavedMeasure:
    """Score and store a questionnaire; refuse missing or impossible answers by item.

    An urgent answer (PHQ-9 item 9 above 0, a C-SSRS intent, plan or behaviour) opens an urgent
    review for its configured role, due now with its deadline, or re-opens the patient's
    standing one (a snoozed review wakes up): a new answer is never absorbed unseen.
    The appointment's open follow-up for this instrument (the before-session PHQ-9) is done.
    """
    now = now or utcnow()
    require(actor, "enter_measure", db, now=now)
    spec = instrument(instrument_code)
    errors = _check_answers(spec, answers)
    taken = taken_at or now
    if taken.tzinfo is None:
        errors["taken_at"] = "the time taken needs a time zone"
    elif taken > now:
        errors["taken_at"] = "the questionnaire cannot be taken in the future"
    if errors:
        raise InvalidFields(errors)
    scored = score(spec, answers)
    with db.write() as session:
        patient = session.get(Patient, patient_id)
        if patient is None:
            raise NotFound(f"patient #{patient_id} does not exist")
        if appointment_id is not None:
            appointment = session.get(Appointment, appointment_id)
            if appointment is None or appointment.patient_id != patient_id:
                whose = f"appointment #{appointment_id} is not {patient.display_name}'s"
                raise InvalidFields({"appointment": whose})
        measurement = Measurement(
            patient_id=patient_id,
            appointment_id=appointment_id,
            instrument=spec.code,
            score=scored.total,
            items=list(scored.items),
            taken_at=taken,
            entered_by_id=actor.user_id,
        )
        session.add(measurement)
        session.flush()
        audit.record(
            session,
            actor,
            "enter_measure",
            "measurement",
            measurement.id,
            patient_id=patient_id,
            after={
                "instrument": spec.code,
                "score": scored.total,
                "band": scored.band,
                "items": list(scored.items),
                "appointment_id": appointment_id,
                "taken_at": taken.isoformat(),
            },
            detail=f"{spec.name} {scored.total} ({scored.band})",
            now=now,
        )
        urgent_id: int | None = None
        if scored.urgent:
            # One review per answer sheet, however many urgent items: its note names them all.
            urgent_id = urgent_reviews.open_or_reopen(
                session,
                actor,
                load_catalog(session),
                patient_id,
                appointment_id,
                scored.urgent[0].assignee_role,
                "; ".join(flag.message for flag in scored.urgent),
                now=now,
            )
        closed = _close_measure_follow_ups(
            session, actor, patient_id, appointment_id, spec, scored.total, scored.band, now
        )
        changes.bump(session, now)
        return SavedMeasure(
            measurement_id=measurement.id,
            instrument=spec.code,
            total=scored.total,
            band=scored.band,
            urgent=tuple(f.message for f in scored.urgent),
            urgent_follow_up_id=urgent_id,
            closed_follow_up_ids=closed,
        )


def _close_measure_follow_ups(
    session: Session,
    actor: Actor,
    patient_id: int,
    appointment_id: int | None,
    spec: InstrumentSpec,
    total: int,
    band: str,
    now: dt.datetime,
) -> tuple[int, ...]:
    if appointment_id is None:
        return ()
    pending = session.scalars(
        select(FollowUp).where(
            FollowUp.appointment_id == appointment_id,
            FollowUp.patient_id == patient_id,
            FollowUp.kind == spec.code,
            FollowUp.status.in_(_PENDING),
        )
    ).all()
    for follow_up in pending:
        before = {"status": follow_up.status, "outcome": follow_up.outcome}
        follow_up.status = "done"
        follow_up.completed_at = now
        follow_up.completed_by_id = actor.user_id
        follow_up.outcome = f"{spec.name} entered: {total} ({band})"
        audit.record(
            session,
            actor,
            "complete_follow_up",
            "follow_up",
            follow_up.id,
            patient_id=patient_id,
            before=before,
            after={"status": "done", "outcome": follow_up.outcome},
            now=now,
        )
    return tuple(f.id for f in pending)


@dataclass(frozen=True, slots=True)
class MeasureSubject:
    """Whose scores a questionnaire takes, and for what: its form names them on its title and
    header, so whoever enters the answers sees whose they are (a clinical-day trial's PHQ-9
    form named nobody)."""

    patient_id: int
    patient_name: str  # "Lovelace, Ada"
    chart_number: str
    date_of_birth: dt.date | None
    #: The session the answers belong to ("Spravato (esketamine), Tue Dec 8 10:00 AM"), or,
    #: for answers taken outside a session, the day they are taken ("Mon Dec 7").
    session: str
    for_session: bool


def measure_subject(
    db: Database,
    patient_id: int,
    appointment_id: int | None = None,
    *,
    now: dt.datetime | None = None,
) -> MeasureSubject:
    """The patient (name, chart, date of birth) and the session a questionnaire is for.
    Refused (``NotFound``) when either does not exist, or the session is another patient's."""
    moment = now or utcnow()
    with db.read() as session:
        patient = session.get(Patient, patient_id)
        if patient is None:
            raise NotFound(f"patient #{patient_id} does not exist")
        settings = load_catalog(session).settings
        calendar = ClinicCalendar(settings)
        words = short_date(calendar.local_date(moment))
        if appointment_id is not None:
            row = session.execute(
                select(Appointment.patient_id, Appointment.starts_at, SessionType.name)
                .join(SessionType, SessionType.id == Appointment.session_type_id)
                .where(Appointment.id == appointment_id)
            ).one_or_none()
            if row is None or row.patient_id != patient_id:
                raise NotFound(f"{patient.display_name} has no such session")
            when = short_date_time(calendar.local(row.starts_at), settings.time_format)
            words = f"{row.name}, {when}"
        return MeasureSubject(
            patient_id=patient.id,
            patient_name=patient.display_name,
            chart_number=patient.chart_number,
            date_of_birth=patient.date_of_birth,
            session=words,
            for_session=appointment_id is not None,
        )


def measure_trend(
    db: Database,
    actor: Actor,
    patient_id: int,
    instrument_code: str,
    *,
    record_view: bool = True,
    now: dt.datetime | None = None,
) -> MeasureTrend:
    """A patient's scores on one instrument over time, with baseline and response lines.

    Clinical data: refused to a role that may not "read clinical"; the reading is recorded in
    the audit trail, unless the caller already recorded the opening it is part of
    (``record_view=False``: the patient record's own "view" event covers its measures).
    """
    require(actor, "read_clinical", db, now=now)
    spec = instrument(instrument_code)
    with db.read() as session:
        if session.get(Patient, patient_id) is None:
            raise NotFound(f"patient #{patient_id} does not exist")
        calendar = ClinicCalendar(load_catalog(session).settings)
        rows = session.execute(
            select(Measurement.taken_at, Measurement.score, Measurement.items)
            .where(Measurement.patient_id == patient_id, Measurement.instrument == spec.code)
            .order_by(Measurement.taken_at, Measurement.id)
        ).all()
    points = tuple(
        TrendPoint(
            taken_at=taken_at,
            day=calendar.local_date(taken_at),
            total=total,
            band=spec.band_for(total).label,
            urgent=_urgent(spec, items),
        )
        for taken_at, total, items in rows
    )
    if record_view:
        audit.record_view(db, actor, f"{spec.name} trend", patient_id, now=now)
    return MeasureTrend(
        patient_id=patient_id,
        instrument=spec.code,
        name=spec.name,
        title=spec.title,
        total_min=spec.total_min,
        total_max=spec.total_max,
        bands=spec.bands,
        response_drop_percent=spec.response_drop_percent,
        points=points,
        trend=trend(spec, [(p.day, p.total) for p in points]) if points else None,
    )


def _urgent(spec: InstrumentSpec, items: object) -> bool:
    if not isinstance(items, list) or len(items) != spec.item_count:
        return False
    return any(
        isinstance(items[rule.item - 1], int) and items[rule.item - 1] > rule.above
        for rule in spec.urgent
    )
