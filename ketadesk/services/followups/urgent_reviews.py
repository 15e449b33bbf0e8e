"""Urgent (suicidality) reviews: opened or re-opened by every urgent answer, read where the
prescriber looks (chair board, My day, the day's session), and holding back dosing.

Runs in the caller's transaction; the rules (deadline, dosing policy, who closes) are pure in
:mod:`ketadesk.scheduling.safety_followups`, configured in clinic.toml ``[urgent_review]``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.dates import clock
from ketadesk.scheduling.safety_followups import (
    URGENT_REVIEW,
    UrgentReviewSettings,
    dosing_hold,
    parse_urgent_review_settings,
    reopened_deadline,
    urgent_review_deadline,
)
from ketadesk.services.access import audit
from ketadesk.services.common.context import Actor, InvalidRequest
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import Appointment, FollowUp, Patient

# A review in one of these still stands.
STANDING = ("open", "snoozed")


@dataclass(frozen=True)
class StandingReview:
    """The urgent review a patient has standing: why, and by when."""

    follow_up_id: int
    patient_id: int
    reason: str
    deadline: dt.datetime | None
    status: str  # open | snoozed
    overdue: bool

    @property
    def text(self) -> str:
        return f"Urgent review: {self.reason}" if self.reason else "Urgent review"


def urgent_review_settings(catalog: Catalog) -> UrgentReviewSettings:
    return parse_urgent_review_settings(catalog.settings.extra.get("urgent_review"))


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def open_or_reopen(
    session: Session,
    actor: Actor,
    catalog: Catalog,
    patient_id: int,
    appointment_id: int | None,
    role: str,
    message: str,
    *,
    now: dt.datetime,
) -> int:
    """The urgent review for a new urgent answer: the patient's standing review re-opened (a
    snooze ends, it is due now, its deadline the earlier of its own and the new answer's), or
    a new one.  A closed review is history: a new answer is new information and opens a new
    review.  Audited; returns the review's id."""
    settings = urgent_review_settings(catalog)
    standing = session.scalars(
        select(FollowUp)
        .where(
            FollowUp.patient_id == patient_id,
            FollowUp.kind == URGENT_REVIEW,
            FollowUp.status.in_(STANDING),
        )
        .order_by(FollowUp.id)
    ).first()
    if standing is not None:
        before = _state(standing)
        standing.status = "open"
        standing.snoozed_until = None
        standing.due_at = now
        standing.deadline_at = reopened_deadline(_aware(standing.deadline_at), now, settings)
        standing.priority = "urgent"
        standing.outcome = message
        if appointment_id is not None:
            standing.appointment_id = appointment_id
        session.flush()
        audit.record(
            session,
            actor,
            "reopen_follow_up",
            "follow_up",
            standing.id,
            patient_id=patient_id,
            before=before,
            after=_state(standing),
            detail=f"new urgent answer: {message}",
            now=now,
        )
        return standing.id
    row = FollowUp(
        patient_id=patient_id,
        appointment_id=appointment_id,
        kind=URGENT_REVIEW,
        due_at=now,
        deadline_at=urgent_review_deadline(now, settings),
        assignee_role=role,
        priority="urgent",
        status="open",
        outcome=message,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "create_follow_up",
        "follow_up",
        row.id,
        patient_id=patient_id,
        after=_state(row),
        detail=message,
        now=now,
    )
    return row.id


def _state(row: FollowUp) -> dict[str, object]:
    return {
        "status": row.status,
        "priority": row.priority,
        "due_at": row.due_at.isoformat() if row.due_at else None,
        "deadline_at": row.deadline_at.isoformat() if row.deadline_at else None,
        "snoozed_until": row.snoozed_until.isoformat() if row.snoozed_until else None,
        "note": row.outcome,
        "appointment_id": row.appointment_id,
    }


