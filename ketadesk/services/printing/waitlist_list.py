"""The waitlist on paper: who waits for which place, nearest deadline first, with their phone,
for the desk to call down when a place frees up.

``waitlist_sheet`` reads the list (``services/waitlist/entries.list_entries``, its filters
too) into a frozen ``WaitlistSheet``; ``waitlist_layout`` turns it into a ``PrintLayout``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

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
from ketadesk.services.waitlist.entries import KIND_NAMES, STATUS_NAMES, WaitlistRow, list_entries
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database


@dataclass(frozen=True, slots=True)
class WaitlistSheet:
    clinic_name: str
    day: dt.date
    rows: tuple[WaitlistRow, ...]
    printed_at: dt.datetime
    #: How the clinic reads a time of day ([clinic] time_format): the page's times say so.
    time_format: str = "12h"


def waitlist_sheet(
    db: Database,
    *,
    statuses: Sequence[str] = ("waiting",),
    session_type: str | None = None,
    text: str = "",
    now: dt.datetime | None = None,
) -> WaitlistSheet:
    """The waitlist as filtered on screen, read for printing."""
    now = now or utcnow()
    rows = list_entries(db, statuses=statuses, session_type=session_type, text=text, now=now)
    with db.read() as session:
        settings = load_catalog(session).settings
    local = now.astimezone(ZoneInfo(settings.timezone))
    return WaitlistSheet(settings.name, local.date(), tuple(rows), local, settings.time_format)


def waitlist_layout(sheet: WaitlistSheet) -> PrintLayout:
    blocks: list[PrintBlock] = []
    if not sheet.rows:
        blocks.append(PrintBlock(fill("notice.html", text="Nobody is on the waitlist.")))
    for row in sheet.rows:
        blocks.append(
            PrintBlock(
                fill(
                    "waitlist_row.html",
                    patient=row.patient_name,
                    chart=row.chart_number,
                    phone=display_phone(row.phone or "") or "no phone recorded",
                    session_type=row.session_type_name,
                    kind=KIND_NAMES.get(row.kind, row.kind),
                    added=f"{row.added_at:%m/%d/%Y}",
                    days=row.days_text,
                    times=row.times_text,
                    where=row.where_text,
                    deadline=row.deadline_text,
                    status="" if row.status == "waiting" else STATUS_NAMES[row.status],
                    notes=row.notes,
                )
            )
        )
    return PrintLayout(
        clinic_name=sheet.clinic_name,
        title=f"Waitlist: {long_date(sheet.day)} ({len(sheet.rows)})",
        name=f"Waitlist {file_date(sheet.day)}",
        printed_at=sheet.printed_at,
        time_format=sheet.time_format,
        css=template("style.css").template,
        blocks=tuple(blocks),
    )
