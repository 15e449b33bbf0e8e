"""`ketadesk print day|card|calls`: the PDFs' extracted text (pdftotext) says what it should."""

from __future__ import annotations

import datetime as dt
import subprocess
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ketadesk.cli import main
from ketadesk.scheduling.dates import clock
from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.demo.clinic import build_demo
from ketadesk.services.printing.card import appointment_card, card_layout
from ketadesk.services.printing.day_sheet import (
    BY_ROOM,
    DaySheet,
    SheetGroup,
    SheetPhase,
    SheetSession,
    day_sheet_layout,
)
from ketadesk.services.schedule.day import day_schedule
from ketadesk.store.database import Database
from ketadesk.store.models import Appointment, Patient
from ketadesk.ui.printing.printing import print_pdf
from tests.pictures import picture_folder

TODAY = dt.date(2026, 11, 24)
NOW = dt.datetime(2026, 11, 24, 18, 15, tzinfo=dt.UTC)  # 10:15 in San Diego


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from ketadesk.services.schedule import public_holidays

    folder = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(public_holidays, "holiday_cache_dir", lambda: folder / "holidays")
        url = f"sqlite:///{folder / 'demo.sqlite'}"
        build_demo(url, rooms=3, weeks_back=1, weeks_ahead=1, today=TODAY)
        yield url


@pytest.fixture
def db(demo_url: str) -> Database:
    return open_clinic(demo_url).db


def pdf_pages(path: Path) -> list[str]:
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    # NFKC: Qt's PDF writes ligatures ("ﬀ"), which would hide a name from a plain search.
    pages = unicodedata.normalize("NFKC", out).split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def run_print(*args: str) -> int:
    return main(["print", *args])


def test_day_sheet_lists_every_appointment(
    qapp: object, demo_url: str, db: Database, tmp_path: Path
) -> None:
    out = tmp_path / "day.pdf"
    assert run_print("day", "--db", demo_url, "--date", TODAY.isoformat(), "--out", str(out)) == 0
    text = "\n".join(pdf_pages(out))
    day = day_schedule(db, TODAY)
    active = [a for a in day.appointments if a.is_active]
    assert len(active) >= 5
    for a in active:
        assert a.patient_name in text
        assert a.chart_number in text
        assert clock(a.start, day.time_format) in text  # the demo clinic's: "9:30 AM"
    assert "Day sheet by room: Tuesday, November 24, 2026" in text
    assert "Page 1 of" in text


def test_day_sheet_by_staff_with_initials_prints_no_full_name_nor_chart_number(
    qapp: object, demo_url: str, db: Database, tmp_path: Path
) -> None:
    """The public sheet (issue 15: the "initials" sheet still printed chart numbers)."""
    out = tmp_path / "public.pdf"
    args = ["day", "--db", demo_url, "--date", TODAY.isoformat(), "--by", "staff", "--initials"]
    assert run_print(*args, "--out", str(out)) == 0
    text = " ".join(" ".join(pdf_pages(out)).split())  # names cut across lines still found
    with db.read() as session:
        names = session.execute(select(Patient.first_name, Patient.last_name)).all()
    assert names
    for first, last in names:
        assert f"{last}, {first}" not in text
        assert f"{first} {last}" not in text
    active = [a for a in day_schedule(db, TODAY).appointments if a.is_active]
    assert active
    for a in active:
        assert a.chart_number not in text
    assert "Chart" not in text
    assert "Day sheet by staff member" in text


def test_card_lists_exactly_the_future_sessions(qapp: object, db: Database, tmp_path: Path) -> None:
    with db.read() as session:
        rows = session.execute(
            select(Patient.chart_number, Appointment.starts_at)
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(
                Appointment.starts_at > NOW,
                Appointment.status.not_in([*RELEASED_STATUSES, "completed"]),
            )
            .order_by(Appointment.starts_at)
        ).all()
    chart = rows[0][0]
    tz = ZoneInfo("America/Los_Angeles")
    expected = [s.astimezone(tz) for c, s in rows if c == chart]

    card = appointment_card(db, chart, now=NOW)
    assert [s.start for s in card.sessions] == expected
    out = tmp_path / "card.pdf"
    print_pdf(card_layout(card), out)
    text = "\n".join(pdf_pages(out))
    assert f"{len(expected)} appointment" in text
    for start in expected:  # "Tue 12/1  10:15 AM": weekday, US month/day, the 12-hour time
        assert f"{start:%a} {start.month}/{start.day}" in text
        hour = start.hour % 12 or 12
        assert f"{hour}:{start:%M} {'AM' if start.hour < 12 else 'PM'}" in text
    assert "24 hours' notice" in text  # the clinic's cancellation policy
    assert chart not in text  # the card is the patient's: their name, not the chart's number


