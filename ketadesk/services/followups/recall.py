"""Patients the clinic should call back: an induction over with nothing booked after it
(recall), a missed series session with nothing booked since (dropout), and a series at risk.

The first two look back ``recall_lookback_days`` (clinic.toml [followups]); the booster window
is the protocol's ``on_complete`` days; one row per patient.  A series is at risk while a
session of it missed as ``[dropout]`` counts (scheduling/dropout.py) has its outreach call
standing (``sync.py`` opens it and closes it when the miss is answered); one row per series,
with what was missed and the miss whose make-up to offer.  Read-only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.dates import short_date
from ketadesk.scheduling.dropout import MISS_NAMES, OUTREACH_CALL, miss_of
from ketadesk.scheduling.followup_rules import countdown_text, stage_finished, stage_ranges
from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.services.common.context import utcnow
from ketadesk.store.clinic_config import load_config
from ketadesk.store.database import Database
from ketadesk.store.models import Appointment, FollowUp, Patient, Protocol, Series, SessionType

#: An outreach call in one of these still stands (sync.LIVE_STATUSES, without importing the
#: writer into a read).
_STANDING = ("open", "snoozed")

_MISSED_WORDS = {"no_show": "no-show", "cancelled": "cancelled"}


@dataclass(frozen=True)
class RecallRow:
    """A patient to call: who, how to reach them, why, and since when."""

    patient_id: int
    patient_name: str
    chart_number: str
    phone: str
    why: str
    since: dt.date


def _fmt(day: dt.date) -> str:
    return short_date(day)


def _latest_live_start(session: Session, patient_ids: Collection[int]) -> dict[int, dt.datetime]:
    """Each patient's latest appointment that was not cancelled or missed."""
    if not patient_ids:
        return {}
    return dict(
        session.execute(
            select(Appointment.patient_id, func.max(Appointment.starts_at))
            .where(
                Appointment.patient_id.in_(sorted(patient_ids)),
                Appointment.status.not_in(sorted(RELEASED_STATUSES)),
            )
            .group_by(Appointment.patient_id)
        ).all()
    )


def _patients(session: Session, ids: Collection[int]) -> dict[int, tuple[str, str, str]]:
    rows = session.execute(
        select(
            Patient.id, Patient.last_name, Patient.first_name, Patient.chart_number, Patient.phone
        ).where(Patient.id.in_(sorted(ids)), Patient.active.is_(True))
    ).all()
    return {pid: (f"{last}, {first}", chart, phone) for pid, last, first, chart, phone in rows}


def _rows(session: Session, found: dict[int, tuple[str, dt.date]]) -> list[RecallRow]:
    people = _patients(session, found)
    rows = [
        RecallRow(pid, *people[pid], why, since)
        for pid, (why, since) in found.items()
        if pid in people
    ]
    return sorted(rows, key=lambda r: (r.since, r.patient_name))


