"""The printed session record lists the timed MOAA/S and CADSS readings in a table (time,
scale, score with MOAA/S's anchor words, who recorded it), read back from the PDF; a session
type without scales prints no such table; a corrected reading prints its score as recorded
struck through before the corrected one, and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketadesk.services.common.context import Actor
from ketadesk.services.monitoring import scale_readings
from ketadesk.services.printing.session_record import session_record_layout, session_record_sheet
from ketadesk.ui.printing.printing import print_pdf
from tests.clinic_fixtures import SmallClinic, use_scales
from tests.pictures import picture_folder
from tests.printing.test_print import pdf_pages
from tests.scale_fixtures import at, iv_session, record_reading


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Paper: the clinic on SQLite is enough (the service's tests run both databases)."""
    return sqlite_url


def test_the_record_prints_the_timed_readings_with_who_took_them(
    qapp: object, scale_clinic: SmallClinic, scale_nurse: Actor, tmp_path: Path
) -> None:
    iv = iv_session(scale_clinic, scale_nurse)
    record_reading(scale_clinic, scale_nurse, iv, "moaas", "3", "13:16")
    record_reading(scale_clinic, scale_nurse, iv, "cadss", "12", "13:56")
    record_reading(scale_clinic, scale_nurse, iv, "moaas", "5", "14:41")
    sheet = session_record_sheet(scale_clinic.db, scale_nurse, iv, now=at(scale_clinic, "14:42"))
    out = tmp_path / "record.pdf"
    print_pdf(session_record_layout(sheet), out, "letter")
    text = "\n".join(pdf_pages(out))
    assert "Sedation and dissociation scales" in text
    rows = [" ".join(line.split()) for line in text.splitlines()]
    assert any(
        row.startswith("13:16 MOAA/S 3 responds only after name is called") for row in rows
    ), rows
    assert any(row == "13:56 CADSS 12 Kim Nguyen" for row in rows), rows
    assert any(
        row.startswith("14:41 MOAA/S 5 responds readily to name spoken in normal") for row in rows
    ), rows
    assert text.count("Kim Nguyen") >= 3
    # The Assessment says what the readings say of sedation and dissociation.
    assert sheet.scale_summary == {
        "sedation": "MOAA/S lowest 3 (13:16), last 5 (14:41)",
        "dissociation": "CADSS highest 12 (13:56), last 12 (13:56)",
    }
    assert any(
        row.startswith("MOAA/S lowest 3 (13:16), last 5 CADSS highest 12 (13:56), last")
        for row in rows
    ), rows
    folder = picture_folder("scales")
    (folder / "session_record_scales.pdf").write_bytes(out.read_bytes())


def test_a_type_without_scales_prints_no_scale_table(
    qapp: object, scale_clinic: SmallClinic, scale_nurse: Actor, tmp_path: Path
) -> None:
    with scale_clinic.db.write() as session:
        use_scales(session, False)  # as the small clinic keeps them: none
    iv = iv_session(scale_clinic, scale_nurse)
    out = tmp_path / "record.pdf"
    print_pdf(
        session_record_layout(session_record_sheet(scale_clinic.db, scale_nurse, iv)), out, "letter"
    )
    assert "Sedation and dissociation scales" not in "\n".join(pdf_pages(out))


def test_a_corrected_reading_prints_its_score_as_recorded_struck_through_and_why(
    qapp: object, scale_clinic: SmallClinic, scale_nurse: Actor, tmp_path: Path
) -> None:
    clinic, nurse = scale_clinic, scale_nurse
    iv = iv_session(clinic, nurse)
    typed = record_reading(clinic, nurse, iv, "moaas", "2", "13:16").readings[0]
    scale_readings.correct_scale_reading(
        clinic.db, nurse, typed.reading_id, "4", "typo", now=at(clinic, "13:20")
    )
    sheet = session_record_sheet(clinic.db, nurse, iv, now=at(clinic, "13:21"))
    out = tmp_path / "record.pdf"
    print_pdf(session_record_layout(sheet), out, "letter")
    text = "\n".join(pdf_pages(out))
    rows = [" ".join(line.split()) for line in text.splitlines()]
    # The score as recorded (struck through) before the corrected one, and why under them.
    assert any(row.startswith("13:16 MOAA/S 2 4 lethargic response to name") for row in rows), rows
    assert any("corrected from 2: typo (Kim Nguyen, 13:20)" in row for row in rows), rows
    # The Assessment reads the corrected score.
    assert sheet.scale_summary["sedation"] == "MOAA/S lowest 4 (13:16), last 4 (13:16)"
    folder = picture_folder("scales")
    (folder / "session_record_corrected.pdf").write_bytes(out.read_bytes())
