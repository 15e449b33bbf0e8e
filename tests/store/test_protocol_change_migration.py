"""The protocol-change migration upgrades a 0022 clinic: its series keep everything and may then
follow another (``previous_series_id``, a change of protocol); the way back drops the link and
keeps both series as they are."""

from __future__ import annotations

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

BEFORE = "0022_scale_readings"
COLUMN = "previous_series_id"


def _columns(url: str) -> set[str]:
    db = open_database(url)
    try:
        return {c["name"] for c in inspect(db.engine).get_columns("series")}
    finally:
        db.dispose()


def test_a_0022_clinic_upgrades_and_a_series_can_then_follow_another(db_url: str) -> None:
    clinic = build_small_clinic(db_url)
    book_induction(clinic)
    with clinic.db.read() as s:
        first = s.scalar(select(Series.id))
    assert first is not None
    clinic.db.dispose()
    migrate_to(db_url, BEFORE)
    assert COLUMN not in _columns(db_url)  # the way back drops the column

    opened = open_clinic(db_url)  # upgrades an outdated clinic: the migration runs
    try:
        assert current_revision(opened.db) == revision_graph().head
        with opened.db.read() as s:
            statuses = dict(s.execute(select(Series.id, Series.status)).all())
            assert s.scalar(select(Series.previous_series_id)) is None
        with opened.db.write() as s:
            s.execute(update(Series).where(Series.id == first).values(status="ended"))
            s.execute(update(Series).where(Series.id == first).values(previous_series_id=first))
        with opened.db.read() as s:
            assert s.scalar(select(Series.previous_series_id).where(Series.id == first)) == first
        # The link is a real foreign key: no series that does not exist.
        with pytest.raises(IntegrityError), opened.db.write() as s:
            s.execute(update(Series).where(Series.id == first).values(previous_series_id=99_999))
    finally:
        opened.db.dispose()

    migrate_to(db_url, BEFORE)
    assert COLUMN not in _columns(db_url)
    db = open_database(db_url)
    try:
        with db.read() as s:
            after = dict(s.execute(select(Series.__table__.c.id, Series.__table__.c.status)).all())
        assert after == {**statuses, first: "ended"}
    finally:
        db.dispose()
    migrate_to(db_url, "head")
    assert COLUMN in _columns(db_url)
