"""The demo's patients each have their own phone number (issue 15: the demo gave five unrelated
patients one phone number, so a phone search looked broken)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import select

from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.demo.clinic import build_demo
from ketadesk.store.models import Patient


def test_no_two_demo_patients_share_a_phone_number(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    build_demo(url)  # the demo `ketadesk demo` builds, around the clinic's today
    db = open_clinic(url).db
    try:
        with db.read() as session:
            phones = session.scalars(select(Patient.phone)).all()
    finally:
        db.dispose()
    assert len(phones) >= 100
    shared = {phone: n for phone, n in Counter(phones).items() if n > 1}
    assert shared == {}
    assert all(" 555-01" in phone for phone in phones)  # still the fictional range
