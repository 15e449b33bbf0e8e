"""The appointment card is a card: a 12-session Spravato series fits legibly on one 3 × 5 in
index card, goes on to the back of a business card, and prints at its true size with crop
marks on Letter paper, or one card a page on card stock."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pytestqt.qtbot import QtBot

from ketadesk.scheduling.catalog import CARD_SIZES
from ketadesk.services.printing.card import AppointmentCard, CardSession, card_layout
from ketadesk.services.printing.layout import CardFormat
from ketadesk.ui.printing.printing import print_pdf

from .test_print import pdf_pages

TZ = ZoneInfo("America/Los_Angeles")
POINTS_PER_INCH = 72


def spravato_series(first: dt.date, count: int = 12) -> tuple[CardSession, ...]:
    """Twice weekly (Mon, Thu) at 9:30 from ``first``, as the label's induction runs."""
    sessions: list[CardSession] = []
    day = first
    while len(sessions) < count:
        if day.weekday() in (0, 3):
            start = dt.datetime.combine(day, dt.time(9, 30), TZ)
            sessions.append(
                CardSession(
                    start=start,
                    end=start + dt.timedelta(minutes=150),
                    session_type="Spravato (esketamine)",
                    series=f"{len(sessions) + 1}/{count}",
                    room="Room 2",
                    instructions=(
                        "No food for 2 hours and no liquids for 30 minutes before your dose.",
                        "Someone must drive you home.",
                    ),
                )
            )
        day += dt.timedelta(days=1)
    return tuple(sessions)


def a_card(
    size: str, stock: str = "sheet", count: int = 12, first: dt.date = dt.date(2027, 3, 1)
) -> AppointmentCard:
    """A card as ``appointment_card`` reads it; any fixed week will do (the card prints what
    it is given, whatever today is)."""
    width, height, _ = CARD_SIZES[size]
    return AppointmentCard(
        clinic_name="Harbor Ketamine & Wellness",
        clinic_address="3625 Fifth Avenue, Suite 210, San Diego, CA 92103",
        clinic_phone="(619) 555-0140",
        cancellation_policy="Please give us 24 hours' notice to cancel or move a session.",
        patient_name="Katherine Ryan",
        chart_number="HK-10051",
        sessions=spravato_series(first, count),
        printed_at=dt.datetime.combine(first, dt.time(8, 0), TZ),
        card=CardFormat(size, width, height, stock),
    )


def page_sizes(path: Path) -> list[tuple[float, float]]:
    out = subprocess.run(
        ["pdfinfo", "-f", "1", "-l", "99", str(path)], check=True, capture_output=True, text=True
    ).stdout
    sizes = []
    for line in out.splitlines():
        if line.startswith("Page") and "size:" in line:
            w, _x, h = line.split("size:")[1].split()[:3]
            sizes.append((float(w), float(h)))
    return sizes


