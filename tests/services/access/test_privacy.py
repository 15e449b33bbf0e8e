"""Privacy at rest: clinic files are readable by their owner only, and KetaDesk writes no
patient data to logs (it keeps no log file; what it logs names no patient)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import ketadesk
from ketadesk.services.access import audit
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import Actor, PermissionDenied
from ketadesk.services.demo.clinic import build_demo
from tests.clinic_fixtures import PATIENTS, build_small_clinic

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
WED = dt.date(2026, 12, 2)
IV = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that would let everyone read new files: KetaDesk must not rely on the user's."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_clinic_and_its_journal_files_are_owner_only(
    tmp_path: Path, open_umask: None
) -> None:
    path = tmp_path / "new" / "clinic.sqlite"
    opened = open_clinic(f"sqlite:///{path}", create=True)
    try:
        with opened.db.write() as session:
            session.connection().exec_driver_sql("SELECT 1")
        sidecars = [p for p in (Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
        assert sidecars, "a WAL clinic keeps -wal/-shm files while open"
        for file in (path, *sidecars):
            assert _mode(file) & 0o077 == 0, f"{file.name} is {oct(_mode(file))}"
    finally:
        opened.db.dispose()


def test_the_demo_clinic_file_is_owner_only(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "demo.sqlite"
    build_demo(
        f"sqlite:///{path}", today=dt.date(2025, 12, 3), rooms=1, weeks_back=0, weeks_ahead=0
    )
    assert _mode(path) & 0o077 == 0


_LOG_CALL = re.compile(
    r"\b(log|logger|logging|_log|LOG)\.(debug|info|warning|error|exception|critical)\("
)
_PATIENT_WORDS = re.compile(r"first_name|last_name|patient|chart|phone|email|address|name\b")


def test_the_application_keeps_no_log_file_and_logs_no_patient_fields() -> None:
    package = Path(ketadesk.__file__).parent
    calls: list[str] = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "FileHandler" not in text, f"{path.name} writes a log file"
        assert "basicConfig" not in text, f"{path.name} configures logging"
        for n, line in enumerate(text.splitlines(), 1):
            if _LOG_CALL.search(line):
                calls.append(f"{path.relative_to(package)}:{n}: {line.strip()}")
    leaking = [c for c in calls if _PATIENT_WORDS.search(c.split(":", 2)[2])]
    assert leaking == []


def test_desk_work_logs_no_patient_name(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ketadesk")
    clinic = build_small_clinic(f"sqlite:///{tmp_path / 'clinic.sqlite'}")
    try:
        front = Actor(None, "maria", "front_desk")
        request = BookingRequest(
            patient_id=clinic.ids["Ada Lovelace"],
            sessions=(clinic.session("iv_infusion", WED, "10:00", IV),),
        )
        appt = booking.book(clinic.db, front, request, now=NOW).appointment_ids[0]
        with pytest.raises(PermissionDenied):
            appointment_changes.change_status(
                clinic.db, Actor(None, "sam", "therapist"), appt, "cancel", reason="x", now=NOW
            )
        audit.record_disclosure(clinic.db, front, "appointment card", clinic.ids["Ada Lovelace"])
        appointment_changes.change_status(clinic.db, front, appt, "cancel", reason="flu", now=NOW)
    finally:
        clinic.db.dispose()
    text = caplog.text
    for _, first, last, _ in PATIENTS:
        assert first not in text
        assert last not in text
