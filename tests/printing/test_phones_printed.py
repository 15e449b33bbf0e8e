"""Phone numbers on paper go through the one formatter (services/common/phones.display_phone):
the card's clinic phone and the day sheet's driver phone read "(619) 555-0100" however they
were typed.  Bayside's Tuesday (tests/ui/clinic_day.py)."""

from __future__ import annotations

import subprocess
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketadesk.services.printing.card import appointment_card, card_layout
from ketadesk.services.printing.day_sheet import day_sheet, day_sheet_layout
from ketadesk.store.models import ClinicSetting, Patient
from ketadesk.ui.printing.printing import print_pdf
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY, build_clinic_day

pytestmark = pytest.mark.usefixtures("holiday_cache_in_tmp")


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_clinic_day(sqlite_url)
    with c.db.write() as session:
        setting = session.get(ClinicSetting, "clinic")
        assert setting is not None
        setting.value = {**setting.value, "phone": "619.555.0100"}
        ada = session.get(Patient, c.ids["Ada Lovelace"])
        assert ada is not None
        ada.driver_name, ada.driver_phone = "Bob Driver", "6195550177"
    yield c
    c.db.dispose()


def words(path: Path) -> str:
    out = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True)
    return " ".join(unicodedata.normalize("NFKC", out.stdout).split())


def test_the_card_prints_the_clinic_phone_the_us_way(
    qapp: object, clinic: SmallClinic, tmp_path: Path
) -> None:
    card = appointment_card(
        clinic.db, patient_id=clinic.ids["Ada Lovelace"], now=clinic.at(TUESDAY, "06:00")
    )
    assert card.clinic_phone == "(619) 555-0100"
    out = tmp_path / "card.pdf"
    print_pdf(card_layout(card), out, "letter")
    assert "Phone (619) 555-0100" in words(out)


def test_the_day_sheet_prints_the_drivers_phone_the_us_way(
    qapp: object, clinic: SmallClinic, tmp_path: Path
) -> None:
    sheet = day_sheet(clinic.db, TUESDAY, now=clinic.at(TUESDAY, "06:00"))
    out = tmp_path / "day.pdf"
    print_pdf(day_sheet_layout(sheet), out, "letter")
    text = words(out)
    assert "(619) 555-0177" in text
    assert "6195550177" not in text
