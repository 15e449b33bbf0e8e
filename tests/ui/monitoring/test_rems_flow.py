"""A nurse works a REMS form from the follow-up queue: the item lists what the session's
monitoring record lacks; she opens the session, fills the record, and the queue shows the
form ready to submit; she completes it as submitted.  A recorded adverse event is owed a
follow-up of its own."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QComboBox
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.followups.queue import FollowUpItem
from ketadesk.services.monitoring.records import open_record
from ketadesk.store.models import FollowUp
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.followups.follow_up_queue import CompleteDialog, FollowUpQueueView
from ketadesk.ui.monitoring.monitoring_dialog import MonitoringDialog
from tests.clinic_fixtures import RIDE_HOME, SmallClinic

WED = dt.date(2026, 11, 25)
NURSE = Actor(user_id=None, username="kim", role="nurse")
SPR = {
    "room": "Room 3",
    "monitor": "Monitor 3",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def held(clinic: SmallClinic) -> int:
    """Mary Seacole's Spravato session on Wednesday 25 Nov at 10:00, held and left in
    progress (its record is filled in afterwards; it owes its REMS form from the start)."""
    result = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids["Mary Seacole"],
            sessions=(clinic.session("spravato", WED, "10:00", SPR),),
        ),
        now=dt.datetime(2026, 11, 24, 18, 0, tzinfo=dt.UTC),
    )
    (appointment,) = result.appointment_ids
    for action, hhmm in (("check_in", "09:55"), ("start", "10:05")):
        appointment_changes.change_status(
            clinic.db, NURSE, appointment, action, now=clinic.at(WED, hhmm), ride=RIDE_HOME
        )
    return appointment


def _rems(view: FollowUpQueueView) -> FollowUpItem:
    return next(i for i in view.items() if i.kind == "rems_form")


def _refresh(qtbot: QtBot, view: FollowUpQueueView) -> None:
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        view.refresh()


def test_the_rems_follow_up_fills_from_the_monitoring_record(
    qtbot: QtBot, clinic: SmallClinic, held: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(clinic.at(WED, "12:45"))
    desk = Desk(clinic.db, NURSE, clock)
    view = FollowUpQueueView(desk)
    qtbot.addWidget(view)
    _refresh(qtbot, view)
    form = _rems(view)
    assert form.countdown == "due in 7 days"
    assert "BP +40 min" in form.missing
    assert "discharge time" in form.missing
    assert view.select_follow_up(form.id)
    with qtbot.waitSignal(view.appointment_requested) as opened:
        view.actions_by_name["open_session"].trigger()
    assert opened.args == [held]

    dialog = MonitoringDialog(desk, held, sheet=open_record(desk.db, NURSE, held, now=desk.now()))
    qtbot.addWidget(dialog)
    dialog.show()
    readings = {
        0: ("10:12", "128", "82", "72", "98"),
        1: ("10:58", "136", "84", "74", "97"),
        2: ("12:30", "124", "80", "70", "98"),
    }
    for index, values in readings.items():
        for key, text in zip(
            ("time", "systolic", "diastolic", "heart_rate", "spo2"), values, strict=True
        ):
            edit = dialog.reading_editor(index, key)
            edit.setFocus()
            QTest.keyClicks(edit, text)
            edit.editingFinished.emit()
    for key, text in (
        ("dose_mg", "56"),
        ("devices", "2"),
        ("lot_number", "LOT-88"),
        ("dose_started", "10:15"),
        ("discharged", "12:30"),
    ):
        QTest.keyClicks(dialog.editor(key), text)
    dialog._sedation.setCurrentIndex(dialog._sedation.findData("mild"))
    dialog._dissociation.setCurrentIndex(dialog._dissociation.findData("mild"))
    for key in ("sedation_resolved", "dissociation_resolved"):  # discharge waits for them
        resolved = dialog.editor(key)
        assert isinstance(resolved, QCheckBox)
        resolved.setChecked(True)
    dialog._monitored_by.setCurrentIndex(dialog._monitored_by.findData(clinic.ids["Nurse Kim"]))
    # What current copies of the form also ask ([rems_form] asks).
    assert "time ready to leave" in dialog.rems_text()
    QTest.keyClicks(dialog.editor("ready_to_leave"), "12:25")
    vitals = dialog.editor("vitals_acceptable")
    assert isinstance(vitals, QComboBox)
    vitals.setCurrentIndex(vitals.findText("Yes"))
    none_taken = dialog.editor("no_concomitant_meds")
    assert isinstance(none_taken, QCheckBox)
    none_taken.setChecked(True)
    assert dialog.rems_text() == "REMS form: complete — nothing missing"
    with qtbot.waitSignal(dialog.saved):
        dialog._save.click()

    _refresh(qtbot, view)
    ready = _rems(view)
    assert ready.missing == ()
    assert ready.status == "open"  # still to be sent to the REMS: the nurse completes it
    assert view.select_follow_up(ready.id)

    def submitted(desk: Desk, item: FollowUpItem, parent: object) -> bool:
        complete = CompleteDialog(desk, item)
        qtbot.addWidget(complete)
        complete.outcome.setPlainText("Submitted to the Spravato REMS portal")
        assert complete.confirmation is not None
        complete.confirmation.setText("SPR-20431")
        with qtbot.waitSignal(complete.settled, timeout=10_000):  # written on a worker
            complete.save()
        return complete.is_saved()

    monkeypatch.setattr(FollowUpQueueView, "complete_dialog", submitted)
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        view.actions_by_name["complete"].trigger()
    assert all(i.kind != "rems_form" for i in view.items())
    with clinic.db.read() as session:
        done = session.scalars(
            select(FollowUp).where(FollowUp.appointment_id == held, FollowUp.kind == "rems_form")
        ).one()
        assert (done.status, done.outcome) == ("done", "Submitted to the Spravato REMS portal")
        assert done.confirmation_number == "SPR-20431"
        assert done.submitted_on == clinic.calendar.local_date(clock.now)
        # No adverse event was recorded, so none is owed.
        assert not session.scalars(select(FollowUp).where(FollowUp.kind == "adverse_event")).all()


def test_an_adverse_event_in_the_record_opens_its_follow_up_once(
    clinic: SmallClinic, held: int
) -> None:
    import dataclasses

    from ketadesk.services.monitoring import records
    from ketadesk.services.monitoring.record_forms import with_reading

    at = clinic.at(WED, "12:50")
    form = records.load_record(clinic.db, NURSE, held)
    form = dataclasses.replace(form, events="Vomited once at 10:40; settled with ondansetron")
    records.save_record(clinic.db, NURSE, held, form, now=at)
    again = records.load_record(clinic.db, NURSE, held)
    again = dataclasses.replace(
        with_reading(again, 0, time="10:10", systolic="128", diastolic="82"), dose_mg="56"
    )
    records.save_record(clinic.db, NURSE, held, again, now=at + dt.timedelta(minutes=5))
    with clinic.db.read() as session:
        owed = session.execute(
            select(FollowUp.appointment_id, FollowUp.status).where(FollowUp.kind == "adverse_event")
        ).all()
    assert [tuple(row) for row in owed] == [(held, "open")]
