"""The session's page says what a move changed (a user trial: the front desk re-staffed a
session after a nurse called in sick, and its history read "moved from Wed 8:00 AM, Room 1 to
Wed 8:00 AM, Room 1").  The page's history lists "changed Nurse: Nurse Kim → Nurse Lee" and
"moved Wed Nov 25 09:00 → 10:00; Monitor 3 → Monitor 4": only what changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QListWidget
from pytestqt.qtbot import QtBot

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM
from ketadesk.store.models import Resource, StaffMember, StaffShift
from ketadesk.ui.booking.appointment_dialog import AppointmentDialog
from tests.clinic_fixtures import SmallClinic
from tests.ui.booking.test_move_session import FRONT_DESK, _window
from tests.ui.clinic_day import WEDNESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import desk_controller_of

PICTURES = Path("/tmp/history")
IV = {"room": "Room 3", "monitor": "Monitor 3", "nurse": "Nurse Kim"}


def _add_nurse(clinic: SmallClinic, name: str) -> None:
    with clinic.db.write() as s:
        res = Resource(kind="staff", subkind="nurse", name=name, capacity=3)
        s.add(res)
        s.flush()
        s.add(StaffMember(resource_id=res.id, role="nurse", first_name="Lee", last_name="Ortiz"))
        for weekday in range(5):
            s.add(
                StaffShift(resource_id=res.id, weekday=weekday, start_minute=420, end_minute=1110)
            )
        clinic.ids[name] = res.id


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen
def test_the_session_page_history_names_the_nurse_and_the_monitor_changed(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    _add_nurse(clinic, "Nurse Lee")
    request = BookingRequest(
        patient_id=clinic.ids["Ada Lovelace"],
        sessions=(clinic.session("iv_infusion", WEDNESDAY, "09:00", IV),),
    )
    (session,) = booking.book(clinic.db, SYSTEM, request, now=NOW).appointment_ids
    # Nurse Kim called in sick: the same time and room, Nurse Lee.
    appointment_changes.move(
        clinic.db,
        FRONT_DESK,
        session,
        clinic.session("iv_infusion", WEDNESDAY, "09:00", IV | {"nurse": "Nurse Lee"}),
        reason="Kim called in sick",
        now=NOW,
        patient_knows=True,
    )
    appointment_changes.move(
        clinic.db,
        FRONT_DESK,
        session,
        clinic.session(
            "iv_infusion", WEDNESDAY, "10:00", IV | {"nurse": "Nurse Lee", "monitor": "Monitor 4"}
        ),
        now=NOW,
        patient_knows=True,
    )
    window = _window(qtbot, clinic, FRONT_DESK)
    controller = desk_controller_of(window)
    with qtbot.waitSignal(controller.appointment_opened, timeout=10_000) as opened:
        controller.open_appointment(session)
    page = opened.args[0]
    assert isinstance(page, AppointmentDialog)
    history = page.findChild(QListWidget, "appointment_history")
    assert history is not None
    lines = [history.item(row).text() for row in range(history.count())]
    assert any(
        line.endswith("changed Nurse: Nurse Kim → Nurse Lee: Kim called in sick") for line in lines
    ), lines
    assert any(
        line.endswith("moved Wed Nov 25 09:00 → 10:00; Monitor 3 → Monitor 4") for line in lines
    ), lines
    assert not any("from Wed Nov 25 09:00, Room 3 to" in line for line in lines)
    PICTURES.mkdir(parents=True, exist_ok=True)
    page.grab().save(str(PICTURES / "session_page_history_after.png"))
    page.close()
