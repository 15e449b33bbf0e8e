"""docs/SERVER.md's workstation role, run as written: it books and reads like the owner, and the
database refuses it any change to the audit trail, even disabling the triggers that guard it."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM
from ketadesk.store.database import open_database
from tests.clinic_fixtures import build_small_clinic

pytestmark = pytest.mark.postgres

IV_ASSIGNMENT = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}
DOC = Path(__file__).resolve().parents[2] / "docs" / "SERVER.md"


def _documented_sql() -> str:
    text_ = DOC.read_text(encoding="utf-8")
    block = text_.split("tests/store/test_server_roles.py -->", 1)[1]
    match = re.search(r"```sql\n(.*?)```", block, re.S)
    assert match, "docs/SERVER.md lost its workstation role SQL"
    return match.group(1)


def test_the_workstation_role_books_but_cannot_touch_the_audit_trail(pg_url: str) -> None:
    clinic = build_small_clinic(pg_url)
    clinic.db.dispose()
    url = make_url(pg_url)
    desk = f"ketadesk_desk_{uuid.uuid4().hex[:8]}"
    sql = (
        _documented_sql()
        .replace("ketadesk_desk", desk)
        .replace("DATABASE ketadesk ", f'DATABASE "{url.database}" ')
    )
    owner = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with owner.connect() as conn:
            for statement in filter(None, (s.strip() for s in sql.split(";"))):
                conn.execute(text(statement))
        desk_url = url.set(username=desk, password="another long random password")
        db = open_database(desk_url.render_as_string(hide_password=False))
        try:
            monday = dt.date.today() + dt.timedelta(days=7 - dt.date.today().weekday())
            while clinic.calendar.closed_reason(monday) is not None:  # a holiday Monday
                monday += dt.timedelta(days=1)
            booked = booking.book(
                db,
                SYSTEM,
                BookingRequest(
                    patient_id=clinic.ids["Ada Lovelace"],
                    sessions=(clinic.session("iv_infusion", monday, "10:00", IV_ASSIGNMENT),),
                ),
            )
            assert booked.appointment_ids
            for statement in (
                "DELETE FROM audit_event",
                "UPDATE audit_event SET detail = ''",
                "TRUNCATE audit_event",
                "ALTER TABLE audit_event DISABLE TRIGGER ALL",
                "DROP TRIGGER audit_event_no_change ON audit_event",
            ):
                refused = pytest.raises(DBAPIError, match=r"permission denied|must be owner")
                with refused, db.write() as session:
                    session.execute(text(statement))
            with db.read() as session:
                events = session.scalar(text("SELECT count(*) FROM audit_event"))
            assert (events or 0) >= 1
        finally:
            db.dispose()
    finally:
        with owner.connect() as conn:
            conn.execute(text(f'DROP OWNED BY "{desk}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{desk}"'))
        owner.dispose()
