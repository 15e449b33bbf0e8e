"""The command line meets bad input with one clear line and a status, never a traceback."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from ketadesk.cli import main
from ketadesk.store.models import AuditEvent
from tests.clinic_fixtures import SmallClinic, build_small_clinic

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


def _db(clinic: SmallClinic) -> str:
    return str(clinic.db.url.database)


def _next_monday() -> dt.date:
    today = dt.date.today()
    return today + dt.timedelta(days=7 - today.weekday())


def test_a_start_at_the_end_of_the_calendar_is_refused_by_name(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["plan", "--db", _db(clinic), "--patient", "BT-1", "--protocol", "iv_induction",
              "--start", "9999-12-31"])  # fmt: skip
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "9999-12-31 is out of range" in err
    assert "Traceback" not in err


def test_openings_searches_at_most_a_year(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["openings", "--db", _db(clinic), "--session-type", "iv_infusion",
              "--from", _next_monday().isoformat(), "--days", "100000"])  # fmt: skip
    assert exit_.value.code == 2
    assert "at most 366 days, got 100000" in capsys.readouterr().err


def test_openings_into_a_closed_pipe_ends_quietly(clinic: SmallClinic) -> None:
    # `ketadesk openings ... | head -1`: head leaves after one line; no BrokenPipeError.
    command = [sys.executable, "-m", "ketadesk", "openings", "--db", _db(clinic),
               "--session-type", "iv_infusion", "--from", _next_monday().isoformat(),
               "--days", "14"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    producer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert producer.stdout is not None
    first = producer.stdout.readline()
    producer.stdout.close()  # the reader goes away with most of the list unread
    _, err = producer.communicate(timeout=60)
    assert first.strip()
    assert b"Traceback" not in err, err.decode()
    assert b"BrokenPipe" not in err
    assert producer.returncode == 0


def test_a_command_line_booking_is_audited_as_the_operating_system_user(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    start = _next_monday().isoformat()
    status = main(["book", "--db", _db(clinic), "--patient", "BT-1", "--protocol",
                   "iv_induction", "--start", start, "--time", "10:00"])  # fmt: skip
    assert status == 0, capsys.readouterr().err
    with clinic.db.read() as session:
        who = set(session.scalars(select(AuditEvent.username).where(AuditEvent.action == "book")))
    assert len(who) == 1
    (name,) = who
    assert name.endswith("(command line)")
    assert name != "system"


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_exports_and_prints_are_private_to_their_owner(
    qapp: object, clinic: SmallClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = os.umask(0o022)
    try:
        ics, table, sheet = tmp_path / "ada.ics", tmp_path / "all.csv", tmp_path / "day.pdf"
        table.write_bytes(b"an older export, readable by all\n")
        table.chmod(0o644)
        monday = _next_monday().isoformat()
        assert main(["export", "ics", "--db", _db(clinic), "--patient", "BT-1",
                     "--out", str(ics)]) == 0  # fmt: skip
        assert main(["export", "csv", "--db", _db(clinic), "--from", monday, "--to", monday,
                     "--out", str(table)]) == 0  # fmt: skip
        assert main(["print", "day", "--db", _db(clinic), "--date", monday,
                     "--out", str(sheet)]) == 0  # fmt: skip
    finally:
        os.umask(old)
    assert [_mode(p) for p in (ics, table, sheet)] == [0o600, 0o600, 0o600]
    assert sheet.read_bytes().startswith(b"%PDF")


def test_an_export_whose_disclosure_cannot_be_recorded_writes_no_file(
    qapp: object, clinic: SmallClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with clinic.db.write() as session:
        session.execute(
            text(
                "CREATE TRIGGER no_more_audit BEFORE INSERT ON audit_event "
                "BEGIN SELECT RAISE(ABORT, 'audit trail unavailable'); END"
            )
        )
    monday = _next_monday().isoformat()
    for argv in (
        ["export", "csv", "--from", monday, "--to", monday, "--out", str(tmp_path / "a.csv")],
        ["export", "ics", "--patient", "BT-1", "--out", str(tmp_path / "a.ics")],
        ["print", "day", "--date", monday, "--out", str(tmp_path / "a.pdf")],
    ):
        assert main([*argv, "--db", _db(clinic)]) == 1
        err = capsys.readouterr().err
        assert "audit trail unavailable" in err
        assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.glob("a.*")) == []
