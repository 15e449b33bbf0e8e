"""Registering, editing and finding patients: forms checked field by field, nothing half-saved,
permissions per kind of field, and a search that finds people the way the front desk types."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, update

from ketadesk.services.common.context import (
    SYSTEM,
    Actor,
    InvalidFields,
    NotFound,
    PermissionDenied,
)
from ketadesk.services.patients.patient_fields import PatientForm, parse_date, validate_patient
from ketadesk.services.patients.registration import patient_form, register_patient, update_patient
from ketadesk.services.patients.search import patient_match, search_patients
from ketadesk.store.models import AuditEvent, Patient
from tests.clinic_fixtures import SmallClinic, build_small_clinic

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tuesday 1 Dec 2026, 08:00 in the clinic
TODAY = dt.date(2026, 12, 1)
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")
THERAPIST = Actor(user_id=None, username="sam", role="therapist")

GOOD = PatientForm(
    first_name="Zoë",
    last_name="O'Brien-Núñez",
    date_of_birth="04/02/1980",
    phone="(619) 555-0134",
    email="zoe@example.com",
    driver_name="Pat Núñez",
    driver_phone="+44 20 7946 0958",
)


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


@pytest.fixture
def sqlite_clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


def _count(c: SmallClinic) -> int:
    with c.db.read() as session:
        return session.scalar(select(func.count()).select_from(Patient)) or 0


# --------------------------------------------------------------------------------------------
# Validation


def test_a_good_form_has_no_errors() -> None:
    assert validate_patient(GOOD, today=TODAY) == {}


def test_empty_names_are_required() -> None:
    errors = validate_patient(PatientForm(first_name="  ", last_name=""), today=TODAY)
    assert errors == {
        "first_name": "First name is required",
        "last_name": "Last name is required",
    }


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1980-02-30", "'1980-02-30' is not a real date"),
        ("02/30/1980", "'02/30/1980' is not a real date"),
        ("30.02.1980", "'30.02.1980' is not a date: type it month first, MM/DD/YYYY"),
        ("yesterday", "'yesterday' is not a date: type it month first, MM/DD/YYYY"),
        ("2026-12-02", "a date of birth cannot be in the future"),
        ("1880-01-01", "1880 is more than 130 years ago"),
    ],
)
def test_impossible_dates_of_birth_are_named(typed: str, message: str) -> None:
    form = dataclasses.replace(GOOD, date_of_birth=typed)
    assert validate_patient(form, today=TODAY) == {"date_of_birth": message}


def test_both_date_formats_mean_the_same_day() -> None:
    assert parse_date("1980-04-02") == parse_date("04/02/1980") == dt.date(1980, 4, 2)
    assert parse_date(" 4/2/1980 ") == dt.date(1980, 4, 2)


@pytest.mark.parametrize(
    ("typed", "fine"),
    [
        ("619-555-0134", True),
        ("(619) 555-0134", True),
        ("619.555.0134", True),
        ("1 619 555 0134", True),
        ("+44 20 7946 0958", True),
        ("555-0134", False),
        ("619-555-013", False),
        ("619-555-0134 ext 2", False),
        ("call her", False),
        ("+44 20", False),
    ],
)
def test_phone_numbers_must_be_phone_numbers(typed: str, fine: bool) -> None:
    form = dataclasses.replace(GOOD, phone=typed, emergency_contact_phone=typed)
    errors = validate_patient(form, today=TODAY)
    if fine:
        assert errors == {}
    else:
        assert set(errors) == {"phone", "emergency_contact_phone"}
        assert "digits" in errors["phone"]


@pytest.mark.parametrize("typed", ["zoe", "zoe@", "zoe@example", "zo e@example.com", "a@@b.com"])
def test_bad_email_addresses(typed: str) -> None:
    errors = validate_patient(dataclasses.replace(GOOD, email=typed), today=TODAY)
    assert errors == {"email": "not an email address (name@example.com)"}


def test_clinical_facts_are_checked() -> None:
    form = dataclasses.replace(
        GOOD,
        screening_status="cleared",
        consent_signed_on="2027-01-01",
        rems_enrolled_on="1979-01-01",
        prior_auth_expires_on="2027-13-01",
        prior_auth_sessions="six",
    )
    assert validate_patient(form, today=TODAY) == {
        "screening_cleared_on": "give the date screening was cleared",
        "consent_signed_on": "consent signed on cannot be after today",
        "rems_enrolled_on": "before the date of birth",
        "prior_auth_expires_on": "'2027-13-01' is not a real date",
        "prior_auth_sessions": "a whole number of units, 1 or more",
    }
    flags = dataclasses.replace(
        GOOD,
        prior_auth_starts_on="2026-06-01",
        prior_auth_expires_on="2026-05-31",
        eligibility_flags="pregnancy,Not A Code",
    )
    assert validate_patient(flags, today=TODAY) == {
        "prior_auth_expires_on": "before the prior authorization starts",
        "eligibility_flags": "'Not A Code' is not a contraindication or precaution code",
    }
    bad_status = dataclasses.replace(GOOD, screening_status="maybe")
    assert set(validate_patient(bad_status, today=TODAY)) == {"screening_status"}


def test_too_long_for_the_column() -> None:
    errors = validate_patient(dataclasses.replace(GOOD, first_name="A" * 81), today=TODAY)
    assert errors == {"first_name": "at most 80 characters (81 typed)"}


# --------------------------------------------------------------------------------------------
# Registering


def test_register_saves_the_patient_with_the_next_chart_number_and_an_audit(
    clinic: SmallClinic,
) -> None:
    pid = register_patient(clinic.db, FRONT_DESK, GOOD, now=NOW)
    with clinic.db.read() as session:
        patient = session.get(Patient, pid)
        assert patient is not None
        assert patient.chart_number == "BT-6"  # the small clinic runs BT-1 .. BT-5
        assert patient.last_name == "O'Brien-Núñez"
        assert patient.date_of_birth == dt.date(1980, 4, 2)
        assert patient.screening_status == "pending"
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "register_patient")
        ).one()
        assert event.entity_id == pid
        assert event.patient_id == pid
        assert event.username == "maria"
        assert event.after is not None
        assert event.after["date_of_birth"] == "1980-04-02"
        assert event.after["chart_number"] == "BT-6"
    second = register_patient(
        clinic.db, FRONT_DESK, PatientForm(first_name="Li", last_name="Wei"), now=NOW
    )
    assert patient_form(clinic.db, SYSTEM, second).last_name == "Wei"
    with clinic.db.read() as session:
        assert session.get(Patient, second).chart_number == "BT-7"  # type: ignore[union-attr]


def test_chart_numbers_keep_the_clinic_width(sqlite_clinic: SmallClinic) -> None:
    with sqlite_clinic.db.write() as session:
        session.add(Patient(chart_number="HK-00998", first_name="A", last_name="B"))
        session.add(Patient(chart_number="HK-00999", first_name="C", last_name="D"))
    pid = register_patient(sqlite_clinic.db, FRONT_DESK, GOOD, now=NOW)
    with sqlite_clinic.db.read() as session:
        assert session.get(Patient, pid).chart_number == "HK-01000"  # type: ignore[union-attr]


def test_a_bad_form_saves_nothing(clinic: SmallClinic) -> None:
    before = _count(clinic)
    bad = dataclasses.replace(GOOD, last_name="", phone="12")
    with pytest.raises(InvalidFields) as raised:
        register_patient(clinic.db, FRONT_DESK, bad, now=NOW)
    assert set(raised.value.errors) == {"last_name", "phone"}
    assert _count(clinic) == before
    with clinic.db.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_front_desk_cannot_register_clinical_facts(clinic: SmallClinic) -> None:
    cleared = dataclasses.replace(
        GOOD, screening_status="cleared", screening_cleared_on="11/30/2026"
    )
    before = _count(clinic)
    with pytest.raises(PermissionDenied, match="edit a patient's clinical details"):
        register_patient(clinic.db, FRONT_DESK, cleared, now=NOW)
    assert _count(clinic) == before
    with pytest.raises(PermissionDenied):
        register_patient(clinic.db, THERAPIST, GOOD, now=NOW)
    pid = register_patient(clinic.db, NURSE, cleared, now=NOW)
    assert patient_form(clinic.db, SYSTEM, pid).screening_cleared_on == "2026-11-30"


# --------------------------------------------------------------------------------------------
# Editing


def test_edit_records_only_what_changed(clinic: SmallClinic) -> None:
    pid = register_patient(clinic.db, FRONT_DESK, GOOD, now=NOW)
    loaded = patient_form(clinic.db, SYSTEM, pid)
    assert loaded.date_of_birth == "1980-04-02"
    assert loaded.phone == "(619) 555-0134"
    edited = dataclasses.replace(loaded, phone="619-555-0199", preferred_name="Zo")
    changed = update_patient(clinic.db, FRONT_DESK, pid, edited, now=NOW)
    assert changed == ("preferred_name", "phone")
    with clinic.db.read() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "edit_patient")).one()
        assert event.before == {"preferred_name": "", "phone": "(619) 555-0134"}
        assert event.after == {"preferred_name": "Zo", "phone": "619-555-0199"}
    assert update_patient(clinic.db, FRONT_DESK, pid, edited, now=NOW) == ()


def test_clinical_edits_need_a_clinician(clinic: SmallClinic) -> None:
    pid = clinic.ids["Grace Hopper"]
    loaded = patient_form(clinic.db, SYSTEM, pid)
    cleared = dataclasses.replace(
        loaded, screening_status="cleared", screening_cleared_on="2026-11-30"
    )
    with pytest.raises(PermissionDenied):
        update_patient(clinic.db, FRONT_DESK, pid, cleared, now=NOW)
    assert patient_form(clinic.db, SYSTEM, pid).screening_status == "pending"
    # Contact changes alone are the front desk's, even on a patient with clinical facts.
    update_patient(
        clinic.db, FRONT_DESK, pid, dataclasses.replace(loaded, phone="6195550100"), now=NOW
    )
    update_patient(clinic.db, NURSE, pid, cleared, now=NOW)
    assert patient_form(clinic.db, SYSTEM, pid).screening_status == "cleared"
    # A nurse may not touch contact details?  She may: both rights are hers.
    update_patient(clinic.db, NURSE, pid, dataclasses.replace(cleared, email="g@h.org"), now=NOW)


def test_edit_with_errors_saves_nothing(clinic: SmallClinic) -> None:
    pid = clinic.ids["Ada Lovelace"]
    loaded = patient_form(clinic.db, SYSTEM, pid)
    bad = dataclasses.replace(loaded, first_name="Augusta", date_of_birth="1815-13-10")
    with pytest.raises(InvalidFields) as raised:
        update_patient(clinic.db, SYSTEM, pid, bad, now=NOW)
    assert list(raised.value.errors) == ["date_of_birth"]
    assert patient_form(clinic.db, SYSTEM, pid).first_name == "Ada"


def test_edit_keeps_another_workstations_change_to_another_field(clinic: SmallClinic) -> None:
    pid = clinic.ids["Ada Lovelace"]
    loaded = patient_form(clinic.db, SYSTEM, pid)
    with clinic.db.write() as session:  # meanwhile, at the other desk
        session.execute(update(Patient).where(Patient.id == pid).values(email="ada@example.org"))
    mine = dataclasses.replace(loaded, phone="619 555 0111")
    assert update_patient(clinic.db, FRONT_DESK, pid, mine, original=loaded, now=NOW) == ("phone",)
    now_stored = patient_form(clinic.db, SYSTEM, pid)
    assert now_stored.email == "ada@example.org"
    assert now_stored.phone == "619 555 0111"


def test_unknown_patient(clinic: SmallClinic) -> None:
    with pytest.raises(NotFound):
        patient_form(clinic.db, SYSTEM, 999_999)
    with pytest.raises(NotFound):
        update_patient(clinic.db, SYSTEM, 999_999, GOOD, now=NOW)


# --------------------------------------------------------------------------------------------
# Finding


def _names(c: SmallClinic, text: str) -> list[str]:
    return [m.display_name for m in search_patients(c.db, text)]


def test_search_by_name_parts_in_any_order_prefix_case_and_accents(clinic: SmallClinic) -> None:
    register_patient(clinic.db, FRONT_DESK, GOOD, now=NOW)
    zoe = "O'Brien-Núñez, Zoë"
    assert _names(clinic, "zoe") == [zoe]
    assert _names(clinic, "NUNEZ zo") == [zoe]
    assert _names(clinic, "obrien") == [zoe]
    assert _names(clinic, "o'brien-nunez") == [zoe]
    assert _names(clinic, "brien, zoë") == [zoe]
    assert _names(clinic, "ada") == ["Lovelace, Ada"]
    assert _names(clinic, "lov ad") == ["Lovelace, Ada"]
    assert _names(clinic, "lovelace grace") == []
    assert _names(clinic, "") == []
    assert _names(clinic, "   ") == []


def test_search_by_chart_phone_and_birthday(clinic: SmallClinic) -> None:
    pid = register_patient(clinic.db, FRONT_DESK, GOOD, now=NOW)
    found = search_patients(clinic.db, "bt-6")
    assert [m.id for m in found] == [pid]
    assert found[0].chart_number == "BT-6"
    assert found[0].date_of_birth == dt.date(1980, 4, 2)
    assert found[0].phone == "(619) 555-0134"
    assert found[0].active
    # "BT" is every chart; the exact chart number comes first.
    assert len(search_patients(clinic.db, "bt")) == 6
    assert search_patients(clinic.db, "BT-1")[0].display_name == "Lovelace, Ada"
    for typed in ("6195550134", "619.555.0134", "+1 (619) 555-0134", "555-0134", "5550134"):
        assert [m.id for m in search_patients(clinic.db, typed)] == [pid], typed
    for typed in ("1980-04-02", "04/02/1980", "4/2/1980", "zoe 1980-04-02"):
        assert [m.id for m in search_patients(clinic.db, typed)] == [pid], typed
    assert search_patients(clinic.db, "1980-04-03") == []
    assert patient_match(clinic.db, pid) == found[0]
    with pytest.raises(NotFound):
        patient_match(clinic.db, 999_999)


def test_search_sees_changes_at_once(clinic: SmallClinic) -> None:
    assert _names(clinic, "hopper") == ["Hopper, Grace"]
    pid = clinic.ids["Grace Hopper"]
    update_patient(
        clinic.db,
        FRONT_DESK,
        pid,
        dataclasses.replace(patient_form(clinic.db, SYSTEM, pid), last_name="Murray Hopper"),
        now=NOW,
    )
    assert _names(clinic, "murray") == ["Murray Hopper, Grace"]
    # Even a write that forgot the change counter: a new row is seen.
    with clinic.db.write() as session:
        session.add(Patient(chart_number="BT-99", first_name="Hedy", last_name="Lamarr"))
    assert _names(clinic, "hedy") == ["Lamarr, Hedy"]


def test_inactive_patients_come_last_and_limit_holds(sqlite_clinic: SmallClinic) -> None:
    with sqlite_clinic.db.write() as session:
        for n in range(60):
            session.add(
                Patient(
                    chart_number=f"X-{n}",
                    first_name="Sam",
                    last_name=f"Smith{n:02d}",
                    active=n != 0,
                )
            )
    found = search_patients(sqlite_clinic.db, "smith sam", limit=50)
    assert len(found) == 50
    assert found[0].display_name == "Smith01, Sam"
    everyone = search_patients(sqlite_clinic.db, "smith sam", limit=100)
    assert everyone[-1].display_name == "Smith00, Sam"
    assert not everyone[-1].active


def test_refusals_are_in_the_audit_trail(clinic: SmallClinic) -> None:
    pid = clinic.ids["Grace Hopper"]
    cleared = dataclasses.replace(
        patient_form(clinic.db, SYSTEM, pid),
        screening_status="cleared",
        screening_cleared_on="2026-11-30",
    )
    with pytest.raises(PermissionDenied):
        update_patient(clinic.db, FRONT_DESK, pid, cleared, now=NOW)
    with clinic.db.read() as session:
        refused = session.scalars(select(AuditEvent).where(AuditEvent.action == "refused")).one()
        assert refused.username == "maria"
        assert refused.patient_id == pid
        assert refused.after == {"action": "edit_patient_clinical", "role": "front_desk"}


def test_two_workstations_registering_at_once_get_different_chart_numbers(
    clinic: SmallClinic,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from ketadesk.store.database import open_database

    url = clinic.db.url.render_as_string(hide_password=False)
    desks = [open_database(url) for _ in range(2)]
    try:

        def register_five(n: int) -> list[int]:
            form = PatientForm(first_name=f"Desk{n}", last_name="Rush")
            return [register_patient(desks[n], FRONT_DESK, form, now=NOW) for _ in range(5)]

        with ThreadPoolExecutor(2) as pool:
            ids = [pid for batch in pool.map(register_five, range(2)) for pid in batch]
    finally:
        for db in desks:
            db.dispose()
    with clinic.db.read() as session:
        charts = session.scalars(select(Patient.chart_number).where(Patient.id.in_(ids))).all()
    assert sorted(charts, key=lambda c: int(c.split("-")[1])) == [f"BT-{n}" for n in range(6, 16)]
