"""Paper in the clinic's time format: the day sheet, the card and the session record say
"9:30 AM" for a US clinic ("Printed … 3:15 PM" too) and "09:30" for one that reads 24-hour,
the same format as its screens (a user trial found a 24-hour day sheet with a 12-hour
"Printed … 12:38 AM" in its header)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ketadesk.cli import main
from ketadesk.scheduling.dates import clock
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import SYSTEM
from ketadesk.services.demo.clinic import build_demo
from ketadesk.services.printing.card import AppointmentCard, appointment_card, card_layout
from ketadesk.services.schedule.day import day_schedule
from ketadesk.services.settings.clinic_details import clinic_details, save_clinic_details
from ketadesk.store.database import Database
from ketadesk.store.models import Appointment, Patient
from ketadesk.ui.printing.printing import print_pdf
from tests.pictures import picture_folder
from tests.printing.test_print import pdf_pages

TODAY = dt.date(2026, 11, 24)
NOW = dt.datetime(2026, 11, 24, 18, 15, tzinfo=dt.UTC)  # 10:15 at the demo clinic
TWELVE_HOUR = re.compile(r"\b\d{1,2}:\d{2} [AP]M\b")


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Database]]:
    from ketadesk.services.schedule import public_holidays

    monkeypatch.setattr(public_holidays, "holiday_cache_dir", lambda: tmp_path / "holidays")
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    build_demo(url, rooms=2, weeks_back=0, weeks_ahead=1, today=TODAY)
    db = open_clinic(url).db
    yield url, db
    db.dispose()


def _choose(db: Database, fmt: str) -> None:
    details = clinic_details(db)
    save_clinic_details(db, SYSTEM, dataclasses.replace(details, time_format=fmt))


def _day_sheet(url: str, out: Path) -> str:
    assert main(["print", "day", "--db", url, "--date", TODAY.isoformat(), "--out", str(out)]) == 0
    return "\n".join(pdf_pages(out))


def test_the_day_sheet_says_its_times_as_the_clinic_reads_them(
    qapp: object, demo: tuple[str, Database], tmp_path: Path
) -> None:
    url, db = demo
    active = [a for a in day_schedule(db, TODAY).appointments if a.is_active]
    assert active
    twelve = _day_sheet(url, tmp_path / "day-12h.pdf")
    for a in active:
        assert clock(a.start, "12h") in twelve  # "7:30 AM", the row's start
        assert f"to {clock(a.end, '12h')}" in twelve
    assert re.search(r"Printed \w{3} [\d/]+ \d{1,2}:\d{2} [AP]M", twelve)  # the header
    _choose(db, "24h")
    twenty_four = _day_sheet(url, tmp_path / "day-24h.pdf")
    for a in active:
        assert f"{a.start:%H:%M}" in twenty_four
        assert f"to {a.end:%H:%M}" in twenty_four
    assert not TWELVE_HOUR.search(twenty_four)
    assert re.search(r"Printed \w{3} [\d/]+ \d{2}:\d{2}\b", twenty_four)
    for name in ("day-12h.pdf", "day-24h.pdf"):
        (picture_folder("time_format") / name).write_bytes((tmp_path / name).read_bytes())


def test_the_card_follows_the_format(
    qapp: object, demo: tuple[str, Database], tmp_path: Path
) -> None:
    _url, db = demo
    with db.read() as session:
        chart = session.scalars(
            select(Patient.chart_number)
            .join(Appointment, Appointment.patient_id == Patient.id)
            .where(Appointment.status == "booked", Appointment.starts_at > NOW)
            .order_by(Appointment.starts_at)
            .limit(1)
        ).one()

    def card(name: str) -> tuple[AppointmentCard, str]:
        made = appointment_card(db, chart, now=NOW)
        out = tmp_path / name
        print_pdf(card_layout(made), out)
        return made, " ".join(" ".join(pdf_pages(out)).split())

    made, text = card("card-12h.pdf")
    assert made.sessions
    for s in made.sessions:
        assert clock(s.start, "12h") in text
    _choose(db, "24h")
    made, text = card("card-24h.pdf")
    for s in made.sessions:
        assert f"{s.start:%H:%M}" in text
    assert not TWELVE_HOUR.search(text)
