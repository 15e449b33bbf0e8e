"""``ketadesk print day`` on a SQLite clinic file reads, records and prints with the standard
library's sqlite3 alone (services/printing/sqlite_file.py): the same sheet as ``day_sheet`` reads
through SQLAlchemy, the same audit record, and no SQLAlchemy imported; an old schema goes the
usual way (``open_clinic`` upgrades it)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select, text

from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import Actor
from ketadesk.services.printing.day_sheet import BY_ROOM, BY_STAFF, day_sheet
from ketadesk.services.printing.sqlite_file import SqliteFileSheets
from ketadesk.store.database import SchemaError
from ketadesk.store.models import AuditEvent, GatingOverride, Patient
from tests.printing.test_day_sheet_extras import NOW, TODAY, _today_sessions
from tests.printing.test_print import pdf_pages
from tests.ui.shell.test_commands import modules_loaded_by

ACTOR = Actor(user_id=None, username="tester (command line)", role="admin")


@pytest.mark.parametrize("by", [BY_ROOM, BY_STAFF])
@pytest.mark.parametrize("use_initials", [False, True])
def test_the_sheet_read_from_the_file_is_the_sheet_read_through_sqlalchemy(
    url: str, by: str, use_initials: bool
) -> None:
    db = open_clinic(url).db
    try:
        # Open gates, an override and a prior authorization counted in time order, to compare.
        spravato = _today_sessions(db, "spravato")
        (_, patient_a, _), (_, patient_b, series_b) = spravato[:2]
        with db.write() as session:
            a = session.get(Patient, patient_a)
            b = session.get(Patient, patient_b)
            assert a is not None
            assert b is not None
            a.consent_signed_on = None
            b.prior_auth_expires_on = TODAY - dt.timedelta(days=7)
            b.prior_auth_sessions = 1
            session.add(GatingOverride(series_id=series_b, rule="consent", reason="x", at=NOW))
        expected = day_sheet(db, TODAY, by=by, use_initials=use_initials, now=NOW)
    finally:
        db.dispose()
    sheets = SqliteFileSheets.of(url)
    assert sheets is not None
    sheet, paper = sheets.day_sheet(TODAY, by=by, use_initials=use_initials, now=NOW)
    assert sheet == expected
    assert sheet.session_count > 10
    assert any(s.gate_warnings for g in sheet.groups for s in g.sessions)
    assert paper == "letter"


def test_the_disclosure_is_recorded_as_the_service_records_it(url: str) -> None:
    from ketadesk.services.access.audit import record_disclosure

    sheets = SqliteFileSheets.of(url)
    assert sheets is not None
    sheets.record_disclosure(ACTOR, "day sheet", "Tue Nov 24, 2026, by room", now=NOW)
    db = open_clinic(url).db
    try:
        record_disclosure(db, ACTOR, "day sheet", None, "Tue Nov 24, 2026, by room", now=NOW)
        columns = [getattr(AuditEvent, f) for f in FIELDS]
        with db.read() as session:
            ours, theirs = session.execute(
                select(*columns).where(AuditEvent.action == "disclose").order_by(AuditEvent.id)
            ).all()
        with db.engine.connect() as conn:
            stored = conn.execute(
                text("SELECT at, before, after FROM audit_event WHERE action = 'disclose'")
            ).all()
    finally:
        db.dispose()
    assert tuple(ours) == tuple(theirs)
    assert dict(zip(FIELDS, ours, strict=True))["after"] == {"document": "day sheet"}
    assert dict(zip(FIELDS, ours, strict=True))["at"] == NOW
    assert stored[0] == stored[1]  # stored alike, to the character


FIELDS = (
    "at",
    "user_id",
    "username",
    "action",
    "entity",
    "entity_id",
    "patient_id",
    "before",
    "after",
    "detail",
)


def test_print_day_of_a_sqlite_clinic_imports_no_sqlalchemy(url: str, tmp_path: Path) -> None:
    out = tmp_path / "day.pdf"
    args = ["print", "day", "--db", url, "--date", TODAY.isoformat(), "--out", str(out)]
    status, modules = modules_loaded_by(args, tmp_path)
    assert status == 0
    assert {m for m in modules if m.startswith(("sqlalchemy", "alembic", "argon2"))} == set()
    assert "ketadesk.store.models" not in modules
    assert "Harbor Ketamine" in " ".join(pdf_pages(out))
    db = open_clinic(url).db
    try:
        with db.read() as session:
            detail = session.scalar(
                select(AuditEvent.detail).where(AuditEvent.action == "disclose")
            )
    finally:
        db.dispose()
    assert detail == f"Tue Nov 24, 2026, by room; saved to {out}"


def test_an_old_schema_is_not_read_from_the_file(url: str, tmp_path: Path) -> None:
    db = open_clinic(url).db
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001_initial'"))
    db.dispose()
    sheets = SqliteFileSheets.of(url)
    assert sheets is not None
    with pytest.raises(SchemaError):
        sheets.day_sheet(TODAY)


def test_only_a_plain_sqlite_file_is_read_this_way(tmp_path: Path) -> None:
    assert SqliteFileSheets.of("postgresql+psycopg://u@localhost/clinic") is None
    assert SqliteFileSheets.of(f"sqlite:///{tmp_path / 'a.sqlite'}") is not None


@pytest.fixture
def url(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    demo: Path = request.getfixturevalue("demo_file")
    copy = tmp_path / "clinic.sqlite"
    shutil.copyfile(demo, copy)
    return f"sqlite:///{copy}"


from tests.printing.test_day_sheet_extras import demo_file  # noqa: E402, F401  (module fixture)
