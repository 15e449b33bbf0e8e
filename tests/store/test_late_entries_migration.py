"""The late-entries migration upgrades a 0024 clinic: ``vital_reading`` gains when a reading was
entered and by whom; a reading saved before keeps them empty (not known: no late-entry mark),
one saved after has them; the way back drops the columns, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from sqlalchemy import inspect, select

from ketadesk.services.access import accounts
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.monitoring import records
from ketadesk.services.monitoring.record_forms import with_reading
from ketadesk.store.database import open_database
from ketadesk.store.migrate import current_revision, revision_graph
from ketadesk.store.models import VitalReading
from tests.clinic_fixtures import SmallClinic, build_small_clinic
from tests.scale_fixtures import BOOKED_AT, WED
from tests.scale_fixtures import iv_session as _iv
from tests.store.migrations import migrate_to

BEFORE = "0024_closures"
COLUMNS = {"recorded_at", "recorded_by_id"}


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _columns(url: str) -> set[str]:
    db = open_database(url)
    try:
        return {c["name"] for c in inspect(db.engine).get_columns("vital_reading")}
    finally:
        db.dispose()


def test_a_0024_clinic_upgrades_and_keeps_its_readings_unmarked(
    clinic: SmallClinic, db_url: str
) -> None:
    user = accounts.create_user(
        clinic.db, SYSTEM, "kim", "Kim Nguyen", "nurse", "a-long-password-1", now=BOOKED_AT
    )
    nurse = Actor(user_id=user.id, username="kim", role="nurse")
    iv = _iv(clinic, nurse)
    clinic.db.dispose()
    migrate_to(db_url, BEFORE)
    assert not COLUMNS & _columns(db_url)  # the way back drops the columns

    opened = open_clinic(db_url)  # upgrades an outdated clinic: the migration runs
    try:
        assert current_revision(opened.db) == revision_graph().head
        with opened.db.read() as session:
            kept = session.execute(
                select(VitalReading.label, VitalReading.recorded_at, VitalReading.recorded_by_id)
            ).all()
        assert [tuple(row) for row in kept] == [("Pre-dose", None, None)]
        later = clinic.at(WED, "15:00")
        sheet = records.open_record(opened.db, nurse, iv, now=later)
        assert dict(sheet.late_entries) == {}  # entered when? not known: no mark
        row = next(i for i, r in enumerate(sheet.form.readings) if r.label == "+15 min")
        form = with_reading(sheet.form, row, time="13:30", systolic="128", diastolic="80")
        records.save_record(opened.db, nurse, iv, dataclasses.replace(form), now=later)
        sheet = records.open_record(opened.db, nurse, iv, now=later)
        assert list(sheet.late_entries.values()) == ["entered 15:00, 90 min later, by Kim Nguyen"]
    finally:
        opened.db.dispose()

    migrate_to(db_url, BEFORE)
    assert not COLUMNS & _columns(db_url)
    migrate_to(db_url, "head")
    assert _columns(db_url) >= COLUMNS
