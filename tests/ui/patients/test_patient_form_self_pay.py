"""The patient form's "Payment: Insurance / Self-pay": choosing self-pay greys the prior
authorization's fields (kept as typed); the choice round-trips through a save; the record's
Gating box then says "Self-pay, none needed"."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLabel
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import Actor
from ketadesk.services.patients.patient_fields import PRIOR_AUTH_FIELDS
from ketadesk.services.patients.registration import patient_form
from ketadesk.store.models import Patient
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.patients.patient_form import PatientFormDialog
from ketadesk.ui.patients.patient_record import PatientRecordView
from tests.clinic_fixtures import SmallClinic
from tests.ui.conftest import NOW

NURSE = Actor(user_id=None, username="nurse", role="nurse")
DESK = Actor(user_id=None, username="maria", role="front_desk")


def _open(qtbot: QtBot, clinic: SmallClinic, patient_id: int, actor: Actor) -> PatientFormDialog:
    desk = Desk(clinic.db, actor)
    opened: list[PatientFormDialog] = []
    PatientFormDialog.open_for(desk, patient_id, None, opened.append)
    qtbot.waitUntil(lambda: bool(opened), timeout=10000)
    dialog = opened[0]
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _payment(dialog: PatientFormDialog) -> QComboBox:
    combo = dialog.fields["self_pay"].editor
    assert isinstance(combo, QComboBox)
    return combo


def test_self_pay_greys_the_prior_authorization_and_round_trips(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    patient_id = clinic.ids["Mary Seacole"]
    dialog = _open(qtbot, clinic, patient_id, NURSE)
    payment = _payment(dialog)
    assert [payment.itemText(i) for i in range(payment.count())] == ["Insurance", "Self-pay"]
    assert payment.currentText() == "Insurance"
    assert all(dialog.fields[n].editor.isEnabled() for n in PRIOR_AUTH_FIELDS)
    expires = dialog.fields["prior_auth_expires_on"].text()
    assert expires  # the fixture's patients are authorized

    payment.setCurrentIndex(payment.findData("yes"))
    assert not any(dialog.fields[n].editor.isEnabled() for n in PRIOR_AUTH_FIELDS)
    assert dialog.fields["prior_auth_expires_on"].text() == expires  # kept, only greyed
    dialog.resize(1100, 900)
    with qtbot.waitSignal(dialog.saved, timeout=10000):
        dialog.save()
    with clinic.db.read() as session:
        stored = session.get(Patient, patient_id)
        assert stored is not None
        assert stored.self_pay is True
    assert patient_form(clinic.db, NURSE, patient_id).self_pay == "yes"

    again = _open(qtbot, clinic, patient_id, NURSE)
    assert _payment(again).currentText() == "Self-pay"
    assert not again.fields["prior_auth_number"].editor.isEnabled()
    _payment(again).setCurrentIndex(0)
    assert again.fields["prior_auth_number"].editor.isEnabled()
    with qtbot.waitSignal(again.saved, timeout=10000):
        again.save()
    with clinic.db.read() as session:
        stored = session.get(Patient, patient_id)
        assert stored is not None
        assert stored.self_pay is False


def test_the_front_desk_sees_the_payment_read_only(qtbot: QtBot, clinic: SmallClinic) -> None:
    dialog = _open(qtbot, clinic, clinic.ids["Mary Seacole"], DESK)
    assert not _payment(dialog).isEnabled()
    assert _payment(dialog).isVisibleTo(dialog)


def test_the_record_s_gating_box_says_self_pay(qtbot: QtBot, clinic: SmallClinic) -> None:
    patient_id = clinic.ids["Mary Seacole"]
    with clinic.db.write() as session:
        stored = session.get(Patient, patient_id)
        assert stored is not None
        stored.self_pay = True
    view = PatientRecordView(Desk(clinic.db, NURSE, now=lambda: NOW), patient_id)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.loaded, timeout=10000):
        pass
    texts = [label.text() for label in view.gating_box.findChildren(QLabel)]
    assert "– Self-pay, none needed" in texts
    view.resize(1200, 760)
    view.show()
