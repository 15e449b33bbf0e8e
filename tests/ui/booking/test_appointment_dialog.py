"""An appointment opened from a view: what it shows, and which next steps it offers to whom."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.services.booking.appointment_changes import change_status
from ketadesk.services.booking.appointments import appointment_detail
from ketadesk.services.booking.move_request import move_appointment
from ketadesk.services.common.context import Actor, NotFound
from ketadesk.store.models import Appointment, Patient
from ketadesk.ui.booking.appointment_dialog import AppointmentDialog
from ketadesk.ui.common.desk import Desk
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.clinic_day import ready_to_start
from tests.ui.conftest import NOW

NURSE = Actor(user_id=None, username="kim", role="nurse")
FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")


def _appointment(clinic: SmallClinic, last_name: str, status: str) -> int:
    with clinic.db.read() as session:
        return session.scalars(
            select(Appointment.id)
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(Patient.last_name == last_name, Appointment.status == status)
        ).one()


def test_detail_reads_the_appointment_with_its_series_and_history(clinic: SmallClinic) -> None:
    aid = _appointment(clinic, "Hopper", "checked_in")
    detail = appointment_detail(clinic.db, aid)
    assert (detail.patient_name, detail.session_type_code, detail.series_label) == (
        "Grace Hopper",
        "spravato",
        "2/12",
    )
    assert detail.room == "Room 1"
    assert f"{detail.start:%H:%M}" == "11:00"  # local time at the clinic
    assert detail.actions == ("start", "complete", "cancel")
    assert detail.history == ()
    ready_to_start(clinic, "Grace Hopper")
    change_status(clinic.db, NURSE, aid, "start", now=NOW)
    after = appointment_detail(clinic.db, aid)
    assert after.status == "in_progress"
    assert [(h.from_status, h.to_status) for h in after.history] == [("checked_in", "in_progress")]
    assert after.actions == ("complete",)


def test_detail_of_a_missing_appointment_says_so(clinic: SmallClinic) -> None:
    with pytest.raises(NotFound, match="no appointment #9999"):
        appointment_detail(clinic.db, 9999)


def test_dialog_offers_what_the_role_may_do(qtbot: QtBot, clinic: SmallClinic) -> None:
    aid = _appointment(clinic, "Hopper", "checked_in")
    nurse = AppointmentDialog(Desk(clinic.db, NURSE, lambda: NOW), aid)
    qtbot.addWidget(nurse)
    qtbot.waitUntil(nurse.is_loaded)  # read on a worker
    assert set(nurse.buttons) >= {
        "start",
        "complete",
        "cancel",
        "monitoring",
        "print_record",
        "phq9",
        "patient",
    }
    front = AppointmentDialog(Desk(clinic.db, FRONT_DESK, lambda: NOW), aid)
    qtbot.addWidget(front)
    qtbot.waitUntil(front.is_loaded)
    # The front desk may cancel but not start or complete, nor open or print clinical records.
    assert "cancel" in front.buttons
    assert not {"start", "complete", "monitoring", "print_record", "phq9"} & set(front.buttons)


def test_dialog_asks_its_owner_to_change_the_status(qtbot: QtBot, clinic: SmallClinic) -> None:
    aid = _appointment(clinic, "Hopper", "checked_in")
    dialog = AppointmentDialog(Desk(clinic.db, NURSE, lambda: NOW), aid)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(dialog.is_loaded)
    with qtbot.waitSignal(dialog.status_requested) as blocker:
        dialog.buttons["start"].click()
    assert blocker.args == [aid, "start", "", dialog.detail().version]
    with qtbot.waitSignal(dialog.patient_requested) as blocker:
        dialog.buttons["patient"].click()
    assert blocker.args == [clinic.ids["Grace Hopper"]]


def test_dialog_offers_a_therapist_only_their_own_sessions(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    # Grace Hopper's Spravato holds no therapist: a therapist is offered neither start nor
    # complete (the service would refuse them), though their role may start their own.
    aid = _appointment(clinic, "Hopper", "checked_in")
    therapist = Actor(user_id=None, username="sam", role="therapist")
    dialog = AppointmentDialog(Desk(clinic.db, therapist, lambda: NOW), aid)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(dialog.is_loaded)
    assert not {"start", "complete", "cancel"} & set(dialog.buttons)
    assert "patient" in dialog.buttons


def test_check_in_and_no_show_are_greyed_until_they_open(qtbot: QtBot, clinic: SmallClinic) -> None:
    """Ada's 09:00 infusion, opened on the Saturday before: the desk would refuse a check-in
    or a no-show, so the dialog offers them greyed, saying when they open."""
    with clinic.db.read() as session:
        aid = session.scalars(
            select(Appointment.id)
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(Patient.last_name == "Lovelace", Appointment.status == "booked")
            .order_by(Appointment.starts_at)
            .limit(1)
        ).one()
    saturday = NOW - dt.timedelta(days=3)
    early = AppointmentDialog(Desk(clinic.db, FRONT_DESK, lambda: saturday), aid)
    qtbot.addWidget(early)
    qtbot.waitUntil(early.is_loaded)  # read on a worker
    check_in, no_show = early.buttons["check_in"], early.buttons["no_show"]
    assert not check_in.isEnabled()
    assert check_in.toolTip() == "Check-in opens on the day of the session (Tue 11/24)"
    assert not no_show.isEnabled()
    assert no_show.toolTip().startswith("A no-show is marked once the session has started")
    assert early.buttons["cancel"].isEnabled()
    on_the_day = AppointmentDialog(Desk(clinic.db, FRONT_DESK, lambda: NOW), aid)  # 10:15
    qtbot.addWidget(on_the_day)
    qtbot.waitUntil(on_the_day.is_loaded)
    assert on_the_day.buttons["check_in"].isEnabled()
    assert on_the_day.buttons["no_show"].isEnabled()
    assert on_the_day.buttons["no_show"].toolTip() == ""


def test_history_names_the_statuses_as_the_rest_of_the_app_does(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    """A user trial read "checked_in → in_progress" in the session's history."""
    aid = _appointment(clinic, "Hopper", "checked_in")
    ready_to_start(clinic, "Grace Hopper")
    change_status(clinic.db, NURSE, aid, "start", now=NOW)
    dialog = AppointmentDialog(Desk(clinic.db, NURSE, lambda: NOW), aid)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(dialog.is_loaded)
    dialog.resize(700, 600)
    lines = [dialog._history.item(i).text() for i in range(dialog._history.count())]
    assert len(lines) == 1
    assert "Checked in → In session" in lines[0], lines
    assert "checked_in" not in lines[0]
    assert "in_progress" not in lines[0]
    status = dialog.findChild(QLabel, "field_status")
    assert status is not None
    assert status.text() == "In session"
    image = dialog.grab()
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if folder:
        assert image.save(str(Path(folder) / "appointment-history.png"))


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen
def test_history_reads_without_scrolling_sideways(qtbot: QtBot, clinic: SmallClinic) -> None:
    """A user trial scrolled the history sideways to read a move and its reason: at the
    page's usual width every line wraps, nothing is cut off, and each says itself whole in a
    tooltip."""
    with clinic.db.read() as session:
        aid = session.scalars(
            select(Appointment.id)
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(Patient.last_name == "Lovelace", Appointment.status == "booked")
            .order_by(Appointment.starts_at.desc())
        ).first()
    assert aid is not None
    admin = Actor(user_id=None, username="ada", role="admin")
    reason = "Office A out of service: flooded overnight, the landlord's plumber comes at noon"
    to = dt.datetime.combine(
        NOW.astimezone(ZoneInfo("America/Los_Angeles")).date(), dt.time(16, 30)
    )
    move_appointment(clinic.db, admin, aid, to, now=NOW, reason=reason)
    dialog = AppointmentDialog(Desk(clinic.db, NURSE, lambda: NOW), aid)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(dialog.is_loaded)
    dialog.show()
    qtbot.waitExposed(dialog)
    history = dialog._history
    lines = [history.item(i).text() for i in range(history.count())]
    assert any(reason in line for line in lines), lines
    bar = history.horizontalScrollBar()
    assert bar.maximum() == 0, "the history scrolls sideways"
    for i in range(history.count()):
        item = history.item(i)
        assert item.toolTip() == item.text()
        rect = history.visualItemRect(item)
        assert rect.right() <= history.viewport().width(), item.text()
        # Wrapped, so tall enough for every line of it.
        needed = history.fontMetrics().boundingRect(
            0, 0, history.viewport().width(), 10_000, Qt.TextFlag.TextWordWrap, item.text()
        )
        assert rect.height() >= needed.height(), item.text()
    image = dialog.grab()
    assert image.save(str(picture_folder() / "appointment-history-wrapped.png"))
