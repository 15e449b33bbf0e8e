"""The monitoring dialog as a nurse works it: readings typed, a warning in amber at once, an
impossible BP refused at the field and nothing saved, then the record saved and the REMS line
going from "still missing" to "complete"."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QLabel
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.monitoring import records, rems
from ketadesk.store.models import SessionRecord
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.monitoring.monitoring_dialog import MonitoringDialog
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.monitoring.spravato_day import NURSE, WED, book_spravato

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def spravato(clinic: SmallClinic) -> int:
    booked = book_spravato(clinic)
    clinic.start(booked, WED, "10:00")  # a dose is recorded on a session in progress
    return booked


def _dialog(
    qtbot: QtBot, clinic: SmallClinic, appointment: int, hhmm: str, actor: Actor = NURSE
) -> MonitoringDialog:
    now = clinic.at(WED, hhmm)
    sheet = records.open_record(clinic.db, NURSE, appointment, now=now)
    dialog = MonitoringDialog(Desk(clinic.db, actor, lambda: now), appointment, sheet=sheet)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _type(qtbot: QtBot, dialog: MonitoringDialog, edit_text: dict[tuple[int, str], str]) -> None:
    for (index, key), text in edit_text.items():
        edit = dialog.reading_editor(index, key)
        edit.setFocus()
        edit.clear()
        QTest.keyClicks(edit, text)
        edit.editingFinished.emit()


def _records(clinic: SmallClinic) -> int:
    with clinic.db.read() as session:
        return session.scalar(select(func.count()).select_from(SessionRecord)) or 0


def test_high_pre_dose_bp_shows_an_amber_warning_at_once(
    qtbot: QtBot, clinic: SmallClinic, spravato: int
) -> None:
    dialog = _dialog(qtbot, clinic, spravato, "10:12")
    assert "Next check: BP pre-dose due 10:10" in dialog._schedule_label.text()
    _type(qtbot, dialog, {(0, "time"): "10:10", (0, "systolic"): "156", (0, "diastolic"): "92"})
    kind, message = dialog.field_messages["readings[0].systolic"]
    assert kind == "warning"
    assert message == "BP 156/92 is above 140/90: consider delaying the dose"
    assert "BP Pre-dose" not in dialog.rems_text()
    assert "BP +40 min" in dialog.rems_text()


def test_a_pre_dose_bp_above_the_hard_stop_says_so_in_red_at_once(
    qtbot: QtBot, clinic: SmallClinic, spravato: int
) -> None:
    """A user trial: a pre-dose BP above the clinic's hard stop (``[chair]``, 180/110 by
    default) was refused only when the dose was saved.  The row says so as it is typed, in red,
    naming the rule and what to do; the reading itself is real and may be saved."""
    dialog = _dialog(qtbot, clinic, spravato, "10:12")
    _type(qtbot, dialog, {(0, "time"): "10:10", (0, "systolic"): "186", (0, "diastolic"): "112"})
    kind, message = dialog.field_messages["readings[0].systolic"]
    assert kind == "stop"
    assert message.startswith(
        "Pre-dose BP hard stop: BP 186/112 is above the clinic's hard stop 180/110: do not "
        "start dosing."
    )
    assert "prescriber's override" in message
    note = dialog.reading_message(0)
    assert note.isVisible()
    assert note.text().startswith("⚠ Pre-dose BP hard stop: BP 186/112")
    assert "#b3261e" in note.styleSheet()  # the refusals' red, not the warnings' amber
    assert "bold" in note.styleSheet()
    image = dialog.grab()
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if folder:
        assert image.save(str(Path(folder) / "monitoring-hard-stop.png"))
    # Not a typing mistake: the reading saves (the chair rules judge the dose).
    with qtbot.waitSignal(dialog.saved, timeout=10_000):
        dialog._save.click()
    assert _records(clinic) == 1
    # Back under the hard stop (156/92): the amber "consider delaying" warning instead.
    dialog = _dialog(qtbot, clinic, spravato, "10:12")
    _type(qtbot, dialog, {(0, "systolic"): "156", (0, "diastolic"): "92"})
    assert dialog.field_messages["readings[0].systolic"][0] == "warning"


def test_impossible_bp_is_refused_at_the_field_and_nothing_is_saved(
    qtbot: QtBot, clinic: SmallClinic, spravato: int
) -> None:
    dialog = _dialog(qtbot, clinic, spravato, "10:12")
    _type(qtbot, dialog, {(0, "time"): "10:10", (0, "systolic"): "400", (0, "diastolic"): "20"})
    kind, message = dialog.field_messages["readings[0].systolic"]
    assert kind == "error"
    assert "systolic 400 cannot be real" in message
    dialog._save.click()
    assert dialog.isVisible()
    assert "nothing was saved" in dialog.status_text()
    assert _records(clinic) == 0
    assert dialog.reading_editor(0, "systolic").toolTip().startswith("systolic 400")


def test_discharge_before_the_dose_is_refused_at_the_discharge_field(
    qtbot: QtBot, clinic: SmallClinic, spravato: int
) -> None:
    dialog = _dialog(qtbot, clinic, spravato, "12:40")
    for key, text in (("dose_started", "10:15"), ("discharged", "10:05")):
        edit = dialog.editor(key)
        assert isinstance(edit, type(dialog._dose_started))
        edit.setFocus()
        QTest.keyClicks(edit, text)
        edit.editingFinished.emit()
    assert dialog.field_messages["discharged"] == (
        "error",
        "discharge at 10:05 is before the dose started (10:15)",
    )


def test_a_nurse_fills_the_whole_record_and_the_rems_form_becomes_complete(
    qtbot: QtBot, clinic: SmallClinic, spravato: int
) -> None:
    dialog = _dialog(qtbot, clinic, spravato, "12:40")
    assert dialog.rems_text().startswith("REMS form: still missing dose, devices and lot")
    _type(
        qtbot,
        dialog,
        {
            (0, "time"): "10:10",
            (0, "systolic"): "128",
            (0, "diastolic"): "82",
            (0, "heart_rate"): "72",
            (0, "spo2"): "98",
            (1, "time"): "10:55",
            (1, "systolic"): "138",
            (1, "diastolic"): "86",
            (2, "time"): "12:25",
            (2, "systolic"): "126",
            (2, "diastolic"): "80",
        },
    )
    for key, text in (
        ("dose_mg", "56"),
        ("devices", "2"),
        ("lot_number", "LOT-77"),
        ("dose_started", "10:15"),
        ("discharged", "12:30"),
    ):
        QTest.keyClicks(dialog.editor(key), text)
    dialog._sedation.setCurrentIndex(dialog._sedation.findData("mild"))
    dialog._dissociation.setCurrentIndex(dialog._dissociation.findData("none"))
    sedation_resolved = dialog.editor("sedation_resolved")  # discharge waits for it
    assert isinstance(sedation_resolved, QCheckBox)
    sedation_resolved.setChecked(True)
    dialog._monitored_by.setCurrentIndex(dialog._monitored_by.findData(clinic.ids["Nurse Kim"]))
    # What current copies of the form also ask ([rems_form] asks).
    QTest.keyClicks(dialog.editor("ready_to_leave"), "12:25")
    vitals = dialog.editor("vitals_acceptable")
    assert isinstance(vitals, QComboBox)
    vitals.setCurrentIndex(vitals.findText("Yes"))
    none_taken = dialog.editor("no_concomitant_meds")
    assert isinstance(none_taken, QCheckBox)
    none_taken.setChecked(True)
    assert dialog.rems_text() == "REMS form: complete — nothing missing"
    assert dialog._minutes.text().startswith("135 min")
    with qtbot.waitSignal(dialog.saved) as saved:
        dialog._save.click()
    assert saved.args == [spravato]
    with clinic.db.read() as session:
        assert rems.rems_missing(session, spravato) == []


def test_front_desk_sees_the_record_but_cannot_save(
    qtbot: QtBot, clinic: SmallClinic, spravato: int
) -> None:
    dialog = _dialog(qtbot, clinic, spravato, "12:40", actor=FRONT_DESK)
    assert not dialog._save.isEnabled()
    assert "nurses and prescribers" in dialog._save.toolTip()


def test_an_extra_reading_can_be_added_and_is_saved(
    qtbot: QtBot, clinic: SmallClinic, spravato: int
) -> None:
    dialog = _dialog(qtbot, clinic, spravato, "11:30")
    dialog._add_reading.click()
    _type(qtbot, dialog, {(3, "time"): "11:20", (3, "systolic"): "150", (3, "diastolic"): "95"})
    assert dialog.field_messages["readings[3].systolic"][0] == "warning"
    with qtbot.waitSignal(dialog.saved):  # written on a worker
        dialog._save.click()
    # Saved, and held open on the new warning ("Saved; note: …") rather than closed over it.
    assert dialog.isVisible()
    assert "BP 150/95 is above 140/90" in dialog.status_text()
    form = records.load_record(clinic.db, NURSE, spravato)
    assert [(r.label, r.systolic) for r in form.readings if not r.scheduled] == [("Extra 1", "150")]


def _book_iv(clinic: SmallClinic) -> int:
    """Ada Lovelace's IV infusion, Wednesday 13:00 (its readings every 15 min from the dose)."""
    return booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids["Ada Lovelace"],
            sessions=(
                clinic.session(
                    "iv_infusion",
                    WED,
                    "13:00",
                    {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"},
                ),
            ),
        ),
        now=dt.datetime(2026, 11, 24, 18, 0, tzinfo=dt.UTC),
    ).appointment_ids[0]


