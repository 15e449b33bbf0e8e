"""A save that brings a new warning stays open to show it ("Saved; note: …") rather than
closing over it: a pre-dose 148/92 saved with the dose shows "consider delaying the dose"
before the dialog closes; a further save with nothing new closes it."""

from __future__ import annotations

import pytest
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from ketadesk.services.monitoring import records
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.monitoring.monitoring_dialog import MonitoringDialog
from tests.clinic_fixtures import SmallClinic
from tests.ui.monitoring.spravato_day import NURSE, WED, book_spravato


@pytest.fixture
def spravato(clinic: SmallClinic) -> int:
    booked = book_spravato(clinic)
    clinic.start(booked, WED, "10:00")  # a dose is recorded on a session in progress
    return booked


def _dialog(qtbot: QtBot, clinic: SmallClinic, appointment: int, hhmm: str) -> MonitoringDialog:
    now = clinic.at(WED, hhmm)
    sheet = records.open_record(clinic.db, NURSE, appointment, now=now)
    dialog = MonitoringDialog(Desk(clinic.db, NURSE, lambda: now), appointment, sheet=sheet)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _type(dialog: MonitoringDialog, texts: dict[str, str], reading: dict[str, str]) -> None:
    for key, text in reading.items():
        edit = dialog.reading_editor(0, key)
        edit.setFocus()
        edit.clear()
        QTest.keyClicks(edit, text)
        edit.editingFinished.emit()
    for key, text in texts.items():
        QTest.keyClicks(dialog.editor(key), text)


def test_a_new_warning_keeps_the_dialog_open_saying_saved_with_the_note(
    qtbot: QtBot, clinic: SmallClinic, spravato: int
) -> None:
    dialog = _dialog(qtbot, clinic, spravato, "10:16")
    _type(
        dialog,
        {"dose_mg": "56", "devices": "2", "dose_started": "10:15"},
        {"time": "10:10", "systolic": "148", "diastolic": "92"},
    )
    with qtbot.waitSignal(dialog.saved):
        dialog._save.click()
    assert dialog.isVisible()  # not closed over the warning
    assert dialog.status_text().startswith("<b>Saved; note:</b>")
    assert "BP 148/92 is above 140/90: consider delaying the dose" in dialog.status_text()
    assert dialog._close.text() == "Close"
    assert dialog._save.isEnabled()
    # Saving again (a lot number added) brings nothing new: saved over its own save, closed.
    QTest.keyClicks(dialog.editor("lot_number"), "LOT-77")
    with qtbot.waitSignal(dialog.saved):
        dialog._save.click()
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert dialog.save_result is not None


def test_a_save_without_warnings_closes_at_once(
    qtbot: QtBot, clinic: SmallClinic, spravato: int
) -> None:
    dialog = _dialog(qtbot, clinic, spravato, "10:16")
    _type(
        dialog,
        {"dose_mg": "56", "devices": "2", "dose_started": "10:15"},
        {"time": "10:10", "systolic": "128", "diastolic": "82"},
    )
    with qtbot.waitSignal(dialog.saved):
        dialog._save.click()
    qtbot.waitUntil(lambda: not dialog.isVisible())


def test_a_warning_the_record_already_carried_does_not_hold_the_dialog(
    qtbot: QtBot, clinic: SmallClinic, spravato: int
) -> None:
    first = _dialog(qtbot, clinic, spravato, "10:16")
    _type(
        first,
        {"dose_mg": "56", "devices": "2", "dose_started": "10:15"},
        {"time": "10:10", "systolic": "148", "diastolic": "92"},
    )
    with qtbot.waitSignal(first.saved):
        first._save.click()
    first.close()
    again = _dialog(qtbot, clinic, spravato, "10:30")
    QTest.keyClicks(again.editor("lot_number"), "LOT-77")
    with qtbot.waitSignal(again.saved):
        again._save.click()
    qtbot.waitUntil(lambda: not again.isVisible())
