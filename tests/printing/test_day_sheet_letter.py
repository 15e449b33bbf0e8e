"""A busy day's sheet on US Letter: 25 sessions in compact rows fit two pages (they took four),
every patient on it, with "Page x of y" on each page; long notes are shortened, not dropped."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ketadesk.cli import main
from ketadesk.services.common.context import utcnow
from ketadesk.services.printing.day_sheet import (
    BY_ROOM,
    BY_STAFF,
    NOTE_CHARS,
    day_sheet,
    day_sheet_layout,
    shortened,
)
from ketadesk.services.settings.clinic_details import clinic_paper_size
from ketadesk.store.models import Appointment, Patient, Resource, ResourceHold, SessionType
from ketadesk.ui.printing.printing import print_pdf
from tests.clinic_fixtures import SmallClinic, build_small_clinic

from .test_print import pdf_pages

SESSIONS = 25
TURNOVER = dt.timedelta(minutes=5)
SURNAMES = [
    "Alvarez",
    "Baker",
    "Chen",
    "Dawson",
    "Estrada",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ibarra",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Moreno",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quinn",
    "Ramirez",
    "Sato",
    "Thompson",
    "Urbina",
    "Vasquez",
    "Walker",
    "Xu",
    "Young",
]
LONG_NOTE = (
    "Prefers the recliner by the window; bring a warm blanket; husband waits in the lobby and "
    "will drive; allergic to adhesive tape, use paper tape on the IV site"
)


def open_day(clinic: SmallClinic) -> dt.date:
    """The clinic's next open day after today (as its own calendar says), whatever the date."""
    day = clinic.calendar.local_date(utcnow()) + dt.timedelta(days=1)
    while clinic.calendar.closed_reason(day) is not None:
        day += dt.timedelta(days=1)
    return day


def book_a_busy_day(clinic: SmallClinic, day: dt.date) -> list[str]:
    """25 IV infusions back to back in five rooms, starts 10 minutes apart between rooms so the
    nurse's undivided first minutes never overlap; returns the patients' "Last, First"."""
    with clinic.db.write() as session:
        fifth_room = Resource(kind="room", subkind="treatment", name="Room 5", capacity=1)
        fifth_monitor = Resource(
            kind="equipment", subkind="vital_signs_monitor", name="Monitor 5", capacity=1
        )
        session.add_all([fifth_room, fifth_monitor])
        session.flush()
        clinic.ids["Room 5"], clinic.ids["Monitor 5"] = fifth_room.id, fifth_monitor.id
        iv = session.scalars(select(SessionType).where(SessionType.code == "iv_infusion")).one()
        spec = clinic.catalog.session_types["iv_infusion"]
        names = []
        for n, surname in enumerate(SURNAMES[:SESSIONS]):
            patient = Patient(
                chart_number=f"LT-{n + 1:02d}",
                first_name="Sam",
                last_name=surname,
                screening_status="cleared",
                driver_name="Pat Driver",
                driver_phone="(619) 555-0100",
            )
            session.add(patient)
            session.flush()
            names.append(f"{surname}, Sam")
            room, turn = n % 5 + 1, n // 5  # five rooms, five turns
            start = clinic.at(day, "07:30") + dt.timedelta(
                minutes=10 * (room - 1) + turn * (spec.total_minutes + TURNOVER.seconds // 60)
            )
            planned = clinic.session(
                "iv_infusion",
                day,
                f"{start.astimezone(clinic.calendar.tz):%H:%M}",
                {"room": f"Room {room}", "monitor": f"Monitor {room}", "nurse": "Nurse Kim"},
                index=turn + 1,
            )
            appointment = Appointment(
                patient_id=patient.id,
                session_type_id=iv.id,
                series_index=None,
                room_id=clinic.ids[f"Room {room}"],
                starts_at=planned.start,
                ends_at=planned.end,
                status="booked",
                notes=LONG_NOTE if n == 0 else "",
            )
            session.add(appointment)
            session.flush()
            session.add_all(
                ResourceHold(
                    appointment_id=appointment.id,
                    resource_id=hold.resource_id,
                    need=hold.need,
                    mode=hold.mode.value,
                    exclusive=hold.exclusive,
                    starts_at=hold.span.start,
                    ends_at=hold.span.end,
                )
                for hold in planned.holds
            )
    return names


@pytest.fixture
def busy(db_url: str) -> Iterator[tuple[SmallClinic, dt.date, list[str]]]:
    clinic = build_small_clinic(db_url)
    day = open_day(clinic)
    names = book_a_busy_day(clinic, day)
    yield clinic, day, names
    clinic.db.dispose()


def page_count(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True)
    return next(
        int(line.split()[-1]) for line in info.stdout.splitlines() if line.startswith("Pages:")
    )


@pytest.mark.parametrize("by", [BY_ROOM, BY_STAFF])
def test_twenty_five_sessions_print_on_two_letter_pages(
    qapp: object, busy: tuple[SmallClinic, dt.date, list[str]], tmp_path: Path, by: str
) -> None:
    clinic, day, names = busy
    out = tmp_path / f"day-by-{by}.pdf"
    sheet = day_sheet(clinic.db, day, by=by)
    assert sheet.session_count == SESSIONS
    print_pdf(day_sheet_layout(sheet), out, clinic_paper_size(clinic.db))
    pages = pdf_pages(out)
    assert page_count(out) == len(pages) <= 2
    info = subprocess.run(["pdfinfo", str(out)], check=True, capture_output=True, text=True)
    assert "612 x 792 pts (letter)" in info.stdout
    text = "\n".join(pages)
    assert sorted(n for n in names if n in text) == sorted(names)  # all 25 patients
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
    # The long note is on the sheet, shortened to its first words.
    flat = " ".join(text.split())
    assert "Prefers the recliner by the window" in flat
    assert "paper tape on the IV site" not in flat


def test_a_long_note_is_cut_at_a_word_and_says_so() -> None:
    assert shortened("Needs  a\nwheelchair") == "Needs a wheelchair"
    cut = shortened(LONG_NOTE)
    assert len(cut) <= NOTE_CHARS
    assert cut.endswith("…")
    assert LONG_NOTE.startswith(cut[:-1])


def test_the_print_command_gives_the_same_two_pages(
    qapp: object, sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clinic = build_small_clinic(sqlite_url)
    day = open_day(clinic)
    names = book_a_busy_day(clinic, day)
    clinic.db.dispose()
    out = tmp_path / "day.pdf"
    assert (
        main(["print", "day", "--db", sqlite_url, "--date", day.isoformat(), "--out", str(out)])
        == 0
    )
    assert capsys.readouterr().out.startswith(f"{out}: 2 pages")
    text = "\n".join(pdf_pages(out))
    assert all(name in text for name in names)
