"""A visit a closure moved, on paper: the call list's schedule-change call says that reaching
the patient confirms the new time, and the confirmation call sheet lists the visit as "Moved:
tell the new time" rather than a plain confirmation; once the call reached the patient, the
sheet says it is confirmed and the call list no longer has the call.

Ada's IV induction of the availability tests' clinic (dates from the injected clock); a
training day closes her second session's day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.followups import actions
from ketadesk.services.printing.call_list import call_list, calls_layout
from ketadesk.services.printing.call_sheet import call_sheet, call_sheet_layout
from ketadesk.services.settings import consequences
from ketadesk.services.settings.availability import Unavailability
from ketadesk.ui.printing.printing import print_pdf
from tests.pictures import picture_folder
from tests.printing.test_print import pdf_pages
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
pytestmark = pytest.mark.usefixtures("holiday_cache_in_tmp")


@pytest.fixture
def booked(sqlite_url: str) -> Iterator[BookedClinic]:
    b = booked_clinic(sqlite_url)
    yield b
    b.clinic.db.dispose()


def _text(layout: object, name: str) -> str:
    out = picture_folder("calls") / name
    print_pdf(layout, out)  # type: ignore[arg-type]
    return " ".join(" ".join(pdf_pages(out)).split())


def test_the_papers_make_one_call_of_a_moved_visit(qapp: object, booked: BookedClinic) -> None:
    b = booked
    second = b.series[1]
    day = b.day_of(second)
    cal = b.clinic.calendar
    proposed = Unavailability(
        "closure", cal.at_local(day, 0), cal.at_local(day + dt.timedelta(days=1), 0), "training"
    )
    preview = consequences.preview(b.clinic.db, proposed, now=b.now)
    (call,) = consequences.apply(b.clinic.db, SYSTEM, preview, now=b.now).follow_up_ids
    new_day = b.day_of(second)

    listed = _text(calls_layout(call_list(b.clinic.db, FRONT_DESK, None, now=b.now)), "c.pdf")
    assert "Schedule change: Clinic closed: training." in listed
    assert "Reached, this call confirms the new time: no confirmation call follows." in listed

    sheet = _text(call_sheet_layout(call_sheet(b.clinic.db, new_day, now=b.now)), "s.pdf")
    assert "Moved: tell the new" in sheet  # its column wraps the words
    assert "To tell: Clinic closed: training. IV ketamine infusion moved from" in sheet

    later = b.now + dt.timedelta(hours=1)
    actions.record_attempt(b.clinic.db, FRONT_DESK, call, "reached", "Suits her", now=later)
    listed = _text(calls_layout(call_list(b.clinic.db, FRONT_DESK, None, now=later)), "c2.pdf")
    assert "Schedule change" not in listed
    sheet = _text(call_sheet_layout(call_sheet(b.clinic.db, new_day, now=later)), "s2.pdf")
    assert "Moved: tell the new" not in sheet
    assert "To tell:" not in sheet
    assert "Confirmed (Told the new time on the schedule-change call: Suits her)" in sheet
