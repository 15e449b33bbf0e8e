"""Migration 0022_scale_readings upgrades a 0021 clinic: the ``scale_reading`` table appears,
holds a session's timed MOAA/S and CADSS readings and refuses an unknown scale or a negative
score; the way back drops it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import SYSTEM
from ketadesk.store.database import open_database
from ketadesk.store.migrate import current_revision, revision_graph
from ketadesk.store.models import Appointment, ScaleReading
from tests.clinic_fixtures import build_small_clinic
from tests.store.migrations import migrate_to

BEFORE = "0021_series_end"
BOOKED_AT = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
WED = dt.date(2026, 12, 2)
IV = {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"}


def _tables(url: str, revision: str) -> list[str]:
    migrate_to(url, revision)
    db = open_database(url)
    try:
        return inspect(db.engine).get_table_names()
    finally:
        db.dispose()


def test_a_0021_clinic_upgrades_and_keeps_scale_readings(db_url: str) -> None:
    clinic = build_small_clinic(db_url)
    booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids["Ada Lovelace"],
            sessions=(clinic.session("iv_infusion", WED, "13:00", IV),),
        ),
        now=BOOKED_AT,
    )
    taken = clinic.at(WED, "13:15")
    clinic.db.dispose()
    assert "scale_reading" not in _tables(db_url, BEFORE)  # 0022's way back drops the table

    opened = open_clinic(db_url)  # upgrades an outdated clinic: migration 0022 runs
    try:
        assert current_revision(opened.db) == revision_graph().head
        with opened.db.write() as session:
            appointment = session.scalar(select(Appointment.id))
            assert appointment is not None
            session.add(
                ScaleReading(appointment_id=appointment, scale="moaas", taken_at=taken, score=4)
            )
        with opened.db.read() as session:
            kept = session.execute(select(ScaleReading.scale, ScaleReading.score)).all()
        assert kept == [("moaas", 4)]
        # The database itself refuses a scale it does not know and a negative score.
        for scale, score in (("ramsay", 3), ("cadss", -1)):
            with pytest.raises(IntegrityError), opened.db.write() as session:
                session.add(
                    ScaleReading(
                        appointment_id=appointment,
                        scale=scale,
                        taken_at=taken + dt.timedelta(minutes=1),
                        score=score,
                    )
                )
    finally:
        opened.db.dispose()
