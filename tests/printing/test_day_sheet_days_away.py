"""The day sheet prints the away notice the day and week views and the appointment card show
for a session on the patient's days away (a clinical-day trial: the sheet said nothing), and a
session kept there with an override is flagged nowhere: not on the sheet, the views, the card,
the session's page ("This day") or by ``ketadesk check`` (the page once flagged it alone).

Ada Lovelace's IV induction (``booked_clinic``); she tells the desk she is away around her
fourth session (tests/printing/test_card_days_away.py's ``ada_away``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketadesk.scheduling.days_away import AWAY_RULE
from ketadesk.services.booking.session_day import session_day
from ketadesk.services.clinic.integrity import check_integrity
from ketadesk.services.printing.card import appointment_card
from ketadesk.services.printing.day_sheet import day_sheet, day_sheet_layout
from ketadesk.services.schedule.day import day_schedule
from ketadesk.store.models import GatingOverride
from ketadesk.ui.printing.printing import print_pdf
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic

from .test_card_days_away import ada_away
from .test_closed_after_booking import pdf_words

pytestmark = pytest.mark.usefixtures("holiday_cache_in_tmp")


@pytest.fixture
def booked(sqlite_url: str) -> Iterator[BookedClinic]:
    b = booked_clinic(sqlite_url, whole_weeks=3)
    yield b
    b.clinic.db.dispose()


def test_the_day_sheet_prints_the_away_notice_under_the_session(
    qapp: object, booked: BookedClinic, tmp_path: Path
) -> None:
    b = booked
    away = ada_away(b)
    day = b.day_of(b.series[3])
    sheet = day_sheet(b.clinic.db, day, now=b.now)
    (session,) = [s for g in sheet.groups for s in g.sessions if s.appointment_id == b.series[3]]
    assert session.away == away.words
    out = tmp_path / "day-sheet.pdf"
    print_pdf(day_sheet_layout(sheet), out, "letter")
    text = pdf_words(out)
    assert f"The patient is away {away.words}: call to move it" in text
    _keep(out, "day-sheet-days-away")
    # The sheet that shows initials keeps the patient's reason off.
    public = day_sheet(b.clinic.db, day, use_initials=True, now=b.now)
    (shown,) = [s for g in public.groups for s in g.sessions if s.appointment_id == b.series[3]]
    assert shown.away == "that day"
    # A day the patient is not away prints no notice.
    other = day_sheet(b.clinic.db, b.day_of(b.series[1]), now=b.now)
    assert all(not s.away for g in other.groups for s in g.sessions)


def test_a_session_kept_there_with_an_override_is_flagged_nowhere(booked: BookedClinic) -> None:
    b = booked
    ada_away(b)
    kept = b.series[3]
    day = b.day_of(kept)
    # Before the override, everything that flags such a session flags it.
    assert session_day(b.clinic.db, kept, now=b.now).away is not None
    assert _in_views(b, kept)
    assert _checked(b, kept)
    with b.clinic.db.write() as s:
        s.add(GatingOverride(appointment_id=kept, rule=AWAY_RULE, reason="back by 9"))

    page = session_day(b.clinic.db, kept, now=b.now)
    assert page.away is None
    assert not any("away" in n for n in page.notices)
    assert not _in_views(b, kept)
    assert not _checked(b, kept)
    sheet = day_sheet(b.clinic.db, day, now=b.now)
    assert all(not s.away for g in sheet.groups for s in g.sessions)
    card = appointment_card(b.clinic.db, patient_id=b.clinic.ids["Ada Lovelace"], now=b.now)
    assert all(s.away is None for s in card.sessions)
    # The days away still keep a move's proposals off them.
    assert page.away_ranges


def _in_views(b: BookedClinic, appointment_id: int) -> bool:
    schedule = day_schedule(b.clinic.db, b.day_of(appointment_id))
    return any(a.away for a in schedule.appointments if a.id == appointment_id)


def _checked(b: BookedClinic, appointment_id: int) -> bool:
    report = check_integrity(b.clinic.db, now=b.now)
    return any(appointment_id in p.appointment_ids for p in (*report.problems, *report.warnings))


def _keep(pdf: Path, name: str) -> None:
    """Copy the PDF, and a picture of its first page, to $KETADESK_SCREENSHOTS to look at."""
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if not folder:
        return
    shutil.copy(pdf, Path(folder) / f"{name}.pdf")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", str(pdf), str(Path(folder) / name)],
        check=True,
    )
