"""A session moved at another workstation is said, with from where, to where and why, when the
change reaches this one (trial 3, A12: the nurse's day moved Santos 12:25 -> 12:40 and nothing
on her screen said that Monitor 2 had gone out of service)."""

from __future__ import annotations

import datetime as dt

from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.services.booking.move_request import move_appointment
from ketadesk.services.common.context import Actor
from ketadesk.store.models import Appointment, Patient
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import desk_controller_of, open_desk_window

NURSE = Actor(user_id=None, username="kim", role="nurse")
ADMIN = Actor(user_id=None, username="ada", role="admin")


def test_a_move_made_elsewhere_is_said_with_its_reason(qtbot: QtBot, clinic: SmallClinic) -> None:
    clock = [NOW]
    win = open_desk_window(qtbot, clinic.db, TUESDAY, now=lambda: clock[0], actor=NURSE, size=None)
    with clinic.db.read() as s:
        integration = s.scalars(
            select(Appointment.id)
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(Patient.last_name == "Lovelace", Appointment.status == "booked")
            .order_by(Appointment.starts_at.desc())
        ).first()
    assert integration is not None
    later = NOW + dt.timedelta(minutes=1)
    move_appointment(
        clinic.db,
        ADMIN,
        integration,
        dt.datetime.combine(TUESDAY, dt.time(16, 30)),
        now=later,
        reason="Office A out of service: flooded",
    )
    clock[0] = later + dt.timedelta(minutes=1)
    controller = desk_controller_of(win)
    controller._on_changed()  # as the change watcher does when the write arrives
    qtbot.waitUntil(lambda: bool(controller.last_moves_notice), timeout=10_000)
    notice = controller.last_moves_notice
    assert notice.startswith(
        "Moved at another workstation: Lovelace, Ada moved from Tue Nov 24 15:00"
    )
    assert "to Tue Nov 24 16:30" in notice
    assert notice.endswith(": Office A out of service: flooded")
    assert win.statusBar().currentMessage() == notice
