"""Working the follow-up queue: recording a call attempt, completing, snoozing, and opening the
follow-up an adverse event is owed.

Each action checks the role twice: ``work_follow_up``, and for clinical kinds the clinical roles
of clinic.toml ``[followups]``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.catalog import FollowUpSettings
from ketadesk.scheduling.followup_rules import (
    CLOSED_WHEN_REACHED,
    MEASURE_KINDS,
    NOT_TAKEN,
    adverse_event_follow_up,
    kind_label,
    measure_close_problem,
    reattempt_at,
    stage_review_close_problem,
)
from ketadesk.scheduling.safety_followups import (
    REMS_FORM,
    RemsFormSettings,
    UrgentReviewSettings,
    close_problem,
    close_role_problem,
    parse_rems_form_settings,
    snooze_problem,
    submit_problem,
)
from ketadesk.scheduling.words import role_name
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import (
    Actor,
    InvalidFields,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    may,
    utcnow,
    who_may,
)
from ketadesk.services.confirmations.schedule_changes import (
    SCHEDULE_CHANGE,
    confirm_visits_told,
)
from ketadesk.services.followups.sync import (
    CALENDAR_DAYS_AHEAD,
    LIVE_STATUSES,
    clinic_calendar,
    follow_up_state,
    followup_settings,
)
from ketadesk.services.followups.urgent_reviews import urgent_review_settings
from ketadesk.services.monitoring.rems import rems_missing
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import (
    Appointment,
    FollowUp,
    FollowUpAttempt,
)

# How a call attempt went, in words.
ATTEMPT_RESULTS = {"reached": "Reached", "no_answer": "No answer", "voicemail": "Left voicemail"}
UNREACHED = frozenset({"no_answer", "voicemail"})


@dataclass(frozen=True)
class AttemptResult:
    """What came of recording a call.

    Attributes:
        closed: a reached call of ``CLOSED_WHEN_REACHED`` is done with it, its notes the
            outcome; any other kind reached stays open until what it was for is done.
        confirmed: the visits a reached schedule-change call confirmed on the confirmation
            list (their new time told).
    """

    follow_up_id: int
    attempts: int
    reached: bool
    next_attempt_at: dt.datetime | None  # None: reached, or no calls left
    attempts_left: int
    closed: bool = False
    confirmed: tuple[int, ...] = ()


def rems_form_settings(catalog: Catalog) -> RemsFormSettings:
    return parse_rems_form_settings(catalog.settings.extra.get("rems_form"))


def kind_roles(role: str, kind: str, settings: FollowUpSettings) -> str:
    """Who works a follow-up of ``kind`` when ``role`` may not ("nurse or prescriber"), else
    "": a clinical kind is for the clinical roles of clinic.toml ``[followups]``."""
    if kind in settings.clinical_kinds and role not in settings.clinical_roles:
        return " or ".join(role_name(r) for r in settings.clinical_roles)
    return ""


def _check_kind(actor: Actor, kind: str, settings: FollowUpSettings) -> None:
    roles = kind_roles(actor.role, kind, settings)
    if roles:
        raise PermissionDenied(
            f"Only a {roles} may work a {kind_label(kind)}",
            actor=actor,
            action="work_follow_up",
        )


@dataclass(frozen=True)
class Refusals:
    """What ``actor`` may not do to a follow-up, in words that say who may ("" where they
    may), judged by the same rules the actions below refuse by, so the queue greys a button
    rather than let it be refused.

    Attributes:
        work: recording a call, snoozing and completing ("Only a nurse or prescriber may work
            a Next-day call").
        complete: completing ("An urgent review is closed by a prescriber").
    """

    work: str = ""
    complete: str = ""


#: Nothing refused (the queue's counts, read for nobody in particular).
NO_REFUSALS = Refusals()


def refusals(
    actor: Actor, kind: str, settings: FollowUpSettings, reviews: UrgentReviewSettings
) -> Refusals:
    """What ``actor`` may not do to a follow-up of ``kind`` (see ``Refusals``)."""
    if not may(actor, "work_follow_up"):
        work = who_may("work_follow_up")
    else:
        roles = kind_roles(actor.role, kind, settings)
        work = f"Only a {roles} may work a {kind_label(kind)}" if roles else ""
    closing = close_role_problem(kind, actor.role, reviews) or stage_review_close_problem(
        kind, actor.role, settings
    )
    return Refusals(work, (closing[:1].upper() + closing[1:]) if closing else "")


def _live_follow_up(session: Session, actor: Actor, follow_up_id: int) -> tuple[FollowUp, Catalog]:
    """The follow-up to work on, refused unless it is live and the actor may work its kind."""
    row = session.get(FollowUp, follow_up_id)
    if row is None:
        raise NotFound(f"no follow-up #{follow_up_id}")
    catalog = load_catalog(session)
    _check_kind(actor, row.kind, followup_settings(catalog))
    if row.status not in LIVE_STATUSES:
        raise InvalidRequest(
            f"the {kind_label(row.kind)} (#{follow_up_id}) is already {row.status}; "
            "reload the queue"
        )
    return row, catalog


def _or(words: Sequence[str]) -> str:
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else "".join(words)


def _refused(db: Database, err: PermissionDenied, follow_up_id: int, now: dt.datetime) -> None:
    patient_id = None
    with db.read() as session:
        patient_id = session.scalar(select(FollowUp.patient_id).where(FollowUp.id == follow_up_id))
    audit.record_refusal(
        db, err, entity="follow_up", entity_id=follow_up_id, patient_id=patient_id, now=now
    )


def record_attempt(
    db: Database,
    actor: Actor,
    follow_up_id: int,
    result: str,
    notes: str = "",
    *,
    now: dt.datetime | None = None,
) -> AttemptResult:
    """Record one call: reached, no answer or voicemail.  An unreached call is tried again
    ``retry_hours`` later (clinic.toml [followups]) while calls are left.  A call of
    ``CLOSED_WHEN_REACHED`` that reached the patient is done with it, ``notes`` its outcome
    (required: what came of it); a schedule-change call reached also confirms the new times it
    told on the confirmation list (``schedule_changes.confirm_visits_told``)."""
    now = now or utcnow()
    require(actor, "work_follow_up", db, now=now)
    if result not in ATTEMPT_RESULTS:
        raise InvalidFields(
            {"result": "say how the call went: " + _or(list(ATTEMPT_RESULTS.values())).lower()}
        )
    try:
        with db.write() as session:
            row, catalog = _live_follow_up(session, actor, follow_up_id)
            attempt = record_attempt_in(session, actor, row, catalog, result, notes, now=now)
            changes.bump(session, now)
            return attempt
    except PermissionDenied as err:
        _refused(db, err, follow_up_id, now)
        raise


def record_attempt_in(
    session: Session,
    actor: Actor,
    row: FollowUp,
    catalog: Catalog,
    result: str,
    notes: str,
    *,
    now: dt.datetime,
) -> AttemptResult:
    """``record_attempt`` on a live follow-up the actor may work, in the caller's transaction
    (the confirmation list records the reach of a schedule-change call with its own call)."""
    settings = followup_settings(catalog)
    text = notes.strip()
    closes = result == "reached" and row.kind in CLOSED_WHEN_REACHED
    if closes and not text:
        raise InvalidFields(
            {"notes": "a reached call is done with it: say what came of it (the outcome)"}
        )
    before = follow_up_state(row)
    tried = session.scalar(select(func.count()).where(FollowUpAttempt.follow_up_id == row.id)) or 0
    session.add(
        FollowUpAttempt(
            follow_up_id=row.id, at=now, user_id=actor.user_id, result=result, notes=text
        )
    )
    attempts = tried + 1
    left = max(0, settings.max_attempts - attempts)
    next_at = None
    if result in UNREACHED and left > 0:
        calendar = clinic_calendar(
            session, catalog, Interval(now, now + dt.timedelta(days=CALENDAR_DAYS_AHEAD))
        )
        next_at = reattempt_at(calendar, now, settings.retry_hours)
        row.due_at = next_at
    if row.status == "snoozed":
        row.status, row.snoozed_until, row.outcome = "open", None, ""
    confirmed: list[int] = []
    if closes:
        if row.kind == SCHEDULE_CHANGE:
            confirmed = confirm_visits_told(session, actor, row, text, now=now)
        row.status = "done"
        row.outcome = text
        row.completed_at = now
        row.completed_by_id = actor.user_id
        row.snoozed_until = None
    session.flush()
    after: dict[str, object] = {**follow_up_state(row), "attempts": attempts, "result": result}
    if confirmed:
        after["confirmed_appointments"] = confirmed
    audit.record(
        session,
        actor,
        "record_call",
        "follow_up",
        row.id,
        patient_id=row.patient_id,
        before={**before, "attempts": tried},
        after=after,
        detail=text,
        now=now,
    )
    return AttemptResult(
        row.id, attempts, result == "reached", next_at, left, closes, tuple(confirmed)
    )


def complete_follow_up(
    db: Database,
    actor: Actor,
    follow_up_id: int,
    outcome: str,
    *,
    submitted_on: dt.date | None = None,
    confirmation_number: str = "",
    override_reason: str = "",
    now: dt.datetime | None = None,
) -> None:
    """Mark a follow-up done with its outcome (required: what came of it).

    An urgent review is closed only by a role of ``[urgent_review] close_roles`` (a prescriber),
    its outcome the review's note.  A REMS form is marked submitted with the day it was sent
    (``submitted_on``, default the clinic's today) and the REMS confirmation number; while the
    monitoring record leaves it incomplete only an override may submit it: a role of
    ``[rems_form] override_roles`` with ``override_reason``, audited.
    """
    now = now or utcnow()
    require(actor, "work_follow_up", db, now=now)
    if not outcome.strip():
        raise InvalidFields({"outcome": "say what came of it (the outcome is required)"})
    text = outcome.strip()
    number = confirmation_number.strip()
    reason = override_reason.strip()
    extra: dict[str, object] = {}

    def done(session: Session, row: FollowUp, catalog: Catalog) -> None:
        review = stage_review_close_problem(row.kind, actor.role, followup_settings(catalog))
        if review:
            raise PermissionDenied(review, actor=actor, action="complete_follow_up")
        measure = measure_close_problem(row.kind)
        if measure:
            raise InvalidFields({"outcome": measure})
        problem = close_problem(row.kind, actor.role, text, urgent_review_settings(catalog))
        if problem:
            raise PermissionDenied(
                f"The {kind_label(row.kind)} is not closed: {problem}",
                actor=actor,
                action="close_urgent_review",
            )
        if row.kind == REMS_FORM:
            _submit_rems_form(
                session, row, catalog, actor.role, submitted_on, number, reason, extra, now
            )
        row.status = "done"
        row.outcome = text
        row.completed_at = now
        row.completed_by_id = actor.user_id
        row.snoozed_until = None

    _change_follow_up(
        db, actor, follow_up_id, "complete_follow_up", text, done, now=now, extra=extra
    )


def record_not_taken(
    db: Database,
    actor: Actor,
    follow_up_id: int,
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> None:
    """Close a measure follow-up (a PHQ-9 before a session) the patient did not take, with why
    (required): "Not taken: declined today".  Closed, not done: the record shows no score for
    that session and says why; audited ``measure_not_taken``."""
    now = now or utcnow()
    require(actor, "work_follow_up", db, now=now)
    why = reason.strip()
    if not why:
        raise InvalidFields({"outcome": "say why it was not taken (a reason is required)"})
    text = f"{NOT_TAKEN}: {why}"

    def not_taken(_session: Session, row: FollowUp, _catalog: Catalog) -> None:
        if row.kind not in MEASURE_KINDS:
            raise InvalidFields(
                {"outcome": f"only a measure is marked not taken, not a {kind_label(row.kind)}"}
            )
        row.status = "cancelled"
        row.outcome = text
        row.completed_at = now
        row.completed_by_id = actor.user_id
        row.snoozed_until = None

    _change_follow_up(db, actor, follow_up_id, "measure_not_taken", text, not_taken, now=now)


def _submit_rems_form(
    session: Session,
    row: FollowUp,
    catalog: Catalog,
    role: str,
    submitted_on: dt.date | None,
    number: str,
    reason: str,
    extra: dict[str, object],
    now: dt.datetime,
) -> None:
    """Check and record a REMS form's submission on ``row`` (fields refused by name)."""
    calendar = ClinicCalendar(catalog.settings)
    day = submitted_on or calendar.local_date(now)
    errors: dict[str, str] = {}
    if day > calendar.local_date(now):
        errors["submitted_on"] = "the form cannot be submitted on a day still to come"
    if not number:
        errors["confirmation_number"] = "give the confirmation number the REMS gave"
    elif len(number) > 40:
        errors["confirmation_number"] = "at most 40 characters"
    missing = rems_missing(session, row.appointment_id) if row.appointment_id else []
    rems = rems_form_settings(catalog)
    refused = submit_problem(missing, role, reason, rems)
    errors.update(refused)
    if errors:
        raise InvalidFields(errors)
    row.submitted_on = day
    row.confirmation_number = number
    extra["submitted_on"] = day.isoformat()
    extra["confirmation_number"] = number
    if missing:
        extra["override"] = {"reason": reason, "missing": list(missing)}


def snooze_follow_up(
    db: Database,
    actor: Actor,
    follow_up_id: int,
    until: dt.datetime,
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> None:
    """Put a follow-up aside until a later time, with a reason (both required); an urgent
    review, and a REMS form, never past their deadline."""
    now = now or utcnow()
    require(actor, "work_follow_up", db, now=now)
    errors: dict[str, str] = {}
    if until.tzinfo is None:
        errors["until"] = "needs a time zone"
    elif until <= now:
        errors["until"] = "must be in the future"
    if not reason.strip():
        errors["reason"] = "say why it can wait (the reason is required)"
    if errors:
        raise InvalidFields(errors)
    text = reason.strip()

    def snoozed(session: Session, row: FollowUp, catalog: Catalog) -> None:
        deadline = row.deadline_at
        if deadline is not None and deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=dt.UTC)
        problem = snooze_problem(
            row.kind, until, deadline, ClinicCalendar(catalog.settings), rems_form_settings(catalog)
        )
        if problem:
            raise InvalidFields({"until": f"{kind_label(row.kind)}: {problem}"})
        row.status = "snoozed"
        row.snoozed_until = until
        row.outcome = text

    _change_follow_up(db, actor, follow_up_id, "snooze_follow_up", text, snoozed, now=now)


def _change_follow_up(
    db: Database,
    actor: Actor,
    follow_up_id: int,
    action: str,
    detail: str,
    change: Callable[[Session, FollowUp, Catalog], None],
    *,
    now: dt.datetime,
    extra: dict[str, object] | None = None,
) -> None:
    """Apply ``change`` to a live follow-up the actor may work, audited before and after, in
    one transaction; a refusal of the follow-up's kind is audited on its own."""
    try:
        with db.write() as session:
            row, catalog = _live_follow_up(session, actor, follow_up_id)
            before = follow_up_state(row)
            change(session, row, catalog)
            session.flush()
            audit.record(
                session,
                actor,
                action,
                "follow_up",
                row.id,
                patient_id=row.patient_id,
                before=before,
                after={**follow_up_state(row), **(extra or {})},
                detail=detail,
                now=now,
            )
            changes.bump(session, now)
    except PermissionDenied as err:
        _refused(db, err, follow_up_id, now)
        raise


def open_adverse_event_follow_up(
    session: Session,
    actor: Actor,
    appointment_id: int,
    description: str,
    *,
    now: dt.datetime,
) -> int:
    """Create the adverse-event follow-up of a session in the caller's transaction (the
    monitoring record calls this when it records an event); one per appointment while open."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"no appointment #{appointment_id}")
    live = session.scalar(
        select(FollowUp).where(
            FollowUp.appointment_id == appointment_id,
            FollowUp.kind == "adverse_event",
            FollowUp.status.in_(LIVE_STATUSES),
        )
    )
    if live is not None:
        return live.id
    catalog = load_catalog(session)
    calendar = clinic_calendar(
        session, catalog, Interval(now, now + dt.timedelta(days=CALENDAR_DAYS_AHEAD))
    )
    owed = adverse_event_follow_up(now, calendar, followup_settings(catalog))
    row = FollowUp(
        patient_id=appointment.patient_id,
        appointment_id=appointment_id,
        kind=owed.kind,
        due_at=owed.due,
        deadline_at=owed.deadline,
        assignee_role=owed.assignee_role,
        priority=owed.priority,
        status="open",
        outcome=description.strip(),
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
        patient_id=appointment.patient_id,
        after=follow_up_state(row),
        detail=f"adverse event: {description.strip()}",
        now=now,
    )
    return row.id


def record_adverse_event(
    db: Database,
    actor: Actor,
    appointment_id: int,
    description: str,
    *,
    now: dt.datetime | None = None,
) -> int:
    """Record that a session had an adverse event: opens its follow-up for the configured
    role (a prescriber by default), due at once; returns the follow-up's id."""
    now = now or utcnow()
    require(actor, "record_monitoring", db, now=now)
    if not description.strip():
        raise InvalidFields({"description": "say what happened"})
    with db.write() as session:
        follow_up_id = open_adverse_event_follow_up(
            session, actor, appointment_id, description, now=now
        )
        changes.bump(session, now)
        return follow_up_id
