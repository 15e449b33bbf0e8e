"""The call list: next-day and schedule-change calls due on a day or overdue, oldest first.

``call_list`` reads the database into a frozen ``CallList``; ``calls_layout`` turns it into a
``PrintLayout``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ketadesk.scheduling.dates import short_date, short_date_time
from ketadesk.services.common.context import utcnow
from ketadesk.services.printing.layout import (
    PrintBlock,
    PrintLayout,
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
    SessionType,
)

#: The follow-ups made by phone from the printed list: the next-day call after a session, and
#: the call about a session a closure moved (services/settings/consequences.py).
CALL_KINDS = ("next_day_call", "schedule_change")
#: What the caller asks, by kind.
ASK = {
    "next_day_call": "Ask: how are you feeling today? Any nausea, dizziness, low mood or "
    "thoughts of self-harm? Did you get home safely?",
    "schedule_change": "Tell: the new time, and why. Ask: does it suit? If not, agree another "
    "time and move the session in KetaDesk.",
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


@dataclass(frozen=True, slots=True)
class CallList:
    clinic_name: str
    day: dt.date
    calls: tuple[CallEntry, ...]
    printed_at: dt.datetime


def call_list(db: Database, day: dt.date, *, now: dt.datetime | None = None) -> CallList:
    """Next-day calls due on the clinic's local ``day`` or overdue, still open, oldest first."""
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
            .where(
                FollowUp.kind.in_(CALL_KINDS),
                FollowUp.status == "open",
                FollowUp.due_at < day_end,
            )
            .order_by(FollowUp.due_at, Patient.last_name, Patient.first_name, FollowUp.id)
        ).all()
    calls = []
    for due_at, priority, kind, outcome, first, last, chart, phone, starts_at, type_name in rows:
        what = f"{type_name}, {short_date_time(starts_at.astimezone(tz))}" if starts_at else ""
        if kind == "schedule_change":
            what = f"Schedule change: {outcome}"  # what moved where, and why
        calls.append(
            CallEntry(
                patient_name=f"{last}, {first}",
                chart_number=chart,
                phone=phone,
                due=due_at.astimezone(tz),
                overdue=due_at < day_start,
                session=what,
                priority=priority,
                ask=ASK.get(kind, ""),
            )
        )
    return CallList(
        clinic_name=catalog.settings.name,
        day=day,
        calls=tuple(calls),
        printed_at=(now or utcnow()).astimezone(tz),
    )


def calls_layout(calls: CallList) -> PrintLayout:
    blocks: list[PrintBlock] = []
    if not calls.calls:
        blocks.append(
            PrintBlock(fill("notice.html", text=f"No calls due on {long_date(calls.day)}."))
        )
    for c in calls.calls:
        due = short_date(c.due) + (" (overdue)" if c.overdue else "")
        blocks.append(
            PrintBlock(
                fill(
                    "call_row.html",
                    patient=c.patient_name,
                    chart=c.chart_number,
                    phone=c.phone or "no phone recorded",
                    due=due,
                    session=c.session,
                    ask=c.ask,
                    priority="" if c.priority == "normal" else c.priority.upper(),
                )
            )
        )
    return PrintLayout(
        clinic_name=calls.clinic_name,
        title=f"Follow-up calls: {long_date(calls.day)}",
        printed_at=calls.printed_at,
        css=template("style.css").template,
        blocks=tuple(blocks),
    )
