"""Reading a clinic day for the day view: local times, rooms, series places, closed days."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text, update

from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.schedule import day_rows, public_holidays
from ketadesk.services.schedule.day import clinic_today, core_queries, day_schedule
from ketadesk.services.schedule.day_rows import read_catalog
from ketadesk.services.schedule.day_schedule import NO_ROOM
from ketadesk.services.schedule.public_holidays import holiday_names
from ketadesk.services.schedule.sqlite_file import SqliteFileDays
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import SchemaError
from ketadesk.store.models import ClinicSetting, Resource
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import SUNDAY, THANKSGIVING, TUESDAY, WEDNESDAY, build_clinic_day


@pytest.fixture(autouse=True)
def holiday_cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "holidays"
    monkeypatch.setattr(public_holidays, "holiday_cache_dir", lambda: folder)
    return folder


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_clinic_day(db_url)
    yield c
    c.db.dispose()


def hhmm(t: dt.datetime) -> str:
    return t.strftime("%H:%M")


def test_day_has_local_bounds_hours_and_rooms_in_order(clinic: SmallClinic) -> None:
    day = day_schedule(clinic.db, TUESDAY)
    assert day.day == TUESDAY
    assert day.clinic_name == "KetaDesk Clinic"
    assert day.day_start.isoformat() == "2026-11-24T00:00:00-08:00"
    assert day.day_end.isoformat() == "2026-11-25T00:00:00-08:00"
    assert day.opens is not None
    assert day.closes is not None
    assert (hhmm(day.opens), hhmm(day.closes)) == ("07:30", "18:00")
    assert day.closed_reason is None
    # Treatment rooms, then offices, then the telehealth column a session of the day needs.
    assert [r.name for r in day.rooms] == [
        "Room 1",
        "Room 2",
        "Room 3",
        "Room 4",
        "Office A",
        "No room",
    ]
    assert day.rooms[-1] is NO_ROOM


def test_sessions_come_with_patient_type_series_place_and_local_times(
    clinic: SmallClinic,
) -> None:
    day = day_schedule(clinic.db, TUESDAY)
    rows = [
        (hhmm(a.start), hhmm(a.end), a.patient_name, a.session_type_short, a.series_label, a.status)
        for a in day.appointments
    ]
    assert rows == [
        ("08:00", "09:15", "Turing, Alan", "IM", "", "completed"),
        ("09:00", "10:40", "Lovelace, Ada", "IV", "3/6", "booked"),
        ("11:00", "13:30", "Hopper, Grace", "SPR", "2/12", "checked_in"),
        ("13:00", "15:30", "Johnson, Katherine", "KAP", "1/3", "cancelled"),
        ("13:30", "16:00", "Turing, Alan", "SPR", "1/12", "booked"),
        ("15:00", "15:50", "Lovelace, Ada", "INT", "", "booked"),
        ("16:00", "16:20", "Hopper, Grace", "REV", "", "booked"),
    ]
    ada = day.appointments[1]
    assert ada.chart_number == "BT-1"
    assert ada.room_id == clinic.ids["Room 1"]
    assert (ada.session_type_code, ada.session_type_name) == ("iv_infusion", "IV ketamine infusion")
    assert ada.color == "#3b7dd8"
    assert day.appointments[-1].room_id is None
    assert day.active_count == 6
    assert day.count_by_status("cancelled") == 1


def test_phases_follow_the_session_type_from_the_start(clinic: SmallClinic) -> None:
    ada = day_schedule(clinic.db, TUESDAY).appointments[1]
    assert [(p.key, p.shade, hhmm(p.start), hhmm(p.end)) for p in ada.phases] == [
        ("checkin", "checkin", "09:00", "09:15"),
        ("infusion", "dosing", "09:15", "09:55"),
        ("recovery", "observation", "09:55", "10:40"),
    ]


def test_a_room_closure_is_part_of_the_day(clinic: SmallClinic) -> None:
    (closure,) = day_schedule(clinic.db, TUESDAY).closures
    assert closure.room_id == clinic.ids["Room 4"]
    assert (hhmm(closure.start), hhmm(closure.end), closure.reason) == (
        "14:00",
        "18:00",
        "Recliner repair",
    )


def test_an_empty_day_has_rooms_but_no_sessions(clinic: SmallClinic) -> None:
    day = day_schedule(clinic.db, WEDNESDAY)
    assert day.appointments == ()
    assert NO_ROOM not in day.rooms
    assert len(day.rooms) == 5


@pytest.mark.parametrize(
    ("day", "reason"),
    [(THANKSGIVING, "Clinic closed: Thanksgiving Day"), (SUNDAY, "Clinic closed on Sundays")],
)
def test_closed_days_say_why(clinic: SmallClinic, day: dt.date, reason: str) -> None:
    assert day_schedule(clinic.db, day).closed_reason == reason


def test_a_room_out_of_use_shows_only_on_days_it_has_sessions(clinic: SmallClinic) -> None:
    with clinic.db.write() as session:
        session.execute(update(Resource).where(Resource.name == "Room 1").values(active=False))
    tuesday = day_schedule(clinic.db, TUESDAY)
    assert "Room 1" in [r.name for r in tuesday.rooms]
    assert not next(r for r in tuesday.rooms if r.name == "Room 1").active
    assert "Room 1" not in [r.name for r in day_schedule(clinic.db, WEDNESDAY).rooms]


def test_daylight_saving_day_is_25_hours_long(clinic: SmallClinic) -> None:
    day = day_schedule(clinic.db, dt.date(2026, 11, 1))  # clocks go back at 02:00
    # (Subtracting two times of one zone gives wall-clock time: compare the instants.)
    assert day.day_end.astimezone(dt.UTC) - day.day_start.astimezone(dt.UTC) == dt.timedelta(
        hours=25
    )
    assert day.day_start.utcoffset() == dt.timedelta(hours=-7)
    assert day.day_end.utcoffset() == dt.timedelta(hours=-8)


def test_reading_a_day_is_a_fixed_number_of_queries(clinic: SmallClinic) -> None:
    statements: list[str] = []

    def count(*args: Any) -> None:
        if not args[2].startswith("BEGIN"):  # SQLite's explicit transaction start
            statements.append(args[2])

    event.listen(clinic.db.engine, "before_cursor_execute", count)
    try:
        day_schedule(clinic.db, TUESDAY, catalog=clinic.catalog)
        busy = len(statements)
        statements.clear()
        day_schedule(clinic.db, WEDNESDAY, catalog=clinic.catalog)
        quiet = len(statements)
    finally:
        event.remove(clinic.db.engine, "before_cursor_execute", count)
    # The change counter, closures, rooms, appointments, the days away holding the day: no
    # query per session.
    assert busy == quiet == 5


def test_the_day_view_reads_the_catalogue_the_services_read(clinic: SmallClinic) -> None:
    # day_schedule reads the stored configuration with plain SQL, not through the ORM.
    with clinic.db.read() as session:
        expected = load_catalog(session)
    with core_queries(clinic.db) as queries:
        assert read_catalog(queries) == expected


# -- straight from the SQLite file, as start-up reads its first day ----------------------------


@pytest.fixture
def sqlite_clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_clinic_day(sqlite_url)
    yield c
    c.db.dispose()


def file_days(clinic: SmallClinic) -> SqliteFileDays:
    days = SqliteFileDays.of(clinic.db.url.render_as_string(hide_password=False))
    assert days is not None
    return days


@pytest.mark.parametrize(
    "day", [TUESDAY, WEDNESDAY, THANKSGIVING, SUNDAY, dt.date(2026, 11, 1), dt.date(2026, 3, 8)]
)
def test_a_day_read_straight_from_the_file_is_the_day_read_through_sqlalchemy(
    sqlite_clinic: SmallClinic, day: dt.date
) -> None:
    assert file_days(sqlite_clinic).read(day) == day_schedule(sqlite_clinic.db, day)


def test_the_file_knows_the_clinic_s_today_too(sqlite_clinic: SmallClinic) -> None:
    now = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)  # Tuesday evening in California
    days = file_days(sqlite_clinic)
    assert days.today(now=now) == TUESDAY
    first = days.first_day(now=now)
    assert first is not None
    assert first == day_schedule(sqlite_clinic.db, TUESDAY)


def test_a_file_at_another_schema_is_left_to_open_clinic(sqlite_clinic: SmallClinic) -> None:
    with sqlite_clinic.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    days = file_days(sqlite_clinic)
    with pytest.raises(SchemaError, match="not at the current schema"):
        days.read(TUESDAY)
    assert days.first_day(TUESDAY) is None


def test_a_missing_or_foreign_file_is_left_to_open_clinic(tmp_path: Path) -> None:
    missing = SqliteFileDays(tmp_path / "none.sqlite")
    assert missing.first_day(TUESDAY) is None
    assert not (tmp_path / "none.sqlite").exists()
    foreign = tmp_path / "other.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    assert SqliteFileDays(foreign).first_day(TUESDAY) is None
    not_sqlite = tmp_path / "notes.sqlite"
    not_sqlite.write_text("shopping list", encoding="utf-8")
    assert SqliteFileDays(not_sqlite).first_day(TUESDAY) is None


def test_only_a_sqlite_file_is_read_straight(tmp_path: Path) -> None:
    assert SqliteFileDays.of(str(tmp_path / "c.sqlite")) == SqliteFileDays(tmp_path / "c.sqlite")
    assert SqliteFileDays.of("postgresql+psycopg://desk@server/clinic") is None


def test_results_are_frozen(clinic: SmallClinic) -> None:
    day = day_schedule(clinic.db, TUESDAY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        day.appointments[0].status = "no_show"  # type: ignore[misc]


def test_today_is_the_clinic_s_date_not_the_workstation_s(clinic: SmallClinic) -> None:
    # 06:00 UTC on Wednesday is still Tuesday evening in California.
    now = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)
    assert clinic_today(clinic.db, now=now) == TUESDAY


def test_holiday_names_are_kept_between_runs(
    holiday_cache_in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(public_holidays, "_holidays_package_stamp", lambda: "v1")
    holiday_names.cache_clear()
    try:
        assert holiday_names("US", 2031)["2031-11-27"] == "Thanksgiving Day"
        (cached,) = holiday_cache_in_tmp.glob("US-2031-v1.json")
        holiday_names.cache_clear()
        # The next run reads the file and never imports the holidays package.
        monkeypatch.setitem(sys.modules, "holidays", None)
        assert holiday_names("US", 2031)["2031-11-27"] == "Thanksgiving Day"
        # A damaged file is worked out again and rewritten.
        cached.write_text("{not json", encoding="utf-8")
        holiday_names.cache_clear()
        monkeypatch.delitem(sys.modules, "holidays")
        assert holiday_names("US", 2031)["2031-12-25"] == "Christmas Day"
        assert cached.read_text(encoding="utf-8").startswith("{")
    finally:
        holiday_names.cache_clear()


def test_an_unwritable_holiday_cache_is_no_obstacle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setattr(public_holidays, "holiday_cache_dir", lambda: blocker / "holidays")
    holiday_names.cache_clear()
    try:
        assert holiday_names("US", 2032)["2032-07-04"] == "Independence Day"
    finally:
        holiday_names.cache_clear()


def test_a_configuration_changed_at_another_workstation_shows_in_the_next_day_read(
    clinic: SmallClinic, db_url: str
) -> None:
    # The parsed catalogue is kept between reads (day_rows._PARSED), keyed by the stored
    # configuration itself: a change written through another connection to the same clinic
    # (another workstation) is read, and parsed, on the very next day read.
    assert day_schedule(clinic.db, TUESDAY).clinic_name == "KetaDesk Clinic"
    other = open_clinic(db_url).db
    try:
        with other.write() as session:
            setting = session.get(ClinicSetting, "clinic")
            assert setting is not None
            setting.value = {**setting.value, "name": "Harbor Ketamine"}
    finally:
        other.dispose()
    assert day_schedule(clinic.db, TUESDAY).clinic_name == "Harbor Ketamine"
    assert day_schedule(clinic.db, WEDNESDAY).clinic_name == "Harbor Ketamine"


def test_an_unchanged_configuration_is_parsed_once(
    clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    day_schedule(clinic.db, TUESDAY)
    parsed: list[object] = []
    original = day_rows._parse_catalog

    def counting(rows: Any) -> Any:
        parsed.append(rows)
        return original(rows)

    monkeypatch.setattr(day_rows, "_parse_catalog", counting)
    for day in (TUESDAY, WEDNESDAY, SUNDAY, THANKSGIVING):
        day_schedule(clinic.db, day)
    assert parsed == []
