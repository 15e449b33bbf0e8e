"""The confirmation list on paper: a call sheet for a day's visits, in start order, with the
phone, the session, the call status, the checklist and a box for each outcome, for the desk to
call down with a pen.

``call_sheet`` reads the list (``services/confirmations/calls.list_confirmations``) into a
frozen ``CallSheet``; ``call_sheet_layout`` turns it into a ``PrintLayout``.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ketadesk.scheduling.confirmations import calls_progress
from ketadesk.scheduling.dates import clock
from ketadesk.services.common.context import utcnow
from ketadesk.services.common.phones import display_phone
from ketadesk.services.confirmations.calls import ConfirmationList, list_confirmations
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


@dataclass(frozen=True, slots=True)
class CallSheet:
    listed: ConfirmationList
    printed_at: dt.datetime
    paper_size: str
    #: How the clinic reads a time of day ([clinic] time_format): the page's times say so.
    time_format: str = "12h"


def call_sheet(
    db: Database, day: dt.date | None = None, *, now: dt.datetime | None = None
) -> CallSheet:
    """The confirmation list of ``day`` (the default day when None), read for printing."""
    now = now or utcnow()
    listed = list_confirmations(db, day, now=now)
    with db.read() as session:
        settings = load_catalog(session).settings
    return CallSheet(
        listed,
        now.astimezone(ZoneInfo(settings.timezone)),
        settings.paper_size,
        settings.time_format,
    )


def call_sheet_layout(sheet: CallSheet) -> PrintLayout:
    listed = sheet.listed
    tz = ZoneInfo(listed.timezone)
    blocks: list[PrintBlock] = []
    if not listed.rows:
        blocks.append(
            PrintBlock(fill("notice.html", text="No calls due: no visits to confirm on this day."))
        )
    for row in listed.rows:
        checks = [
            ("&#9746; " if item.ticked else "&#9744; ") + html.escape(item.name)
            for item in row.checklist
        ]
        if row.pickup_planned is not None and (row.driver or row.ride_phone):
            # Only a session type whose checklist asks the ride home (not a booster review).
            ride = ", ".join(p for p in (row.driver, display_phone(row.ride_phone or "")) if p)
            pickup = row.ride_pickup or clock(row.pickup_planned.astimezone(tz), sheet.time_format)
            checks.append(f"Ride: {html.escape(ride)}; pickup {html.escape(pickup)}")
        attempts = "<br/>".join(
            html.escape(
                f"{a.at.astimezone(tz):%m/%d} {clock(a.at.astimezone(tz), sheet.time_format)} "
                f"{a.username}: {a.outcome_name}" + (f" ({a.note})" if a.note else "")
            )
            for a in row.attempts
        )
        if row.schedule_change is not None and row.schedule_change.owed:
            # What the one call is to tell (the schedule-change call, on the call list too).
            told = html.escape(f"To tell: {row.schedule_change.words}")
            attempts = f"{told}<br/>{attempts}" if attempts else told
        blocks.append(
            PrintBlock(
                fill(
                    "confirmation_row.html",
                    time=clock(row.start.astimezone(tz), sheet.time_format),
                    patient=row.patient_name,
                    phone=display_phone(row.phone or "") or "no phone recorded",
                    session_type=row.session_type_name,
                    status=row.status_name,
                    checklist_html="<br/>".join(checks),
                    attempts_html=attempts,
                )
            )
        )
    progress = calls_progress(r.status for r in listed.rows)
    return PrintLayout(
        clinic_name=listed.clinic_name,
        title=f"Confirmation calls: {long_date(listed.day)} ({progress})",
        name=f"Confirmation calls {file_date(listed.day)}",
        printed_at=sheet.printed_at,
        time_format=sheet.time_format,
        css=template("style.css").template,
        blocks=tuple(blocks),
        paper_size=sheet.paper_size,
    )
