"""The site's REMS certification date, entered in Settings ▸ Clinic month first, reaches the
gating rule and the audit trail; the clinic's phone meets the patient form's phone rule."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ketadesk.scheduling.gating import REMS_SITE_SETTING
from ketadesk.services.common.context import Actor, InvalidFields
from ketadesk.services.common.phones import display_phone, phone_problem
from ketadesk.services.patients.patient_fields import PatientForm, validate_patient
from ketadesk.services.settings.clinic_details import clinic_details, save_clinic_details
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


def _today(db: Database) -> dt.date:
    """The clinic's today, in its own time zone."""
    with db.read() as session:
        zone = ZoneInfo(load_catalog(session).settings.timezone)
    return dt.datetime.now(zone).date()


def test_a_new_clinic_has_no_rems_date_and_the_gate_points_at_the_setting(db: Database) -> None:
    assert clinic_details(db).rems_certified_until == ""
    assert REMS_SITE_SETTING == "Settings ▸ Clinic ▸ REMS certification"


def test_the_rems_date_is_saved_month_first_reaches_the_catalogue_and_is_audited(
    db: Database,
) -> None:
    until = _today(db) + dt.timedelta(days=365)
    typed = f"{until.month:02d}/{until.day:02d}/{until.year}"
    saved = save_clinic_details(
        db, ADMIN, dataclasses.replace(clinic_details(db), rems_certified_until=typed)
    )
    assert saved.rems_certified_until == typed
    with db.read() as session:
        assert load_catalog(session).settings.rems_site_certified_until == until.isoformat()
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event is not None
        assert event.action == "configure_clinic"
        assert event.before is not None
        assert event.after is not None
        assert event.before["rems_site_certified_until"] == ""
        assert event.after["rems_site_certified_until"] == until.isoformat()
    # ISO is accepted too, and shown back month first
    iso = save_clinic_details(
        db, ADMIN, dataclasses.replace(saved, rems_certified_until=until.isoformat())
    )
    assert iso.rems_certified_until == typed


@pytest.mark.parametrize("typed", ["13/01/2027", "02/30/2027", "next year"])
def test_a_rems_date_that_is_not_one_is_named_and_nothing_is_saved(
    db: Database, typed: str
) -> None:
    before = clinic_details(db)
    with pytest.raises(InvalidFields) as err:
        save_clinic_details(db, ADMIN, dataclasses.replace(before, rems_certified_until=typed))
    assert set(err.value.errors) == {"rems_certified_until"}
    assert clinic_details(db) == before


@pytest.mark.parametrize("phone", ["555-01", "call us!", "+44 20"])
def test_the_clinic_phone_meets_the_patient_form_rule(db: Database, phone: str) -> None:
    before = clinic_details(db)
    with pytest.raises(InvalidFields) as err:
        save_clinic_details(db, ADMIN, dataclasses.replace(before, phone=phone))
    message = err.value.errors["phone"]
    assert message == phone_problem(phone)  # one rule, one message
    patient = validate_patient(
        PatientForm(first_name="A", last_name="B", phone=phone), today=_today(db)
    )
    assert patient.get("phone") == message
    assert clinic_details(db) == before


@pytest.mark.parametrize("phone", ["(619) 555-0100", "1-619-555-0100", "+44 20 7946 0958", ""])
def test_real_clinic_phones_are_kept(db: Database, phone: str) -> None:
    saved = save_clinic_details(db, ADMIN, dataclasses.replace(clinic_details(db), phone=phone))
    # Kept, in the form every view shows a phone: "1-619-555-0100" as "(619) 555-0100".
    assert saved.phone == display_phone(phone)
