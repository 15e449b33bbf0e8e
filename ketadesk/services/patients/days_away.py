"""A patient's days away, kept on their record: listed (upcoming first, the past as history),
added, edited and removed by whoever may edit a patient's details (the front desk too), each
change audited with the range before and after.

Saving a range that covers sessions already booked says which ("2 sessions fall in this time:
Tue Dec 15 10:00, Thu Dec 17 10:00") so the desk can move them; nothing is moved here.  The
rule itself is pure (``scheduling/days_away.py``); planning, booking and moves read the ranges
through ``store/days_away.py``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.dates import short_date_time
from ketadesk.scheduling.days_away import AwayRange, range_problem, upcoming_first
from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import Actor, InvalidRequest, NotFound, utcnow
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.days_away import patient_away_ranges
from ketadesk.store.models import Appointment, Patient, PatientAway, SessionType

#: Who may keep a patient's days away: whoever may edit the patient's details.
PERMISSION = "edit_patient_contact"


@dataclass(frozen=True, slots=True)
class SessionInRange:
    """A booked session that falls in a range away: which, and when (in the clinic's words)."""

    appointment_id: int
    start: dt.datetime
    when: str  # "Tue Dec 15 10:00", clinic time
    session_type_name: str
    version: int = 0  # the appointment's version (``ketadesk move --if-version``)


@dataclass(frozen=True, slots=True)
class AwaySaved:
    """A range saved, and the patient's booked sessions that fall in it (not moved)."""

    away: AwayRange
    sessions: tuple[SessionInRange, ...] = ()

    @property
    def summary(self) -> str:
        """ "2 sessions fall in this time: Tue Dec 15 10:00, Thu Dec 17 10:00"; "" for none."""
        return sessions_summary(self.sessions)


def sessions_summary(sessions: tuple[SessionInRange, ...]) -> str:
    if not sessions:
        return ""
    n = len(sessions)
    noun = "session falls" if n == 1 else "sessions fall"
    return f"{n} {noun} in this time: " + ", ".join(s.when for s in sessions)


@dataclass(frozen=True, slots=True)
class DaysAway:
    """A patient's days away as the record lists them.

    Attributes:
        patient_id: whose.
        today: the clinic's today they were read on.
        ranges: upcoming first (soonest first), then the past ones, latest first.
    """

    patient_id: int
    today: dt.date
    ranges: tuple[AwayRange, ...]

    @property
    def upcoming(self) -> tuple[AwayRange, ...]:
        return tuple(r for r in self.ranges if r.last >= self.today)

    @property
    def past(self) -> tuple[AwayRange, ...]:
        return tuple(r for r in self.ranges if r.last < self.today)


def _calendar(session: Session) -> ClinicCalendar:
    return ClinicCalendar(load_catalog(session).settings)


def list_days_away(db: Database, patient_id: int, *, now: dt.datetime | None = None) -> DaysAway:
    """The patient's days away, upcoming first (NotFound: no such patient)."""
    now = now or utcnow()
    with db.read() as session:
        if session.get(Patient, patient_id) is None:
            raise NotFound(f"no patient #{patient_id}")
        today = _calendar(session).local_date(now)
        ranges = patient_away_ranges(session, patient_id)
    return DaysAway(patient_id, today, tuple(upcoming_first(ranges, today)))


def sessions_in(
    session: Session,
    patient_id: int,
    first: dt.date,
    last: dt.date,
    calendar: ClinicCalendar,
    now: dt.datetime,
) -> tuple[SessionInRange, ...]:
    """The patient's live sessions still to come between ``first`` and ``last`` (local days,
    inclusive), in time order."""
    start = max(calendar.at_local(first, 0), now)
    end = calendar.at_local(last + dt.timedelta(days=1), 0)
    rows = session.execute(
        select(Appointment.id, Appointment.starts_at, SessionType.name, Appointment.version)
        .join(SessionType, SessionType.id == Appointment.session_type_id)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.status.not_in(tuple(RELEASED_STATUSES)),
            Appointment.status != "completed",
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
        )
        .order_by(Appointment.starts_at, Appointment.id)
    ).all()
    return tuple(
        SessionInRange(
            id_,
            starts,
            short_date_time(calendar.local(starts), calendar.settings.time_format),
            name,
            version,
        )
        for id_, starts, name, version in rows
    )


