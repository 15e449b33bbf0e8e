"""``ketadesk book --session-type NAME --at 'YYYY-MM-DD HH:MM'``: one appointment from the
command line, the series form still working beside it, and ``check`` releasing expired holds."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.cli import main
from ketadesk.store.models import Appointment
from tests.clinic_fixtures import SmallClinic, build_small_clinic


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


def _days(clinic: SmallClinic) -> tuple[str, dt.date]:
    today = clinic.calendar.local_date(dt.datetime.now(dt.UTC))
    day = today + dt.timedelta(days=3)
    while day.weekday() > 3 or clinic.calendar.closed_reason(day) is not None:
        day += dt.timedelta(days=1)
    return today.isoformat(), day


def _book(capsys: pytest.CaptureFixture[str], clinic: SmallClinic, *argv: str) -> tuple[int, str]:
    today, _ = _days(clinic)
    status = main(["book", "--db", str(clinic.db.url.database), "--today", today, *argv])
    out, err = capsys.readouterr()
    return status, out + err


def test_book_an_intake_at_an_exact_time(
    capsys: pytest.CaptureFixture[str], clinic: SmallClinic
) -> None:
    _, day = _days(clinic)
    at = f"{day:%Y-%m-%d} 11:00"
    status, out = _book(
        capsys,
        clinic,
        "--patient",
        "BT-2",
        "--session-type",
        "intake",
        "--at",
        at,
        "--room",
        "Office A",
        "--json",
    )
    assert status == 0, out
    booked = json.loads(out)
    assert booked["status"] == "booked"
    assert booked["room"] == "Office A"
    assert booked["start"].startswith(f"{day:%Y-%m-%d}T11:00")
    # The same time again: the prescriber is taken, said in words, nothing written.
    status, out = _book(capsys, clinic, "--patient", "BT-1", "--session-type", "intake", "--at", at)
    assert status == 1
    assert "Intake" in out
    with clinic.db.read() as s:
        assert len(s.scalars(select(Appointment.id)).all()) == 1


def test_a_dosing_session_for_an_unscreened_patient_names_the_gate(
    capsys: pytest.CaptureFixture[str], clinic: SmallClinic
) -> None:
    _, day = _days(clinic)
    status, out = _book(
        capsys,
        clinic,
        "--patient",
        "BT-2",
        "--session-type",
        "iv_infusion",
        "--at",
        f"{day:%Y-%m-%d} 09:00",
    )
    assert status != 0
    assert "screening" in out.lower()


def test_next_available_afternoon_and_tentative_then_check(
    capsys: pytest.CaptureFixture[str], clinic: SmallClinic
) -> None:
    status, out = _book(
        capsys,
        clinic,
        "--patient",
        "BT-2",
        "--session-type",
        "booster_review",
        "--part-of-day",
        "afternoon",
        "--weekdays",
        "wed",
        "--tentative",
        "--json",
    )
    assert status == 0, out
    held = json.loads(out)
    assert held["status"] == "tentative"
    start = dt.datetime.fromisoformat(held["start"])
    assert start.weekday() == 2
    assert start.hour >= 12
    status = main(["check", "--db", str(clinic.db.url.database)])
    out, _ = capsys.readouterr()
    assert status == 0, out
    assert "released" not in out  # its deadline has not passed


def test_bad_at_is_refused_naming_the_argument(
    capsys: pytest.CaptureFixture[str], clinic: SmallClinic
) -> None:
    with pytest.raises(SystemExit):
        _book(capsys, clinic, "--patient", "BT-2", "--session-type", "intake", "--at", "soon")
    assert "--at" in capsys.readouterr().err


def test_the_series_form_still_books(
    capsys: pytest.CaptureFixture[str], clinic: SmallClinic
) -> None:
    _today, day = _days(clinic)
    status, out = _book(
        capsys,
        clinic,
        "--patient",
        "BT-1",
        "--protocol",
        "iv_induction",
        "--start",
        (day + dt.timedelta(days=7)).isoformat(),
    )
    assert status == 0, out
    assert "booked series" in out
