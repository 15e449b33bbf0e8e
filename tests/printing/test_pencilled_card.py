"""A pencilled-in (tentative) session on the appointment card is never printed as a booked one:
it comes after the booked sessions under "PENCILLED IN - NOT CONFIRMED" with its deadline, and
its own row says so again; a hold past its deadline is not printed at all.

The small clinic (tests/clinic_fixtures.py): Grace Hopper's screening is pending, so her
infusions can only be pencilled in; her intake (which screens her) is booked.  Days come from
the clinic's today, so the test means the same on any day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketadesk.services.booking.single import book_single, propose_single
from ketadesk.services.common.context import Actor
from ketadesk.services.printing.card import appointment_card, card_layout
from ketadesk.services.printing.layout import us_date, us_time
from ketadesk.ui.printing.printing import print_pdf
from tests.clinic_fixtures import SmallClinic, build_small_clinic

from .test_card_size import a_card
from .test_closed_after_booking import pdf_words
from .test_print import pdf_pages

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
GRACE = "BT-2"  # screening pending
ROSALIND = "BT-4"  # cleared

pytestmark = pytest.mark.usefixtures("holiday_cache_in_tmp")


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


def _book(
    clinic: SmallClinic,
    chart: str,
    session_type: str,
    day: dt.date,
    hhmm: str,
    now: dt.datetime,
    *,
    tentative: bool = False,
    hold_until: dt.datetime | None = None,
) -> None:
    hh, mm = (int(x) for x in hhmm.split(":"))
    proposal = propose_single(
        clinic.db,
        chart=chart,
        session_type=session_type,
        at=dt.datetime.combine(day, dt.time(hh, mm)),
        today=clinic.calendar.local_date(now),
        now=now,
    )
    assert proposal.session is not None, proposal.problems
    book_single(
        clinic.db, FRONT_DESK, proposal, tentative=tentative, hold_until=hold_until, now=now
    )


def _days(clinic: SmallClinic, now: dt.datetime) -> list[dt.date]:
    """Four open days in a row from four days after the clinic's today (after the holds' default
    deadline, 72 hours from now)."""
    days = [clinic.open_day(clinic.calendar.local_date(now) + dt.timedelta(days=4))]
    while len(days) < 4:
        days.append(clinic.open_day(days[-1] + dt.timedelta(days=1)))
    return days


def test_pencilled_in_sessions_print_apart_and_marked_with_their_deadline(
    qapp: object, clinic: SmallClinic, tmp_path: Path
) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    first, second, third, fourth = _days(clinic, now)
    _book(clinic, GRACE, "intake", first, "10:00", now)
    _book(clinic, GRACE, "iv_infusion", second, "09:00", now, tentative=True)
    _book(clinic, GRACE, "iv_infusion", third, "09:00", now, tentative=True)
    # Held for one hour only: by the time the card is printed it is free, if not yet released.
    _book(
        clinic,
        GRACE,
        "iv_infusion",
        fourth,
        "09:00",
        now,
        tentative=True,
        hold_until=now + dt.timedelta(hours=1),
    )
    printed = now + dt.timedelta(hours=2)

    card = appointment_card(clinic.db, GRACE, now=printed)
    assert [(s.start.date(), s.tentative) for s in card.sessions] == [
        (first, False),
        (second, True),
        (third, True),
    ]
    deadline = now + dt.timedelta(hours=clinic.catalog.settings.tentative_hold_hours)
    local_deadline = clinic.calendar.local(deadline)
    assert {s.held_until for s in card.pencilled} == {local_deadline}

    out = tmp_path / "card.pdf"
    print_pdf(card_layout(card), out, "letter")
    text = pdf_words(out)
    assert "1 appointment · 2 pencilled in" in text
    held = f"{us_date(local_deadline)} {us_time(local_deadline, card.time_format)}"
    assert "PENCILLED IN – NOT CONFIRMED" in text
    assert f"PENCILLED IN – NOT CONFIRMED Held until {held}" in text
    assert "These times are not booked: unless the clinic confirms them by then" in text
    # Each pencilled row says so itself (a row cut from the card, or read alone, still does).
    assert text.count("Pencilled in · not confirmed") == 2
    # The booked intake first, unmarked; the pencilled ones after the section's heading.
    booked_at = text.index(us_date(clinic.calendar.local(card.sessions[0].start)))
    heading_at = text.index("PENCILLED IN")
    assert booked_at < heading_at
    for s in card.pencilled:
        assert text.index(us_date(s.start)) > heading_at
    assert us_date(fourth) not in text  # its hold ran out: not on the card at all
    _keep(out, "card-pencilled.pdf", tmp_path)


def test_a_card_of_pencilled_in_times_only_says_nothing_is_booked(
    qapp: object, clinic: SmallClinic, tmp_path: Path
) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    first, *_ = _days(clinic, now)
    _book(clinic, ROSALIND, "spravato", first, "10:00", now, tentative=True)
    card = appointment_card(clinic.db, ROSALIND, now=now)
    assert [s.tentative for s in card.sessions] == [True]
    out = tmp_path / "only.pdf"
    print_pdf(card_layout(card), out, "letter")
    text = pdf_words(out)
    assert "Nothing booked yet · 1 pencilled in" in text
    assert "appointments" not in text
    assert "PENCILLED IN – NOT CONFIRMED" in text
    assert text.count("Pencilled in · not confirmed") == 1
    _keep(out, "card-pencilled-only.pdf", tmp_path)


def test_pencilled_rows_running_onto_further_faces_keep_their_heading(
    qapp: object, tmp_path: Path
) -> None:
    """Business cards (3.5 × 2 in, one a page on card stock) of 2 booked and 10 pencilled-in
    sessions: every face says whose card it is, every face holding pencilled rows is headed
    "PENCILLED IN - NOT CONFIRMED" with the deadline, and the instructions after them are
    not."""
    card = a_card("business", "card")
    held = card.sessions[0].start - dt.timedelta(days=1)
    card = dataclasses.replace(
        card,
        sessions=tuple(
            s if i < 2 else dataclasses.replace(s, tentative=True, held_until=held)
            for i, s in enumerate(card.sessions)
        ),
    )
    out = tmp_path / "business.pdf"
    print_pdf(card_layout(card), out, "letter")
    faces = [" ".join(face.split()) for face in pdf_pages(out)]
    assert len(faces) > 2
    heading = (
        f"PENCILLED IN – NOT CONFIRMED Held until {us_date(held)} {us_time(held, card.time_format)}"
    )
    rows = 0
    for face in faces:
        assert "Katherine Ryan 2 appointments · 10 pencilled in" in face
        rows += face.count("Pencilled in · not confirmed")
        if "Pencilled in · not confirmed" in face:
            assert heading in face
            assert face.index(heading) < face.index("Pencilled in · not confirmed")
    assert rows == 10
    assert "Before Spravato" in faces[-1]
    assert "PENCILLED" not in faces[-1]
    _keep(out, "card-pencilled-business.pdf", tmp_path)


def _keep(path: Path, name: str, tmp_path: Path) -> None:
    """Copy a PDF and a picture of its page to $KETADESK_SCREENSHOTS to look at (nothing
    without it)."""
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if not folder:
        return
    target = Path(folder) / name
    target.write_bytes(path.read_bytes())
    subprocess.run(
        ["pdftoppm", "-png", "-r", "110", "-singlefile", str(target), str(target.with_suffix(""))],
        check=True,
    )
