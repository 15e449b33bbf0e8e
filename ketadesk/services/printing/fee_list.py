"""The fees list on paper: late-cancellation and no-show fees for a date range, as filtered on
screen, with what is owed.

``fee_sheet`` reads the list (``services/fees/fees.list_fees``) into a frozen ``FeeSheet``;
``fee_layout`` turns it into a ``PrintLayout`` (Letter by default, as every document).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ketadesk.services.common.context import Actor, utcnow
from ketadesk.services.fees.fees import FeeList, list_fees
from ketadesk.services.printing.layout import PrintBlock, PrintLayout, file_date, fill, template
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database


@dataclass(frozen=True, slots=True)
class FeeSheet:
    clinic_name: str
    fees: FeeList
    printed_at: dt.datetime
    #: How the clinic reads a time of day ([clinic] time_format): the page's times say so.
    time_format: str = "12h"


def fee_sheet(
    db: Database,
    actor: Actor,
    first: dt.date,
    last: dt.date,
    *,
    status: str | None = None,
    now: dt.datetime | None = None,
) -> FeeSheet:
    """The fees as filtered on screen, read for printing."""
    now = now or utcnow()
    fees = list_fees(db, actor, first, last, status=status, now=now)
    with db.read() as session:
        settings = load_catalog(session).settings
    return FeeSheet(
        settings.name, fees, now.astimezone(ZoneInfo(settings.timezone)), settings.time_format
    )


def fee_layout(sheet: FeeSheet) -> PrintLayout:
    fees = sheet.fees
    blocks: list[PrintBlock] = []
    if not fees.rows:
        blocks.append(PrintBlock(fill("notice.html", text="No fees in this range.")))
    for row in fees.rows:
        waived = (
            f"Waived by {row.waived_by or 'system'}: {row.waive_reason}"
            if row.status == "waived"
            else ""
        )
        blocks.append(
            PrintBlock(
                fill(
                    "fee_row.html",
                    patient=row.patient_name,
                    chart=row.chart_number,
                    kind=row.kind_name,
                    session_type=row.session_type_name,
                    session=row.session_when,
                    amount=row.amount_text,
                    status=row.status_name,
                    charged=f"{row.charged_at:%m/%d/%Y}",
                    charged_by=row.charged_by,
                    waived=waived,
                )
            )
        )
    blocks.append(PrintBlock(fill("notice.html", text=fees.summary)))
    span = f"{fees.first:%m/%d/%Y}" + (
        f" to {fees.last:%m/%d/%Y}" if fees.last != fees.first else ""
    )
    which = f", {fees.status}" if fees.status else ""
    return PrintLayout(
        clinic_name=sheet.clinic_name,
        title=f"Fees: {span}{which}",
        name=f"Fees {file_date(fees.first)}"
        + (f" to {file_date(fees.last)}" if fees.last != fees.first else "")
        + (f" {fees.status}" if fees.status else ""),
        printed_at=sheet.printed_at,
        time_format=sheet.time_format,
        css=template("style.css").template,
        blocks=tuple(blocks),
    )
