"""The patient record shows a series at risk as the recall list's At risk tab does (the same
service): what was missed, the outreach call's countdown, and a "Make-up…" that opens the same
offer; a series not at risk says nothing of it.

The clinic is tests/ui/clinic_day.py's Tuesday, "now" 10:15 (tests/ui/conftest.py NOW): Ada
Lovelace's IV infusion 3/6 at 09:00 in Room 1 has not started; she misses it.
"""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.commands.run import open_day_window
from ketadesk.services.booking import appointment_changes
from ketadesk.services.common.context import Actor
from ketadesk.services.followups.recall import at_risk_list
from ketadesk.store.models import Appointment
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.patients.patient_record import PatientRecordView
from ketadesk.ui.rebooking.rebook_panel import RebookPanel
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import desk_controller_of, wait_for_day

FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def _miss_adas_infusion(clinic: SmallClinic) -> int:
    with clinic.db.read() as s:
        missed = s.scalar(
            select(Appointment.id).where(
                Appointment.patient_id == clinic.ids["Ada Lovelace"],
                Appointment.series_index == 3,
                Appointment.status == "booked",
            )
        )
    assert missed is not None
    appointment_changes.change_status(clinic.db, FRONT_DESK, missed, "no_show", now=NOW)
    return missed


def _record(qtbot: QtBot, clinic: SmallClinic, who: str) -> PatientRecordView:
    view = PatientRecordView(Desk(clinic.db, FRONT_DESK, now=lambda: NOW), clinic.ids[who])
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.loaded, timeout=10_000):
        pass
    view.resize(1100, 800)
    return view


def test_the_record_shows_the_series_at_risk_with_the_make_up(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    missed = _miss_adas_infusion(clinic)
    view = _record(qtbot, clinic, "Ada Lovelace")
    assert view.record is not None
    # The recall list's own rows, for this patient.
    assert view.record.at_risk == tuple(at_risk_list(clinic.db, now=NOW))
    (risk,) = view.record.at_risk
    assert view.series_box.title().endswith(", 1 at risk)")
    part = view.findChild(QLabel, "series_at_risk")
    assert part is not None
    assert part.text() == (
        "⚠ At risk: IV ketamine infusion 3/6: no-show Tue Nov 24. Outreach call due by tomorrow."
    )
    panel = part.parentWidget()
    assert panel is not None
    assert panel.objectName() == f"at_risk_{risk.series_id}"
    button = view.make_up_buttons[risk.series_id]
    assert button.text() == "Make-up…"
    assert button.isEnabled()
    with qtbot.waitSignal(view.make_up_requested) as asked:
        button.click()
    assert asked.args == [missed]


def test_a_patient_without_a_miss_shows_no_risk(qtbot: QtBot, clinic: SmallClinic) -> None:
    _miss_adas_infusion(clinic)
    view = _record(qtbot, clinic, "Mary Seacole")
    assert view.record is not None
    assert view.record.at_risk == ()
    assert view.findChild(QLabel, "series_at_risk") is None
    assert not view.make_up_buttons


def test_the_make_up_from_the_record_opens_the_desks_offer(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    _miss_adas_infusion(clinic)
    window = open_day_window(clinic.db, TUESDAY, now=lambda: NOW, actor=FRONT_DESK)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    wait_for_day(qtbot, window)
    controller = desk_controller_of(window)
    controller.open_patient(clinic.ids["Ada Lovelace"])
    view = controller.patient_windows[-1]
    qtbot.waitUntil(lambda: bool(view.make_up_buttons), timeout=10_000)
    next(iter(view.make_up_buttons.values())).click()
    qtbot.waitUntil(lambda: controller.rebook_panel is not None, timeout=10_000)
    offer = controller.rebook_panel
    assert isinstance(offer, RebookPanel)
    assert offer.heading.text().startswith("Lovelace, Ada: No-show: IV ketamine infusion 3/6")
    assert offer.make_up_button.isEnabled()