def test_devices_and_lot_are_asked_only_of_a_type_dosed_in_devices(
    qtbot: QtBot, clinic: SmallClinic, spravato: int
) -> None:
    """A user trial: the IV record asked for "Devices" and "Lot"; they belong to a type whose
    catalogue has ``[dose] device_mg`` (Spravato's nasal devices) only."""
    iv = _book_iv(clinic)
    shown = _dialog(qtbot, clinic, spravato, "10:12")
    assert shown.sheet.uses_devices
    assert shown._devices.isVisible()
    assert shown._lot.isVisible()
    hidden = _dialog(qtbot, clinic, iv, "13:12")
    assert not hidden.sheet.uses_devices
    assert not hidden._devices.isVisible()
    assert not hidden._lot.isVisible()
    assert "Devices" not in [label.text() for label in hidden.findChildren(QLabel)]


def test_checks_after_an_unrecorded_dose_are_counted_from_the_dose_not_the_plan(
    qtbot: QtBot, clinic: SmallClinic, spravato: int
) -> None:
    """A user trial: with the pre-dose BP taken and no dose start recorded, the header said
    "BP +40 min due 10:55", a time laid from the planned dose, and turned it red as "late"
    once that passed, though nobody had dosed.  Like the chair board, it says how long after
    the dose the check falls due; a dose start typed in (saved or not) gives it its time."""
    dialog = _dialog(qtbot, clinic, spravato, "10:40")
    _type(qtbot, dialog, {(0, "time"): "10:10", (0, "systolic"): "128", (0, "diastolic"): "82"})
    words = dialog._schedule_label.text()
    assert words == (
        "Next check: BP +40 min due 40 min after the dose (no dose start recorded yet)"
    )
    assert "late" not in words
    assert dialog._rows[1].due.text() == "dose + 40 min"
    assert dialog._minutes.text() == "Discharge allowed 2 h after the dose start"
    dialog._dose_started.setFocus()
    QTest.keyClicks(dialog._dose_started, "10:25")
    dialog._dose_started.editingFinished.emit()
    assert dialog._schedule_label.text() == "Next check: BP +40 min due 11:05"
    assert dialog._rows[1].due.text() == "11:05"
    # Discharge is laid from the saved dose only: one typed may yet be refused (a user trial).
    assert dialog._minutes.text() == "Discharge allowed 2 h after the dose start, once it is saved"
    # Another field refused (a BP that cannot be real): the dose start typed still times them.
    _type(qtbot, dialog, {(1, "time"): "10:40", (1, "systolic"): "400", (1, "diastolic"): "20"})
    assert dialog.field_messages["readings[1].systolic"][0] == "error"
    assert dialog._rows[2].due.text() != "dose + 2 h"
    assert dialog._minutes.text() == "Discharge allowed 2 h after the dose start, once it is saved"