def test_card_command_and_unknown_patient(
    qapp: object, demo_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "card.pdf"
    assert run_print("card", "--db", demo_url, "--patient", "NO-SUCH", "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0
    assert "NO-SUCH" in err
    assert not out.exists()


def test_unwritable_output_exits_2(
    qapp: object, demo_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "missing-folder" / "day.pdf"
    assert run_print("day", "--db", demo_url, "--date", "2026-11-24", "--out", str(out)) == 2
    assert "cannot write" in capsys.readouterr().err


def test_empty_day_says_so(qapp: object, demo_url: str, tmp_path: Path) -> None:
    out = tmp_path / "sunday.pdf"
    assert run_print("day", "--db", demo_url, "--date", "2026-11-29", "--out", str(out)) == 0
    text = "\n".join(pdf_pages(out))
    assert "No appointments on Sunday, November 29, 2026." in text


def test_calls_list(qapp: object, demo_url: str, tmp_path: Path) -> None:
    out = tmp_path / "calls.pdf"
    assert run_print("calls", "--db", demo_url, "--date", TODAY.isoformat(), "--out", str(out)) == 0
    text = "\n".join(pdf_pages(out))
    assert "Follow-up calls: Tuesday, November 24, 2026" in text


def _busy_sheet(count: int) -> DaySheet:
    tz = ZoneInfo("America/Los_Angeles")
    groups = []
    for room in range(6):
        sessions = []
        for i in range(count // 6):
            start = dt.datetime(2026, 11, 24, 7, 0, tzinfo=tz) + dt.timedelta(minutes=70 * i)
            end = start + dt.timedelta(minutes=150)
            sessions.append(
                SheetSession(
                    appointment_id=room * 100 + i,
                    start=start,
                    end=end,
                    patient=f"Patient{room}x{i:02d}, Test",
                    chart_number=f"HK-{room}{i:03d}",
                    session_type="Spravato (esketamine)",
                    series="3/8",
                    status="Booked",
                    room=f"Room {room + 1}",
                    phases=(
                        SheetPhase("Check-in", start, start + dt.timedelta(minutes=15)),
                        SheetPhase("Dosing", start, start + dt.timedelta(minutes=25)),
                        SheetPhase("Observation", start, end),
                    ),
                    monitor=f"Monitor {room + 1}",
                    staff=("Maria Reyes, RN", "Elena Vasquez, MD"),
                    driver="Bobby James, (619) 555-0145",
                    pickup=end,
                    fasting_confirmed=i % 2 == 0,
                    needs_driver=True,
                )
            )
        groups.append(SheetGroup(f"Room {room + 1}", tuple(sessions)))
    return DaySheet(
        clinic_name="Harbor Ketamine & Wellness",
        day=TODAY,
        by=BY_ROOM,
        initials=False,
        closed_reason=None,
        groups=tuple(groups),
        printed_at=NOW.astimezone(tz),
    )


def test_sixty_sessions_flow_over_pages_without_splitting_a_row(
    qapp: object, tmp_path: Path
) -> None:
    sheet = _busy_sheet(60)
    out = tmp_path / "busy.pdf"
    result = print_pdf(day_sheet_layout(sheet), out)
    pages = pdf_pages(out)
    assert len(pages) == result.pages
    # Compact rows, two lines each: 60 sessions in six rooms take three or four pages.
    assert 3 <= result.pages <= 4, result.pages
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {result.pages}" in page
        assert "Harbor Ketamine & Wellness" in page
        assert "Room " in page.split("\n", 4)[-1]  # the room's heading repeated on top
    for group in sheet.groups:
        for s in group.sessions:
            holding = [p for p in pages if s.patient in p and s.chart_number in p]
            assert len(holding) == 1, s.patient
            page = holding[0]
            assert clock(s.start, sheet.time_format) in page
            assert f"to {clock(s.pickup, sheet.time_format)}" in page


def test_a_printed_card_is_recorded_in_the_audit_trail_as_the_command_line_user(
    qapp: object, demo_url: str, db: Database, tmp_path: Path
) -> None:
    from sqlalchemy import select

    from ketadesk.store.models import AuditEvent, Patient

    with db.read() as session:
        chart, patient = session.execute(
            select(Patient.chart_number, Patient.id).order_by(Patient.id).limit(1)
        ).one()
    out = tmp_path / "card.pdf"
    assert run_print("card", "--db", demo_url, "--patient", chart, "--out", str(out)) == 0
    with db.read() as session:
        events = session.execute(
            select(AuditEvent.username, AuditEvent.detail).where(
                AuditEvent.action == "disclose", AuditEvent.patient_id == patient
            )
        ).all()
    assert [detail for _, detail in events] == [f"chart {chart}; saved to {out}"]
    assert events[0][0].endswith("(command line)")


def test_the_cards_clinic_address_prints_one_line_per_line(qapp: object, db: Database) -> None:
    # The demo clinic's address is two lines: street and suite, then city, state and ZIP.
    with db.read() as session:
        chart = session.scalars(
            select(Patient.chart_number)
            .join(Appointment, Appointment.patient_id == Patient.id)
            .where(Appointment.starts_at > NOW)
            .limit(1)
        ).one()
    card = appointment_card(db, chart, now=NOW)
    street, city = card.clinic_address.splitlines()
    out = picture_folder("printing") / "card_with_address.pdf"  # to look at
    print_pdf(card_layout(card), out)
    lines = [" ".join(line.split()) for page in pdf_pages(out) for line in page.splitlines()]
    assert street in lines
    assert city in lines
