"""Migration 0019's reference revision: upgraded onto a clinic of the previous revision with its
bookings, moved by a change to any table a booking checks against (and only by those), and on
PostgreSQL a change to them waits for the bookings checking against them."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Executable, create_engine, insert, text
from sqlalchemy.exc import DBAPIError

from ketadesk.scheduling.model import PlannedSession
from ketadesk.services.booking import booking
from ketadesk.services.booking.plan_check import BookingConflict
from ketadesk.services.common.context import SYSTEM
from ketadesk.store import reference
from ketadesk.store.database import Database, open_database
from ketadesk.store.migrate import current_revision, revision_graph
from ketadesk.store.models import Closure
from tests.clinic_fixtures import build_small_clinic
from tests.store.migrations import migrate_to

IV = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}
NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tuesday 1 Dec 2026, 08:00 in San Diego
WED = dt.date(2026, 12, 2)

# Each table a booking checks against, and a statement that changes one of its rows in place.
CHANGES: dict[str, str | Executable] = {
    "clinic_setting": "UPDATE clinic_setting SET value = value WHERE key = 'hours'",
    "session_type": "UPDATE session_type SET sort_order = sort_order",
    "protocol": "UPDATE protocol SET sort_order = sort_order",
    "resource": "UPDATE resource SET capacity = capacity",
    "staff_shift": "UPDATE staff_shift SET end_minute = end_minute",
    "staff_qualification": (
        "INSERT INTO staff_qualification (resource_id, session_type, phase) "
        "SELECT min(resource_id), 'iv_infusion', 'infusion' FROM staff_member"
    ),
    "closure": insert(Closure).values(
        kind="closure",
        starts_at=dt.datetime(2027, 1, 1, 16, tzinfo=dt.UTC),
        ends_at=dt.datetime(2027, 1, 1, 17, tzinfo=dt.UTC),
        reason="training",
    ),
}


def _revision(url: str) -> tuple[int, int]:
    db = open_database(url)
    try:
        with db.engine.connect() as conn:
            row = conn.execute(text("SELECT value, token FROM reference_revision")).one()
    finally:
        db.dispose()
    return int(row[0]), int(row[1])


def _run(url: str, statement: str | Executable) -> None:
    db = open_database(url)
    try:
        with db.engine.begin() as conn:
            conn.execute(text(statement) if isinstance(statement, str) else statement)
    finally:
        db.dispose()


def _book(db: Database, patient_id: int, session: PlannedSession) -> None:
    booking.book(
        db, SYSTEM, booking.BookingRequest(patient_id=patient_id, sessions=(session,)), now=NOW
    )


def test_the_upgrade_from_0018_adds_the_revision_and_keeps_the_bookings(db_url: str) -> None:
    clinic = build_small_clinic(db_url)
    _book(clinic.db, clinic.ids["Ada Lovelace"], clinic.session("iv_infusion", WED, "10:00", IV))
    clinic.db.dispose()
    migrate_to(db_url, "0018_safety_off_to_warn")
    db = open_database(db_url)
    try:
        with db.engine.connect() as conn:
            tables = db.engine.dialect.get_table_names(conn)
            holds = conn.execute(text("SELECT count(*) FROM resource_hold")).scalar_one()
    finally:
        db.dispose()
    assert "reference_revision" not in tables
    assert holds == 4
    migrate_to(db_url, "head")
    first = _revision(db_url)
    # A closure entered on the upgraded clinic moves it, and the next booking sees the closure.
    thu = WED + dt.timedelta(days=1)
    _run(
        db_url,
        insert(Closure).values(
            resource_id=clinic.ids["Room 1"],
            kind="maintenance",
            starts_at=clinic.at(thu, "07:00"),
            ends_at=clinic.at(thu, "12:00"),
            reason="new floor",
        ),
    )
    assert _revision(db_url)[0] == first[0] + 1
    db = open_database(db_url)
    try:
        assert current_revision(db) == revision_graph().head
        with pytest.raises(BookingConflict, match="Room 1 closed: new floor"):
            _book(db, clinic.ids["Mary Seacole"], clinic.session("iv_infusion", thu, "10:00", IV))
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM resource_hold")).scalar_one() == 4
    finally:
        db.dispose()


def test_every_table_a_booking_checks_against_moves_the_revision(db_url: str) -> None:
    clinic = build_small_clinic(db_url)
    clinic.db.dispose()
    for table, sql in CHANGES.items():
        before = _revision(db_url)
        _run(db_url, sql)
        after = _revision(db_url)
        assert after[0] > before[0], table
        assert after != before
    # A booking writes none of them, and leaves the revision where it was.
    before = _revision(db_url)
    db = open_database(db_url)
    try:
        _book(db, clinic.ids["Ada Lovelace"], clinic.session("iv_infusion", WED, "10:00", IV))
    finally:
        db.dispose()
    assert _revision(db_url) == before


@pytest.mark.postgres
def test_a_reference_change_waits_for_the_bookings_checking_against_it(pg_url: str) -> None:
    clinic = build_small_clinic(pg_url)
    try:
        with clinic.db.write() as session:
            reference.booking_reference(session, now=NOW)  # holds REFERENCE_LOCK shared
            other = create_engine(clinic.db.url)
            try:
                with other.connect() as conn:
                    conn.execute(text("SET lock_timeout = '200ms'"))
                    with pytest.raises(DBAPIError, match="lock timeout"):
                        conn.execute(text("UPDATE resource SET capacity = capacity"))
                    conn.rollback()
                    # Bookings share it: another booking's check goes ahead meanwhile.
                    conn.execute(text("SET lock_timeout = '200ms'"))
                    conn.execute(reference.SHARE_REFERENCE)
                    conn.rollback()
            finally:
                other.dispose()
        # Once the booking's transaction ended, the change goes through.
        _run(pg_url, "UPDATE resource SET capacity = capacity")
    finally:
        clinic.db.dispose()
