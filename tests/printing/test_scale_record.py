"""The printed session record lists the timed MOAA/S and CADSS readings in a table (time,
scale, score with MOAA/S's anchor words, who recorded it), read back from the PDF; a session
type without scales prints no such table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketadesk.services.access import accounts
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.printing.session_record import session_record_layout, session_record_sheet
from ketadesk.ui.printing.printing import print_pdf
from tests.clinic_fixtures import SmallClinic, build_small_clinic, use_scales
from tests.pictures import picture_folder
from tests.printing.test_print import pdf_pages
from tests.services.monitoring.test_scale_readings import BOOKED_AT, WED, _iv, _record


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


@pytest.fixture
def nurse(clinic: SmallClinic) -> Actor:
    user = accounts.create_user(
        clinic.db, SYSTEM, "kim", "Kim Nguyen", "nurse", "a-long-password-1", now=BOOKED_AT
    )
    return Actor(user_id=user.id, username="kim", role="nurse")


def _at(clinic: SmallClinic, hhmm: str) -> dt.datetime:
    return clinic.at(WED, hhmm)


def test_the_record_prints_the_timed_readings_with_who_took_them(
    qapp: object, clinic: SmallClinic, nurse: Actor, tmp_path: Path
) -> None:
    with clinic.db.write() as session:
        use_scales(session)
    iv = _iv(clinic, nurse)
    _record(clinic, nurse, iv, "moaas", "3", "13:16")
    _record(clinic, nurse, iv, "cadss", "12", "13:56")
    _record(clinic, nurse, iv, "moaas", "5", "14:41")
    sheet = session_record_sheet(clinic.db, nurse, iv, now=_at(clinic, "14:42"))
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
    qapp: object, clinic: SmallClinic, nurse: Actor, tmp_path: Path
) -> None:
    iv = _iv(clinic, nurse)  # the small clinic keeps no scales
    out = tmp_path / "record.pdf"
    print_pdf(session_record_layout(session_record_sheet(clinic.db, nurse, iv)), out, "letter")
    assert "Sedation and dissociation scales" not in "\n".join(pdf_pages(out))
