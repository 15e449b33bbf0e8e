"""Issue 14's bad input, each met with one clear line and nothing lost: a full disk during
``book``, a read-only (immutable) clinic file under ``book``/``export``/``print``, a NUL in a
patient's name (refused at the form, and said in words if it reaches PostgreSQL), and
``book --weekdays sat,sun`` on a clinic closed at weekends."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from ketadesk.cli import main
from ketadesk.services.common.context import Actor, InvalidFields
from ketadesk.services.common.errors import UnstorableText, service_errors
from ketadesk.services.patients.patient_fields import PatientForm, validate_patient
from ketadesk.services.patients.registration import register_patient
from ketadesk.store.models import Appointment
from tests.clinic_fixtures import SmallClinic, build_small_clinic

ADMIN = Actor(user_id=None, username="admin", role="admin")


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


def _db(clinic: SmallClinic) -> str:
    return str(clinic.db.url.database)


def _monday_after(clinic: SmallClinic) -> dt.date:
    # A date from the clinic's today, via --today below: the test never depends on the real day.
    today = dt.date(2026, 12, 1)
    return today + dt.timedelta(days=7 - today.weekday())


def _appointments(clinic: SmallClinic) -> int:
    with clinic.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Appointment)) or 0)


def _book(clinic: SmallClinic, *extra: str) -> int:
    start = _monday_after(clinic)
    return main(["book", "--db", _db(clinic), "--patient", "BT-1", "--protocol", "iv_induction",
                 "--start", start.isoformat(), "--time", "10:00",
                 "--today", (start - dt.timedelta(days=3)).isoformat(), *extra])  # fmt: skip


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MB file system (tmpfs), to be filled: needs root and mount."""
    mount = tmp_path / "disk"
    mount.mkdir()
    tried = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True
    )
    if tried.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {tried.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_during_book_is_one_line_and_books_nothing(
    clinic: SmallClinic, small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clinic.db.dispose()
    path = small_disk / "clinic.sqlite"
    shutil.copy(_db(clinic), path)
    # Fill the disk, leaving room to open the clinic (its -shm) but not to write a series.
    free = shutil.disk_usage(small_disk).free
    (small_disk / "filler").write_bytes(bytes(free - 48 * 1024))
    start = _monday_after(clinic)
    status = main(["book", "--db", str(path), "--patient", "BT-1", "--protocol", "iv_induction",
                   "--start", start.isoformat(), "--time", "10:00",
                   "--today", (start - dt.timedelta(days=3)).isoformat()])  # fmt: skip
    line = _one_line(capsys.readouterr().err)
    assert status == 1
    assert line == (
        f"ketadesk book: the disk holding the clinic database {path} is full: nothing was "
        "written; free some space and try again"
    )
    (small_disk / "filler").unlink()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM appointment").fetchone() == (0,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()


@pytest.fixture(params=["file", "file and folder"])
def read_only_clinic(clinic: SmallClinic, request: pytest.FixtureRequest) -> Iterator[SmallClinic]:
    """The clinic file (and, in the second case, its folder) made immutable (``chattr +i``,
    which binds root too), or, without chattr, read-only by mode (which binds all but root)."""
    path = Path(_db(clinic))
    clinic.db.dispose()
    frozen = [path] if request.param == "file" else [path, path.parent]
    chattr = shutil.which("chattr")
    immutable = chattr is not None and all(
        subprocess.run([chattr, "+i", str(p)], capture_output=True).returncode == 0 for p in frozen
    )
    if not immutable:
        if os.geteuid() == 0:
            pytest.skip("root ignores file modes and chattr +i is not available here")
        for p in frozen:
            p.chmod(0o500 if p.is_dir() else 0o400)
    try:
        yield clinic
    finally:
        for p in reversed(frozen):
            if chattr is not None:
                subprocess.run([chattr, "-i", str(p)], capture_output=True)
            p.chmod(0o700 if p.is_dir() else 0o600)


def test_a_read_only_clinic_file_is_one_line_for_book_export_and_print(
    qapp: object,
    read_only_clinic: SmallClinic,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clinic = read_only_clinic
    path = _db(clinic)
    monday = _monday_after(clinic).isoformat()
    out = tmp_path_factory.mktemp("out")
    for argv in (
        ["book", "--patient", "BT-1", "--protocol", "iv_induction", "--start", monday,
         "--time", "10:00", "--today", monday],
        ["export", "csv", "--from", monday, "--to", monday, "--out", str(out / "a.csv")],
        ["export", "ics", "--patient", "BT-1", "--out", str(out / "a.ics")],
        ["print", "day", "--date", monday, "--out", str(out / "a.pdf")],
    ):  # fmt: skip
        assert main([*argv, "--db", path]) in (1, 2), argv
        line = _one_line(capsys.readouterr().err)
        assert line.startswith(f"ketadesk {argv[0]}: the clinic file {path} is read-only"), line
    assert list(out.iterdir()) == []  # no disclosure without its audit event
    with sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True) as conn:
        assert conn.execute("SELECT count(*) FROM appointment").fetchone() == (0,)


def test_weekdays_the_clinic_never_opens_are_refused_and_nothing_is_booked(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    with clinic.db.read() as session:
        from ketadesk.store.clinic_config import load_catalog

        hours = load_catalog(session).settings.hours
    assert (hours["sat"], hours["sun"]) == (None, None), "the small clinic closes at weekends"
    assert _book(clinic, "--weekdays", "sat,sun") == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(
        "ketadesk book: the clinic is closed on Saturday and Sunday; nothing was booked."
    )
    assert "--other-days" in line
    assert _appointments(clinic) == 0
    # Asked for explicitly, other days are fine: the series is booked on days the clinic opens.
    assert _book(clinic, "--weekdays", "sat,sun", "--other-days") == 0
    assert _appointments(clinic) > 0


def test_a_nul_in_a_name_is_refused_at_the_form_naming_the_field() -> None:
    form = PatientForm(first_name="Ada\x00", last_name="Lovelace", date_of_birth="1990-01-02")
    errors = validate_patient(form, today=dt.date(2026, 12, 1))
    assert set(errors) == {"first_name"}
    assert "NUL" in errors["first_name"]


def test_a_nul_in_a_name_saves_nothing_on_either_database(db_url: str) -> None:
    clinic = build_small_clinic(db_url)
    try:
        form = PatientForm(first_name="Ada", last_name="Love\x00lace", date_of_birth="1990-01-02")
        with pytest.raises(InvalidFields) as raised:
            register_patient(clinic.db, ADMIN, form)
        assert "last_name" in raised.value.errors
        assert "Love" not in str(raised.value)  # the value itself is never echoed
    finally:
        clinic.db.dispose()


@pytest.mark.postgres
def test_the_drivers_nul_refusal_on_postgresql_is_said_in_words(pg_url: str) -> None:
    # The backstop, for a text no form checked: psycopg's own refusal becomes a sentence.
    clinic = build_small_clinic(pg_url)
    try:
        with (
            pytest.raises(UnstorableText, match="NUL character"),
            service_errors(),
            clinic.db.write() as session,
        ):
            session.execute(
                text("UPDATE patient SET address = :a WHERE chart_number = 'BT-1'"),
                {"a": "1 Main St\x00"},
            )
    finally:
        clinic.db.dispose()
