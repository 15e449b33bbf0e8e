"""Merging charts from the window: administrators only, a preview of what moves, refused with
the reason when the charts cannot be merged."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.patients.patient_fields import PatientForm
from ketadesk.services.patients.registration import register_patient
from ketadesk.store.models import Patient
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.patients.merge_dialog import MergePatientsDialog
from ketadesk.ui.patients.patient_record import PatientRecordView
from tests.clinic_fixtures import SmallClinic
from tests.ui.conftest import NOW

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


def test_only_an_administrator_is_offered_the_merge(qtbot: QtBot, clinic: SmallClinic) -> None:
    ada = clinic.ids["Ada Lovelace"]
    for actor, offered in ((SYSTEM, True), (FRONT_DESK, False)):
        view = PatientRecordView(Desk(clinic.db, actor, now=lambda: NOW), ada)
        qtbot.addWidget(view)
        with qtbot.waitSignal(view.loaded, timeout=5000):
            view.reload()
        assert view.merge_button.isVisibleTo(view) is offered


def test_the_dialog_previews_then_merges(qtbot: QtBot, clinic: SmallClinic) -> None:
    ada = clinic.ids["Ada Lovelace"]
    copy = register_patient(
        clinic.db, SYSTEM, PatientForm(first_name="Ada", last_name="Lovelace-Byron"), now=NOW
    )
    dialog = MergePatientsDialog(Desk(clinic.db, SYSTEM, now=lambda: NOW), copy)
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.previewed, timeout=5000):
        dialog.choose(copy)
    assert "cannot be merged into itself" in dialog.preview_label.text()
    assert not dialog.merge_button.isEnabled()
    with qtbot.waitSignal(dialog.previewed, timeout=5000):
        dialog.choose(ada)
    assert "Moves to the kept chart: nothing recorded yet." in dialog.preview_label.text()
    assert dialog.merge_button.isEnabled()
    with qtbot.waitSignal(dialog.merged, timeout=5000) as done:
        dialog.merge_button.click()
    assert done.args == [ada]
    with clinic.db.read() as session:
        merged = session.get(Patient, copy)
        assert merged is not None
        assert merged.merged_into_id == ada
        kept_chart = session.get(Patient, ada)
        assert kept_chart is not None
        chart = kept_chart.chart_number
    view = PatientRecordView(Desk(clinic.db, SYSTEM, now=lambda: NOW), copy)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.reload()
    assert f"(merged into chart {chart})" in view.name_label.text()
