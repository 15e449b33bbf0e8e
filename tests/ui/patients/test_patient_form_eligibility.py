"""The patient form records the clinic's contraindications and precautions as checkboxes and
says how long the consent typed is valid; the structured fields round-trip through a save."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import Actor
from ketadesk.services.patients.registration import patient_form
from ketadesk.services.schedule.day import clinic_today
from ketadesk.store.models import Patient
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.patients.patient_form import FlagBoxes, PatientFormDialog
from ketadesk.ui.patients.patient_record import PatientRecordView
from tests.clinic_fixtures import SmallClinic
from tests.ui.conftest import NOW

NURSE = Actor(user_id=None, username="nurse", role="nurse")


def _open(qtbot: QtBot, clinic: SmallClinic, patient_id: int) -> PatientFormDialog:
    desk = Desk(clinic.db, NURSE)
    opened: list[PatientFormDialog] = []
    PatientFormDialog.open_for(desk, patient_id, None, opened.append)
    qtbot.waitUntil(lambda: bool(opened), timeout=10000)
    dialog = opened[0]
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_flags_and_consent_validity_round_trip(qtbot: QtBot, clinic: SmallClinic) -> None:
    patient_id = clinic.ids["Mary Seacole"]
    today = clinic_today(clinic.db)
    dialog = _open(qtbot, clinic, patient_id)
    flags = dialog.fields["eligibility_flags"].editor
    assert isinstance(flags, FlagBoxes)
    # The clinic's list (clinic.toml [eligibility]), contraindications then precautions.
    assert list(flags.boxes)[:2] == ["aneurysmal_vascular_disease", "av_malformation"]
    assert "pregnancy" in flags.boxes
    assert not any(box.isChecked() for box in flags.boxes.values())

    signed = today - dt.timedelta(days=10)
    dialog.fields["consent_signed_on"].set_text(signed.isoformat())
    # The fixture clinic keeps consents 120 months.
    assert dialog.consent_validity.text().startswith("Valid 120 months: covers sessions through")
    flags.boxes["hypersensitivity"].setChecked(True)
    flags.boxes["pregnancy"].setChecked(True)
    dialog.fields["prior_auth_starts_on"].set_text(today.isoformat())
    dialog.fields["prior_auth_expires_on"].set_text((today + dt.timedelta(days=180)).isoformat())
    dialog.resize(1100, 900)
    with qtbot.waitSignal(dialog.saved, timeout=10000):
        dialog.save()

    with clinic.db.read() as session:
        stored = session.get(Patient, patient_id)
        assert stored is not None
        assert stored.eligibility_flags == ["hypersensitivity", "pregnancy"]
        assert stored.consent_signed_on == signed
        assert stored.prior_auth_starts_on == today
    form = patient_form(clinic.db, NURSE, patient_id)
    assert form.eligibility_flags == "hypersensitivity,pregnancy"

    again = _open(qtbot, clinic, patient_id)
    boxes = again.fields["eligibility_flags"].editor
    assert isinstance(boxes, FlagBoxes)
    assert {c for c, b in boxes.boxes.items() if b.isChecked()} == {"hypersensitivity", "pregnancy"}
    boxes.boxes["pregnancy"].setChecked(False)
    with qtbot.waitSignal(again.saved, timeout=10000):
        again.save()
    with clinic.db.read() as session:
        stored = session.get(Patient, patient_id)
        assert stored is not None
        assert stored.eligibility_flags == ["hypersensitivity"]


def test_unknown_flag_is_refused_at_its_field(qtbot: QtBot, clinic: SmallClinic) -> None:
    dialog = _open(qtbot, clinic, clinic.ids["Mary Seacole"])
    dialog.fields["eligibility_flags"].set_text("hypersensitivity,made_up_item")
    with qtbot.waitSignal(dialog.not_saved, timeout=10000):
        dialog.save()
    assert "made_up_item" in dialog.errors()["eligibility_flags"]


def test_the_record_shows_consent_validity_and_the_recorded_flags(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    patient_id = clinic.ids["Mary Seacole"]
    with clinic.db.write() as session:
        patient = session.get(Patient, patient_id)
        assert patient is not None
        patient.eligibility_flags = ["hypersensitivity", "pregnancy"]
    # The clinic's clock at a fixed moment (tests/ui/conftest.NOW, Dec 2026): the consent is
    # judged valid or lapsed on that day.
    view = PatientRecordView(Desk(clinic.db, NURSE, now=lambda: NOW), patient_id)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.loaded, timeout=10000):
        pass
    texts = [label.text() for label in view.gating_box.findChildren(QLabel)]
    assert "✓ Signed Jan 5, 2026, valid through Jan 4, 2036" in texts
    assert "✗ Hypersensitivity to (es)ketamine or an excipient" in texts
    assert "✗ Pregnancy" in texts
    view.resize(1200, 760)
    view.show()
