"""What a session owes the patient afterwards (and before): the follow-up rules, as plain data.

Given a session (its type's rules, start, end and status) and the clinic calendar, say which
follow-ups it owes and when each is due: the next-day call on the next *business* day (weekends,
public holidays and whole-day closures skipped), the REMS form within so many *calendar* days,
the PHQ-9 before each dosing session, integration some days after a KAP dose, the booster review
after the last session of an induction, an adverse-event follow-up.  Also how the queue reads
them: which section an item is in and its countdown ("due in 2 days", "overdue by 1 day").

Every number comes from the catalogue (session_types.toml, protocols.toml, clinic.toml
[followups]); nothing here knows a clinic's rules by heart.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import (
    FOLLOWUP_KINDS,
    STAGE_REVIEW_KINDS,
    CompletionFollowUp,
    FollowUpRule,
    FollowUpSettings,
    ProtocolSpec,
    ProtocolStage,
    SessionTypeSpec,
)
from ketadesk.scheduling.dates import short_date, short_date_time
from ketadesk.scheduling.dropout import OUTREACH_CALL
from ketadesk.scheduling.statuses import (
    AFTER_SESSION_STATUSES,
    ATTENDED_STATUSES,
    BEFORE_SESSION_STATUSES,
    NOT_HELD_STATUSES,
)
from ketadesk.scheduling.words import role_name

NORMAL, HIGH, URGENT = "normal", "high", "urgent"
# A session in one of these has begun dosing (or is done): what a regulator asks of every dose
# is owed from here on.
STARTED_STATUSES = AFTER_SESSION_STATUSES | {"in_progress"}
_INSTANT = dt.timedelta(microseconds=1)
# How far to look for the next business day before deciding the calendar is closed for good.
_MAX_SEARCH_DAYS = 366

KIND_LABELS = {
    "next_day_call": "Next-day call",
    "rems_form": "REMS monitoring form",
    "phq9": "PHQ-9",
    "gad7": "GAD-7",
    "integration": "Integration session",
    "booster_review": "Booster review",
    "adverse_event": "Adverse-event follow-up",
    "urgent_review": "Urgent review",
    "induction_review": "End-of-induction review",
    "schedule_change": "Schedule change call",
    "outreach_call": "Outreach call",
}


#: The follow-ups made by phone: the next-day call after a session, the call about a session a
#: closure moved (services/settings/consequences.py), and the dropout outreach call after a
#: no-show or late cancellation.  The printed call list lists these.
SCHEDULE_CHANGE_CALL = "schedule_change"
CALL_KINDS = ("next_day_call", SCHEDULE_CHANGE_CALL, OUTREACH_CALL)
#: Every kind of follow-up a queue may list, in the order its filter offers them: what
#: sessions owe (a session type's ``FOLLOWUP_KINDS``), then the calls written elsewhere (a
#: closure's schedule-change call, the dropout outreach call).  The filter was built from the
#: first alone, plus the outreach call, and never offered a schedule-change call.
QUEUE_KINDS = tuple(dict.fromkeys((*FOLLOWUP_KINDS, *CALL_KINDS)))
#: The words a schedule-change call's outcome says a session moved, or found no new place
#: (written by services/settings/consequences.py; the call list asks the caller accordingly).
MOVED_WORDS = "moved from"
NO_NEW_TIME_WORDS = "needs a new time"
#: The follow-ups a reached call closes at once, with what came of it as the outcome (a user
#: trial recorded "Reached" and found the call still open until a second Complete…): a call is
#: the whole of the work.  Any other kind reached by phone (a booster review to book) stays open
#: until what the call was for is done.
CLOSED_WHEN_REACHED = frozenset(CALL_KINDS)


def listed_without_clinical(kind: str, clinical_kinds: Collection[str]) -> bool:
    """Whether a role that may not "read clinical" (the front desk) has a follow-up of this
    kind on its queue and call list: every non-clinical kind, and the calls, so the desk
    knows a call is owed, to whom and by when; never a measure (PHQ-9), a REMS form, an
    adverse event or an urgent review (a user trial's front desk read PHQ-9 items, what each
    REMS form lacked and "URGENT · Urgent review")."""
    return kind not in clinical_kinds or kind in CALL_KINDS


def stage_review_close_problem(kind: str, role: str, settings: FollowUpSettings) -> str:
    """Why ``role`` may not complete a follow-up of ``kind`` ("" when it may): a stage review
    (``STAGE_REVIEW_KINDS``) is the ``series_review_role``'s judgement, whoever may call about
    it ("Only a prescriber may complete an end-of-induction review")."""
    if kind not in STAGE_REVIEW_KINDS or role == settings.series_review_role:
        return ""
    what = kind_label(kind).lower()
    article = "an" if what[:1] in "aeiou" else "a"
    return f"Only a {role_name(settings.series_review_role)} may complete {article} {what}"


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


#: The follow-ups that are an outcome measure taken before a session: the instrument's code
#: (``measures.toml``).  Entering the answers closes one (``services/monitoring/measurements``).
MEASURE_KINDS = frozenset({"phq9", "gad7"})
#: How a measure follow-up closed without answers begins its outcome.
NOT_TAKEN = "Not taken"


def measure_close_problem(kind: str) -> str:
    """Why a measure follow-up is not marked done with words ("" for any other kind).  A
    user trial marked a PHQ-9 done with "done": no scores, no self-harm question asked, so no
    urgent review could ever open.  A measure is done when its answers are entered; when the
    patient did not take it, that is said, with why (``NOT_TAKEN``)."""
    if kind not in MEASURE_KINDS:
        return ""
    label = kind_label(kind)
    return (
        f"a {label} is done when its answers are entered (Enter {label}…); if the patient "
        "did not take it, mark it not taken and say why"
    )


@dataclass(frozen=True, slots=True)
class OwedFollowUp:
    """One follow-up a session owes: what, by whom, due when and by when at the latest."""

    kind: str
    due: dt.datetime
    deadline: dt.datetime | None
    assignee_role: str
    priority: str = NORMAL


# ---------------------------------------------------------------------------------------------
# Business days


def is_business_day(calendar: ClinicCalendar, day: dt.date) -> bool:
    """Open at all: not a weekend (closed weekday), public holiday or whole-day closure."""
    return calendar.closed_reason(day) is None


def next_business_day(calendar: ClinicCalendar, day: dt.date, n: int = 1) -> dt.date:
    """The ``n``-th business day after ``day`` (``n`` = 0: ``day`` itself if open, else the
    next business day)."""
    found = 0
    current = day
    if n == 0:
        if is_business_day(calendar, day):
            return day
        n = 1
    for _ in range(_MAX_SEARCH_DAYS * max(1, n)):
        current += dt.timedelta(days=1)
        if is_business_day(calendar, current):
            found += 1
            if found == n:
                return current
    raise ValueError(f"the clinic is not open on any day in the year after {day:%Y-%m-%d}")


def business_hours(calendar: ClinicCalendar, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """When a day's work starts and ends: its opening hours, or the whole day when closed."""
    intervals = calendar.open_intervals(day)
    if intervals:
        return intervals[0].start, intervals[-1].end
    bounds = calendar.day_bounds(day)
    return bounds.start, bounds.end


