"""``ketadesk check``'s warnings about sessions booked on a patient's days away: one per session
still to come that falls in a range on the patient's record (most often a range entered after
the session was booked: the record then listed it, "1 session falls in this time: ..."), naming
the patient, the session, its day and time, and the range with its reason (and the appointment's
number and version, for ``ketadesk move --if-version``).  Warnings, not
problems: nothing is corrupt, but the desk must call the patient.  A session booked or moved
onto the day with an override on record (``patient_away``, a reason given then) was decided
already and is not listed again."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.dates import short_date_time
from ketadesk.scheduling.days_away import AwayRange, away_flagged
from ketadesk.scheduling.protocol_rules import PATIENT_AWAY, rule_title
from ketadesk.scheduling.statuses import REPLANNED_STATUSES
from ketadesk.services.clinic.integrity_report import Problem
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.days_away import kept_on_days_away
from ketadesk.store.models import (
    Appointment,
    Patient,
    PatientAway,
    Series,
    SessionType,
)

AWAY_CODE = PATIENT_AWAY
TITLE = rule_title(PATIENT_AWAY)  # "Patient away", as every refusal of the rule says it


def away_warnings(session: Session, now: dt.datetime) -> tuple[Problem, ...]:
    """One warning per session not started by ``now`` (booked, checked in or pencilled in)
    that falls on one of its patient's days away, in time order."""
    ranges: dict[int, list[AwayRange]] = defaultdict(list)
    for key, patient_id, first, last, reason in session.execute(
        select(
            PatientAway.id,
            PatientAway.patient_id,
            PatientAway.first_day,
            PatientAway.last_day,
            PatientAway.reason,
        ).order_by(PatientAway.first_day, PatientAway.id)
    ):
        ranges[patient_id].append(AwayRange(first, last, reason, key))
    if not ranges:
        return ()
    settings = load_catalog(session).settings
    calendar = ClinicCalendar(settings)
    # Only as far back as the earliest range can reach: a clinic's history is long.
    since = max(now, calendar.at_local(min(r.first for rs in ranges.values() for r in rs), 0))
    rows = session.execute(
        select(
            Appointment.id,
            Appointment.patient_id,
            Appointment.starts_at,
            Appointment.version,
            Appointment.series_index,
            Series.planned_count,
            SessionType.name,
            Patient.last_name,
            Patient.first_name,
        )
        .join(SessionType, SessionType.id == Appointment.session_type_id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .outerjoin(Series, Series.id == Appointment.series_id)
        .where(
            Appointment.patient_id.in_(sorted(ranges)),
            Appointment.status.in_(sorted(REPLANNED_STATUSES)),
            Appointment.starts_at >= since,
        )
        .order_by(Appointment.starts_at, Appointment.id)
    ).all()
    decided = kept_on_days_away(session, (row[0] for row in rows))
    out: list[Problem] = []
    for id_, patient_id, starts, version, index, count, type_name, last_name, first_name in rows:
        local = calendar.local(starts)
        found = away_flagged(ranges[patient_id], local.date(), kept_by_override=id_ in decided)
        if found is None:
            continue
        what = type_name if index is None else f"{type_name} {index}/{count or '?'}"
        # The day and time as the record said them when the range was saved
        # (``patients/days_away.sessions_in``); the range's words carry the year.
        when = short_date_time(local, settings.time_format)
        out.append(
            Problem(
                code=AWAY_CODE,
                message=f"warning: {last_name}, {first_name}: {TITLE} [{PATIENT_AWAY}]: "
                f"{what} {when} falls while the patient is away {found.words}; "
                f"call the patient to move it (appointment #{id_}, version {version})",
                appointment_ids=(id_,),
                at=starts,
            )
        )
    return tuple(out)
