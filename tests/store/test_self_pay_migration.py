"""Migration 0016_patient_self_pay upgrades a 0015 clinic: its patients are insurance patients
(``self_pay`` false) and a patient can then be made self-pay; the way back drops the column."""

from __future__ import annotations

from sqlalchemy import inspect, select, update

from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.store.database import open_database
from ketadesk.store.migrate import current_revision, revision_graph
from ketadesk.store.models import Patient
from tests.clinic_fixtures import PATIENTS, build_small_clinic
from tests.store.migrations import migrate_to

BEFORE = "0015_protocol_rules_upgrade"


def _downgrade(url: str, revision: str) -> list[str]:
    """The clinic at ``revision``; the patient table's columns then."""
    migrate_to(url, revision)
    db = open_database(url)
    try:
        return [c["name"] for c in inspect(db.engine).get_columns("patient")]
    finally:
        db.dispose()


def test_a_0015_clinic_upgrades_with_its_patients_on_insurance(db_url: str) -> None:
    clinic = build_small_clinic(db_url)
    clinic.db.dispose()
    assert "self_pay" not in _downgrade(db_url, BEFORE)  # 0016's way back drops the column

    opened = open_clinic(db_url)  # upgrades an outdated clinic: migration 0016 runs
    try:
        assert current_revision(opened.db) == revision_graph().head
        with opened.db.read() as session:
            paid = session.execute(select(Patient.chart_number, Patient.self_pay)).all()
        assert len(paid) == len(PATIENTS)
        assert {p for _, p in paid} == {False}
        with opened.db.write() as session:
            session.execute(
                update(Patient).where(Patient.chart_number == "BT-1").values(self_pay=True)
            )
        with opened.db.read() as session:
            assert session.scalar(select(Patient.self_pay).where(Patient.chart_number == "BT-1"))
    finally:
        opened.db.dispose()
