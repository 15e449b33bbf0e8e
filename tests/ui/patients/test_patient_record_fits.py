"""The patient record at the size it opens at: a patient with long gating values (a prior
authorization with its number, dates and units, "Other flags" such as BP limits, two
precautions) reads whole, nothing cut off (a user trial found them clipped)."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import Actor
from ketadesk.store.models import Patient
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.patients.patient_record import RECORD_SIZE, PatientRecordView
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.conftest import NOW

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

NURSE = Actor(user_id=None, username="kim", role="nurse")
BP_LIMITS = "BP limits per Dr Reyes: hold if over 150/95 before dosing; recheck at 40 minutes"


def _long_gating_values(clinic: SmallClinic) -> None:
    with clinic.db.write() as session:
        p = session.get(Patient, clinic.ids["Mary Seacole"])
        assert p is not None
        p.address = "1200 Harbor Island Drive, Apartment 14B, San Diego, CA 92101"
        p.email = "mary.seacole.longaddress@examplehealthmail.com"
        p.notes = "Prefers afternoons; needs the quiet room; her daughter drives on Tuesdays"
        p.contraindications = BP_LIMITS
        p.eligibility_flags = ["uncontrolled_hypertension", "substance_use"]
        p.rems_patient_id = "RMS-000123456789"
        p.prior_auth_number = "PA-2026-0012345678"
        p.prior_auth_starts_on = dt.date(2026, 1, 1)
        p.prior_auth_expires_on = dt.date(2027, 12, 31)
        p.prior_auth_sessions = 24
        p.driver_name = "Alexander Driverson-Smythe"
        p.driver_phone = "6195550123"
        p.emergency_contact_name = "Edwin Seacole"
        p.emergency_contact_phone = "6195550188"


def test_long_gating_values_read_whole_at_the_opening_size(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    _long_gating_values(clinic)
    view = PatientRecordView(Desk(clinic.db, NURSE, now=lambda: NOW), clinic.ids["Mary Seacole"])
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.loaded, timeout=10000):
        pass
    view.resize(RECORD_SIZE)
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(50)  # the layouts settle
    view.grab().save(str(picture_folder() / "patient-record-long-gating.png"))
    column = view.left_column.viewport()
    values = [label for label in view.gating_box.findChildren(QLabel) if label.wordWrap()]
    texts = [label.text() for label in values]
    assert BP_LIMITS in texts, texts
    assert any("PA-2026-0012345678" in t and "24 units" in t for t in texts), texts
    for label in values:
        # As tall as its wrapped lines need, and inside the column's width (scrolling down
        # to it is fine; a value cut at the right edge is not).
        assert label.height() >= label.heightForWidth(label.width()), label.text()
        right = label.mapTo(column, QPoint(label.width(), 0)).x()
        assert right <= column.width(), label.text()
    assert view.left_column.horizontalScrollBar().maximum() == 0
