"""The follow-up queue: open and snoozed follow-ups in sections (overdue, due today, upcoming),
with what each still needs, for the queue view and the counts on the navigation.

The queue is a worklist, read again every few seconds, so reading it records nothing in the
audit trail; instead a role that may not "read clinical" (the front desk) gets only the
follow-ups ``followup_rules.listed_without_clinical`` lists for it (the calls owed, and the
non-clinical kinds), without their notes: no PHQ-9, REMS form, adverse event or urgent review,
no count of urgent reviews, and none of those kinds to filter by (``FollowUpQueue.kinds``).
The printed call list is read from this same queue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar, ClosureSpan, Interval
from ketadesk.scheduling.catalog import FollowUpSettings, ResourceKind
from ketadesk.scheduling.closure_repeats import expand
from ketadesk.scheduling.dates import short_date_time
from ketadesk.scheduling.followup_rules import (
    QUEUE_KINDS,
    SECTION_TITLES,
    URGENT,
    Section,
    assignee_away,
    awaiting_check_in,
    check_in_deadline,
    countdown_text,
    due_text,
    kind_label,
    listed_without_clinical,
    section_of,
    snooze_default,
)
from ketadesk.scheduling.safety_followups import closed_deadline_warning
from ketadesk.services.common.context import Actor, may, utcnow
from ketadesk.services.followups.actions import (
    ATTEMPT_RESULTS,
    NO_REFUSALS,
    Refusals,
    refusals,
    rems_form_settings,
)
from ketadesk.services.followups.sync import LIVE_STATUSES, clinic_calendar, followup_settings
from ketadesk.services.followups.urgent_reviews import urgent_review_settings
from ketadesk.services.monitoring.rems import rems_missing_many
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import (
    Appointment,
    Closure,
    FollowUp,
    FollowUpAttempt,
    Patient,
    Resource,
    SessionType,
)

# How far past the queue's horizon a deadline may fall (a REMS form's calendar days, and more).
_DEADLINE_REACH_DAYS = 16


@dataclass(frozen=True)
class FollowUpItem:
    """One follow-up as the queue shows it (times in the clinic's zone)."""

    id: int
    patient_id: int
    patient_name: str
    chart_number: str
    phone: str
    kind: str
    kind_label: str
    section: Section
    due: dt.datetime
    deadline: dt.datetime | None
    countdown: str
    #: When it is due, in words: "by end of Tue Dec 1" for a REMS form (followup_rules.due_text).
    due_text: str
    priority: str
    status: str
    assignee_role: str
    assignee_name: str
    appointment_id: int | None
    session_label: str
    attempts: int
    last_attempt: str  # "No answer Tue 14:10", or ""
    attempts_left: int
    note: str  # why it was snoozed, what the adverse event was
    snoozed_until: dt.datetime | None
    missing: tuple[str, ...]  # REMS form: what the monitoring record still lacks
    #: What the Snooze dialog proposes: the clinic's next opening after today (local).
    snooze_default: dt.datetime | None = None
    #: A REMS form whose last day falls on a day the clinic is closed says so.
    warning: str = ""
    #: A PHQ-9 whose patient never checked in is overdue from the session's end, not from its
    #: stored deadline (the session's start): that end, for the countdown's words; else None.
    overdue_from: dt.datetime | None = None
    #: What the signed-in user may not do to it, saying who may (``actions.refusals``): the
    #: queue greys those buttons instead of letting the service refuse them.
    refusals: Refusals = NO_REFUSALS
    #: How the clinic reads a time of day ([clinic] time_format): the queue's times say so.
    time_format: str = "12h"
    #: A REMS form judged against its monitoring record (``rems.rems_gaps``, the judgement
    #: Complete… makes): True when it lacks nothing, False when ``missing`` names what it
    #: lacks, None when not judged (another kind).  "Ready to submit" only on True: a list
    #: once said "Record complete" of a form whose gaps were simply not read.
    form_complete: bool | None = None
    #: Its assignee is off when it falls to be worked (``followup_rules.assignee_away``): it
    #: is the role's to work meanwhile, listed for each of them, in these words ("Assigned to
    #: Nurse Kim, who is off through Wed Nov 25"); "" when the assignee is in (or none).
    assignee_away: str = ""

    @property
    def overdue(self) -> bool:
        return self.section is Section.OVERDUE

    @property
    def attempts_words(self) -> str:
        """The calls made so far, as the queue's Calls column and the printed call list say
        them: "1 · Left voicemail Fri 14:10" ("" before the first)."""
        if not self.attempts:
            return ""
        text = f"{self.attempts} · {self.last_attempt}"
        if self.attempts_left == 0 and self.last_attempt.split(" ")[0] != "Reached":
            text += " · no calls left"
        return text

    @property
    def urgent(self) -> bool:
        return self.priority == URGENT


@dataclass(frozen=True)
class FollowUpQueue:
    now: dt.datetime
    overdue: tuple[FollowUpItem, ...]
    due_today: tuple[FollowUpItem, ...]
    upcoming: tuple[FollowUpItem, ...]
    #: The clinic's local day of ``now`` (what "due today" means), for the queue's heading.
    today: dt.date | None = None
    #: Whether the queue was read for a role that may "read clinical": the front desk's
    #: has no urgent review on it, so it has no count of them either (``counts``).
    clinical: bool = True
    #: The kinds the role's queue may list (``kinds_listed``), in the order its filter offers
    #: them: the front desk is offered no PHQ-9, REMS form or urgent review to filter by.
    kinds: tuple[str, ...] = ()
    #: The urgent items (an urgent review), listed first under "Urgent · due now" whatever
    #: their deadline: the README says an urgent review is due at once, and a trial found a
    #: new one (24 h to its deadline) filed under "Upcoming · due by tomorrow".  They are in
    #: no other section; each keeps its own ``section`` (overdue is red).
    urgent: tuple[FollowUpItem, ...] = ()

    def sections(self) -> tuple[tuple[Section, str, tuple[FollowUpItem, ...]], ...]:
        """Urgent (when any), overdue, due today and upcoming, each with its title."""
        urgent = ((Section.URGENT, SECTION_TITLES[Section.URGENT], self.urgent),)
        return (
            *(urgent if self.urgent else ()),
            (Section.OVERDUE, SECTION_TITLES[Section.OVERDUE], self.overdue),
            (Section.DUE_TODAY, SECTION_TITLES[Section.DUE_TODAY], self.due_today),
            (Section.UPCOMING, SECTION_TITLES[Section.UPCOMING], self.upcoming),
        )

    @property
    def items(self) -> tuple[FollowUpItem, ...]:
        return self.urgent + self.overdue + self.due_today + self.upcoming

    def item(self, follow_up_id: int) -> FollowUpItem | None:
        return next((i for i in self.items if i.id == follow_up_id), None)

    def counts(self) -> dict[str, int]:
        """How many are overdue, due today and upcoming, and, for a role that may "read
        clinical", how many are urgent (the front desk's left panel said "0 urgent" of the
        reviews it is never shown)."""
        counts = {
            "overdue": len(self.overdue),
            "due_today": len(self.due_today),
            "upcoming": len(self.upcoming),
        }
        if self.clinical:
            counts["urgent"] = sum(1 for i in self.items if i.urgent)
        return counts


#: Every kind the queue's filter may offer, in its order (``followup_rules.QUEUE_KINDS``).
FILTER_KINDS = QUEUE_KINDS


def kinds_listed(clinical: bool, settings: FollowUpSettings) -> tuple[str, ...]:
    """The kinds of ``FILTER_KINDS`` a role's queue lists: all of them for a role that may
    "read clinical", else only those ``listed_without_clinical`` (the calls and the
    non-clinical kinds)."""
    return tuple(
        k for k in FILTER_KINDS if clinical or listed_without_clinical(k, settings.clinical_kinds)
    )


_PRIORITY_RANK = {URGENT: 0, "high": 1}


def follow_up_queue(
    db: Database,
    actor: Actor,
    *,
    now: dt.datetime | None = None,
    kind: str | None = None,
    assignee_role: str | None = None,
    assignee_id: int | None = None,
) -> FollowUpQueue:
    """Open and snoozed follow-ups up to the configured horizon, in sections, urgent first,
    then by when they are due; filtered by kind, assignee role and assignee when given.
    Follow-ups collected at check-in (a PHQ-9 before a session) show from their day on.
    A role that may not "read clinical" gets no note and no REMS gaps on the clinical kinds."""
    now = now or utcnow()
    with db.read() as session:
        return _queue(
            session,
            now,
            kind=kind,
            role=assignee_role,
            assignee=assignee_id,
            details=True,
            clinical=may(actor, "read_clinical"),
            actor=actor,
        )


def queue_in(session: Session, actor: Actor, *, now: dt.datetime) -> FollowUpQueue:
    """``follow_up_queue`` inside a transaction the caller holds (the printed call list reads
    the queue and the calls' sessions in one snapshot, so the paper says what the queue says)."""
    return _queue(session, now, details=True, clinical=may(actor, "read_clinical"), actor=actor)


@dataclass(frozen=True)
class Assignee:
    """A staff member follow-ups may be assigned to, for the queue's filter."""

    id: int
    name: str
    role: str


def assignees(db: Database) -> list[Assignee]:
    """The clinic's active staff, by role then name."""
    with db.read() as session:
        rows = session.execute(
            select(Resource.id, Resource.name, Resource.subkind)
            .where(Resource.kind == ResourceKind.STAFF.value, Resource.active.is_(True))
            .order_by(Resource.subkind, Resource.sort_order, Resource.name)
        ).all()
    return [Assignee(rid, name, role) for rid, name, role in rows]


def queue_counts(db: Database, actor: Actor, *, now: dt.datetime | None = None) -> dict[str, int]:
    """How many follow-ups are overdue, due today, upcoming, and urgent (the left panel), of
    those ``actor``'s queue lists."""
    now = now or utcnow()
    with db.read() as session:
        return _queue(session, now, details=False, clinical=may(actor, "read_clinical")).counts()


def _queue(
    session: Session,
    now: dt.datetime,
    *,
    kind: str | None = None,
    role: str | None = None,
    assignee: int | None = None,
    details: bool,
    clinical: bool = False,
    actor: Actor | None = None,
) -> FollowUpQueue:
    catalog = load_catalog(session)
    settings = followup_settings(catalog)
    reviews = urgent_review_settings(catalog)
    today = ClinicCalendar(catalog.settings).local_date(now)
    calendar = clinic_calendar(
        session,
        catalog,
        # Past the horizon by the longest REMS window, so a form's last day knows its closures.
        Interval(
            now - dt.timedelta(days=1),
            now + dt.timedelta(days=settings.upcoming_days + _DEADLINE_REACH_DAYS),
        ),
    )
    rems_settings = rems_form_settings(catalog)
    horizon = calendar.day_bounds(today + dt.timedelta(days=settings.upcoming_days)).end
    # What is collected at check-in (a PHQ-9) joins the queue on its day, not a week ahead.
    at_check_in = {
        rule.kind
        for spec in catalog.session_types.values()
        for rule in spec.followups
        if rule.before_session
    }
    stmt = (
        select(
            FollowUp,
            Patient.first_name,
            Patient.last_name,
            Patient.chart_number,
            Patient.phone,
            SessionType.name,
            Appointment.starts_at,
            Appointment.ends_at,
            Appointment.status,
            Resource.name,
        )
        .join(Patient, Patient.id == FollowUp.patient_id)
        .outerjoin(Appointment, Appointment.id == FollowUp.appointment_id)
        .outerjoin(SessionType, SessionType.id == Appointment.session_type_id)
        .outerjoin(Resource, Resource.id == FollowUp.assignee_id)
        .where(FollowUp.status.in_(LIVE_STATUSES), FollowUp.due_at < horizon)
    )
    if kind:
        stmt = stmt.where(FollowUp.kind == kind)
    if role:
        stmt = stmt.where(FollowUp.assignee_role == role)
    if assignee is not None:
        # Theirs, and their role's assigned to a colleague who is off (kept below).
        assignee_role = session.scalar(select(Resource.subkind).where(Resource.id == assignee))
        stmt = stmt.where(
            (FollowUp.assignee_id == assignee)
            | (
                (FollowUp.assignee_role == (assignee_role or ""))
                & FollowUp.assignee_id.is_not(None)
            )
        )
    rows = session.execute(stmt).all()
    time_off = _time_off(session, {r[0].assignee_id for r in rows}, now, horizon, calendar)
    if not clinical:
        rows = [r for r in rows if listed_without_clinical(r[0].kind, settings.clinical_kinds)]
    attempts: dict[int, list[tuple[dt.datetime, str]]] = {}
    if details and rows:
        for fid, at, result in session.execute(
            select(FollowUpAttempt.follow_up_id, FollowUpAttempt.at, FollowUpAttempt.result)
            .where(FollowUpAttempt.follow_up_id.in_(sorted(r[0].id for r in rows)))
            .order_by(FollowUpAttempt.at, FollowUpAttempt.id)
        ):
            attempts.setdefault(fid, []).append((at, result))
    # What each REMS form still lacks, for the whole queue at once.
    rems_gaps: dict[int, list[str]] = {}
    if details and clinical:
        rems_gaps = rems_missing_many(
            session,
            (
                r[0].appointment_id
                for r in rows
                if r[0].kind == "rems_form" and r[0].appointment_id is not None
            ),
        )
    sections: dict[Section, list[FollowUpItem]] = {s: [] for s in Section}
    proposed_snooze = snooze_default(now, calendar, settings.upcoming_days + 1)
    for f, first, last, chart, phone, type_name, starts_at, ends_at, visit, staff_name in rows:
        due = f.due_at
        if f.status == "snoozed" and f.snoozed_until is not None and f.snoozed_until > due:
            due = f.snoozed_until
        away = (
            assignee_away(
                staff_name or "",
                calendar.local(due),
                calendar.local(now),
                time_off[f.assignee_id],
                calendar.settings.time_format,
            )
            if f.assignee_id in time_off
            else None
        )
        if assignee is not None and f.assignee_id != assignee and away is None:
            continue  # a colleague's, and they are in
        deadline = f.deadline_at
        # A PHQ-9 waits for its patient's check-in: not overdue while they are not yet in.
        waiting = f.kind in at_check_in and awaiting_check_in(visit)
        stored = deadline
        if waiting:
            deadline = check_in_deadline(deadline, visit, ends_at)
        snoozed = f.status == "snoozed" and f.snoozed_until is not None and f.snoozed_until > now
        if snoozed and deadline is not None and deadline <= now:
            # Put aside on purpose: not overdue until the snooze runs out, even past its
            # deadline (a deadline still ahead keeps counting).
            deadline = None
        section = section_of(now, due, deadline, calendar, settings.upcoming_days)
        if waiting and section is not Section.OVERDUE:
            # Counted to the session's start until it begins, then to the patient's arrival.
            late = stored is not None and stored <= now
            countdown = "due at check-in" if late else countdown_text(now, due, stored, calendar)
        else:
            countdown = countdown_text(now, due, deadline, calendar)
        if f.priority == URGENT and section is not Section.OVERDUE:
            countdown = "due now"  # an urgent item is due at once, whatever its deadline
        overdue_from = (
            deadline
            if waiting and section is Section.OVERDUE and deadline not in (None, stored)
            else None
        )
        if section is Section.LATER or (section is Section.UPCOMING and f.kind in at_check_in):
            continue
        tried = attempts.get(f.id, [])
        withheld = not clinical and f.kind in settings.clinical_kinds
        missing: tuple[str, ...] = ()
        form_complete: bool | None = None
        warning = ""
        if f.kind == "rems_form" and f.appointment_id is not None:
            gaps = rems_gaps.get(f.appointment_id)
            if gaps is not None:
                missing, form_complete = tuple(gaps), not gaps
            if f.deadline_at is not None:
                warning = closed_deadline_warning(f.deadline_at, calendar, rems_settings)
        last_try = ""
        if tried:
            at, result = tried[-1]
            last_try = (
                f"{ATTEMPT_RESULTS.get(result, result)} {calendar.local(at):%a} "
                f"{calendar.clock(at)}"
            )
        sections[section].append(
            FollowUpItem(
                id=f.id,
                patient_id=f.patient_id,
                patient_name=f"{last}, {first}",
                chart_number=chart,
                phone=phone,
                kind=f.kind,
                kind_label=kind_label(f.kind),
                section=section,
                due=calendar.local(due),
                deadline=calendar.local(f.deadline_at) if f.deadline_at else None,
                countdown=countdown,
                due_text=due_text(
                    calendar.local(due),
                    calendar.local(deadline) if deadline is not None else None,
                    now,
                    calendar.settings.time_format,
                ),
                priority=f.priority,
                status=f.status,
                assignee_role=f.assignee_role,
                assignee_name=staff_name or "",
                appointment_id=f.appointment_id,
                session_label=(
                    f"{type_name}, "
                    f"{short_date_time(calendar.local(starts_at), calendar.settings.time_format)}"
                    if type_name and starts_at
                    else ""
                ),
                attempts=len(tried),
                last_attempt=last_try,
                attempts_left=max(0, settings.max_attempts - sum(1 for _ in tried)),
                note="" if withheld else f.outcome,
                overdue_from=calendar.local(overdue_from) if overdue_from else None,
                snoozed_until=(
                    calendar.local(f.snoozed_until)
                    if f.status == "snoozed" and f.snoozed_until
                    else None
                ),
                missing=missing,
                snooze_default=proposed_snooze,
                warning=warning,
                time_format=calendar.settings.time_format,
                refusals=(
                    refusals(actor, f.kind, settings, reviews) if actor is not None else NO_REFUSALS
                ),
                form_complete=form_complete,
                assignee_away=away.words if away is not None else "",
            )
        )
    urgent = [i for items in sections.values() for i in items if i.urgent]
    for items in sections.values():
        items[:] = [i for i in items if not i.urgent]
        items.sort(key=lambda i: (_PRIORITY_RANK.get(i.priority, 9), i.deadline or i.due, i.due))
    urgent.sort(key=lambda i: (i.deadline or i.due, i.due))
    return FollowUpQueue(
        now=now,
        overdue=tuple(sections[Section.OVERDUE]),
        due_today=tuple(sections[Section.DUE_TODAY]),
        upcoming=tuple(sections[Section.UPCOMING]),
        today=today,
        clinical=clinical,
        kinds=kinds_listed(clinical, settings),
        urgent=tuple(urgent),
    )


def _time_off(
    session: Session,
    staff_ids: set[int | None],
    now: dt.datetime,
    horizon: dt.datetime,
    calendar: ClinicCalendar,
) -> dict[int, list[tuple[dt.datetime, dt.datetime]]]:
    """Each assignee's time off (``time_off`` closures of their staff resource, settings'
    "Closures and time off") that reaches from now to the queue's horizon, in local time."""
    ids = sorted(i for i in staff_ids if i is not None)
    if not ids:
        return {}
    found: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    reach = Interval(now, horizon)
    for resource_id, starts_at, ends_at, rule in session.execute(
        select(Closure.resource_id, Closure.starts_at, Closure.ends_at, Closure.repeat_rule).where(
            Closure.resource_id.in_(ids),
            Closure.kind == "time_off",
            Closure.ends_at > now,
            Closure.starts_at < horizon,
        )
    ):
        if resource_id is None:
            continue
        stored = ClosureSpan(Interval(starts_at, ends_at), "", "time_off", resource_id)
        for off in expand(stored, rule, calendar.tz, reach):  # each day of a repeating one
            found.setdefault(resource_id, []).append(
                (calendar.local(off.span.start), calendar.local(off.span.end))
            )
    return found