def recall_list(db: Database, *, now: dt.datetime | None = None) -> list[RecallRow]:
    """Patients whose induction (a protocol stage with an ``on_complete`` follow-up) ended,
    whose booster window has opened, who have nothing booked after it, and whose booster
    review has not been settled; oldest first."""
    now = now or utcnow()
    with db.read() as session:
        config = load_config(session)
        catalog = config.catalog
        calendar = ClinicCalendar(catalog.settings)
        today = calendar.local_date(now)
        settings = catalog.settings.followups
        since = now - dt.timedelta(days=settings.recall_lookback_days)
        codes = [
            code
            for code, spec in catalog.protocols.items()
            if any(s.on_complete is not None for s in spec.stages)
        ]
        if not codes:
            return []
        rows = session.execute(
            select(
                Appointment.id,
                Appointment.patient_id,
                Appointment.series_id,
                Appointment.series_index,
                Appointment.status,
                Appointment.ends_at,
                Protocol.code,
                Series.planned_count,
            )
            .join(Series, Series.id == Appointment.series_id)
            .join(Protocol, Protocol.id == Series.protocol_id)
            .where(
                Protocol.code.in_(codes),
                Series.status != "cancelled",
                # A stage that ended in the look-back period may have begun before it.
                Appointment.starts_at >= since - (now - since),
                Appointment.status.not_in(sorted(RELEASED_STATUSES)),
            )
        ).all()
        by_series: dict[int, list[tuple[int, int, int, str, dt.datetime, str, int]]] = {}
        for appt_id, pid, sid, index, status, ends, code, count in rows:
            by_series.setdefault(sid or 0, []).append(
                (appt_id, pid, index or 0, status, ends, code, count)
            )
        ended: dict[int, tuple[int, str, dt.datetime, str, dt.date, dt.date]] = {}
        for members in by_series.values():
            spec = catalog.protocols[members[0][5]]
            for stage, lo, hi in stage_ranges(spec):
                if stage.on_complete is None:
                    continue
                in_stage = [m for m in members if lo <= m[2] <= hi]
                if not in_stage or not stage_finished(
                    lo, hi, members[0][6], ((m[2], m[3]) for m in in_stage)
                ):
                    continue
                last = max(in_stage, key=lambda m: m[4])
                if last[4] < since:
                    continue
                last_day = calendar.local_date(last[4])
                opens = last_day + dt.timedelta(days=stage.on_complete.min_days)
                closes = last_day + dt.timedelta(days=stage.on_complete.max_days)
                if today < opens:
                    continue
                pid = last[1]
                if pid not in ended or ended[pid][2] < last[4]:
                    ended[pid] = (
                        last[0],
                        stage.on_complete.followup,
                        last[4],
                        spec.name,
                        opens,
                        closes,
                    )
        later = _latest_live_start(session, ended)
        settled: set[tuple[int | None, str]] = {
            (appt_id, kind)
            for appt_id, kind in session.execute(
                select(FollowUp.appointment_id, FollowUp.kind).where(
                    FollowUp.appointment_id.in_(sorted(v[0] for v in ended.values())),
                    FollowUp.status == "done",
                )
            )
        }
        found: dict[int, tuple[str, dt.date]] = {}
        for pid, (appt_id, kind, last_end, name, opens, closes) in ended.items():
            if later.get(pid, last_end) > last_end or (appt_id, kind) in settled:
                continue
            window = f"booster window {_fmt(opens)} – {_fmt(closes)}"
            if today > closes:
                window += " has passed"
            last_day = calendar.local_date(last_end)
            found[pid] = (f"{name} ended {_fmt(last_day)}; {window}; nothing booked", last_day)
        return _rows(session, found)


