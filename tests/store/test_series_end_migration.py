"""Migration 0021_series_end upgrades a 0020 clinic: its series keep their statuses and may then
be ended (status "ended" with the day, reason, note and who); the way back turns an ended
series into "cancelled", the nearest status the older schema knows, and drops the columns."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, select, update
from sqlalchemy.exc import IntegrityError

from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.store.database import open_database
from ketadesk.store.migrate import current_revision, revision_graph
from ketadesk.store.models import Series
from tests.clinic_fixtures import build_small_clinic
from tests.services.rebooking.test_makeup import book_induction
from tests.store.migrations import migrate_to

BEFORE = "0020_patient_away"
COLUMNS = {"ended_on", "end_reason", "end_note", "ended_by_id", "ended_at"}


def _columns(url: str) -> set[str]:
    db = open_database(url)
    try:
        return {c["name"] for c in inspect(db.engine).get_columns("series")}
    finally:
        db.dispose()


def test_a_0020_clinic_upgrades_and_its_series_can_then_end(db_url: str) -> None:
    clinic = build_small_clinic(db_url)
    book_induction(clinic)
    with clinic.db.read() as s:
        before = dict(s.execute(select(Series.id, Series.status)).all())
    clinic.db.dispose()
    migrate_to(db_url, BEFORE)
    assert not COLUMNS & _columns(db_url)  # 0021's way back drops the columns

    opened = open_clinic(db_url)  # upgrades an outdated clinic: migration 0021 runs
    try:
        assert current_revision(opened.db) == revision_graph().head
        sid = min(before)
        with opened.db.read() as s:
            assert dict(s.execute(select(Series.id, Series.status)).all()) == before
        with opened.db.write() as s:
            s.execute(
                update(Series)
                .where(Series.id == sid)
                .values(status="ended", ended_on=dt.date(2026, 12, 8), end_reason="side_effects")
            )
        with pytest.raises(IntegrityError), opened.db.write() as s:
            s.execute(update(Series).where(Series.id == sid).values(status="stopped"))
    finally:
        opened.db.dispose()

    migrate_to(db_url, BEFORE)
    assert not COLUMNS & _columns(db_url)
    db = open_database(db_url)
    try:
        with db.read() as s:
            status = s.execute(
                select(Series.__table__.c.status).where(Series.__table__.c.id == sid)
            ).scalar_one()
        assert status == "cancelled"
    finally:
        db.dispose()
    migrate_to(db_url, "head")
    assert _columns(db_url) >= COLUMNS
