"""The printed session record shows late entries (a user trial: a blood pressure taken at 10:00
and entered at 11:02 printed like one entered on time): under the reading, "Late entry: entered
… later, by …", for a vital-signs reading and a scale reading alike, read back from the PDF."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketadesk.services.access import accounts
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.monitoring import records
from ketadesk.services.monitoring.record_forms import with_reading
from ketadesk.services.printing.session_record import session_record_layout, session_record_sheet
from ketadesk.ui.printing.printing import print_pdf
from tests.clinic_fixtures import SmallClinic, build_small_clinic, use_scales
from tests.pictures import picture_folder
from tests.printing.test_print import pdf_pages
from tests.scale_fixtures import BOOKED_AT, WED
from tests.scale_fixtures import iv_session as _iv
from tests.scale_fixtures import record_reading as _record


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    with c.db.write() as session:
        use_scales(session)
    yield c
    c.db.dispose()


@pytest.fixture
def nurse(clinic: SmallClinic) -> Actor:
    user = accounts.create_user(
        clinic.db, SYSTEM, "kim", "Kim Nguyen", "nurse", "a-long-password-1", now=BOOKED_AT
    )
    return Actor(user_id=user.id, username="kim", role="nurse")


def test_the_record_prints_each_late_entry_under_its_reading(
    qapp: object, clinic: SmallClinic, nurse: Actor, tmp_path: Path
) -> None:
    iv = _iv(clinic, nurse)  # pre-dose BP 13:10, entered with the dose at 13:16: on time
    later = clinic.at(WED, "14:32")
    form = records.load_record(clinic.db, nurse, iv, now=later)
    row = next(i for i, r in enumerate(form.readings) if r.label == "+15 min")
    form = with_reading(form, row, time="13:30", systolic="128", diastolic="80", spo2="97")
    records.save_record(clinic.db, nurse, iv, form, now=later)
    _record(clinic, nurse, iv, "moaas", "4", "14:35", taken="13:45")
    sheet = session_record_sheet(clinic.db, nurse, iv, now=clinic.at(WED, "14:40"))
    assert [r.entered for r in sheet.readings if r.taken_at is not None] == [
        "",
        "entered 14:32, 62 min later, by Kim Nguyen",
    ]
    out = tmp_path / "record.pdf"
    print_pdf(session_record_layout(sheet), out, "letter")
    text = "\n".join(pdf_pages(out))
    rows = [" ".join(line.split()) for line in text.splitlines()]
    assert "Late entry: entered 14:32, 62 min later, by Kim Nguyen" in rows, rows
    assert "Late entry: entered 14:35, 50 min later, by Kim Nguyen" in rows, rows
    assert sum("Late entry" in row for row in rows) == 2  # the pre-dose BP was on time
    pictures = picture_folder("late_entries")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(out), str(pictures / "record")],
        check=True,
    )
