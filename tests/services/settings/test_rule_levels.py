"""Each rule's level (block / warn / off) on Settings ▸ Clinic rules: listed with its title and
who may go ahead, saved through the settings' own path (validated, audited), and used by the
next booking: "off" no longer refuses, "block" refuses even a nurse's reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, func, select

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest, GateRefused
from ketadesk.services.common.context import SYSTEM, Actor, InvalidFields, PermissionDenied
from ketadesk.services.settings.rules import read_rules, save_rules
from ketadesk.store.clinic_config import load_catalog, read_raw_config
from ketadesk.store.models import AuditEvent, ClinicSetting, Patient
from tests.clinic_fixtures import SmallClinic, build_small_clinic

# Injected clock: Tuesday 1 Dec 2026, 08:00 in the clinic (America/Los_Angeles); the fixture's
# consents, authorizations and certification cover the days booked.
NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
WED, FRI = dt.date(2026, 12, 2), dt.date(2026, 12, 4)
SPRAVATO = {
    "room": "Room 1",
    "monitor": "Monitor 1",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
NURSE = Actor(user_id=None, username="kim", role="nurse")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _levels(clinic: SmallClinic) -> dict[str, str]:
    return {r.key: r.level for g in read_rules(clinic.db).levels for r in g.rules}


def _book_pregnant_patient(
    clinic: SmallClinic, day: dt.date = WED, reason: str = ""
) -> booking.BookingResult:
    with clinic.db.write() as s:
        patient = s.get(Patient, clinic.ids["Ada Lovelace"])
        assert patient is not None
        patient.eligibility_flags = ["pregnancy"]
    request = BookingRequest(
        patient_id=clinic.ids["Ada Lovelace"],
        sessions=(clinic.session("spravato", day, "10:00", SPRAVATO),),
        overrides={"precautions": reason} if reason else {},
    )
    return booking.book(clinic.db, NURSE, request, now=NOW)


def test_every_rule_is_listed_at_its_level_with_who_may_go_ahead(clinic: SmallClinic) -> None:
    rules = read_rules(clinic.db)
    by_key = {r.key: r for g in rules.levels for r in g.rules}
    assert [g.title.split(":")[0] for g in rules.levels] == [
        "Eligibility",
        "Protocol and moves",
        "In the chair",
        "Urgent reviews",
    ]
    assert by_key["gating.age"].level == "block"
    assert by_key["gating.precautions"].level == "warn"
    assert by_key["protocol_rules.window_cap"].level == "block"
    assert by_key["chair.discharge"].level == "block"
    assert by_key["urgent_review.dosing"].level == "block"
    assert [c.label for c in by_key["gating.age"].choices] == ["Block", "Warn"]
    assert [c.label for c in by_key["gating.precautions"].choices] == ["Block", "Warn", "Off"]
    assert by_key["gating.age"].meaning("block") == "Refused; nobody may override"
    assert by_key["protocol_rules.min_gap"].meaning("warn") == (
        "Refused until a nurse or prescriber gives a reason"
    )
    assert by_key["chair.dose"].meaning("block") == (
        "Refused until a prescriber gives a reason on the record"
    )


def test_precautions_off_books_and_block_refuses_even_a_nurses_reason(
    clinic: SmallClinic,
) -> None:
    # The shipped "warn": refused without a reason.
    with pytest.raises(GateRefused):
        _book_pregnant_patient(clinic)
    assert save_rules(clinic.db, SYSTEM, {"gating.precautions": "off"}) == 1
    assert _levels(clinic)["gating.precautions"] == "off"
    first = _book_pregnant_patient(clinic)
    assert first.appointment_ids
    assert save_rules(clinic.db, SYSTEM, {"gating.precautions": "block"}) == 1
    with clinic.db.read() as s:
        assert load_catalog(s).settings.gating["precautions"] == "block"
    with pytest.raises(GateRefused) as refused:
        _book_pregnant_patient(clinic, FRI, reason="prescriber agreed")
    (result,) = refused.value.results
    assert result.rule == "precautions"
    assert "cannot be overridden" in str(refused.value)


def test_a_bad_level_is_refused_at_its_key_and_nothing_is_saved(clinic: SmallClinic) -> None:
    with clinic.db.read() as s:
        audits = s.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(InvalidFields) as caught:
        save_rules(
            clinic.db, SYSTEM, {"protocol_rules.min_gap": "maybe", "clinic.slot_minutes": 10}
        )
    assert caught.value.errors == {
        "protocol_rules.min_gap": "must be one of Block, Warn, Off, got 'maybe'"
    }
    with clinic.db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == audits
    with pytest.raises(PermissionDenied):  # (the refused attempt is audited)
        save_rules(clinic.db, NURSE, {"protocol_rules.min_gap": "off"})
    assert _levels(clinic)["protocol_rules.min_gap"] == "warn"
    assert read_rules(clinic.db).value("clinic.slot_minutes") == 5


def test_a_bad_stored_level_is_named_with_its_key(clinic: SmallClinic) -> None:
    with clinic.db.write() as s:
        row = s.get(ClinicSetting, "chair")
        assert row is not None
        row.value = {**row.value, "dose": "sometimes"}
    (dose,) = (r for g in read_rules(clinic.db).levels for r in g.rules if r.key == "chair.dose")
    assert dose.level == ""
    assert dose.problem.startswith("clinic.toml: chair.dose: the stored 'sometimes' is not one of")
    assert save_rules(clinic.db, SYSTEM, {"chair.dose": "warn"}) == 1
    assert _levels(clinic)["chair.dose"] == "warn"


def test_an_older_clinic_without_the_section_gets_it_on_save(clinic: SmallClinic) -> None:
    with clinic.db.write() as s:
        s.execute(delete(ClinicSetting).where(ClinicSetting.key == "protocol_rules"))
    assert _levels(clinic)["protocol_rules.concurrent_course"] == "warn"  # the default
    assert save_rules(clinic.db, SYSTEM, {"protocol_rules.concurrent_course": "block"}) == 1
    with clinic.db.read() as s:
        assert read_raw_config(s).clinic["protocol_rules"] == {"concurrent_course": "block"}
        event = s.execute(
            select(AuditEvent.action, AuditEvent.after).order_by(AuditEvent.id.desc())
        ).first()
    assert event is not None
    assert event[0] == "update_rules"
    assert event[1] == {"protocol_rules": {"concurrent_course": "block"}}


def test_a_safety_rule_cannot_be_saved_off(clinic: SmallClinic) -> None:
    with pytest.raises(InvalidFields) as caught:
        save_rules(clinic.db, SYSTEM, {"chair.discharge": "off", "gating.age": "off"})
    assert caught.value.errors == {
        "chair.discharge": "must be one of Block, Warn, got 'off'",
        "gating.age": "must be one of Block, Warn, got 'off'",
    }
    assert _levels(clinic)["chair.discharge"] == "block"
    assert _levels(clinic)["gating.age"] == "block"