# ---------------------------------------------------------------------------------------------
# What a session owes


def rule_follow_up(
    rule: FollowUpRule,
    start: dt.datetime,
    end: dt.datetime,
    calendar: ClinicCalendar,
) -> OwedFollowUp:
    """When one rule's follow-up is due for a session from ``start`` to ``end`` (UTC)."""
    day = calendar.local_date(start)
    if rule.before_session:
        # Collected at check-in: due when the session starts, late once it has.
        return OwedFollowUp(rule.kind, start, start, rule.assignee_role)
    if rule.business_days is not None:
        opens, closes = business_hours(
            calendar, next_business_day(calendar, day, rule.business_days)
        )
        return OwedFollowUp(rule.kind, opens, closes, rule.assignee_role)
    if rule.calendar_days is not None:
        # Calendar days, whatever the clinic's hours: a regulator's deadline (REMS: 7 days).
        deadline = calendar.day_bounds(day + dt.timedelta(days=rule.calendar_days)).end
        return OwedFollowUp(rule.kind, end, deadline, rule.assignee_role)
    low = rule.min_days if rule.min_days is not None else 0
    high = rule.max_days if rule.max_days is not None else low
    due, deadline = window_of(calendar, day, low, high)
    return OwedFollowUp(rule.kind, due, deadline, rule.assignee_role)


