"""``ketadesk patients away add|list|remove``: a patient's days away from the command line, the
sessions already booked then named, bad dates refused in words; and ``ketadesk book --at`` onto
a day away refused until overridden.  Days come from the clinic's today."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ketadesk.cli import main
from ketadesk.services.patients.days_away import list_days_away
from tests.clinic_fixtures import SmallClinic, build_small_clinic


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


def _run(capsys: pytest.CaptureFixture[str], clinic: SmallClinic, *argv: str) -> tuple[int, str]:
    status = main(["patients", "away", *argv[:1], "--db", str(clinic.db.url.database), *argv[1:]])
    out, err = capsys.readouterr()
    return status, out + err


def _open_day(clinic: SmallClinic, after: int) -> dt.date:
    today = clinic.calendar.local_date(dt.datetime.now(dt.UTC))
    return clinic.open_day(today + dt.timedelta(days=after))


def test_add_list_and_remove_days_away(
    capsys: pytest.CaptureFixture[str], clinic: SmallClinic
) -> None:
    first = _open_day(clinic, 7)
    last = first + dt.timedelta(days=2)
    us = f"{first:%m/%d/%Y}"
    status, out = _run(
        capsys,
        clinic,
        "add",
        "--chart",
        "BT-1",
        "--first",
        us,
        "--last",
        last.isoformat(),
        "--reason",
        "travel",
    )
    assert status == 0, out
    assert "BT-1 away" in out
    assert "(travel)" in out
    status, out = _run(capsys, clinic, "add", "--chart", "BT-1", "--first", us)  # one day
    assert status == 0, out
    status, out = _run(capsys, clinic, "list", "--chart", "BT-1")
    assert status == 0
    assert out.startswith("upcoming:")
    assert out.count("  #") == 2
    (kept,) = [r for r in list_days_away(clinic.db, clinic.ids["Ada Lovelace"]).ranges if r.reason]
    status, out = _run(capsys, clinic, "remove", "--chart", "BT-1", str(kept.key))
    assert status == 0, out
    assert "removed" in out
    remaining = list_days_away(clinic.db, clinic.ids["Ada Lovelace"]).ranges
    assert [r.reason for r in remaining] == [""]
    # Bad input, in words, exit 2.
    status, out = _run(
        capsys, clinic, "add", "--chart", "BT-1", "--first", last.isoformat(), "--last", us
    )
    assert status == 2
    assert "is before the first" in out
    status, out = _run(capsys, clinic, "add", "--chart", "BT-1", "--first", "soon")
    assert status == 2
    assert "--first 'soon' is not a date" in out
    status, out = _run(capsys, clinic, "add", "--chart", "NOPE", "--first", us)
    assert status == 2
    assert "no patient with chart number 'NOPE'" in out
    status, out = _run(capsys, clinic, "remove", "--chart", "BT-1", "999")
    assert status == 2
    assert "no days away #999" in out


def test_book_at_an_exact_time_on_a_day_away_needs_an_override(
    capsys: pytest.CaptureFixture[str], clinic: SmallClinic
) -> None:
    day = _open_day(clinic, 5)
    assert (
        _run(
            capsys, clinic, "add", "--chart", "BT-2", "--first", day.isoformat(), "--reason", "work"
        )[0]
        == 0
    )
    today = clinic.calendar.local_date(dt.datetime.now(dt.UTC)).isoformat()
    argv = ["book", "--db", str(clinic.db.url.database), "--today", today, "--patient", "BT-2"]
    argv += ["--session-type", "intake", "--at", f"{day:%Y-%m-%d} 11:00"]
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 1, out + err
    assert "Patient away [patient_away]" in out + err
    assert "(work)" in out + err
