"""Importing patients from a CSV file: every row's problem named, nothing written by a dry run or
by a file with any problem, chart numbers as registration gives them, and the command's exit
statuses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ketadesk.cli import main
from ketadesk.services.common.context import SYSTEM, InvalidRequest
from ketadesk.services.patients.csv_import import auto_mapping, import_patients, read_csv
from ketadesk.services.patients.patient_fields import PatientForm
from ketadesk.services.patients.registration import register_patient
from ketadesk.store.models import AuditEvent, Patient
from tests.clinic_fixtures import SmallClinic, build_small_clinic

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)

GOOD = (
    "First Name,Last Name,DOB,Phone,E-mail,Favourite colour\n"
    "June,Almeida,04/02/1980,(619) 555-0134,june@example.com,blue\n"
    "Paul,Okafor,1975-11-30,,,green\n"
)
BAD = (
    "First Name,Last Name,DOB,Phone,E-mail\n"
    "June,Almeida,04/02/1980,(619) 555-0134,june@example.com\n"
    "Bo,,13/45/1990,12,not-mail\n"
    "JUNE,almeida,1980-04-02,619 555 0134,\n"
)


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _patients(c: SmallClinic) -> int:
    with c.db.read() as session:
        return session.scalar(select(func.count()).select_from(Patient)) or 0


def _run(c: SmallClinic, text: str, **kwargs: bool):  # type: ignore[no-untyped-def]
    table = read_csv(text.encode())
    return import_patients(
        c.db, SYSTEM, table, auto_mapping(table.headers), source="list.csv", now=NOW, **kwargs
    )


def test_common_headers_are_mapped_and_others_left_out() -> None:
    table = read_csv(GOOD.encode())
    assert auto_mapping(table.headers) == {
        "First Name": "first_name",
        "Last Name": "last_name",
        "DOB": "date_of_birth",
        "Phone": "phone",
        "E-mail": "email",
    }


def test_a_dry_run_lists_each_rows_problem_and_writes_nothing(clinic: SmallClinic) -> None:
    before = _patients(clinic)
    report = _run(clinic, BAD, dry_run=True)
    assert {(p.line, p.field) for p in report.blocking} == {
        (3, "last_name"),
        (3, "date_of_birth"),
        (3, "phone"),
        (3, "email"),
        (4, ""),
    }
    assert "the same patient as line 2" in str(report.blocking[-1])
    assert report.imported == ()
    assert _patients(clinic) == before


def test_one_bad_row_imports_nothing(clinic: SmallClinic) -> None:
    before = _patients(clinic)
    report = _run(clinic, BAD)
    assert report.blocking
    assert report.imported == ()
    assert _patients(clinic) == before


def test_a_good_file_is_registered_with_the_next_chart_numbers_and_audited(
    clinic: SmallClinic,
) -> None:
    first = register_patient(clinic.db, SYSTEM, PatientForm(first_name="A", last_name="B"), now=NOW)
    with clinic.db.read() as session:
        chart = session.get(Patient, first)
        assert chart is not None
        last_chart = chart.chart_number
    report = _run(clinic, GOOD)
    assert report.blocking == ()
    prefix, number = last_chart.split("-")
    assert report.imported == (f"{prefix}-{int(number) + 1}", f"{prefix}-{int(number) + 2}")
    with clinic.db.read() as session:
        june = session.scalars(select(Patient).where(Patient.first_name == "June")).one()
        assert june.date_of_birth == dt.date(1980, 4, 2)  # month/day, as the US writes it
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.detail == "imported from list.csv")
        ).all()
        assert len(events) == 2


def test_an_existing_chart_is_a_problem(clinic: SmallClinic) -> None:
    _run(clinic, GOOD)
    report = _run(clinic, GOOD, dry_run=True)
    assert [p.line for p in report.blocking] == [2, 3]
    assert "already registered" in str(report.blocking[0])


def test_a_file_that_is_not_utf8_is_refused_in_words() -> None:
    with pytest.raises(InvalidRequest, match=r"not UTF-8.*line 2"):
        read_csv("First Name,Last Name\nRen\xe9,Caf\xe9\n".encode("latin-1"))


def test_utf16_from_a_spreadsheet_is_read() -> None:
    table = read_csv(GOOD.encode("utf-16"))
    assert table.headers[0] == "First Name"
    assert len(table.rows) == 2


def test_a_missing_name_column_is_refused(clinic: SmallClinic) -> None:
    table = read_csv(b"Given,Family\nA,B\n")
    with pytest.raises(InvalidRequest, match="last_name"):
        import_patients(clinic.db, SYSTEM, table, {"Given": "first_name"}, now=NOW)


def _url(c: SmallClinic) -> str:
    return str(c.db.engine.url.render_as_string(hide_password=False))


def test_the_command_exit_statuses(clinic: SmallClinic, tmp_path: Path) -> None:
    good, bad, broken = tmp_path / "good.csv", tmp_path / "bad.csv", tmp_path / "broken.csv"
    good.write_text(GOOD.replace("DOB", "Born"), encoding="utf-8")
    bad.write_text(BAD, encoding="utf-8")
    broken.write_bytes(b"\x00\x01\x02")
    db = _url(clinic)
    before = _patients(clinic)
    assert main(["patients", "import", "--db", db, "--from", str(bad), "--dry-run"]) == 1
    assert main(["patients", "import", "--db", db, "--from", str(bad)]) == 1
    assert main(["patients", "import", "--db", db, "--from", str(broken)]) == 2
    assert main(["patients", "import", "--db", db, "--from", str(tmp_path / "none.csv")]) == 2
    assert main(["patients", "import", "--db", db, "--from", str(good), "--map", "nope"]) == 2
    args = ["patients", "import", "--db", db, "--from", str(good), "--map", "Born=date_of_birth"]
    assert main([*args, "--dry-run"]) == 0
    assert _patients(clinic) == before
    assert main(args) == 0
    assert _patients(clinic) == before + 2
