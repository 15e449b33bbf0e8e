"""A self-pay patient needs no prior authorization: "Payment: Self-pay" on the patient's record
makes the ``prior_auth_valid`` rule pass at every step (plan, book as the front desk with no
override, move, start, ``ketadesk check``, the day sheet, which prints "Self-pay" where it
would print "PA n of N"); the change is audited like any patient edit; switching back to
insurance with no authorization on file warns again.

The days come from the clinic's today (the first open weekday two weeks on), so the tests hold
under ``faketime``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest, GateRefused
from ketadesk.services.booking.move_check import check_move, plan_move
from ketadesk.services.booking.planning import load_patient_facts, propose_series
from ketadesk.services.clinic.integrity import check_integrity
from ketadesk.services.common.context import Actor, InvalidFields, PermissionDenied, utcnow
from ketadesk.services.patients.csv_import import auto_mapping, import_patients, read_csv
from ketadesk.services.patients.patient_fields import PatientForm, validate_patient
from ketadesk.services.patients.patient_record import SELF_PAY_GATING, patient_record
from ketadesk.services.patients.registration import patient_form, update_patient
from ketadesk.services.printing.day_sheet import SELF_PAY_TEXT, day_sheet, day_sheet_layout
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Appointment, AuditEvent, GatingOverride, Patient
from tests.clinic_fixtures import SmallClinic, build_small_clinic, extend_authorizations

SPRAVATO = {
    "room": "Room 1",
    "monitor": "Monitor 1",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
NURSE = Actor(user_id=None, username="kim", role="nurse")
DESK = Actor(user_id=None, username="maria", role="front_desk")
WHO = "Ada Lovelace"
CHART = "BT-1"


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


def today(clinic: SmallClinic) -> dt.date:
    return clinic.calendar.local_date(utcnow())


def first_day(clinic: SmallClinic) -> dt.date:
    """The first open weekday two weeks after the clinic's today; the site's certification and
    consents valid a year past it."""
    found = clinic.open_day(today(clinic) + dt.timedelta(days=14))
    extend_authorizations(clinic, found + dt.timedelta(days=365))
    return found


def set_payment(clinic: SmallClinic, *, self_pay: bool, actor: Actor = NURSE) -> tuple[str, ...]:
    """The patient form saved with Payment set, the prior authorization cleared: none on file."""
    patient_id = clinic.ids[WHO]
    before = patient_form(clinic.db, actor, patient_id)
    after = dataclasses.replace(
        before,
        self_pay="yes" if self_pay else "",
        prior_auth_number="",
        prior_auth_starts_on="",
        prior_auth_expires_on="",
        prior_auth_sessions="",
    )
    return update_patient(clinic.db, actor, patient_id, after, original=before)


def book(clinic: SmallClinic, day: dt.date, *, actor: Actor = DESK) -> int:
    request = BookingRequest(
        patient_id=clinic.ids[WHO], sessions=(clinic.session("spravato", day, "10:00", SPRAVATO),)
    )
    at = clinic.at(day, "08:00") - dt.timedelta(days=7)
    (appointment,) = booking.book(clinic.db, actor, request, now=at).appointment_ids
    return appointment


def prior_auth_warnings(clinic: SmallClinic) -> list[str]:
    report = check_integrity(clinic.db)
    return [w.message for w in report.warnings if "[prior_auth_valid]" in w.message]


def test_a_self_pay_patient_passes_prior_auth_at_every_step(clinic: SmallClinic) -> None:
    day = first_day(clinic)
    changed = set_payment(clinic, self_pay=True)
    assert "self_pay" in changed
    assert "prior_auth_expires_on" in changed

    # The edit is audited like any other patient edit.
    with clinic.db.read() as s:
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "edit_patient").order_by(AuditEvent.id)
        ).all()[-1]
        assert event.username == "kim"
        assert event.before is not None
        assert event.after is not None
        assert event.before["self_pay"] is False
        assert event.after["self_pay"] is True
        facts = load_patient_facts(s, clinic.ids[WHO], load_catalog(s))
    assert facts is not None
    assert facts.self_pay

    # Plan: no prior authorization warning in the proposal.
    proposal = propose_series(
        clinic.db, chart=CHART, protocol="spravato_trd", start=day, today=today(clinic)
    )
    assert "prior_auth_valid" not in {g.rule for g in proposal.gates}

    # Book: the front desk books Spravato with no override.
    appointment = book(clinic, day)
    with clinic.db.read() as s:
        assert s.scalars(select(GatingOverride.id)).all() == []

    # Move: the live check and the move itself.
    later = clinic.open_day(day + dt.timedelta(days=2))
    with clinic.db.read() as s:
        room = s.get(Appointment, appointment).room_id  # type: ignore[union-attr]
    now = clinic.at(day, "08:00") - dt.timedelta(days=7)
    assert check_move(clinic.db, appointment, clinic.at(later, "10:00"), room, now=now) == []
    planned = plan_move(clinic.db, appointment, clinic.at(later, "10:00"), room, now=now)
    appointment_changes.move(clinic.db, DESK, appointment, planned, now=now)

    # Check: ``ketadesk check`` finds nothing wrong with the authorization.
    assert prior_auth_warnings(clinic) == []

    # Day sheet: "Self-pay" where "PA n of N" would be, no warning.
    sheet = day_sheet(clinic.db, later, now=clinic.at(later, "07:00"))
    (row,) = [s for g in sheet.groups for s in g.sessions]
    assert row.prior_auth == SELF_PAY_TEXT
    assert row.prior_auth_problem == ""
    assert row.gate_warnings == ()
    html = "".join(b.html for b in day_sheet_layout(sheet).blocks)
    assert f"<b>{SELF_PAY_TEXT}</b>" in html
    assert "PA " not in html

    # Start: a nurse starts it without an override.
    done = appointment_changes.change_status(
        clinic.db, NURSE, appointment, "start", now=clinic.at(later, "10:00")
    )
    assert done.to_status == "in_progress"
    with clinic.db.read() as s:
        assert s.scalars(select(GatingOverride.id)).all() == []


def test_back_to_insurance_with_no_authorization_warns_again(sqlite_clinic: SmallClinic) -> None:
    clinic = sqlite_clinic
    day = first_day(clinic)
    set_payment(clinic, self_pay=True)
    book(clinic, day)
    assert prior_auth_warnings(clinic) == []

    set_payment(clinic, self_pay=False)
    with clinic.db.read() as s:
        stored = s.get(Patient, clinic.ids[WHO])
        assert stored is not None
        assert stored.self_pay is False
    with pytest.raises(GateRefused) as refused:
        book(clinic, clinic.open_day(day + dt.timedelta(days=2)))
    assert [r.rule for r in refused.value.results] == ["prior_auth_valid"]
    assert "no prior authorization on file" in str(refused.value)
    (warning,) = prior_auth_warnings(clinic)
    assert "Lovelace, Ada" in warning
    sheet = day_sheet(clinic.db, day, now=clinic.at(day, "07:00"))
    (row,) = [s for g in sheet.groups for s in g.sessions]
    assert row.prior_auth == ""
    assert any("prior authorization" in w for w in row.gate_warnings)


def test_the_record_s_gating_box_says_self_pay(sqlite_clinic: SmallClinic) -> None:
    clinic = sqlite_clinic
    first_day(clinic)
    book(clinic, clinic.open_day(today(clinic) + dt.timedelta(days=14)), actor=NURSE)
    set_payment(clinic, self_pay=True)
    record = patient_record(clinic.db, DESK, clinic.ids[WHO])
    (fact,) = [g for g in record.gating if g.label == "Prior authorization"]
    assert (fact.value, fact.ok) == (SELF_PAY_GATING, None)
    set_payment(clinic, self_pay=False)
    record = patient_record(clinic.db, DESK, clinic.ids[WHO])
    (fact,) = [g for g in record.gating if g.label == "Prior authorization"]
    assert (fact.value, fact.ok) == ("None on file", False)


def test_only_a_clinician_sets_the_payment(sqlite_clinic: SmallClinic) -> None:
    with pytest.raises(PermissionDenied):
        set_payment(sqlite_clinic, self_pay=True, actor=DESK)
    with sqlite_clinic.db.read() as s:
        stored = s.get(Patient, sqlite_clinic.ids[WHO])
        assert stored is not None
        assert stored.self_pay is False


def test_a_payment_the_form_does_not_know_is_named(sqlite_clinic: SmallClinic) -> None:
    form = PatientForm(first_name="Ada", last_name="Lovelace", self_pay="cash")
    errors = validate_patient(form, today=today(sqlite_clinic))
    assert errors == {"self_pay": "'cash' is not a payment: type self-pay or insurance"}
    with pytest.raises(InvalidFields):
        update_patient(sqlite_clinic.db, NURSE, sqlite_clinic.ids[WHO], form)


def test_an_import_reads_the_payment_column(sqlite_clinic: SmallClinic) -> None:
    table = read_csv(b"First Name,Last Name,Self-pay\nAlan,Turing,yes\nJoan,Clarke,no\n")
    mapping = auto_mapping(table.headers)
    assert mapping["Self-pay"] == "self_pay"
    report = import_patients(sqlite_clinic.db, NURSE, table, mapping, source="list.csv")
    assert not report.problems
    with sqlite_clinic.db.read() as s:
        paid = dict(
            s.execute(
                select(Patient.first_name, Patient.self_pay).where(
                    Patient.first_name.in_(["Alan", "Joan"])
                )
            ).all()
        )
    assert paid == {"Alan": True, "Joan": False}
