"""The booking dialog names the eligibility rule and the fact that stops a Spravato course: a
contraindication blocks (no override box), a precaution warns and a nurse overrides it."""

from __future__ import annotations

from pytestqt.qtbot import QtBot
from sqlalchemy import update

from ketadesk.store.models import Patient
from ketadesk.ui.booking.booking_dialog import BookingDialog
from tests.clinic_fixtures import SmallClinic
from tests.ui.booking.test_booking_dialog import (
    _choose_protocol,
    _dialog,
    _plan,
    open_dialog,  # noqa: F401 (the fixture)
)


def _flags(clinic: SmallClinic, name: str, *codes: str) -> int:
    pid = clinic.ids[name]
    with clinic.db.write() as s:
        s.execute(update(Patient).where(Patient.id == pid).values(eligibility_flags=list(codes)))
    return pid


def test_a_contraindication_and_a_precaution_in_the_booking_dialog(
    qtbot: QtBot,
    clinic: SmallClinic,
    open_dialog: list[BookingDialog],  # noqa: F811
) -> None:
    pid = _flags(clinic, "Mary Seacole", "av_malformation", "pregnancy")
    dialog = _dialog(qtbot, clinic, open_dialog, patient_id=pid)
    _choose_protocol(dialog, "spravato_trd")
    _plan(qtbot, dialog)
    text = dialog.gating.findChildren(type(dialog.blocker))
    shown = " ".join(label.text() for label in text)
    assert "Contraindication (contraindications): recorded for this patient: Arteriovenous" in (
        shown
    )
    assert "Precaution (precautions): recorded for this patient: Pregnancy; a clinician" in shown
    blocked = dialog.gate_row("contraindications")
    warned = dialog.gate_row("precautions")
    assert blocked is not None
    assert warned is not None
    assert blocked[0].isHidden()  # a block has no override box
    assert warned[0].isVisibleTo(dialog)
    dialog.resize(1280, 860)
    assert not dialog.confirm.isEnabled()