def words(path: Path) -> list[tuple[str, float, float, float, float]]:
    """Every word of the PDF with its box (pdftotext -bbox), in points."""
    xhtml = subprocess.run(
        ["pdftotext", "-bbox", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    root = ET.fromstring(xhtml)
    found = []
    for el in root.iter():
        if el.tag.endswith("word"):
            box = [float(el.get(k, "0")) for k in ("xMin", "yMin", "xMax", "yMax")]
            found.append((el.text or "", *box))
    return found  # type: ignore[return-value]


def test_a_twelve_session_spravato_series_fits_one_index_card_legibly(
    qapp: object, tmp_path: Path
) -> None:
    card = a_card("index_3x5")
    out = tmp_path / "card.pdf"
    result = print_pdf(card_layout(card), out, "letter")
    assert result.pages == 1
    assert page_sizes(out) == [(612.0, 792.0)]  # Letter
    text = "\n".join(pdf_pages(out))
    assert "Harbor Ketamine & Wellness" in text
    assert "(619) 555-0140" in text
    assert "Katherine Ryan" in text
    assert "12 appointments" in text
    for s in card.sessions:
        # Weekday and US month/day, the 12-hour time, the type: "Mon 3/1 9:30 AM Spravato".
        assert f"{s.start:%a} {s.start.month}/{s.start.day}" in text
        assert s.series in text
    assert text.count("9:30 AM") == 12
    assert "1 of 2" not in text  # all on the front
    placed = words(out)
    # On the card: every word inside a 3 × 5 in box, centred on the sheet.
    left = min(w[1] for w in placed)
    right = max(w[3] for w in placed)
    top = min(w[2] for w in placed)
    bottom = max(w[4] for w in placed)
    assert right - left <= 3 * POINTS_PER_INCH
    assert bottom - top <= 5 * POINTS_PER_INCH
    assert abs((left + right) / 2 - 306) < 0.75 * POINTS_PER_INCH
    # Legible: the session rows are set at 9 pt, nothing on the card below 7 pt (a word's box
    # is about 1.15 times its type size).
    dates = [w for w in placed if w[0] in {f"{s.start.month}/{s.start.day}" for s in card.sessions}]
    assert len(dates) == 12
    assert min(w[4] - w[2] for w in dates) >= 9 * 1.1
    assert min(w[4] - w[2] for w in placed) >= 7 * 1.1


def test_a_long_series_goes_on_to_the_back_of_a_business_card(qapp: object, tmp_path: Path) -> None:
    card = a_card("business")
    out = tmp_path / "business.pdf"
    result = print_pdf(card_layout(card), out, "letter")
    assert result.pages == 1  # front and back side by side on one sheet, to cut out
    text = "\n".join(pdf_pages(out))
    # The sessions take the front and the back, the instructions a second card.
    assert "1 of 3 · continued overleaf" in text
    assert "2 of 3 · continued on the next card" in text
    assert text.count("9:30 AM") == 12  # every session, none lost at the fold
    assert text.count("Katherine Ryan") == 3  # each side says whose card it is
    placed = words(out)
    # Smaller type to keep the series on two sides: 9 pt rows at 8 pt, nothing under 6.75 pt.
    dates = [w for w in placed if w[0] in {f"{s.start.month}/{s.start.day}" for s in card.sessions}]
    assert min(w[4] - w[2] for w in dates) >= 9 * 0.9 * 1.1
    assert min(w[4] - w[2] for w in placed) >= 7.5 * 0.9 * 1.1


def test_on_card_stock_each_card_is_a_page_of_its_size(qapp: object, tmp_path: Path) -> None:
    out = tmp_path / "stock.pdf"
    result = print_pdf(card_layout(a_card("business", "card")), out, "letter")
    assert result.pages == 3
    assert page_sizes(out) == [(252.0, 144.0)] * 3  # 3.5 × 2 in: front, back, a second card
    out = tmp_path / "index.pdf"
    assert print_pdf(card_layout(a_card("index_4x6", "card", 6)), out, "letter").pages == 1
    assert page_sizes(out) == [(288.0, 432.0)]


@pytest.mark.parametrize("size", sorted(CARD_SIZES))
def test_every_configured_card_size_prints_the_whole_series(
    qapp: object, tmp_path: Path, size: str
) -> None:
    card = a_card(size)
    out = tmp_path / f"{size}.pdf"
    print_pdf(card_layout(dataclasses.replace(card)), out, "letter")
    text = "\n".join(pdf_pages(out))
    assert [s.series for s in card.sessions if s.series in text] == [
        s.series for s in card.sessions
    ]


def test_a_series_into_the_new_year_says_the_year_once(qapp: object, tmp_path: Path) -> None:
    card = a_card("index_3x5", first=dt.date(2027, 12, 13))
    out = tmp_path / "new-year.pdf"
    assert print_pdf(card_layout(card), out, "letter").pages == 1
    lines = [line.strip() for line in "\n".join(pdf_pages(out)).splitlines()]
    assert lines.count("2028") == 1
    first_of_2028 = next(s for s in card.sessions if s.start.year == 2028)
    after = lines[lines.index("2028") + 1]
    assert after.startswith(f"{first_of_2028.start:%a} {first_of_2028.start.month}/")
    assert "/2027" not in "\n".join(lines)  # dates stay short: month/day


def test_the_print_preview_shows_the_cards_as_they_print(qtbot: QtBot) -> None:
    from ketadesk.ui.printing.print_dialogs import DocumentPreview

    for card, pages in ((a_card("index_3x5"), 1), (a_card("business", "card"), 3)):
        layout = dataclasses.replace(card_layout(card), paper_size="letter")
        dialog = DocumentPreview(layout)
        qtbot.addWidget(dialog)
        dialog.show()
        dialog.preview_widget().updatePreview()
        assert dialog.page_count() == pages
        assert dialog.problem is None
        size = dialog.printer().pageLayout().fullRectPoints().size()
        expected = (612, 792) if card.card.stock == "sheet" else (252, 144)
        assert (size.width(), size.height()) == expected
        dialog.close()
