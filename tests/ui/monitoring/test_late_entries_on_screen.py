"""Late entries where nurses look (a user trial: a blood pressure taken at 10:00 and entered at
11:02 showed exactly like one entered on time): the monitoring record marks the row of a
reading entered late, its tooltip saying when and by whom, until the reading is typed over;
the scale readings' table marks a late one the same way; the session's page lists them.

Ada Lovelace's IV infusion on Wednesday 2 Dec 2026 at 13:00 in Room 2, dose 13:15
(tests/services/monitoring/test_scale_readings.py); the +15 min BP taken 13:30, entered 14:32.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from ketadesk.services.access import accounts
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.monitoring import records
from ketadesk.services.monitoring.record_forms import with_reading
from ketadesk.ui.booking.appointment_dialog import AppointmentDialog
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.monitoring.monitoring_dialog import MonitoringDialog
from tests.clinic_fixtures import SmallClinic, build_small_clinic, use_scales
from tests.pictures import picture_folder
from tests.scale_fixtures import BOOKED_AT, WED
from tests.scale_fixtures import iv_session as _iv
from tests.scale_fixtures import record_reading as _record

PICTURES = "late_entries"


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[SmallClinic]:
    c = build_small_clinic(f"sqlite:///{tmp_path / 'clinic.sqlite'}")
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


def _at(clinic: SmallClinic, hhmm: str) -> dt.datetime:
    return clinic.at(WED, hhmm)


@pytest.fixture
def back_filled(clinic: SmallClinic, nurse: Actor) -> int:
    """The IV infusion with its +15 min BP (taken 13:30) entered at 14:32, and a MOAA/S taken
    13:45 entered at 14:35."""
    iv = _iv(clinic, nurse)
    form = records.load_record(clinic.db, nurse, iv, now=_at(clinic, "14:32"))
    row = next(i for i, r in enumerate(form.readings) if r.label == "+15 min")
    form = with_reading(form, row, time="13:30", systolic="128", diastolic="80", spo2="97")
    records.save_record(clinic.db, nurse, iv, form, now=_at(clinic, "14:32"))
    _record(clinic, nurse, iv, "moaas", "4", "14:35", taken="13:45")
    return iv


def _dialog(qtbot: QtBot, clinic: SmallClinic, nurse: Actor, iv: int) -> MonitoringDialog:
    now = _at(clinic, "14:36")
    sheet = records.open_record(clinic.db, nurse, iv, now=now)
    dialog = MonitoringDialog(Desk(clinic.db, nurse, lambda: now), iv, sheet=sheet)
    qtbot.addWidget(dialog)
    dialog.resize(1000, 900)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_the_record_marks_a_late_reading_with_when_and_by_whom(
    qtbot: QtBot, clinic: SmallClinic, nurse: Actor, back_filled: int
) -> None:
    dialog = _dialog(qtbot, clinic, nurse, back_filled)
    form = dialog.form()
    late = next(i for i, r in enumerate(form.readings) if r.label == "+15 min")
    on_time = next(i for i, r in enumerate(form.readings) if r.label == "Pre-dose")
    mark = dialog.late_mark(late)
    assert mark.isVisible()
    assert mark.text() == "✎ late entry"
    assert mark.toolTip() == "Late entry: entered 14:32, 62 min later, by Kim Nguyen"
    assert not dialog.late_mark(on_time).isVisible()
    panel = dialog.scale_panel()
    assert panel is not None
    assert [row[0] for row in panel.rows()] == ["13:45 ✎ late entry"]
    dialog.grab().save(str(picture_folder(PICTURES) / "monitoring_record_late_entry.png"))
    # Typed over, the reading will be entered anew when saved: the mark goes.
    dialog.reading_editor(late, "systolic").setText("130")
    assert not mark.isVisible()
    dialog.reading_editor(late, "systolic").setText("128")
    assert mark.isVisible()


def test_the_sessions_page_lists_the_late_entries(
    qtbot: QtBot, clinic: SmallClinic, nurse: Actor, back_filled: int
) -> None:
    dialog = AppointmentDialog(Desk(clinic.db, nurse, lambda: _at(clinic, "14:36")), back_filled)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(dialog.is_loaded)  # read on a worker
    field = dialog.findChild(QLabel, "field_late_entries")
    assert field is not None
    assert field.text() == (
        "BP +15 min taken 13:30: entered 14:32, 62 min later, by Kim Nguyen\n"
        "MOAA/S 4 taken 13:45: entered 14:35, 50 min later, by Kim Nguyen"
    )
    dialog.resize(620, 560)
    dialog.grab().save(str(picture_folder(PICTURES) / "session_page_late_entries.png"))