def standing_reviews(
    session: Session, patient_ids: Iterable[int], *, now: dt.datetime
) -> dict[int, StandingReview]:
    """Each patient's standing urgent review (the one with the nearest deadline)."""
    ids = sorted(set(patient_ids))
    if not ids:
        return {}
    found: dict[int, StandingReview] = {}
    rows = session.execute(
        select(
            FollowUp.id,
            FollowUp.patient_id,
            FollowUp.outcome,
            FollowUp.deadline_at,
            FollowUp.status,
        )
        .where(
            FollowUp.patient_id.in_(ids),
            FollowUp.kind == URGENT_REVIEW,
            FollowUp.status.in_(STANDING),
        )
        .order_by(FollowUp.id)
    ).all()
    for fid, patient_id, reason, deadline, status in rows:
        deadline = _aware(deadline)
        review = StandingReview(
            fid,
            patient_id,
            reason or "",
            deadline,
            status,
            overdue=deadline is not None and deadline <= now,
        )
        held = found.get(patient_id)
        if held is None or (
            review.deadline is not None
            and (held.deadline is None or review.deadline < held.deadline)
        ):
            found[patient_id] = review
    return found


def dosing_check(
    session: Session, catalog: Catalog, patient_id: int, *, now: dt.datetime, doing: str
) -> str:
    """Refuse dosing (``doing``: "start this session", "record a dose") while an urgent review
    stands and the clinic blocks; return the warning when it warns; "" when nothing stands."""
    review = standing_reviews(session, [patient_id], now=now).get(patient_id)
    hold = dosing_hold(urgent_review_settings(catalog), 1 if review is not None else 0)
    if not hold or review is None:
        return ""
    words = f"{review.text} (#{review.follow_up_id}) has not been closed by a prescriber"
    if hold == "block":
        raise InvalidRequest(f"cannot {doing}: {words}")
    return f"{words}: dose only after the prescriber has reviewed"


@dataclass(frozen=True)
class ReviewLine:
    """A standing urgent review as a prescriber's list shows it."""

    follow_up_id: int
    patient_id: int
    patient_name: str
    reason: str
    deadline: dt.datetime | None  # local
    overdue: bool
    status: str
    #: How the clinic reads a time of day ([clinic] time_format).
    time_format: str = "12h"

    @property
    def text(self) -> str:
        by = ""
        if self.deadline is not None:
            when = "overdue since" if self.overdue else "by"
            d = self.deadline
            by = f" — {when} {d:%a} {d.month}/{d.day} {clock(d, self.time_format)}"
        return f"{self.patient_name}: {self.reason or 'urgent review'}{by}"


def standing_review_list(db: Database, *, now: dt.datetime) -> tuple[ReviewLine, ...]:
    """Every standing urgent review, nearest deadline first (a prescriber's My day)."""
    with db.read() as session:
        zone = ClinicCalendar(load_catalog(session).settings)
        rows = session.execute(
            select(
                FollowUp.id,
                FollowUp.patient_id,
                Patient.last_name,
                Patient.first_name,
                FollowUp.outcome,
                FollowUp.deadline_at,
                FollowUp.status,
            )
            .join(Patient, Patient.id == FollowUp.patient_id)
            .where(FollowUp.kind == URGENT_REVIEW, FollowUp.status.in_(STANDING))
        ).all()
    lines = []
    for fid, pid, last, first, reason, deadline, status in rows:
        deadline = _aware(deadline)
        lines.append(
            ReviewLine(
                fid,
                pid,
                f"{last}, {first}",
                reason or "",
                zone.local(deadline) if deadline is not None else None,
                deadline is not None and deadline <= now,
                status,
                zone.settings.time_format,
            )
        )
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return tuple(sorted(lines, key=lambda r: (r.deadline or far, r.follow_up_id)))


def reviews_by_appointment(
    db: Database, appointment_ids: Iterable[int], *, now: dt.datetime
) -> dict[int, StandingReview]:
    """The standing urgent review of each appointment's patient (appointments without one are
    left out): a session's page, a day's blocks."""
    ids = sorted(set(appointment_ids))
    if not ids:
        return {}
    with db.read() as session:
        patients = dict(
            session.execute(
                select(Appointment.id, Appointment.patient_id).where(Appointment.id.in_(ids))
            ).all()
        )
        reviews = standing_reviews(session, patients.values(), now=now)
    return {aid: reviews[pid] for aid, pid in patients.items() if pid in reviews}
