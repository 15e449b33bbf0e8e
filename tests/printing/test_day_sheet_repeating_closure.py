"""The day sheet of a day a repeating closure closes after the day was booked: each session it
strands says so on its row, with the closure's reason, as for a closure of that day alone.

Bayside's Tuesday (tests/ui/clinic_day.py), with Thanksgiving week's afternoons (Monday to
Wednesday, 12:00 to 6:00 PM) closed as one repeating closure, added with ``add_closure``, which
moves nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketadesk.scheduling.closure_repeats import Repeat
from ketadesk.services.common.context import SYSTEM
from ketadesk.services.printing.day_sheet import day_sheet, day_sheet_layout
from ketadesk.services.settings.availability import Unavailability, add_closure
from ketadesk.ui.printing.printing import print_pdf
from tests.clinic_fixtures import SmallClinic
from tests.printing.test_closed_after_booking import _keep, pdf_words
from tests.ui.clinic_day import TUESDAY, build_clinic_day

pytestmark = pytest.mark.usefixtures("holiday_cache_in_tmp")


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_clinic_day(sqlite_url)
    yield c
    c.db.dispose()


def test_the_day_sheet_names_the_repeating_closure_on_each_stranded_row(
    qapp: object, clinic: SmallClinic, tmp_path: Path
) -> None:
    monday, wednesday = TUESDAY - dt.timedelta(days=1), TUESDAY + dt.timedelta(days=1)
    add_closure(
        clinic.db,
        SYSTEM,
        Unavailability(
            "closure",
            clinic.at(monday, "12:00"),
            clinic.at(wednesday, "18:00"),
            "Thanksgiving week afternoons",
            repeat=Repeat("daily"),
        ),
        now=clinic.at(monday, "06:00"),
    )
    sheet = day_sheet(clinic.db, TUESDAY, now=clinic.at(TUESDAY, "07:00"))
    out = tmp_path / "day.pdf"
    print_pdf(day_sheet_layout(sheet), out, "letter")
    text = pdf_words(out)
    notice = "Clinic closed on this day: reschedule (Thanksgiving week afternoons)"
    # Grace 11:00-13:30 (runs into it), Alan 13:30, Ada 15:00, Grace 16:00; not Ada's 09:00.
    assert text.count(notice) == 4
    _keep(out, "day-sheet-repeating-closure.pdf")
