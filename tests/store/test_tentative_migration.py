"""Migration 0006_tentative_holds on a clinic with bookings: every hold and event survives the
upgrade (on SQLite the status check is changed in place: a table rebuild would cascade into the
holds), the new statuses are accepted, a made-up one is still refused, and the way back works."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from ketadesk.services.booking import booking
from ketadesk.services.common.context import SYSTEM
from ketadesk.store.database import open_database
from tests.clinic_fixtures import build_small_clinic
from tests.store.migrations import migrate_to

IV = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}


def _counts(url: str) -> tuple[int, int]:
    db = open_database(url)
    try:
        with db.engine.connect() as conn:
            holds = conn.execute(text("SELECT count(*) FROM resource_hold")).scalar_one()
            events = conn.execute(text("SELECT count(*) FROM appointment_event")).scalar_one()
    finally:
        db.dispose()
    return holds, events


def test_the_upgrade_keeps_every_hold_and_accepts_the_new_statuses(db_url: str) -> None:
    clinic = build_small_clinic(db_url)
    now = dt.datetime.now(dt.UTC)
    day = clinic.calendar.local_date(now) + dt.timedelta(days=7)
    while clinic.calendar.closed_reason(day) is not None:  # weekends and holidays
        day += dt.timedelta(days=1)
    booking.book(
        clinic.db,
        SYSTEM,
        booking.BookingRequest(
            patient_id=clinic.ids["Ada Lovelace"],
            sessions=(clinic.session("iv_infusion", day, "10:00", IV),),
        ),
        now=now,
    )
    clinic.db.dispose()
    before = _counts(db_url)
    assert before[0] > 0
    migrate_to(db_url, "0002")  # the way back through every later migration, with bookings
    assert _counts(db_url) == before
    migrate_to(db_url, "head")
    assert _counts(db_url) == before
    db = open_database(db_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE appointment SET status = 'tentative'"))
            conn.execute(text("UPDATE appointment SET status = 'released'"))
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(text("UPDATE appointment SET status = 'pencilled'"))
    finally:
        db.dispose()
