"""The clinic's time format ([clinic] time_format): 12-hour for a US clinic unless it chooses
24-hour, kept with its other details, surviving a restart and an export/import, and what every
view and page is read with."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from collections.abc import Iterator

import pytest
import tomli_w
from sqlalchemy import select

from ketadesk.config import load_default_catalog
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import SYSTEM, Actor, InvalidFields
from ketadesk.services.schedule.day import day_schedule
from ketadesk.services.settings.clinic_details import (
    clinic_details,
    clinic_time_format,
    save_clinic_details,
)
from ketadesk.services.settings.config_transfer import export_config, import_config
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import AuditEvent
from tests.clinic_fixtures import new_clinic

ADMIN = Actor(user_id=None, username="ada", role="admin")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    db = new_clinic(db_url)
    yield db
    db.dispose()


def _use(db: Database, fmt: str) -> None:
    save_clinic_details(db, ADMIN, dataclasses.replace(clinic_details(db), time_format=fmt))


def test_a_us_clinic_reads_twelve_hour_times_unless_it_chooses() -> None:
    assert load_default_catalog().settings.time_format == "12h"  # the shipped clinic.toml


def test_a_new_clinic_shows_twelve_hour_times(db: Database) -> None:
    assert clinic_details(db).time_format == "12h"
    assert clinic_time_format(db) == "12h"


def test_the_format_is_saved_audited_and_kept_across_a_restart(db_url: str) -> None:
    db = open_clinic(db_url, create=True).db
    try:
        _use(db, "24h")
        with db.read() as session:
            assert load_catalog(session).settings.time_format == "24h"
            event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
            assert event is not None
            assert event.action == "configure_clinic"
            assert event.before is not None
            assert event.after is not None
            assert (event.before["time_format"], event.after["time_format"]) == ("12h", "24h")
    finally:
        db.dispose()
    reopened = open_clinic(db_url).db  # the application started again
    try:
        assert clinic_details(reopened).time_format == "24h"
    finally:
        reopened.dispose()


def test_a_format_it_does_not_know_is_refused_by_name(db: Database) -> None:
    with pytest.raises(InvalidFields) as refused:
        _use(db, "military")
    assert "time_format" in refused.value.errors
    assert "12h, 24h" in refused.value.errors["time_format"]
    assert clinic_details(db).time_format == "12h"


def test_another_workstation_reads_its_days_in_the_new_format(db_url: str) -> None:
    here = open_clinic(db_url, create=True).db
    there = open_clinic(db_url).db  # read the day before the change
    try:
        day = dt.date(2027, 3, 1)
        assert day_schedule(there, day).time_format == "12h"
        _use(here, "24h")
        assert day_schedule(there, day).time_format == "24h"  # no restart
    finally:
        there.dispose()
        here.dispose()


def test_the_format_travels_with_an_exported_configuration(db_url: str, tmp_path: object) -> None:
    source = open_clinic(db_url, create=True).db
    try:
        _use(source, "24h")
        text = export_config(source, SYSTEM)
    finally:
        source.dispose()
    assert tomllib.loads(text)["clinic"]["time_format"] == "24h"
    target_url = f"sqlite:///{tmp_path}/target.sqlite"
    target = open_clinic(target_url, create=True).db
    try:
        assert clinic_details(target).time_format == "12h"
        import_config(target, SYSTEM, text, "clinic.toml")
        assert clinic_details(target).time_format == "24h"
        data = tomllib.loads(text)
        data["clinic"]["time_format"] = "24-hour"
        with pytest.raises(ValueError, match="time_format"):  # checked like every other key
            import_config(target, SYSTEM, tomli_w.dumps(data), "clinic.toml")
        assert clinic_details(target).time_format == "24h"
    finally:
        target.dispose()
