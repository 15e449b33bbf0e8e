"""The day sheet's open gating warnings per session, and the clinic logo in every page header."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QColor, QImage
from sqlalchemy import func, select

from ketadesk.cli import main
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.demo.clinic import build_demo
from ketadesk.services.printing.day_sheet import SheetSession, day_sheet, day_sheet_layout
from ketadesk.services.printing.layout import clinic_logo
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import (
    Appointment,
    ClinicSetting,
    GatingOverride,
    Patient,
    SessionType,
)
from ketadesk.ui.printing.printing import print_pdf
from tests.printing.test_print import pdf_pages

TODAY = dt.date(2026, 11, 24)
NOW = dt.datetime(2026, 11, 24, 18, 15, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from ketadesk.services.schedule import public_holidays

    folder = tmp_path_factory.mktemp("extras")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(public_holidays, "holiday_cache_dir", lambda: folder / "holidays")
        path = folder / "demo.sqlite"
        build_demo(f"sqlite:///{path}", rooms=6, weeks_back=1, weeks_ahead=1, today=TODAY)
        yield path


@pytest.fixture
def url(demo_file: Path, tmp_path: Path) -> str:
    """A private copy of the demo clinic for one test (tests change patients and settings)."""
    copy = tmp_path / "clinic.sqlite"
    shutil.copyfile(demo_file, copy)
    return f"sqlite:///{copy}"


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = open_clinic(url).db
    yield database
    database.dispose()


def _today_sessions(db: Database, code: str) -> list[tuple[int, int, int | None]]:
    """(appointment, patient, series) of today's sessions of a session type, still on."""
    with db.read() as session:
        tz = load_catalog(session).settings.timezone
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(tz)
        start = dt.datetime.combine(TODAY, dt.time(), zone)
        rows = session.execute(
            select(Appointment.id, Appointment.patient_id, Appointment.series_id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .where(
                SessionType.code == code,
                Appointment.status.not_in(["cancelled", "no_show"]),
                Appointment.starts_at >= start,
                Appointment.starts_at < start + dt.timedelta(days=1),
            )
            .order_by(Appointment.starts_at, Appointment.id)
        ).all()
    return [(a, p, s) for a, p, s in rows]


def _status(db: Database, appointment_id: int) -> str:
    with db.read() as session:
        status = session.scalar(select(Appointment.status).where(Appointment.id == appointment_id))
    assert status is not None
    return status


def _session(db: Database, appointment_id: int) -> SheetSession:
    sheet = day_sheet(db, TODAY, now=NOW)
    return next(s for g in sheet.groups for s in g.sessions if s.appointment_id == appointment_id)


def test_open_gating_warnings_are_printed_with_their_session(
    qapp: object, db: Database, tmp_path: Path
) -> None:
    spravato = _today_sessions(db, "spravato")
    assert len(spravato) >= 3
    (no_consent, patient_a, _), (expired, patient_b, _), (overridden, patient_c, series_c) = (
        spravato[:3]
    )
    assert len({patient_a, patient_b, patient_c}) == 3
    sheet = day_sheet(db, TODAY, now=NOW)
    clean = [s for g in sheet.groups for s in g.sessions if s.gate_warnings]
    assert clean == []  # the demo's patients start with everything on file

    with db.write() as session:
        a = session.get(Patient, patient_a)
        b = session.get(Patient, patient_b)
        c = session.get(Patient, patient_c)
        assert a is not None
        assert b is not None
        assert c is not None
        a.consent_signed_on = None
        for p in (b, c):  # the authorization ran out last week
            p.prior_auth_expires_on = TODAY - dt.timedelta(days=7)
            p.prior_auth_sessions = None
        session.add(
            GatingOverride(
                series_id=series_c,
                rule="prior_auth_valid",
                reason="Renewal faxed to the insurer; approved by phone",
                at=NOW,
            )
        )

    assert _session(db, no_consent).gate_warnings == ("no signed informed consent on file",)
    (warning,) = _session(db, expired).gate_warnings
    assert warning.startswith("prior authorization expires")
    assert _session(db, overridden).gate_warnings == ()  # a clinician went ahead, with a reason

    out = tmp_path / "day.pdf"
    print_pdf(day_sheet_layout(day_sheet(db, TODAY, now=NOW)), out)
    pages = pdf_pages(out)
    text = " ".join(" ".join(pages).split())
    assert text.count("no signed informed consent on file") == 1
    assert text.count("prior authorization expires") == 1
    # Each warning is on the page of its own patient's row.
    with db.read() as session:
        names = {
            p.id: f"{p.last_name}, {p.first_name}"
            for p in session.scalars(select(Patient).where(Patient.id.in_([patient_a, patient_b])))
        }
    for patient, words in ((patient_a, "informed consent"), (patient_b, "authorization")):
        page = next(p for p in pages if names[patient] in p)
        assert words in " ".join(page.split())


def test_prior_authorization_counts_sessions_in_time_order(db: Database) -> None:
    spravato = [s for s in _today_sessions(db, "spravato") if _status(db, s[0]) == "booked"]
    appointment, patient_id, _ = spravato[0]
    with db.read() as session:
        codes = [c for c, t in load_catalog(session).session_types.items() if t.dosing]
        ahead = session.scalar(
            select(Appointment.id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .where(
                Appointment.patient_id == patient_id,
                SessionType.code == "spravato",
                Appointment.status.in_(["booked", "checked_in"]),
            )
            .order_by(Appointment.starts_at)
            .limit(1)
        )
    assert codes
    assert ahead == appointment
    with db.write() as session:
        p = session.get(Patient, patient_id)
        assert p is not None
        p.prior_auth_expires_on = None
        p.prior_auth_sessions = 1  # covers today's session, not the ones after it
        # ... once the sessions given before today (an earlier authorization's) do not count.
        p.prior_auth_starts_on = TODAY
    assert _session(db, appointment).gate_warnings == ()
    with db.read() as session:
        given = session.scalar(
            select(func.count(Appointment.id))
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .where(
                Appointment.patient_id == patient_id,
                SessionType.code == "spravato",
                Appointment.status.in_(["in_progress", "completed"]),
            )
        )
    if given:
        # Without a start date the sessions given count too, and the warning says why.
        with db.write() as session:
            p = session.get(Patient, patient_id)
            assert p is not None
            p.prior_auth_starts_on = None
        (warning,) = _session(db, appointment).gate_warnings
        assert "no prior authorization start date on file" in warning
        with db.write() as session:
            p = session.get(Patient, patient_id)
            assert p is not None
            p.prior_auth_starts_on = TODAY
    with db.write() as session:
        p = session.get(Patient, patient_id)
        assert p is not None
        p.prior_auth_sessions = 0
    (warning,) = _session(db, appointment).gate_warnings
    assert "prior authorization covers 0 more" in warning


def _set_logo(db: Database, logo: str) -> None:
    with db.write() as session:
        setting = session.get(ClinicSetting, "clinic")
        assert setting is not None
        value: dict[str, Any] = dict(setting.value)
        value["logo"] = logo
        setting.value = value


def _images(pdf: Path) -> int:
    out = subprocess.run(
        ["pdfimages", "-list", str(pdf)], check=True, capture_output=True, text=True
    ).stdout
    return len(out.strip().splitlines()) - 2  # two header lines


def test_logo_printed_in_the_header_of_every_page(
    qapp: object, url: str, db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logo = tmp_path / "harbor-logo.png"
    image = QImage(240, 80, QImage.Format.Format_RGB32)
    image.fill(QColor("#1f6f8b"))
    assert image.save(str(logo))
    _set_logo(db, str(logo))

    out = tmp_path / "day.pdf"
    args = ["print", "day", "--db", url, "--date", TODAY.isoformat(), "--out", str(out)]
    assert main(args) == 0
    assert "warning" not in capsys.readouterr().err
    pages = pdf_pages(out)
    assert len(pages) >= 2
    assert _images(out) == len(pages)  # once per page, in the header
    without = tmp_path / "plain.pdf"
    _set_logo(db, "")
    assert main([*args[:-1], str(without)]) == 0
    assert _images(without) == 0


def test_relative_logo_is_found_in_the_config_folder(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ketadesk.services.printing import layout

    (tmp_path / "logo.png").write_bytes(b"\x89PNG")
    monkeypatch.setattr(layout, "config_dir", lambda: tmp_path)
    _set_logo(db, "logo.png")
    with db.read() as session:
        settings = load_catalog(session).settings
    found = clinic_logo(settings)
    assert found is not None
    assert found.path == tmp_path / "logo.png"
    assert not found.problem


def test_missing_or_broken_logo_prints_without_it_and_says_so(
    qapp: object, url: str, db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-logo.png"
    _set_logo(db, str(missing))
    out = tmp_path / "day.pdf"
    args = ["print", "day", "--db", url, "--date", TODAY.isoformat(), "--out", str(out)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"warning: the clinic logo {missing} cannot be read" in err
    assert "printed without it" in err
    assert out.exists()
    assert _images(out) == 0
    assert "Day sheet by room" in pdf_pages(out)[0]

    broken = tmp_path / "broken.png"
    broken.write_text("not an image at all")
    _set_logo(db, str(broken))
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"warning: the clinic logo {broken} is not an image" in err
    assert _images(out) == 0
