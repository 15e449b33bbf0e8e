"""Migration 0020_patient_away upgrades a 0019 clinic: the ``patient_away`` table appears, holds
a patient's ranges and refuses a last day before the first; the way back drops it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.store.database import open_database
from ketadesk.store.migrate import current_revision, revision_graph
from ketadesk.store.models import Patient, PatientAway
from tests.clinic_fixtures import build_small_clinic
from tests.store.migrations import migrate_to

BEFORE = "0019_reference_revision"


def _tables(url: str, revision: str) -> list[str]:
    migrate_to(url, revision)
    db = open_database(url)
    try:
        return inspect(db.engine).get_table_names()
    finally:
        db.dispose()


def test_a_0019_clinic_upgrades_and_keeps_days_away(db_url: str) -> None:
    clinic = build_small_clinic(db_url)
    today = clinic.calendar.local_date(dt.datetime.now(dt.UTC))
    clinic.db.dispose()
    assert "patient_away" not in _tables(db_url, BEFORE)  # 0020's way back drops the table

    opened = open_clinic(db_url)  # upgrades an outdated clinic: migration 0020 runs
    try:
        assert current_revision(opened.db) == revision_graph().head
        with opened.db.write() as session:
            patient = session.scalar(select(Patient.id).where(Patient.chart_number == "BT-1"))
            assert patient is not None
            session.add(
                PatientAway(
                    patient_id=patient,
                    first_day=today + dt.timedelta(days=7),
                    last_day=today + dt.timedelta(days=11),
                    reason="travel",
                )
            )
        with opened.db.read() as session:
            kept = session.execute(select(PatientAway.reason, PatientAway.last_day)).all()
        assert kept == [("travel", today + dt.timedelta(days=11))]
        # The database itself refuses a range that ends before it starts.
        with pytest.raises(IntegrityError), opened.db.write() as session:
            session.add(
                PatientAway(
                    patient_id=patient,
                    first_day=today + dt.timedelta(days=3),
                    last_day=today + dt.timedelta(days=2),
                    reason="",
                )
            )
    finally:
        opened.db.dispose()
