"""Finding a patient as you type, and the patient form that marks each mistake at its field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QLabel, QLineEdit, QPushButton
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.patients.registration import patient_form
from ketadesk.store.models import Patient
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.patients.patient_form import PatientFormDialog, names_from_hint
from ketadesk.ui.patients.patient_search import FindPatientDialog, PatientMatchModel, PatientPicker
from tests.clinic_fixtures import SmallClinic
from tests.ui.conftest import NOW

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")


def _desk(clinic: SmallClinic, actor: Actor = FRONT_DESK) -> Desk:
    return Desk(clinic.db, actor, now=lambda: NOW)


def _patients(clinic: SmallClinic) -> int:
    with clinic.db.read() as session:
        return session.scalar(select(func.count()).select_from(Patient)) or 0


@pytest.fixture
def picker(qtbot: QtBot, clinic: SmallClinic) -> Iterator[PatientPicker]:
    widget = PatientPicker(_desk(clinic))
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.wait_idle()


def _type(qtbot: QtBot, picker: PatientPicker, text: str) -> None:
    with qtbot.waitSignal(picker.searched, timeout=5000, check_params_cb=lambda t: t == text):
        QTest.keyClicks(picker.field, text)


def _shown(picker: PatientPicker) -> list[str]:
    model = picker.model
    return [str(model.data(model.index(r, 0))) for r in range(model.rowCount())]


def test_typing_a_name_lists_the_matches(qtbot: QtBot, picker: PatientPicker) -> None:
    _type(qtbot, picker, "lov")
    assert _shown(picker) == ["Lovelace, Ada · chart BT-1 · born 05/17/1980"]
    assert picker.status.text() == "1 match."
    picker.field.clear()
    _type(qtbot, picker, "Turing al")
    assert _shown(picker) == ["Turing, Alan · chart DAY-1"]


def test_nothing_found_says_so(qtbot: QtBot, picker: PatientPicker) -> None:
    _type(qtbot, picker, "zzz")
    assert _shown(picker) == []
    assert picker.status.text() == "No patient matches."


def test_arrows_and_enter_choose_from_the_field(
    qtbot: QtBot, picker: PatientPicker, clinic: SmallClinic
) -> None:
    _type(qtbot, picker, "bt")
    assert len(_shown(picker)) == 5
    assert picker.results.currentIndex().row() == 0
    QTest.keyClick(picker.field, Qt.Key.Key_Down)
    QTest.keyClick(picker.field, Qt.Key.Key_Down)
    QTest.keyClick(picker.field, Qt.Key.Key_Up)
    chosen = picker.model.row_or_none(picker.results.currentIndex().row())
    assert chosen is not None
    with qtbot.waitSignal(picker.patient_chosen) as blocker:
        QTest.keyClick(picker.field, Qt.Key.Key_Return)
    assert blocker.args == [chosen.id]


def test_enter_before_the_answer_chooses_the_first_match(
    qtbot: QtBot, picker: PatientPicker, clinic: SmallClinic
) -> None:
    QTest.keyClicks(picker.field, "hopper")
    with qtbot.waitSignal(picker.patient_chosen, timeout=5000) as blocker:
        QTest.keyClick(picker.field, Qt.Key.Key_Enter)
    assert blocker.args == [clinic.ids["Grace Hopper"]]


def test_the_match_model_passes_the_model_tester(
    qtbot: QtBot, qtmodeltester: object, picker: PatientPicker
) -> None:
    _type(qtbot, picker, "a")
    model = picker.model
    assert isinstance(model, PatientMatchModel)
    assert model.rowCount() > 1
    qtmodeltester.check(model)  # type: ignore[attr-defined]


def test_find_patient_dialog_returns_the_chosen_patient(qtbot: QtBot, clinic: SmallClinic) -> None:
    dialog = FindPatientDialog(_desk(clinic))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    _type(qtbot, dialog.picker, "1815-12-10")
    assert _shown(dialog.picker) == []  # nobody in the test clinic has a date of birth yet
    dialog.picker.field.clear()
    _type(qtbot, dialog.picker, "seacole")
    with qtbot.waitSignal(dialog.patient_chosen) as blocker:
        QTest.mouseClick(dialog._open, Qt.MouseButton.LeftButton)
    assert blocker.args == [clinic.ids["Mary Seacole"]]
    assert dialog.chosen_id == clinic.ids["Mary Seacole"]
    assert dialog.result() == FindPatientDialog.DialogCode.Accepted


# --------------------------------------------------------------------------------------------
# The patient form


def _fill(dialog: PatientFormDialog, **values: str) -> None:
    for name, value in values.items():
        editor = dialog.fields[name].editor
        if isinstance(editor, QComboBox):
            editor.setCurrentIndex(editor.findData(value))
        elif isinstance(editor, QLineEdit):
            editor.setText(value)
        else:
            editor.setPlainText(value)  # type: ignore[attr-defined]


def _save(qtbot: QtBot, dialog: PatientFormDialog) -> None:
    save = dialog.buttons.buttons()[0]
    assert isinstance(save, QPushButton)
    QTest.mouseClick(save, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.is_saving())  # saved on the writer worker


def test_bad_fields_are_marked_and_nothing_is_saved(qtbot: QtBot, clinic: SmallClinic) -> None:
    before = _patients(clinic)
    dialog = PatientFormDialog(_desk(clinic))
    qtbot.addWidget(dialog)
    dialog.show()
    _fill(dialog, first_name="Ruth", last_name="", date_of_birth="02/30/1990", phone="555-12")
    _save(qtbot, dialog)
    assert dialog.errors() == {
        "last_name": "Last name is required",
        "date_of_birth": "'02/30/1990' is not a real date",
        "phone": "a phone number needs 10 digits with the area code (this has 5); "
        "start international numbers with +",
    }
    assert dialog.isVisible()
    assert _patients(clinic) == before
    assert "nothing has been saved" in dialog.message.text()
    phone = dialog.fields["phone"].editor
    assert phone.accessibleDescription().startswith("Phone: a phone number needs 10 digits")
    # Fixing a field clears its mark at once; the others stay until fixed.
    _fill(dialog, last_name="Bader Ginsburg")
    assert set(dialog.errors()) == {"date_of_birth", "phone"}
    _fill(dialog, date_of_birth="03/15/1990", phone="(619) 555-0142")
    assert dialog.errors() == {}
    with qtbot.waitSignal(dialog.saved) as blocker:
        _save(qtbot, dialog)
    assert _patients(clinic) == before + 1
    assert dialog.patient_id == blocker.args[0]
    assert dialog.result() == PatientFormDialog.DialogCode.Accepted
    saved = patient_form(clinic.db, SYSTEM, blocker.args[0])
    assert (saved.last_name, saved.date_of_birth) == ("Bader Ginsburg", "1990-03-15")


def test_front_desk_sees_no_clinical_facts_and_its_edit_keeps_them(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    ada = clinic.ids["Ada Lovelace"]
    original = patient_form(clinic.db, FRONT_DESK, ada)
    assert (original.screening_status, original.contraindications) == ("", "")
    dialog = PatientFormDialog(_desk(clinic), ada, original=original)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.fields["last_name"].text() == "Lovelace"
    assert not dialog.fields["screening_status"].editor.isVisibleTo(dialog)
    assert not dialog.fields["contraindications"].editor.isVisibleTo(dialog)
    assert dialog.fields["prior_auth_number"].editor.isVisibleTo(dialog)  # read-only
    assert not dialog.fields["prior_auth_number"].editor.isEnabled()
    (why,) = [w.text() for w in dialog.findChildren(QLabel, "clinical_withheld")]
    assert "clinicians only" in why
    assert dialog.fields["phone"].editor.isEnabled()
    _fill(dialog, phone="619 555 0100")
    with qtbot.waitSignal(dialog.saved):
        _save(qtbot, dialog)
    saved = patient_form(clinic.db, SYSTEM, ada)
    assert (saved.phone, saved.screening_status) == ("619 555 0100", "cleared")


def test_a_nurse_edits_clinical_facts(qtbot: QtBot, clinic: SmallClinic) -> None:
    pid = clinic.ids["Grace Hopper"]
    dialog = PatientFormDialog(
        _desk(clinic, NURSE), pid, original=patient_form(clinic.db, SYSTEM, pid)
    )
    qtbot.addWidget(dialog)
    _fill(dialog, screening_status="cleared")
    _save(qtbot, dialog)
    assert dialog.errors() == {"screening_cleared_on": "give the date screening was cleared"}
    assert patient_form(clinic.db, SYSTEM, pid).screening_status == "pending"
    _fill(dialog, screening_cleared_on="2026-11-20")
    with qtbot.waitSignal(dialog.saved):
        _save(qtbot, dialog)
    assert patient_form(clinic.db, SYSTEM, pid).screening_status == "cleared"


def test_new_patient_from_the_picker_uses_what_was_typed(
    qtbot: QtBot, picker: PatientPicker, clinic: SmallClinic
) -> None:
    _type(qtbot, picker, "Bader Ginsburg, Ruth")
    assert _shown(picker) == []

    def fill_and_save() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, PatientFormDialog)
        assert dialog.fields["first_name"].text() == "Ruth"
        assert dialog.fields["last_name"].text() == "Bader Ginsburg"
        _fill(dialog, phone="6195550142")
        _save(qtbot, dialog)

    QTimer.singleShot(0, fill_and_save)
    with qtbot.waitSignal(picker.patient_chosen, timeout=5000) as blocker:
        QTest.mouseClick(picker.new_button, Qt.MouseButton.LeftButton)
    assert patient_form(clinic.db, SYSTEM, blocker.args[0]).phone == "6195550142"


def test_a_search_that_found_someone_does_not_name_the_new_patient(
    qtbot: QtBot, picker: PatientPicker
) -> None:
    """A user trial left "Delgado" (a patient found) in the field, clicked New patient… and
    typed "Becker" after it in Last name: "DelgadoBecker"."""
    _type(qtbot, picker, "lov")
    assert _shown(picker)

    def look_and_cancel() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, PatientFormDialog)
        assert dialog.fields["first_name"].text() == ""
        assert dialog.fields["last_name"].text() == ""
        dialog.reject()

    QTimer.singleShot(0, look_and_cancel)
    QTest.mouseClick(picker.new_button, Qt.MouseButton.LeftButton)


def test_names_from_what_was_typed() -> None:
    assert names_from_hint("Lovelace, Ada") == ("Ada", "Lovelace")
    assert names_from_hint("Ada King Lovelace") == ("Ada King", "Lovelace")
    assert names_from_hint("lovelace") == ("", "lovelace")
    assert names_from_hint("619-555") == ("", "")


def test_the_picker_hides_new_patient_from_roles_that_may_not_register(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    therapist = Actor(user_id=None, username="sam", role="therapist")
    widget = PatientPicker(_desk(clinic, therapist))
    qtbot.addWidget(widget)
    widget.show()
    assert widget.new_button.isHidden()
    nurses = PatientPicker(_desk(clinic, NURSE), widget)
    assert not nurses.new_button.isHidden()
    nurses.wait_idle()
    widget.wait_idle()


def test_a_match_shows_the_date_of_birth_as_a_us_clinic_writes_it() -> None:
    from ketadesk.services.patients.search import PatientMatch
    from ketadesk.ui.patients.patient_search import match_text

    match = PatientMatch(7, "BT-7", "Hopper, Grace", dt.date(1906, 12, 9), "", True)
    assert match_text(match) == "Hopper, Grace · chart BT-7 · born 12/09/1906"