def dropout_list(db: Database, *, now: dt.datetime | None = None) -> list[RecallRow]:
    """Patients who missed (no-show or cancelled) a session of a series in the look-back
    period and have nothing booked since (their latest miss); oldest miss first."""
    now = now or utcnow()
    with db.read() as session:
        catalog = load_config(session).catalog
        calendar = ClinicCalendar(catalog.settings)
        since = now - dt.timedelta(days=catalog.settings.followups.recall_lookback_days)
        rows = session.execute(
            select(
                Appointment.patient_id,
                Appointment.starts_at,
                Appointment.status,
                Appointment.series_index,
                Series.planned_count,
                SessionType.name,
            )
            .join(Series, Series.id == Appointment.series_id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .where(
                Appointment.status.in_(sorted(RELEASED_STATUSES)),
                # A series a prescriber ended was stopped, not dropped (series_end.py).
                Series.status != "ended",
                Appointment.starts_at >= since,
                Appointment.starts_at <= now,
            )
            .order_by(Appointment.starts_at)
        ).all()
        # The latest miss of each patient (rows come oldest first).
        missed: dict[int, tuple[dt.datetime, str, int | None, int, str]] = {}
        for pid, starts, status, index, count, type_name in rows:
            missed[pid] = (starts, status, index, count, type_name)
        later = _latest_live_start(session, missed)
        found: dict[int, tuple[str, dt.date]] = {}
        for pid, (starts, status, index, count, type_name) in missed.items():
            if later.get(pid, starts) > starts:
                continue
            day = calendar.local_date(starts)
            place = f" {index}/{count}" if index else ""
            why = (
                f"Missed {type_name}{place} ({_MISSED_WORDS.get(status, status)}) "
                f"{_fmt(day)}; nothing booked since"
            )
            found[pid] = (why, day)
        return _rows(session, found)


@dataclass(frozen=True)
class AtRiskRow:
    """A series at risk: whose, which, what was missed, and the outreach call standing.

    ``make_up_for`` is the earliest unanswered miss, whose make-up the desk is offered
    (services/rebooking/makeup.offer_for); ``missed`` says each miss in words ("2/6 no-show
    Wed Dec 2"); ``outreach`` the call's countdown ("due today by 17:00", "overdue by 1 day").
    """

    series_id: int
    patient_id: int
    patient_name: str
    chart_number: str
    phone: str
    protocol_name: str
    missed: tuple[str, ...]
    make_up_for: int
    outreach_follow_up_id: int
    outreach: str
    deadline: dt.datetime
    overdue: bool
    since: dt.date

    @property
    def missed_text(self) -> str:
        return "; ".join(self.missed)


def at_risk_list(
    db: Database, *, now: dt.datetime | None = None, patient_id: int | None = None
) -> list[AtRiskRow]:
    """Series at risk: a counted miss with its outreach call standing; the most pressing call
    first (its deadline, then the patient).  ``patient_id``: that patient's only (the patient
    record)."""
    now = now or utcnow()
    with db.read() as session:
        catalog = load_config(session).catalog
        calendar = ClinicCalendar(catalog.settings)
        whose = () if patient_id is None else (Appointment.patient_id == patient_id,)
        rows = session.execute(
            select(
                FollowUp.id.label("follow_up_id"),
                FollowUp.due_at,
                FollowUp.deadline_at,
                Appointment.id.label("appointment_id"),
                Appointment.series_id,
                Appointment.series_index,
                Appointment.status,
                Appointment.late_cancel,
                Appointment.starts_at,
                Series.planned_count,
                Protocol.name.label("protocol_name"),
                SessionType.name.label("type_name"),
                Patient.id.label("patient_id"),
                Patient.last_name,
                Patient.first_name,
                Patient.chart_number,
                Patient.phone,
            )
            .join(Appointment, Appointment.id == FollowUp.appointment_id)
            .join(Series, Series.id == Appointment.series_id)
            .join(Protocol, Protocol.id == Series.protocol_id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(
                FollowUp.kind == OUTREACH_CALL,
                FollowUp.status.in_(_STANDING),
                Series.status != "ended",
                Patient.active.is_(True),
                *whose,
            )
            .order_by(Appointment.starts_at, Appointment.id)
        ).all()
        by_series: dict[int, list[Any]] = {}
        for row in rows:
            by_series.setdefault(row.series_id, []).append(row)
        found: list[AtRiskRow] = []
        for sid, misses in by_series.items():
            # The earliest miss is the oldest news: its call's countdown, its make-up first.
            first = misses[0]
            words = []
            for m in misses:
                miss = MISS_NAMES.get(miss_of(m.status, m.late_cancel), m.status)
                place = f" {m.series_index}/{m.planned_count}" if m.series_index else ""
                day = _fmt(calendar.local_date(m.starts_at))
                words.append(f"{m.type_name}{place}: {miss} {day}")
            found.append(
                AtRiskRow(
                    series_id=sid,
                    patient_id=first.patient_id,
                    patient_name=f"{first.last_name}, {first.first_name}",
                    chart_number=first.chart_number,
                    phone=first.phone or "",
                    protocol_name=first.protocol_name,
                    missed=tuple(words),
                    make_up_for=first.appointment_id,
                    outreach_follow_up_id=first.follow_up_id,
                    outreach=countdown_text(now, first.due_at, first.deadline_at, calendar),
                    deadline=first.deadline_at or first.due_at,
                    overdue=first.deadline_at is not None and first.deadline_at <= now,
                    since=calendar.local_date(first.starts_at),
                )
            )
        return sorted(found, key=lambda r: (r.deadline, r.patient_name))
