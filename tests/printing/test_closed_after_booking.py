"""A closure added after sessions were booked on its day: every place that lists them says so.

Bayside's Tuesday (tests/ui/clinic_day.py): Ada's IV at 09:00 and Grace's Spravato (checked in)
at 11:00 in Room 1, Alan's IM at 08:00 (completed) and his Spravato at 13:30 in Room 2,
Katherine's KAP at 13:00 (cancelled), Ada's integration at 15:00 in Office A, Grace's booster
review at 16:00 by telehealth.  The closures are added with ``add_closure``, which moves
nothing (the way a closure looks once the consequences dialog could place nobody).
"""

from __future__ import annotations

import os
import subprocess
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketadesk.services.printing.card import appointment_card, card_layout
from ketadesk.services.printing.day_sheet import day_sheet, day_sheet_layout
from ketadesk.services.schedule.day import day_schedule
from ketadesk.ui.printing.printing import print_pdf
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY, build_clinic_day, close_tuesday

NOTICE = "Clinic closed on this day: reschedule"


pytestmark = pytest.mark.usefixtures("holiday_cache_in_tmp")


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_clinic_day(sqlite_url)
    yield c
    c.db.dispose()


def notices(clinic: SmallClinic) -> dict[tuple[str, str], str]:
    return {
        (a.patient_name, f"{a.start:%H:%M}"): a.closed_words
        for a in day_schedule(clinic.db, TUESDAY).appointments
    }


def test_an_open_day_flags_nothing(clinic: SmallClinic) -> None:
    assert set(notices(clinic).values()) == {""}


def test_a_whole_day_closure_flags_every_session_still_to_come(clinic: SmallClinic) -> None:
    close_tuesday(clinic, "00:00", "23:59", "water leak")
    flagged = notices(clinic)
    expected = f"{NOTICE} (water leak)"
    assert flagged[("Lovelace, Ada", "09:00")] == expected
    assert flagged[("Hopper, Grace", "11:00")] == expected  # checked in: still to be moved
    assert flagged[("Turing, Alan", "13:30")] == expected
    assert flagged[("Hopper, Grace", "16:00")] == expected  # telehealth: the clinic is shut
    # What already happened, or will not, is not asked to be rescheduled.
    assert flagged[("Turing, Alan", "08:00")] == ""  # completed
    assert flagged[("Johnson, Katherine", "13:00")] == ""  # cancelled


def test_a_room_closure_flags_only_that_rooms_sessions_then(clinic: SmallClinic) -> None:
    close_tuesday(clinic, "13:00", "15:00", "chair repair", room="Room 2")
    flagged = notices(clinic)
    assert flagged[("Turing, Alan", "13:30")] == (
        "Room 2 closed on this day: reschedule (chair repair)"
    )
    assert flagged[("Lovelace, Ada", "09:00")] == ""
    assert flagged[("Lovelace, Ada", "15:00")] == ""


def test_a_part_day_clinic_closure_flags_the_sessions_it_overlaps(clinic: SmallClinic) -> None:
    close_tuesday(clinic, "12:00", "18:00", "staff training")
    flagged = notices(clinic)
    assert flagged[("Turing, Alan", "13:30")] == f"{NOTICE} (staff training)"
    assert flagged[("Lovelace, Ada", "09:00")] == ""


def test_the_day_sheet_prints_the_notice_on_the_sessions_row(
    qapp: object, clinic: SmallClinic, tmp_path: Path
) -> None:
    close_tuesday(clinic, "12:00", "18:00", "staff training")
    sheet = day_sheet(clinic.db, TUESDAY, now=clinic.at(TUESDAY, "07:00"))
    out = tmp_path / "day.pdf"
    print_pdf(day_sheet_layout(sheet), out, "letter")
    text = pdf_words(out)
    assert "Clinic closed on this day: reschedule (staff training)" in text
    # Grace 11:00-13:30 (runs into it), Alan 13:30, Ada 15:00, Grace 16:00.
    assert text.count("Clinic closed on this day: reschedule") == 4
    _keep(out, "day-sheet-closed.pdf")


def test_a_card_listing_a_session_on_a_closed_day_marks_it_and_warns(
    qapp: object, clinic: SmallClinic, tmp_path: Path
) -> None:
    close_tuesday(clinic, "00:00", "23:59", "water leak")
    card = appointment_card(
        clinic.db, patient_id=clinic.ids["Ada Lovelace"], now=clinic.at(TUESDAY, "06:30")
    )
    assert [s.closed_notice for s in card.sessions] == [NOTICE, NOTICE]
    layout = card_layout(card)
    assert layout.warnings == (
        "IV ketamine infusion on Tue 11/24: clinic closed on this day: reschedule (water leak)",
        "Integration therapy on Tue 11/24: clinic closed on this day: reschedule (water leak)",
    )
    out = tmp_path / "card.pdf"
    print_pdf(layout, out, "letter")
    text = pdf_words(out)
    assert text.count(NOTICE) == 2
    _keep(out, "card-closed.pdf")


def test_a_card_of_an_open_day_has_no_warning(clinic: SmallClinic) -> None:
    card = appointment_card(
        clinic.db, patient_id=clinic.ids["Ada Lovelace"], now=clinic.at(TUESDAY, "06:30")
    )
    assert [s.closed_notice for s in card.sessions] == ["", ""]
    assert card_layout(card).warnings == ()


def pdf_words(path: Path) -> str:
    """The PDF's text in reading order (not laid out: a table cell's wrapped lines stay
    together), on one line."""
    out = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True)
    return " ".join(unicodedata.normalize("NFKC", out.stdout).split())


def _keep(path: Path, name: str) -> None:
    """Copy a PDF to $KETADESK_SCREENSHOTS to look at (nothing without it)."""
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if folder:
        (Path(folder) / name).write_bytes(path.read_bytes())
