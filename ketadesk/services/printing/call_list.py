"""The call list: next-day, schedule-change and dropout outreach calls due on a day or overdue,
as the follow-up queue lists them for the one printing (``followups.queue.queue_in``: the same
calls, the same "Due" and "When" words, the calls already made), each patient's calls
together, oldest first.  An outreach call (scheduling/dropout.py) says what was missed.  Urgent
(suicidality) reviews are not calls and are not printed here: their reasons stay on screen
(chair board, My day).

``call_list`` reads the database into a frozen ``CallList``; ``calls_layout`` turns it into a
``PrintLayout``.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.dates import WEEKDAY_ABBR, clock, short_date_time
from ketadesk.scheduling.dropout import MISS_NAMES, OUTREACH_CALL, miss_of
from ketadesk.scheduling.followup_rules import (
    CALL_KINDS,
    MOVED_WORDS,
    NO_NEW_TIME_WORDS,
    next_business_day,
)
from ketadesk.services.common.context import Actor, utcnow
from ketadesk.services.common.phones import display_phone
from ketadesk.services.followups.queue import queue_in
from ketadesk.services.followups.sync import (
    CALENDAR_DAYS_AHEAD,
    clinic_calendar,
    followup_settings,
)
from ketadesk.services.printing.layout import (
    PrintBlock,
    PrintLayout,
    file_date,
    fill,
    long_date,
    template,
)
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import (
    Appointment,
    FollowUp,
    Series,
    SessionType,
)

#: What the caller asks, by kind.
ASK = {
    "next_day_call": "Ask: how are you feeling today? Any nausea, dizziness, low mood or "
    "thoughts of self-harm? Did you get home safely?",
    "schedule_change": "Tell: the new time, and why. Ask: does it suit? If not, agree another "
    "time and move the session in KetaDesk. Reached, this call confirms the new time: no "
    "confirmation call follows.",
    # A closure left a session with no new time (and moved nothing): nothing to tell but why.
    "schedule_change_no_time": "Tell: the session cannot go ahead as booked, and why. Agree a "
    "new time with the patient and book it in KetaDesk.",
    # Some sessions moved, another has no new time.
    "schedule_change_some": "Tell: the new time, and why; for the session with no new time, "
    "agree one with the patient and book it in KetaDesk. Ask: does the new time suit? "
    "Reached, this call confirms the new time: no confirmation call follows.",
    OUTREACH_CALL: "Ask: is everything all right? Offer the make-up session (or the waitlist) "
    "and record the answer in KetaDesk (Recall lists ▸ At risk).",
}


@dataclass(frozen=True, slots=True)
class CallEntry:
    patient_name: str
    chart_number: str
    phone: str
    due: dt.datetime
    overdue: bool
    session: str  # "IV ketamine infusion, Mon 23 Nov 09:00", or ""
    priority: str
    ask: str = ASK["next_day_call"]  # what the caller says or asks
    #: The time by which the call must be made (the outreach call's deadline), or None.
    deadline: dt.datetime | None = None
    #: The queue's words: when it is due ("by Tue Dec 8 18:00") and the countdown ("due by
    #: tomorrow", "overdue by 3 days"), and the calls already made ("1 · Left voicemail Fri
    #: 14:10", "" before the first).
    due_text: str = ""
    countdown: str = ""
    attempts: str = ""
    #: Which of the patient's calls on this list it is (1 of 2), 0 when it is their only one.
    of_patient: tuple[int, int] = (0, 0)
    #: What to do on a yes to the self-harm question (a next-day call): the clinic's
    #: ``[followups] self_harm_instruction``; "" when the call asks no such question.
    if_yes: str = ""


@dataclass(frozen=True, slots=True)
class CallList:
    clinic_name: str
    day: dt.date
    calls: tuple[CallEntry, ...]
    printed_at: dt.datetime
    #: How the clinic reads a time of day ([clinic] time_format): the page's times say so.
    time_format: str = "12h"


def call_list(
    db: Database, actor: Actor, day: dt.date | None, *, now: dt.datetime | None = None
) -> CallList:
    """The calls due on the clinic's local ``day`` (None: its today, at ``now``) or overdue,
    still open (or snoozed until before the day ends), as ``actor``'s follow-up queue lists
    them: judged at ``now`` when the day is today, else as the day starts.  Each patient's
    calls are printed together (the patient with the oldest call first), each saying which of
    them it is; an outreach call says what was missed."""
    now = now or utcnow()
    with db.read() as session:
        catalog = load_catalog(session)
        tz = ZoneInfo(catalog.settings.timezone)
        if day is None:
            day = now.astimezone(tz).date()
        instruction = followup_settings(catalog).self_harm_instruction
        day_start = dt.datetime.combine(day, dt.time(), tz)
        day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
        judged = now if day_start <= now < day_end else day_start
        calls = [
            item
            for item in queue_in(session, actor, now=judged).items
            if item.kind in CALL_KINDS and item.due < day_end
        ]
        about: dict[int, tuple[Any, ...]] = {
            row[0]: tuple(row[1:])
            for row in session.execute(
                select(
                    FollowUp.id,
                    FollowUp.outcome,
                    Appointment.status,
                    Appointment.late_cancel,
                    Appointment.series_index,
                    Series.planned_count,
                    Appointment.starts_at,
                    SessionType.name,
                )
                .outerjoin(Appointment, Appointment.id == FollowUp.appointment_id)
                .outerjoin(SessionType, SessionType.id == Appointment.session_type_id)
                .outerjoin(Series, Series.id == Appointment.series_id)
                .where(FollowUp.id.in_(sorted(i.id for i in calls)))
            )
        }
    first_due: dict[int, dt.datetime] = {}
    for item in calls:
        first_due[item.patient_id] = min(item.due, first_due.get(item.patient_id, item.due))
    calls.sort(key=lambda i: (first_due[i.patient_id], i.patient_name, i.patient_id, i.due, i.id))
    per_patient = {pid: sum(1 for i in calls if i.patient_id == pid) for pid in first_due}
    entries = []
    seen: dict[int, int] = {}
    fmt = catalog.settings.time_format
    for item in calls:
        outcome, status, late_cancel, index, planned, starts_at, type_name = about[item.id]
        what = f"{type_name}, {short_date_time(starts_at.astimezone(tz), fmt)}" if starts_at else ""
        if item.kind == "schedule_change":
            what = f"Schedule change: {outcome}"  # what moved where, and why
        if item.kind == OUTREACH_CALL:
            # What was missed: "Missed Spravato 3/8 (no-show), Mon 12/7 09:00".
            miss = MISS_NAMES.get(miss_of(status or "", bool(late_cancel)), "")
            place = f" {index}/{planned}" if index and planned else ""
            when = f", {_month_day_time(starts_at.astimezone(tz), fmt)}" if starts_at else ""
            what = f"Missed {type_name or 'a session'}{place}" + (f" ({miss})" if miss else "")
            what += when
        seen[item.patient_id] = seen.get(item.patient_id, 0) + 1
        entries.append(
            CallEntry(
                patient_name=item.patient_name,
                chart_number=item.chart_number,
                phone=item.phone,
                due=item.due,
                overdue=item.overdue,
                session=what,
                priority=item.priority,
                ask=ASK.get(_ask_kind(item.kind, outcome or ""), ""),
                if_yes=instruction if item.kind == "next_day_call" else "",
                deadline=item.deadline,
                due_text=item.due_text,
                countdown=item.countdown,
                attempts=item.attempts_words,
                of_patient=(
                    (seen[item.patient_id], per_patient[item.patient_id])
                    if per_patient[item.patient_id] > 1
                    else (0, 0)
                ),
            )
        )
    return CallList(
        clinic_name=catalog.settings.name,
        day=day,
        calls=tuple(entries),
        printed_at=now.astimezone(tz),
        time_format=fmt,
    )


def next_call_day(db: Database, *, now: dt.datetime | None = None) -> dt.date:
    """The clinic's next business day after its today at ``now`` (weekends, holidays and
    whole-day closures skipped): whose call list the desk prints the evening before, so the
    next-day calls due at its opening are on paper."""
    now = now or utcnow()
    with db.read() as session:
        catalog = load_catalog(session)
        today = ClinicCalendar(catalog.settings).local_date(now)
        calendar = clinic_calendar(
            session, catalog, Interval(now, now + dt.timedelta(days=CALENDAR_DAYS_AHEAD))
        )
        return next_business_day(calendar, today, 1)


def _ask_kind(kind: str, outcome: str) -> str:
    """Which words the caller is given: a schedule change with no new time asks for one
    rather than telling one."""
    if kind != "schedule_change" or NO_NEW_TIME_WORDS not in outcome:
        return kind
    return "schedule_change_some" if MOVED_WORDS in outcome else "schedule_change_no_time"


def _month_day_time(moment: dt.datetime, fmt: str) -> str:
    """``Mon 12/7 5:00 PM``: a time the caller reads, its date as month/day."""
    return f"{WEEKDAY_ABBR[moment.weekday()]} {moment.month}/{moment.day} {clock(moment, fmt)}"


def calls_layout(calls: CallList) -> PrintLayout:
    blocks: list[PrintBlock] = []
    if not calls.calls:
        blocks.append(
            PrintBlock(fill("notice.html", text=f"No calls due on {long_date(calls.day)}."))
        )
    for c in calls.calls:
        # The queue's own words: its Due column, then its countdown, then the calls made.
        due = html.escape(c.due_text) + f"<br/><b>{html.escape(c.countdown)}</b>"
        if c.attempts:
            due += f"<br/>Calls so far: {html.escape(c.attempts)}"
        also = ""
        if c.of_patient != (0, 0):
            k, n = c.of_patient
            also = (
                f"<br/><b>Call {k} of {n} to this patient on this list</b>: "
                "each is about a different visit"
            )
        blocks.append(
            PrintBlock(
                fill(
                    "call_row.html",
                    patient=c.patient_name,
                    chart=c.chart_number,
                    phone=display_phone(c.phone) or "no phone recorded",
                    due_html=due,
                    session=c.session,
                    also_html=also,
                    ask=c.ask,
                    if_yes_html=f"<br/><b>{html.escape(c.if_yes)}</b>" if c.if_yes else "",
                    priority="" if c.priority == "normal" else c.priority.upper(),
                )
            )
        )
    return PrintLayout(
        clinic_name=calls.clinic_name,
        title=f"Follow-up calls: {long_date(calls.day)}",
        name=f"Follow-up calls {file_date(calls.day)}",
        printed_at=calls.printed_at,
        time_format=calls.time_format,
        css=template("style.css").template,
        blocks=tuple(blocks),
    )
