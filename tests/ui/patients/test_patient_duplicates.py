"""The patient form shows the charts a new patient may already have before saving: "Use the
existing chart" saves nothing, "Save as a new patient anyway" saves."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from ketadesk.services.common.context import Actor
from ketadesk.services.patients.patient_fields import PatientForm
from ketadesk.services.patients.registration import register_patient
from ketadesk.store.models import Patient
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.patients.patient_form import PatientFormDialog
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.conftest import NOW

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")

JUNE = PatientForm(
    first_name="June",
    last_name="Almeida",
    date_of_birth="04/02/1980",
    phone="(619) 555-0134",
    email="june.almeida@example.com",
)


def _patients(clinic: SmallClinic) -> int:
    with clinic.db.read() as session:
        return session.scalar(select(func.count()).select_from(Patient)) or 0


def _dialog(qtbot: QtBot, clinic: SmallClinic) -> PatientFormDialog:
    dialog = PatientFormDialog(Desk(clinic.db, FRONT_DESK, now=lambda: NOW))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.set_form(
        PatientForm(
            first_name="JUNE", last_name="Almeida", date_of_birth="1980-04-02", phone="619.555.0134"
        )
    )
    return dialog


def _click(qtbot: QtBot, dialog: PatientFormDialog, button: QPushButton) -> None:
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.is_saving())


def _save(qtbot: QtBot, dialog: PatientFormDialog) -> None:
    save = dialog.buttons.buttons()[0]
    assert isinstance(save, QPushButton)
    _click(qtbot, dialog, save)


def test_the_form_shows_the_existing_chart_and_using_it_saves_nothing(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    june = register_patient(clinic.db, FRONT_DESK, JUNE, now=NOW)
    before = _patients(clinic)
    dialog = _dialog(qtbot, clinic)
    with qtbot.waitSignal(dialog.not_saved):
        _save(qtbot, dialog)
    assert [d.patient_id for d in dialog.duplicates] == [june]
    assert dialog.duplicates_box.isVisible()
    assert "same name and date of birth, same phone" in dialog.duplicate_list.item(0).text()
    assert _patients(clinic) == before
    dialog.resize(900, 700)
    # docs/screenshots/ has this picture as the test paints it (copied from KETADESK_SCREENSHOTS).
    assert dialog.grab().save(str(picture_folder() / "patient-duplicates.png"))
    with qtbot.waitSignal(dialog.existing_chosen) as chosen:
        _click(qtbot, dialog, dialog.use_existing_button)
    assert chosen.args == [june]
    assert dialog.patient_id == june
    assert _patients(clinic) == before


def test_saving_as_a_new_patient_anyway_saves(qtbot: QtBot, clinic: SmallClinic) -> None:
    june = register_patient(clinic.db, FRONT_DESK, JUNE, now=NOW)
    before = _patients(clinic)
    dialog = _dialog(qtbot, clinic)
    with qtbot.waitSignal(dialog.not_saved):
        _save(qtbot, dialog)
    with qtbot.waitSignal(dialog.saved) as saved:
        _click(qtbot, dialog, dialog.save_new_button)
    assert saved.args[0] != june
    assert _patients(clinic) == before + 1


def test_a_form_without_duplicates_saves_at_once(qtbot: QtBot, clinic: SmallClinic) -> None:
    dialog = _dialog(qtbot, clinic)
    with qtbot.waitSignal(dialog.saved):
        _save(qtbot, dialog)
    assert not dialog.duplicates_box.isVisible()
