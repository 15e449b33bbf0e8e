"""A prescriber changes a patient's protocol where End series… is offered (the patient record's
series panel and the page of a session of the series), with real widgets: the dialog asks the
new protocol, why and from when, and lists what is kept and cancelled; the old series ends
"changed to" the new protocol; the series booking opens with the patient, the protocol, the
first day and the old series' weekdays, time and room, its plan made; booking it links the
two series, the record shows the chain, and one Edit ▸ Undo takes it all back.  A booking the
gates refuse, abandoned, offers to take the end back.  The desk sees it greyed with who may."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot
from sqlalchemy import select, update

from ketadesk.services.common.context import Actor
from ketadesk.store.models import Appointment, Patient, Series
from ketadesk.ui.booking import protocol_change_flow
from ketadesk.ui.booking.appointment_dialog import AppointmentDialog
from ketadesk.ui.booking.booking_dialog import BookingDialog
from ketadesk.ui.booking.protocol_change_dialog import ProtocolChangeDialog
from ketadesk.ui.booking.protocol_change_flow import ProtocolChangeFlow
from ketadesk.ui.patients.patient_record import PatientRecordView
from ketadesk.ui.shell.main_window import MainWindow
from tests.clinic_fixtures import SmallClinic
from tests.ui.booking.test_end_series import _prescriber, _record, _statuses, _window
from tests.ui.booking.test_move_session import _book_induction
from tests.ui.shell.desk_helpers import desk_controller_of

FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")
PICTURES = Path("/tmp/protocol")
WHY = "no response after 2 infusions"


def _grab(widget: object, name: str) -> None:
    PICTURES.mkdir(parents=True, exist_ok=True)
    widget.grab().save(str(PICTURES / name))  # type: ignore[attr-defined]


def _series_of(clinic: SmallClinic, appointment_id: int) -> int:
    with clinic.db.read() as s:
        sid = s.scalar(select(Appointment.series_id).where(Appointment.id == appointment_id))
    assert sid is not None
    return sid


def _start_flow(
    qtbot: QtBot, window: MainWindow, view: PatientRecordView, sid: int
) -> tuple[ProtocolChangeFlow, ProtocolChangeDialog]:
    controller = desk_controller_of(window)
    button = view.change_buttons[sid]
    assert button.isEnabled()
    with qtbot.waitSignal(controller.protocol_change_started, timeout=10_000) as started:
        button.click()
    flow = started.args[0]
    assert isinstance(flow, ProtocolChangeFlow)
    qtbot.waitUntil(lambda: flow.dialog is not None, timeout=10_000)
    assert flow.dialog is not None
    return flow, flow.dialog


def _fill(qtbot: QtBot, clinic: SmallClinic, dialog: ProtocolChangeDialog, third: int) -> None:
    with clinic.db.read() as s:
        starts = s.scalar(select(Appointment.starts_at).where(Appointment.id == third))
    assert starts is not None
    dialog.set_effective(clinic.calendar.local_date(starts))
    qtbot.waitUntil(lambda: dialog.sessions.count() == 4, timeout=10_000)
    dialog.choose_protocol("spravato_trd")
    dialog.why_edit.setText(WHY)


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen
def test_a_prescriber_changes_the_protocol_books_the_new_series_and_undo_takes_it_back(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    ids = _book_induction(clinic)
    sid = _series_of(clinic, ids[0])
    window = _window(qtbot, clinic, _prescriber(clinic))
    controller = desk_controller_of(window)
    view = _record(qtbot, window, clinic.ids["Ada Lovelace"])
    flow, dialog = _start_flow(qtbot, window, view, sid)
    assert dialog.sessions.count() == len(ids)  # from today: every session
    assert dialog.protocol_box.findData("iv_induction") == -1  # not to itself

    # Nothing chosen: said, nothing written.
    dialog.ok.click()
    assert dialog.message.text() == "Choose the new protocol."
    dialog.choose_protocol("spravato_trd")
    dialog.ok.click()
    assert dialog.message.text().startswith("Say why the protocol changes")
    assert _statuses(clinic, ids) == ["booked"] * 6
    _fill(qtbot, clinic, dialog, ids[2])
    assert dialog.kept.count() == 2
    dialog.resize(640, 560)
    _grab(dialog, "change_protocol_dialog.png")

    with qtbot.waitSignal(flow.booking_opened, timeout=10_000) as opened:
        dialog.ok.click()
    booking = opened.args[0]
    assert isinstance(booking, BookingDialog)
    assert _statuses(clinic, ids) == ["booked", "booked", *["cancelled"] * 4]
    assert controller.editor.stack.undoText().startswith("Change protocol of Lovelace, Ada to")
    # The booking is filled in from the old series and planned at once.
    assert booking.protocol.currentData() == "spravato_trd"
    assert [c for c, box in booking.weekday_boxes.items() if box.isChecked()] == [
        "mon",
        "wed",
        "fri",
    ]
    assert booking.use_time.isChecked()
    assert not booking.change_patient.isEnabled()
    assert booking.change_banner is not None
    assert "(6 infusions), ended " in booking.change_banner.text()
    qtbot.waitUntil(lambda: booking.confirm.isEnabled(), timeout=20_000)
    assert booking.model.rowCount() > 0
    _grab(booking, "change_protocol_booking.png")

    with qtbot.waitSignal(flow.finished, timeout=20_000) as finished:
        booking.confirm.click()
    assert finished.args == ["booked"]
    with clinic.db.read() as s:
        new = s.scalar(select(Series).where(Series.previous_series_id == sid))
        assert new is not None
        new_id = new.id
        old = s.get(Series, sid)
        assert old is not None
        assert (old.status, old.end_reason) == ("ended", "protocol_change")

    def shows(name: str) -> QLabel | None:
        for label in view.findChildren(QLabel, name):
            if label.isVisible():
                return label
        return None

    view.reload()
    qtbot.waitUntil(
        lambda: shows("series_changed_to") is not None and shows("series_changed_from") is not None,
        timeout=10_000,
    )
    to = shows("series_changed_to")
    assert to is not None
    assert to.text().startswith("→ Spravato TRD")
    view.resize(1000, 1100)
    _grab(view, "record_protocol_changed.png")

    # One undo: the new series cancelled, the old sessions booked again.
    controller.editor.stack.undo()
    qtbot.waitUntil(lambda: _statuses(clinic, ids) == ["booked"] * 6, timeout=10_000)
    with clinic.db.read() as s:
        assert s.scalar(select(Series.status).where(Series.id == new_id)) == "cancelled"
        assert s.scalar(select(Series.status).where(Series.id == sid)) == "active"
    view.close()


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen
def test_a_booking_the_gates_refuse_abandoned_offers_to_take_the_end_back(
    qtbot: QtBot, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _book_induction(clinic)
    sid = _series_of(clinic, ids[0])
    with clinic.db.write() as s:
        s.execute(
            update(Patient)
            .where(Patient.id == clinic.ids["Ada Lovelace"])
            .values(rems_enrolled_on=None)
        )
    asked: list[str] = []

    def ask(_parent: object, text: str) -> bool:
        asked.append(text)
        return True

    monkeypatch.setattr(protocol_change_flow, "ask_take_back", ask)
    window = _window(qtbot, clinic, _prescriber(clinic))
    view = _record(qtbot, window, clinic.ids["Ada Lovelace"])
    flow, dialog = _start_flow(qtbot, window, view, sid)
    _fill(qtbot, clinic, dialog, ids[2])
    with qtbot.waitSignal(flow.booking_opened, timeout=10_000) as opened:
        dialog.ok.click()
    booking = opened.args[0]
    assert isinstance(booking, BookingDialog)
    # The plan is made, and the REMS gate says why it cannot be booked.
    qtbot.waitUntil(lambda: booking.model.rowCount() > 0, timeout=20_000)
    assert not booking.confirm.isEnabled()
    assert booking.blocker.text() == "A gating rule blocks this booking (see Gating)."
    gates = " ".join(label.text() for label in booking.gating.findChildren(QLabel))
    assert "REMS" in gates
    _grab(booking, "change_protocol_refused.png")

    with qtbot.waitSignal(flow.finished, timeout=10_000) as finished:
        booking.reject()
    assert finished.args == ["taken_back"]
    assert len(asked) == 1
    assert "has ended" in asked[0]
    assert "was not booked" in asked[0]
    qtbot.waitUntil(lambda: _statuses(clinic, ids) == ["booked"] * 6, timeout=10_000)
    view.close()


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen
def test_the_desk_sees_change_protocol_greyed_with_who_may(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    ids = _book_induction(clinic)
    window = _window(qtbot, clinic, FRONT_DESK)
    controller = desk_controller_of(window)
    with qtbot.waitSignal(controller.appointment_opened, timeout=10_000) as opened:
        controller.open_appointment(ids[1])
    page = opened.args[0]
    assert isinstance(page, AppointmentDialog)
    change = page.buttons["change_protocol"]
    assert not change.isEnabled()
    assert change.toolTip() == "Only a prescriber may change a series' protocol"
    page.close()
    view = _record(qtbot, window, clinic.ids["Ada Lovelace"])
    button = view.change_buttons[_series_of(clinic, ids[0])]
    assert not button.isEnabled()
    assert button.toolTip() == "Only a prescriber may change a series' protocol"
    view.close()


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen
def test_the_session_page_opens_the_change_for_a_prescriber(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    ids = _book_induction(clinic)
    window = _window(qtbot, clinic, _prescriber(clinic))
    controller = desk_controller_of(window)
    with qtbot.waitSignal(controller.appointment_opened, timeout=10_000) as opened:
        controller.open_appointment(ids[1])
    page = opened.args[0]
    assert isinstance(page, AppointmentDialog)
    change = page.buttons["change_protocol"]
    assert change.isEnabled()
    with qtbot.waitSignal(controller.protocol_change_started, timeout=10_000) as started:
        change.click()
    flow = started.args[0]
    qtbot.waitUntil(lambda: flow.dialog is not None, timeout=10_000)
    assert flow.dialog.info.series_id == _series_of(clinic, ids[0])
    flow.dialog.reject()
    page.close()
