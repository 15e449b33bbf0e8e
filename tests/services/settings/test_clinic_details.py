"""The clinic's details in Settings: saved where the app reads them, audited with before and
after, refused to non-administrators, and bad input names its field and saves nothing."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import SYSTEM, Actor, InvalidFields, PermissionDenied
from ketadesk.services.settings.clinic_details import (
    ClinicDetails,
    DayHours,
    LogoImage,
    clinic_details,
    read_logo_file,
    save_clinic_details,
)
from ketadesk.services.settings.readiness import clinic_readiness
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import AuditEvent
from tests.clinic_fixtures import build_small_clinic, new_clinic

ADMIN = Actor(user_id=None, username="ada", role="admin")
FRONT_DESK = Actor(user_id=None, username="fran", role="front_desk")
#: The smallest PNG there is: a 1x1 transparent pixel.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    db = new_clinic(db_url)
    yield db
    db.dispose()


def _audit(db: Database) -> list[AuditEvent]:
    with db.read() as session:
        rows = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        session.expunge_all()
        return rows


def _counter(db: Database) -> int:
    return changes.change_counter(db)


def _edited(details: ClinicDetails) -> ClinicDetails:
    hours = tuple(
        DayHours(h.day, True, "09:00", "13:00")
        if h.day == "sat"
        else DayHours(h.day, False)
        if h.day == "mon"
        else h
        for h in details.hours
    )
    return dataclasses.replace(
        details,
        name="Bayview Ketamine Clinic",
        address="12 Harbor Way\nSan Francisco, CA 94105",
        phone="(415) 555-0199",
        timezone="America/New_York",
        paper_size="legal",
        hours=hours,
        logo=LogoImage("png", base64.b64encode(PNG).decode()),
    )


def test_a_new_clinic_prints_on_letter_paper(db: Database) -> None:
    details = clinic_details(db)
    assert details.paper_size == "letter"
    assert [h.day for h in details.hours] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert details.logo is None


def test_details_round_trip_reach_the_catalogue_and_are_audited(db: Database) -> None:
    before = clinic_details(db)
    counter = _counter(db)
    saved = save_clinic_details(db, ADMIN, _edited(before))
    assert saved == clinic_details(db)
    assert saved.name == "Bayview Ketamine Clinic"
    assert saved.logo is not None
    assert saved.logo.raw() == PNG
    with db.read() as session:  # where the planner and printing read them
        settings = load_catalog(session).settings
    assert settings.timezone == "America/New_York"
    assert settings.paper_size == "legal"
    assert settings.hours["mon"] is None
    assert settings.hours["sat"] == (dt.time(9), dt.time(13))
    assert _counter(db) == counter + 1  # other workstations and cached catalogues refresh
    event = _audit(db)[-1]
    assert event.action == "configure_clinic"
    assert event.username == "ada"
    assert event.before is not None
    assert event.after is not None
    assert event.before["name"] == before.name
    assert event.after["name"] == "Bayview Ketamine Clinic"
    assert event.after["hours"]["mon"] == []
    assert event.after["logo"]["bytes"] == len(PNG)  # the logo by size, not its bytes


def test_saving_the_same_details_writes_nothing(db: Database) -> None:
    details = clinic_details(db)
    counter, events = _counter(db), len(_audit(db))
    save_clinic_details(db, ADMIN, details)
    assert (_counter(db), len(_audit(db))) == (counter, events)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "  "}, "name"),
        ({"phone": "call us!"}, "phone"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"paper_size": "tabloid"}, "paper_size"),
        ({"card_size": "postcard"}, "card_size"),
        ({"card_stock": "vellum"}, "card_stock"),
        ({"hours": "closes_first"}, "hours.tue"),
        ({"hours": "not_a_time"}, "hours.tue"),
        ({"logo": LogoImage("png", base64.b64encode(b"GIF89a...").decode())}, "logo"),
        ({"logo": LogoImage("png", base64.b64encode(PNG + b"\0" * 300_000).decode())}, "logo"),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(
    db: Database, change: dict[str, object], field: str
) -> None:
    details = clinic_details(db)
    if change.get("hours") == "closes_first":
        change = {"hours": _with_tuesday(details, "18:00", "07:30")}
    elif change.get("hours") == "not_a_time":
        change = {"hours": _with_tuesday(details, "7.30am", "18:00")}
    counter, events = _counter(db), len(_audit(db))
    with pytest.raises(InvalidFields) as raised:
        save_clinic_details(db, ADMIN, dataclasses.replace(_edited(details), **change))  # type: ignore[arg-type]
    assert field in raised.value.errors
    assert clinic_details(db) == details
    assert (_counter(db), len(_audit(db))) == (counter, events)


def _with_tuesday(details: ClinicDetails, opens: str, closes: str) -> tuple[DayHours, ...]:
    return tuple(
        DayHours("tue", True, opens, closes) if h.day == "tue" else h for h in details.hours
    )


def test_the_front_desk_is_refused_and_the_refusal_is_audited(db: Database) -> None:
    details = clinic_details(db)
    with pytest.raises(PermissionDenied):
        save_clinic_details(db, FRONT_DESK, _edited(details))
    assert clinic_details(db) == details
    refusal = _audit(db)[-1]
    assert refusal.action == "refused"
    assert refusal.username == "fran"
    assert refusal.after == {"action": "configure", "role": "front_desk"}


def test_a_logo_file_is_checked_for_format_and_size(db: Database, tmp_path: Path) -> None:
    limit = clinic_details(db).logo_max_kb
    good = tmp_path / "logo.png"
    good.write_bytes(PNG)
    assert read_logo_file(good, limit).raw() == PNG
    renamed = tmp_path / "notes.png"
    renamed.write_bytes(b"not an image at all")
    with pytest.raises(InvalidFields, match="not a PNG"):
        read_logo_file(renamed, limit)
    huge = tmp_path / "huge.png"
    huge.write_bytes(PNG + b"\0" * (limit * 1024))
    with pytest.raises(InvalidFields, match=f"at most {limit} KB"):
        read_logo_file(huge, limit)
    text = tmp_path / "logo.txt"
    text.write_text("hello")
    with pytest.raises(InvalidFields, match="PNG, JPEG or SVG"):
        read_logo_file(text, limit)


def test_an_empty_clinic_cannot_book_and_the_small_clinic_can(
    db: Database, sqlite_url: str
) -> None:
    empty = clinic_readiness(db)
    assert empty.is_empty
    assert not empty.can_book
    assert empty.missing() == ("at least one room", "at least one staff member")
    small = build_small_clinic(sqlite_url)
    try:
        ready = clinic_readiness(small.db)
    finally:
        small.db.dispose()
    assert not ready.is_empty
    assert ready.can_book
    assert ready.rooms == 5
    assert ready.staff == 3
    assert ready.staff_with_shifts == 3


def test_the_system_may_configure(db: Database) -> None:
    saved = save_clinic_details(db, SYSTEM, _edited(clinic_details(db)))
    assert saved.phone == "(415) 555-0199"


def test_printed_documents_use_the_logo_and_paper_kept_in_the_database(db: Database) -> None:
    from ketadesk.services.printing.layout import clinic_logo
    from ketadesk.services.settings.clinic_details import clinic_paper_size

    assert clinic_paper_size(db) == "letter"
    save_clinic_details(db, ADMIN, _edited(clinic_details(db)))
    assert clinic_paper_size(db) == "legal"
    with db.read() as session:
        settings = load_catalog(session).settings
    logo = clinic_logo(settings)
    assert logo is not None
    assert logo.path is not None
    assert logo.path.read_bytes() == PNG


def test_new_opening_hours_reach_the_day_at_another_workstation(db_url: str) -> None:
    from ketadesk.services.schedule.day import day_schedule

    here = open_clinic(db_url, create=True).db
    there = open_clinic(db_url).db  # another workstation, which has read the days before
    try:
        monday, saturday = dt.date(2027, 3, 1), dt.date(2027, 3, 6)
        assert not day_schedule(there, monday).is_closed
        assert day_schedule(there, saturday).is_closed
        save_clinic_details(here, ADMIN, _edited(clinic_details(here)))
        assert day_schedule(there, monday).is_closed
        opened = day_schedule(there, saturday)
        assert not opened.is_closed
        assert opened.opens is not None
        assert opened.opens.hour == 9  # in the clinic's new zone
    finally:
        there.dispose()
        here.dispose()


def test_the_card_size_chosen_in_settings_is_the_card_printed(db: Database) -> None:
    from ketadesk.services.printing.layout import CardFormat, card_format

    details = clinic_details(db)
    assert (details.card_size, details.card_stock) == ("index_3x5", "sheet")  # the default
    save_clinic_details(
        db, ADMIN, dataclasses.replace(details, card_size="business", card_stock="card")
    )
    event = _audit(db)[-1]
    assert event.before is not None
    assert event.after is not None
    assert (event.before["card_size"], event.after["card_size"]) == ("index_3x5", "business")
    assert event.after["card_stock"] == "card"
    with db.read() as session:  # where the card (services/printing/card.py) reads it
        settings = load_catalog(session).settings
    assert card_format(settings) == CardFormat("business", 3.5, 2.0, "card")


def test_the_clinic_phone_is_kept_and_shown_as_phones_are_elsewhere(db: Database) -> None:
    details = dataclasses.replace(clinic_details(db), phone="617 555 0142")
    saved = save_clinic_details(db, ADMIN, details)
    assert saved.phone == "(617) 555-0142"
    with db.read() as session:  # what cards and day sheets print
        assert load_catalog(session).settings.phone == "(617) 555-0142"