def window_of(
    calendar: ClinicCalendar, day: dt.date, low: int, high: int
) -> tuple[dt.datetime, dt.datetime]:
    """A window of days after ``day``: due from the opening of the first business day at
    least ``low`` days later, by the end of the day ``high`` days later."""
    deadline = calendar.day_bounds(day + dt.timedelta(days=high)).end
    try:
        first = next_business_day(calendar, day + dt.timedelta(days=low), 0)
    except ValueError:
        return deadline, deadline
    return min(business_hours(calendar, first)[0], deadline), deadline


def session_follow_ups(
    spec: SessionTypeSpec,
    start: dt.datetime,
    end: dt.datetime,
    status: str,
    calendar: ClinicCalendar,
) -> tuple[OwedFollowUp, ...]:
    """The follow-ups a session of type ``spec`` owes in its current ``status``.

    Before-session rules are owed from booking on; a rule ``owed_from_start`` (the REMS form)
    once the session started, whether or not it was ever marked completed; the others only once
    the session was completed.  A cancelled or missed session owes nothing.
    """
    owed: list[OwedFollowUp] = []
    for rule in spec.followups:
        statuses = BEFORE_SESSION_STATUSES if rule.before_session else AFTER_SESSION_STATUSES
        if rule.owed_from_start:
            statuses = STARTED_STATUSES
        if status in statuses:
            owed.append(rule_follow_up(rule, start, end, calendar))
    return tuple(owed)


def completion_follow_up(
    on_complete: CompletionFollowUp,
    last_end: dt.datetime,
    calendar: ClinicCalendar,
    assignee_role: str,
) -> OwedFollowUp:
    """A protocol stage's own follow-up (the booster review) after its last session: due from
    ``min_days`` after that session, by the end of ``max_days`` after it."""
    day = calendar.local_date(last_end)
    due, deadline = window_of(calendar, day, on_complete.min_days, on_complete.max_days)
    return OwedFollowUp(on_complete.followup, due, deadline, assignee_role)


def stage_ranges(protocol: ProtocolSpec) -> list[tuple[ProtocolStage, int, int]]:
    """Each stage of a protocol with the first and last series index it covers (1-based,
    inclusive; a stage whose sessions are each followed by another counts both)."""
    ranges = []
    first = 1
    for stage in protocol.stages:
        size = stage.count * (2 if stage.followed_by else 1)
        ranges.append((stage, first, first + size - 1))
        first += size
    return ranges


def stage_finished(
    first: int, last: int, planned_count: int, sessions: Iterable[tuple[int, str]]
) -> bool:
    """Whether a protocol stage (series places ``first``..``last``) is over: the last place
    the series planned for it was held, and none of its sessions is still to come.  A session
    missed on the way does not keep it open (a patient who came to the last infusion has
    finished the induction); one who stopped coming has not.  ``sessions`` are (series index,
    status) pairs."""
    top = min(last, planned_count)
    if top < first:
        return False
    held_last = False
    for index, status in sessions:
        if not first <= index <= last or status in NOT_HELD_STATUSES:
            continue
        if status not in AFTER_SESSION_STATUSES:
            return False
        held_last = held_last or index == top
    return held_last


def adverse_event_follow_up(
    at: dt.datetime, calendar: ClinicCalendar, settings: FollowUpSettings
) -> OwedFollowUp:
    """An adverse event is followed up at once, by the end of the configured business day."""
    day = calendar.local_date(at)
    last = next_business_day(calendar, day, settings.adverse_event_business_days)
    deadline = max(business_hours(calendar, last)[1], at)
    return OwedFollowUp("adverse_event", at, deadline, settings.adverse_event_role, HIGH)


def outreach_follow_up(
    missed_at: dt.datetime, calendar: ClinicCalendar, business_days: int, role: str
) -> OwedFollowUp:
    """The outreach call a missed series session owes (scheduling/dropout.py): due when the
    miss was recorded, by the close of the ``business_days``-th business day after (0: by that
    day's close)."""
    day = calendar.local_date(missed_at)
    last = next_business_day(calendar, day, business_days)
    deadline = max(business_hours(calendar, last)[1], missed_at)
    return OwedFollowUp("outreach_call", missed_at, deadline, role, HIGH)


def reattempt_at(calendar: ClinicCalendar, now: dt.datetime, retry_hours: int) -> dt.datetime:
    """When to call again after an unreached call: ``retry_hours`` later, or the next opening
    when the clinic is closed then."""
    when = now + dt.timedelta(hours=retry_hours)
    day = calendar.local_date(when)
    for interval in calendar.open_intervals(day):
        if interval.start <= when < interval.end:
            return when
        if when < interval.start:
            return interval.start
    return business_hours(calendar, next_business_day(calendar, day, 1))[0]


