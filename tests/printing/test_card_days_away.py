"""The appointment card never lists a session on the patient's days away as if nothing were
wrong: its row is followed by "You told us you are away …: we will call you to move it.", and
the desk is warned before printing.  One kept there with an override was decided, and prints as
any other.

Ada Lovelace's IV induction (Mon/Wed/Fri from a Monday a week or more after the clinic's today,
``booked_clinic``); she then tells the desk she is away around her fourth session.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketadesk.scheduling.days_away import AWAY_RULE, AwayRange
from ketadesk.services.common.context import Actor
from ketadesk.services.patients.days_away import add_day_away
from ketadesk.services.printing.card import appointment_card, card_layout
from ketadesk.services.printing.layout import us_date
from ketadesk.store.models import GatingOverride
from ketadesk.ui.printing.printing import print_pdf
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic

from .test_closed_after_booking import pdf_words

DESK = Actor(user_id=None, username="maria", role="front_desk")

pytestmark = pytest.mark.usefixtures("holiday_cache_in_tmp")


@pytest.fixture
def booked(sqlite_url: str) -> Iterator[BookedClinic]:
    b = booked_clinic(sqlite_url, whole_weeks=3)
    yield b
    b.clinic.db.dispose()


def ada_away(b: BookedClinic) -> AwayRange:
    """Ada away from two days before her fourth session to its day, travelling."""
    day = b.day_of(b.series[3])
    away = AwayRange(day - dt.timedelta(days=2), day, "travel")
    add_day_away(b.clinic.db, DESK, b.clinic.ids["Ada Lovelace"], away.first, away.last, "travel")
    return away


def test_a_card_marks_the_session_on_the_days_away_and_warns_the_desk(
    qapp: object, booked: BookedClinic, tmp_path: Path
) -> None:
    b = booked
    away = ada_away(b)
    card = appointment_card(b.clinic.db, patient_id=b.clinic.ids["Ada Lovelace"], now=b.now)
    assert len(card.sessions) == 6
    flagged = [s for s in card.sessions if s.away is not None]
    assert len(flagged) == 1
    session = flagged[0]
    assert session.start.date() == away.last
    notice = f"You told us you are away {away.span}: we will call you to move it."
    assert session.away_notice.replace("\N{NO-BREAK SPACE}", " ") == notice
    layout = card_layout(card)
    assert layout.warnings == (
        f"IV ketamine infusion on {us_date(session.start)}: the patient is away "
        f"{away.words}; call to move it",
    )
    out = tmp_path / "card.pdf"
    print_pdf(layout, out, "letter")
    text = pdf_words(out)
    assert text.count("You told us you are away") == 1
    assert notice in text
    # Under its own row: the session's date comes before the notice, the next one's after.
    at = text.index(notice)
    assert text.rfind(us_date(session.start), 0, at) != -1
    later = card.sessions[card.sessions.index(session) + 1]
    assert text.index(us_date(later.start), at) > at
    _keep(out, tmp_path, "card-days-away")


def test_a_session_kept_there_with_an_override_prints_as_any_other(
    booked: BookedClinic,
) -> None:
    b = booked
    ada_away(b)
    with b.clinic.db.write() as s:
        s.add(GatingOverride(appointment_id=b.series[3], rule=AWAY_RULE, reason="back by 9"))
    card = appointment_card(b.clinic.db, patient_id=b.clinic.ids["Ada Lovelace"], now=b.now)
    assert [s.away for s in card.sessions] == [None] * 6
    assert card_layout(card).warnings == ()


def _keep(pdf: Path, tmp_path: Path, name: str) -> None:
    """Copy the PDF, and a picture of its first page, to $KETADESK_SCREENSHOTS to look at."""
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if not folder:
        return
    (Path(folder) / f"{name}.pdf").write_bytes(pdf.read_bytes())
    subprocess.run(
        ["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", str(pdf), str(Path(folder) / name)],
        check=True,
    )
