"""``store/raw.py``: statements on the driver's cursor write and read exactly what SQLAlchemy
would, on SQLite and PostgreSQL; a read log refuses what it cannot log, and a replay tells
equal rows from changed ones."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import cast

import pytest
from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from ketadesk.services.booking.booking import _INSERT_APPOINTMENTS
from ketadesk.store import raw
from ketadesk.store.models import Appointment, AuditEvent, Patient
from tests.clinic_fixtures import SmallClinic, build_small_clinic

_AUDIT = cast(Table, AuditEvent.__table__)
_APPOINTMENT = cast(Table, Appointment.__table__)
_PATIENT = cast(Table, Patient.__table__)
AT = dt.datetime(2026, 12, 1, 16, 0, 0, 123456, tzinfo=dt.UTC)
# Another zone and no microseconds: stored as the same instant in UTC.
AT_LOCAL = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=-7)))


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    built = build_small_clinic(db_url)
    yield built
    built.db.dispose()


def _audit_row(n: int, at: dt.datetime) -> dict[str, object]:
    return {
        "at": at,
        "user_id": None,
        "username": f"raw-{n}",
        "action": "test",
        "entity": "nothing",
        "entity_id": n,
        "patient_id": None,
        "before": None,
        "after": {"n": n, "list": [1, "two"], "nested": {"ok": True}},
        "detail": "é ✓",
    }


def test_written_and_read_as_sqlalchemy_would(clinic: SmallClinic) -> None:
    rows = [_audit_row(1, AT), _audit_row(2, AT_LOCAL)]
    with clinic.db.write() as s:
        raw.insert_rows(raw.connection(s), insert(_AUDIT), rows)
        s.connection().execute(insert(_AUDIT), [_audit_row(3, AT), _audit_row(4, AT_LOCAL)])
    wanted = select(_AUDIT.c.at, _AUDIT.c.after, _AUDIT.c.detail, _AUDIT.c.username).where(
        _AUDIT.c.action == "test"
    )
    with clinic.db.read() as s:
        through_sqlalchemy = [tuple(r) for r in s.connection().execute(wanted.order_by("id"))]
        through_raw = raw.rows(raw.connection(s), wanted.order_by(_AUDIT.c.id))
    assert through_raw == through_sqlalchemy
    assert [r[0] for r in through_raw] == [AT, AT_LOCAL, AT, AT_LOCAL]
    assert all(r[0].tzinfo == dt.UTC for r in through_raw)
    assert through_raw[0][1] == {"n": 1, "list": [1, "two"], "nested": {"ok": True}}
    assert through_raw[0][2] == "é ✓"


def test_a_batch_answers_each_returning_statement(clinic: SmallClinic) -> None:
    with clinic.db.write() as s:
        batch = raw.Batch(raw.connection(s))
        batch.insert(insert(_AUDIT), [_audit_row(1, AT)])
        first = batch.select(
            select(_PATIENT.c.id).where(_PATIENT.c.id == clinic.ids["Ada Lovelace"]), {}
        )
        batch.insert(insert(_AUDIT), [_audit_row(2, AT), _audit_row(3, AT)])
        answers = batch.run()
    assert answers == {1: [(clinic.ids["Ada Lovelace"],)]}
    assert first == 1


def test_a_driver_error_is_raised_as_sqlalchemys(clinic: SmallClinic) -> None:
    row: dict[str, object] = {
        "patient_id": 999_999,  # no such patient: the foreign key refuses it
        "series_id": None,
        "series_index": None,
        "session_type_id": 1,
        "room_id": None,
        "starts_at": AT,
        "ends_at": AT + dt.timedelta(hours=1),
        "status": "booked",
        "hold_until": None,
        "late_cancel": False,
        "checklist": {},
        "notes": "",
        "version": 1,
        "created_at": AT,
        "updated_at": AT,
    }
    with pytest.raises(IntegrityError), clinic.db.write() as s:
        raw.insert_returning(raw.connection(s), _INSERT_APPOINTMENTS, [row])


def test_a_read_log_refuses_what_it_cannot_log(clinic: SmallClinic) -> None:
    names = select(_PATIENT.c.last_name).order_by(_PATIENT.c.id)
    with clinic.db.read() as s:
        conn = raw.connection(s)
        with raw.logged(conn) as log:
            raw.rows(conn, names)
            with pytest.raises(raw.Unlogged):
                s.connection().execute(names)
            with pytest.raises(raw.Unlogged):
                raw.insert_rows(conn, insert(_AUDIT), [_audit_row(1, AT)])
        assert len(log.reads) == 1
        # Logging over, SQLAlchemy runs statements again.
        assert s.connection().execute(names).all()


def test_a_replay_tells_changed_rows(clinic: SmallClinic) -> None:
    ada = clinic.ids["Ada Lovelace"]
    facts = select(_PATIENT.c.consent_signed_on, _PATIENT.c.eligibility_flags).where(
        _PATIENT.c.id == ada
    )
    with clinic.db.read() as s:
        conn = raw.connection(s)
        with raw.logged(conn) as log:
            raw.rows(conn, facts)
    with clinic.db.write() as s:
        assert raw.replays(raw.connection(s), log)
        s.connection().execute(
            update(_PATIENT).where(_PATIENT.c.id == ada).values(consent_signed_on=None)
        )
        assert not raw.replays(raw.connection(s), log)