# ---------------------------------------------------------------------------------------------
# How the queue reads an item


class Section(enum.StrEnum):
    #: Urgent (an urgent review): due at once, whatever its deadline, listed first.  An item's
    #: own section is never this one (it stays overdue, due today or upcoming, for its
    #: colours and counts); the queue lists urgent items under it.
    URGENT = "urgent"
    OVERDUE = "overdue"
    DUE_TODAY = "due_today"
    UPCOMING = "upcoming"
    LATER = "later"  # beyond the queue's horizon


SECTION_TITLES = {
    Section.URGENT: "Urgent · due now",
    Section.OVERDUE: "Overdue",
    Section.DUE_TODAY: "Due today",
    Section.UPCOMING: "Upcoming",
    Section.LATER: "Later",
}


def section_of(
    now: dt.datetime,
    due: dt.datetime,
    deadline: dt.datetime | None,
    calendar: ClinicCalendar,
    upcoming_days: int,
) -> Section:
    """Overdue once the deadline has passed (without one: once the due day has); due today
    when it must be done by the end of today (its deadline, else its due time, is today: what
    ``countdown_text`` says "due today" of); one that may be done now but by a later day
    (a REMS form's 7 days, an adverse-event follow-up by tomorrow) is upcoming, whatever the
    horizon; not yet due: upcoming when due within ``upcoming_days``, later after that.
    (A user trial found "… by Tue Dec 8 17:00 · due by tomorrow" under "Due today".)"""
    today = calendar.local_date(now)
    if deadline is not None:
        if deadline <= now:
            return Section.OVERDUE
    elif calendar.local_date(due) < today:
        return Section.OVERDUE
    due_day = calendar.local_date(due)
    if due_day <= today:
        return (
            Section.DUE_TODAY if _last_day(due, deadline, calendar) <= today else Section.UPCOMING
        )
    if (due_day - today).days <= upcoming_days:
        return Section.UPCOMING
    return Section.LATER


def _last_day(due: dt.datetime, deadline: dt.datetime | None, calendar: ClinicCalendar) -> dt.date:
    """The day a follow-up must be done by: its deadline's (a deadline at midnight ends the day
    before it), else its due time's.  The queue's section and countdown both count to it."""
    if deadline is None:
        return calendar.local_date(due)
    at_midnight = calendar.minute_of_day(deadline) == 0
    return calendar.local_date(deadline - _INSTANT if at_midnight else deadline)


def snooze_default(
    now: dt.datetime, calendar: ClinicCalendar, search_days: int
) -> dt.datetime | None:
    """Where a snooze lands unless the user says otherwise: the clinic's next opening on a
    later day than ``now``'s (never a weekend or holiday it is closed on), local; None when it
    does not open within ``search_days``."""
    today = calendar.local_date(now)
    for n in range(1, search_days + 1):
        intervals = calendar.open_intervals(today + dt.timedelta(days=n))
        if intervals:
            return calendar.local(intervals[0].start)
    return None


def awaiting_check_in(status: str | None) -> bool:
    """Whether a session (``status``; None: no session) is still waiting for its patient: a
    follow-up collected at check-in (a PHQ-9) waits with it."""
    return status is not None and status not in ATTENDED_STATUSES


def check_in_deadline(
    deadline: dt.datetime | None, status: str | None, ends_at: dt.datetime | None
) -> dt.datetime | None:
    """When a follow-up collected at check-in (the PHQ-9 before each dose) turns overdue.

    Once the patient is checked in it is late from the session's start (the stored
    ``deadline``): they are there, ask now.  Before that it waits for them, and turns overdue
    only when the session's planned end (``ends_at``) has passed without a check-in: the
    session happened, or should have, without it."""
    if not awaiting_check_in(status) or ends_at is None:
        return deadline
    return ends_at if deadline is None else max(deadline, ends_at)


def due_text(due: dt.datetime, deadline: dt.datetime | None, now: dt.datetime, fmt: str) -> str:
    """When a follow-up is due, as the queue's Due column says it (local times).

    A follow-up that may be done over several days (the REMS form: from the session's end to
    the end of the 7th calendar day after it) is due *by* its last day from its first day on
    ("by end of Tue Dec 1", the session's date + 7, never the day after), and from its first
    day to its last before then; otherwise it is due when it is due ("Wed Nov 25 07:30")."""
    if deadline is None or deadline <= due or _same_day(due, deadline):
        return moment_text(due, fmt)
    if due.date() <= now.astimezone(due.tzinfo).date():
        return f"by {moment_text(deadline, fmt)}"
    return f"{moment_text(due, fmt)} to {moment_text(deadline, fmt)}"


