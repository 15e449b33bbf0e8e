"""The call list: next-day, schedule-change and dropout outreach calls due on a day or overdue,
oldest first.  An outreach call (scheduling/dropout.py) says what was missed and its deadline.
Urgent (suicidality) reviews are not calls and are not printed here: their reasons stay on
screen (chair board, My day).

``call_list`` reads the database into a frozen ``CallList``; ``calls_layout`` turns it into a
``PrintLayout``.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select

from ketadesk.scheduling.dates import WEEKDAY_ABBR, clock, short_date_time
from ketadesk.scheduling.dropout import MISS_NAMES, OUTREACH_CALL, miss_of
from ketadesk.services.common.context import utcnow
from ketadesk.services.common.phones import display_phone
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
    Patient,
    Series,
    SessionType,
)

#: The follow-ups made by phone from the printed list: the next-day call after a session, the
#: call about a session a closure moved (services/settings/consequences.py), and the dropout
#: outreach call after a no-show or late cancellation (services/followups/sync.py).
CALL_KINDS = ("next_day_call", "schedule_change", OUTREACH_CALL)
#: What the caller asks, by kind.
ASK = {
    "next_day_call": "Ask: how are you feeling today? Any nausea, dizziness, low mood or "
    "thoughts of self-harm? Did you get home safely?",
    "schedule_change": "Tell: the new time, and why. Ask: does it suit? If not, agree another "
    "time and move the session in KetaDesk.",
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


@dataclass(frozen=True, slots=True)
class CallList:
    clinic_name: str
    day: dt.date
    calls: tuple[CallEntry, ...]
    printed_at: dt.datetime
    #: How the clinic reads a time of day ([clinic] time_format): the page's times say so.
    time_format: str = "12h"


def call_list(db: Database, day: dt.date, *, now: dt.datetime | None = None) -> CallList:
    """The calls due on the clinic's local ``day`` or overdue, still open (or snoozed until
    before the day ends), oldest first.  An outreach call is overdue once its deadline has
    passed by the start of the day; it says what was missed, and by when to call."""
    with db.read() as session:
        catalog = load_catalog(session)
        tz = ZoneInfo(catalog.settings.timezone)
        day_start = dt.datetime.combine(day, dt.time(), tz)
        day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
        rows = session.execute(
            select(
                FollowUp.due_at,
                FollowUp.priority,
                FollowUp.kind,
                FollowUp.outcome,
                FollowUp.deadline_at,
                FollowUp.status,
                FollowUp.snoozed_until,
                Appointment.status,
                Appointment.late_cancel,
                Appointment.series_index,
                Series.planned_count,
                Patient.first_name,
                Patient.last_name,
                Patient.chart_number,
                Patient.phone,
                Appointment.starts_at,
                SessionType.name,
            )
            .join(Patient, Patient.id == FollowUp.patient_id)
            .outerjoin(Appointment, Appointment.id == FollowUp.appointment_id)
            .outerjoin(SessionType, SessionType.id == Appointment.session_type_id)
            .outerjoin(Series, Series.id == Appointment.series_id)
            .where(
                FollowUp.kind.in_(CALL_KINDS),
                or_(
                    FollowUp.status == "open",
                    and_(FollowUp.status == "snoozed", FollowUp.snoozed_until < day_end),
                ),
                FollowUp.due_at < day_end,
            )
            .order_by(FollowUp.due_at, Patient.last_name, Patient.first_name, FollowUp.id)
        ).all()
    calls = []
    for (
        due_at,
        priority,
        kind,
        outcome,
        deadline_at,
        status,
        snoozed_until,
        appointment_status,
        late_cancel,
        series_index,
        planned_count,
        first,
        last,
        chart,
        phone,
        starts_at,
        type_name,
    ) in rows:
        if status == "snoozed" and snoozed_until is not None and snoozed_until > due_at:
            due_at = snoozed_until  # put aside until then
        fmt = catalog.settings.time_format
        what = f"{type_name}, {short_date_time(starts_at.astimezone(tz), fmt)}" if starts_at else ""
        if kind == "schedule_change":
            what = f"Schedule change: {outcome}"  # what moved where, and why
        overdue = due_at < day_start
        if kind == OUTREACH_CALL:
            # What was missed: "Missed Spravato 3/8 (no-show), Mon 12/7 09:00".
            miss = MISS_NAMES.get(miss_of(appointment_status or "", bool(late_cancel)), "")
            place = f" {series_index}/{planned_count}" if series_index and planned_count else ""
            when = f", {_month_day_time(starts_at.astimezone(tz), fmt)}" if starts_at else ""
            what = f"Missed {type_name or 'a session'}{place}" + (f" ({miss})" if miss else "")
            what += when
            overdue = deadline_at is not None and deadline_at < day_start
        calls.append(
            CallEntry(
                patient_name=f"{last}, {first}",
                chart_number=chart,
                phone=phone,
                due=due_at.astimezone(tz),
                overdue=overdue,
                session=what,
                priority=priority,
                ask=ASK.get(kind, ""),
                deadline=deadline_at.astimezone(tz) if deadline_at is not None else None,
            )
        )
    return CallList(
        clinic_name=catalog.settings.name,
        day=day,
        calls=tuple(calls),
        printed_at=(now or utcnow()).astimezone(tz),
        time_format=catalog.settings.time_format,
    )


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
        due = html.escape(f"{WEEKDAY_ABBR[c.due.weekday()]} {c.due.month}/{c.due.day}")
        if c.deadline is not None:
            due += (
                f"<br/><b>Call by {html.escape(_month_day_time(c.deadline, calls.time_format))}</b>"
            )
        due += " (overdue)" if c.overdue else ""
        blocks.append(
            PrintBlock(
                fill(
                    "call_row.html",
                    patient=c.patient_name,
                    chart=c.chart_number,
                    phone=display_phone(c.phone) or "no phone recorded",
                    due_html=due,
                    session=c.session,
                    ask=c.ask,
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