def _checked(first: dt.date, last: dt.date, reason: str) -> str:
    problem = range_problem(first, last, reason)
    if problem:
        raise InvalidRequest(problem)
    return reason.strip()


def _as_dict(r: AwayRange) -> dict[str, str]:
    return {"first_day": r.first.isoformat(), "last_day": r.last.isoformat(), "reason": r.reason}


def _range(row: PatientAway) -> AwayRange:
    return AwayRange(row.first_day, row.last_day, row.reason, row.id)


def add_day_away(
    db: Database,
    actor: Actor,
    patient_id: int,
    first: dt.date,
    last: dt.date,
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> AwaySaved:
    """Record that the patient is away ``first`` to ``last`` (inclusive) for ``reason``;
    returns it with the booked sessions that fall in it.  InvalidRequest: last before first, a
    reason too long; NotFound; PermissionDenied."""
    now = now or utcnow()
    require(actor, PERMISSION, db, now=now)
    reason = _checked(first, last, reason)
    with db.write() as session:
        if session.get(Patient, patient_id) is None:
            raise NotFound(f"no patient #{patient_id}")
        row = PatientAway(
            patient_id=patient_id,
            first_day=first,
            last_day=last,
            reason=reason,
            created_at=now,
            created_by_id=actor.user_id,
        )
        session.add(row)
        session.flush()
        saved = _range(row)
        audit.record(
            session,
            actor,
            "edit_patient",
            "patient_away",
            row.id,
            patient_id=patient_id,
            after=_as_dict(saved),
            detail=f"days away added: {saved.words}",
            now=now,
        )
        changes.bump(session, now)
        found = sessions_in(session, patient_id, first, last, _calendar(session), now)
    return AwaySaved(saved, found)


def edit_day_away(
    db: Database,
    actor: Actor,
    away_id: int,
    first: dt.date,
    last: dt.date,
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> AwaySaved:
    """Change a range's days or reason; returns it with the booked sessions that fall in it."""
    now = now or utcnow()
    require(actor, PERMISSION, db, now=now)
    reason = _checked(first, last, reason)
    with db.write() as session:
        row = session.get(PatientAway, away_id)
        if row is None:
            raise NotFound(f"no days away #{away_id} (removed at another workstation?)")
        before = _range(row)
        row.first_day, row.last_day, row.reason = first, last, reason
        saved = _range(row)
        if saved != before:
            audit.record(
                session,
                actor,
                "edit_patient",
                "patient_away",
                row.id,
                patient_id=row.patient_id,
                before=_as_dict(before),
                after=_as_dict(saved),
                detail=f"days away changed: {before.words} -> {saved.words}",
                now=now,
            )
            changes.bump(session, now)
        found = sessions_in(session, row.patient_id, first, last, _calendar(session), now)
    return AwaySaved(saved, found)


def remove_day_away(
    db: Database, actor: Actor, away_id: int, *, now: dt.datetime | None = None
) -> AwayRange:
    """Delete a range from the record (the audit trail keeps what it was)."""
    now = now or utcnow()
    require(actor, PERMISSION, db, now=now)
    with db.write() as session:
        row = session.get(PatientAway, away_id)
        if row is None:
            raise NotFound(f"no days away #{away_id} (removed at another workstation?)")
        gone = _range(row)
        patient_id = row.patient_id
        session.delete(row)
        audit.record(
            session,
            actor,
            "edit_patient",
            "patient_away",
            away_id,
            patient_id=patient_id,
            before=_as_dict(gone),
            detail=f"days away removed: {gone.words}",
            now=now,
        )
        changes.bump(session, now)
    return gone


def booked_in_range(
    db: Database, patient_id: int, first: dt.date, last: dt.date, *, now: dt.datetime | None = None
) -> tuple[SessionInRange, ...]:
    """The patient's booked sessions to come that fall between ``first`` and ``last``."""
    now = now or utcnow()
    with db.read() as session:
        return sessions_in(session, patient_id, first, last, _calendar(session), now)