def test_the_check_at_the_dose_itself_reads_at_dose(qtbot: QtBot, clinic: SmallClinic) -> None:
    """A user trial: the IV record's header said "Next check: BP +0 min due 0 min after the
    dose" of the first of its readings every 15 min, due at the dose itself."""
    dialog = _dialog(qtbot, clinic, _book_iv(clinic), "13:16")
    _type(qtbot, dialog, {(0, "time"): "13:10", (0, "systolic"): "128", (0, "diastolic"): "82"})
    assert dialog._rows[1].label.text() == "+0 min"  # what the reading is stored under
    assert dialog._schedule_label.text() == ("Next check: BP at dose (no dose start recorded yet)")
    assert dialog._rows[1].due.text() == "at dose"
    assert dialog._rows[1].due.toolTip().startswith("Due at the dose start;")
    assert dialog._rows[2].due.text() == "dose + 15 min"
    dialog.grab().save(str(picture_folder() / "record_check_at_dose.png"))
    dialog._dose_started.setFocus()
    QTest.keyClicks(dialog._dose_started, "13:15")
    dialog._dose_started.editingFinished.emit()
    assert dialog._schedule_label.text() == "Next check: BP at dose due 13:15"
    assert dialog._rows[1].due.text() == "13:15"


def test_the_reading_fields_stay_put_when_the_dose_time_is_filled_in(
    qtbot: QtBot, clinic: SmallClinic, spravato: int
) -> None:
    """A user trial pressed Now on the dose start mid-entry: the "Due" column went from
    "dose + 40 min" to "10:52", every field moved left, and the next click typed into the
    wrong one (an SpO2 of 74)."""
    dialog = _dialog(qtbot, clinic, spravato, "10:12")
    dialog.resize(1100, 800)
    qtbot.waitExposed(dialog)

    def lefts() -> list[int]:
        return [
            dialog.reading_editor(1, key).mapTo(dialog, dialog.reading_editor(1, key).pos()).x()
            for key in ("time", "systolic", "diastolic", "heart_rate", "spo2")
        ]

    _type(qtbot, dialog, {(0, "time"): "10:10", (0, "systolic"): "128"})
    qtbot.waitUntil(lambda: dialog.reading_editor(1, "time").isVisible())
    assert dialog._rows[1].due.text() == "dose + 40 min"
    before = lefts()
    dialog._dose_now.click()
    qtbot.waitUntil(lambda: dialog._rows[1].due.text() == "10:52")
    QApplication.processEvents()
    assert lefts() == before