def _same_day(due: dt.datetime, deadline: dt.datetime) -> bool:
    """Whether ``deadline`` ends the day ``due`` falls on (local times; midnight is the end of
    the day before)."""
    last = deadline - _INSTANT if deadline.hour == 0 and deadline.minute == 0 else deadline
    return last.date() == due.date()


def moment_text(moment: dt.datetime, fmt: str) -> str:
    """A local time as the queue shows it (in the clinic's time format ``fmt``); midnight is
    the end of the day before."""
    if moment.hour == 0 and moment.minute == 0:
        before = moment - dt.timedelta(days=1)
        return f"end of {short_date(before)}"
    return short_date_time(moment, fmt)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _span(delta: dt.timedelta) -> str:
    """ "40 mins", "1 hour", "1 hour 55 mins": whole hours alone read 1 h 55 as 1 h late."""
    minutes = max(1, int(delta.total_seconds() // 60))
    if minutes < 60:
        return _plural(minutes, "min")
    hours, rest = divmod(minutes, 60)
    return _plural(hours, "hour") + (f" {_plural(rest, 'min')}" if rest else "")


def countdown_text(
    now: dt.datetime,
    due: dt.datetime,
    deadline: dt.datetime | None,
    calendar: ClinicCalendar,
) -> str:
    """The countdown a person reads: "due in 2 days", "due today by 5:00 PM", "overdue by 1 day".

    Counted to the deadline when there is one (the REMS form's 7 days), else to the due time.
    """
    today = calendar.local_date(now)
    target = deadline if deadline is not None else due
    # A deadline at midnight is the end of the day before it ("by the end of Tuesday").
    at_midnight = calendar.minute_of_day(target) == 0 and deadline is not None
    target_day = _last_day(due, deadline, calendar)
    late = target <= now if deadline is not None else target_day < today
    if late:
        days = (today - target_day).days
        return f"overdue by {_plural(days, 'day')}" if days else f"overdue by {_span(now - target)}"
    due_day = calendar.local_date(due)
    if due_day > today:  # not yet due: count to when it is
        days = (due_day - today).days
        return "due tomorrow" if days == 1 else f"due in {days} days"
    if target_day == today:
        if deadline is None or at_midnight:
            return "due today"
        return f"due today by {calendar.clock(target)}"
    days = (target_day - today).days
    return "due by tomorrow" if days == 1 else f"due in {days} days"


# ---------------------------------------------------------------------------------------------
# An assignee away


@dataclass(frozen=True, slots=True)
class AssigneeAway:
    """A follow-up's assignee off when it falls to be worked: who, until when, and the words
    the queue shows ("Assigned to Nurse Kim, who is off through Wed Nov 25")."""

    name: str
    back: dt.datetime  # the end of the time off (local)
    words: str


def assignee_away(
    name: str,
    due: dt.datetime,
    now: dt.datetime,
    time_off: Iterable[tuple[dt.datetime, dt.datetime]],
    fmt: str,
) -> AssigneeAway | None:
    """Whether a follow-up assigned to ``name`` falls due while they are off: the moment it is
    to be worked (its due time, or now once that has passed) inside one of their ``time_off``
    spans ([start, end), local, joined when one runs into the next).  While they are off the
    follow-up is their role's to work (DOMAIN.md: follow-ups are owed by role); once they are
    back it is theirs again."""
    moment = max(due, now)
    spans = sorted(time_off)
    for index, (start, end) in enumerate(spans):
        if not start <= moment < end:
            continue
        for later_start, later_end in spans[index + 1 :]:
            if later_start > end:
                break
            end = max(end, later_end)
        return AssigneeAway(name, end, f"Assigned to {name}, who is off {_back(end, fmt)}")
    return None


def _back(end: dt.datetime, fmt: str) -> str:
    """The end of time off as a person says it: "through Wed Nov 25" for whole days (back the
    next morning), else "until Wed Nov 25 1:00 PM"."""
    if end.time() == dt.time(0, 0):
        return f"through {short_date(end.date() - dt.timedelta(days=1))}"
    return f"until {short_date_time(end, fmt)}"
