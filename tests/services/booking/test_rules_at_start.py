"""The gating rules judged again when a session starts (issue 13): each rule as ``[gating]``
sets it, block refuses, warn refuses without a reason and passes with a nurse's, recorded,
audited and printed on the day sheet; a role that may not override is refused; off passes; the
session being started does not spend the prior authorization's units twice, nor do the
sessions booked after it.

Bayside Test Clinic; the day is the first open weekday two weeks after the clinic's today (so
the tests hold under ``faketime``), booked a week ahead and started at 10:00 that day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from ketadesk.scheduling.catalog import SAFETY_RULES
from ketadesk.scheduling.protocol_rules import rule_title
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.start_check import StartRefused
from ketadesk.services.common.context import SYSTEM, Actor, PermissionDenied, utcnow
from ketadesk.services.printing.day_sheet import day_sheet, day_sheet_layout
from ketadesk.store.models import Appointment, AuditEvent, ClinicSetting, GatingOverride, Patient
from tests.clinic_fixtures import SmallClinic, build_small_clinic, extend_authorizations

SPRAVATO = {
    "room": "Room 1",
    "monitor": "Monitor 1",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
NURSE = Actor(user_id=None, username="kim", role="nurse")
PRESCRIBER = Actor(user_id=None, username="asha", role="prescriber")
ADMIN = Actor(user_id=None, username="root", role="admin")  # may start, may not override
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
WHO = "Ada Lovelace"


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


def first_day(clinic: SmallClinic) -> dt.date:
    """The first open weekday two weeks after the clinic's today; the site's certification,
    the patients' prior authorizations and consents valid a year past it."""
    found = clinic.open_day(clinic.calendar.local_date(utcnow()) + dt.timedelta(days=14))
    extend_authorizations(clinic, found + dt.timedelta(days=365))
    return found


@pytest.fixture
def day(clinic: SmallClinic) -> dt.date:
    return first_day(clinic)


def book(clinic: SmallClinic, *days: dt.date) -> list[int]:
    """Spravato at 10:00 on ``days`` (a series when more than one), booked a week ahead."""
    sessions = tuple(
        clinic.session("spravato", d, "10:00", SPRAVATO, index=n)
        for n, d in enumerate(days, start=1)
    )
    request = BookingRequest(
        patient_id=clinic.ids[WHO],
        sessions=sessions,
        protocol="spravato_trd" if len(days) > 1 else None,
    )
    at = clinic.at(days[0], "08:00") - dt.timedelta(days=7)
    return list(booking.book(clinic.db, SYSTEM, request, now=at).appointment_ids)


def start(
    clinic: SmallClinic,
    appointment_id: int,
    day: dt.date,
    *,
    actor: Actor = NURSE,
    overrides: dict[str, str] | None = None,
) -> appointment_changes.StatusChange:
    return appointment_changes.change_status(
        clinic.db,
        actor,
        appointment_id,
        "start",
        now=clinic.at(day, "10:00"),
        overrides=overrides,
    )


def patient(clinic: SmallClinic, **values: Any) -> None:
    with clinic.db.write() as s:
        s.execute(update(Patient).where(Patient.id == clinic.ids[WHO]).values(**values))


def setting(clinic: SmallClinic, section: str, **values: Any) -> None:
    with clinic.db.write() as s:
        row = s.get(ClinicSetting, section)
        assert row is not None
        row.value = {**row.value, **values}


def status(clinic: SmallClinic, appointment_id: int) -> str:
    with clinic.db.read() as s:
        found = s.scalar(select(Appointment.status).where(Appointment.id == appointment_id))
    assert found is not None
    return found


# What changes between the booking and the morning of the session, per rule, and what the
# refusal then says of it.
Change = Callable[[SmallClinic, dt.date], None]
CHANGES: dict[str, tuple[Change, str]] = {
    "consent_signed": (
        lambda c, d: setting(c, "eligibility", consent_valid_months=1),
        "valid 1 months",
    ),
    "prior_auth_valid": (
        lambda c, d: patient(c, prior_auth_expires_on=d - dt.timedelta(days=1)),
        "prior authorization expires",
    ),
    "rems_site_certified": (
        lambda c, d: setting(
            c, "rems", site_certified_until=(d - dt.timedelta(days=1)).isoformat()
        ),
        "the site's REMS certification ends",
    ),
    "contraindications": (
        lambda c, d: patient(c, eligibility_flags=["av_malformation"]),
        "Arteriovenous malformation",
    ),
    "precautions": (
        lambda c, d: patient(c, eligibility_flags=["pregnancy"]),
        "Pregnancy",
    ),
    "age": (
        lambda c, d: patient(c, date_of_birth=None),
        "no date of birth on file",
    ),
    "screening_cleared": (
        lambda c, d: patient(c, screening_status="pending"),
        "screening not yet cleared",
    ),
    "rems_patient_enrolled": (
        lambda c, d: patient(c, rems_enrolled_on=None),
        "not enrolled in the REMS program",
    ),
    "driver_arranged": (
        lambda c, d: patient(c, driver_name=""),
        "no driver or escort arranged",
    ),
}


def changed_since_booking(clinic: SmallClinic, day: dt.date, rule: str, level: str) -> int:
    """A Spravato session booked while every rule held; then ``rule`` broken and set to
    ``level``."""
    (appointment,) = book(clinic, day)
    setting(clinic, "gating", **{rule: level})
    CHANGES[rule][0](clinic, day)
    return appointment


@pytest.mark.parametrize("rule", sorted(CHANGES))
def test_a_blocking_rule_refuses_the_start_whatever_is_given(
    clinic: SmallClinic, day: dt.date, rule: str
) -> None:
    appointment = changed_since_booking(clinic, day, rule, "block")
    with pytest.raises(StartRefused) as refused:
        start(clinic, appointment, day, overrides={rule: "the patient is here"})
    text = str(refused.value)
    assert text.startswith("starting this session breaks the clinic's rules: ")
    assert f"[{rule}]" in text
    assert CHANGES[rule][1] in text
    assert "(blocking: cannot be overridden)" in text
    assert refused.value.blocked
    assert not refused.value.may_override("nurse")
    assert status(clinic, appointment) == "booked"


@pytest.mark.parametrize("rule", sorted(CHANGES))
def test_a_warning_refuses_the_start_until_a_nurse_gives_a_reason(
    clinic: SmallClinic, day: dt.date, rule: str
) -> None:
    appointment = changed_since_booking(clinic, day, rule, "warn")
    with pytest.raises(StartRefused) as refused:
        start(clinic, appointment, day)
    text = str(refused.value)
    assert f"[{rule}]" in text
    assert CHANGES[rule][1] in text
    assert "(a nurse or a prescriber may override this with a reason)" in text
    assert refused.value.may_override("nurse")
    assert not refused.value.may_override("admin")
    assert [f.rule for f in refused.value.findings] == [rule]

    done = start(clinic, appointment, day, overrides={rule: "prescriber reviewed by phone"})
    assert done.to_status == "in_progress"
    with clinic.db.read() as s:
        recorded = s.execute(
            select(GatingOverride.rule, GatingOverride.reason).where(
                GatingOverride.appointment_id == appointment
            )
        ).all()
        audited = s.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "override_rule")
        ).all()
    assert [tuple(r) for r in recorded] == [(rule, "prescriber reviewed by phone")]
    assert audited == [f"{rule}: prescriber reviewed by phone"]


@pytest.mark.parametrize("rule", sorted(r for r in CHANGES if f"gating.{r}" not in SAFETY_RULES))
def test_a_rule_set_off_lets_the_start_through(
    clinic: SmallClinic, day: dt.date, rule: str
) -> None:
    appointment = changed_since_booking(clinic, day, rule, "off")
    assert start(clinic, appointment, day).to_status == "in_progress"


def test_the_override_given_at_start_prints_on_the_day_sheet(
    clinic: SmallClinic, day: dt.date
) -> None:
    appointment = changed_since_booking(clinic, day, "prior_auth_valid", "warn")
    start(
        clinic, appointment, day, actor=PRESCRIBER, overrides={"prior_auth_valid": "renewal filed"}
    )
    sheet = day_sheet(clinic.db, day, now=clinic.at(day, "10:05"))
    (row,) = [s for g in sheet.groups for s in g.sessions]
    assert row.overrides[0][:2] == ("prior_auth_valid", "renewal filed")
    html = "".join(b.html for b in day_sheet_layout(sheet).blocks)
    assert "Override: <b>Prior authorization</b> — renewal filed" in html
    assert "(prior_auth_valid · " in html  # the code stays, in small print


def test_a_role_that_may_not_override_is_refused_and_nothing_is_recorded(
    clinic: SmallClinic, day: dt.date
) -> None:
    appointment = changed_since_booking(clinic, day, "consent_signed", "warn")
    with pytest.raises(
        PermissionDenied, match="Only a nurse or prescriber may go ahead with a reason against"
    ):
        start(clinic, appointment, day, actor=ADMIN, overrides={"consent_signed": "verbal"})
    # The front desk may not start a session at all, override or none.
    with pytest.raises(PermissionDenied):
        start(clinic, appointment, day, actor=FRONT_DESK, overrides={"consent_signed": "verbal"})
    assert status(clinic, appointment) == "booked"
    with clinic.db.read() as s:
        assert s.scalars(select(GatingOverride.id)).all() == []
        refusals = s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "refused")).all()
    title = rule_title("consent_signed")
    assert any(
        d == f"Only a nurse or prescriber may go ahead with a reason against “{title}”"
        for d in refusals
    ), refusals


def test_an_override_on_record_from_the_booking_still_holds_at_start(
    clinic: SmallClinic, day: dt.date
) -> None:
    patient(clinic, eligibility_flags=["pregnancy"])
    request = BookingRequest(
        patient_id=clinic.ids[WHO],
        sessions=(clinic.session("spravato", day, "10:00", SPRAVATO),),
        overrides={"precautions": "OB cleared"},
    )
    at = clinic.at(day, "08:00") - dt.timedelta(days=7)
    (appointment,) = booking.book(clinic.db, NURSE, request, now=at).appointment_ids
    assert start(clinic, appointment, day).to_status == "in_progress"


@pytest.mark.parametrize("units", [2, 1])
def test_the_session_started_does_not_spend_its_units_twice(
    clinic: SmallClinic, day: dt.date, units: int
) -> None:
    """Two sessions booked; two units (exactly those booked) or one (the first session takes
    it, the later one does not spend it first): the first session starts."""
    first, later = book(clinic, day, clinic.open_day(day + dt.timedelta(days=3)))
    patient(clinic, prior_auth_sessions=units)
    assert start(clinic, first, day).to_status == "in_progress"
    assert status(clinic, later) == "booked"


def test_a_start_with_no_unit_left_is_refused_naming_the_authorization(
    clinic: SmallClinic, day: dt.date
) -> None:
    first, _later = book(clinic, day, clinic.open_day(day + dt.timedelta(days=3)))
    patient(clinic, prior_auth_sessions=0)
    with pytest.raises(StartRefused, match=r"Prior authorization \[prior_auth_valid\]: prior"):
        start(clinic, first, day)


def test_units_per_session_are_counted_for_the_sessions_before_it(
    clinic: SmallClinic, day: dt.date
) -> None:
    setting(clinic, "eligibility", prior_auth_units={"spravato": 2})
    second = clinic.open_day(day + dt.timedelta(days=3))
    first, later = book(clinic, day, second)
    # Three units: the first session (2) is covered; the second (booked still, not started)
    # would be the one short.
    patient(clinic, prior_auth_sessions=3)
    assert start(clinic, first, day).to_status == "in_progress"
    assert status(clinic, later) == "booked"


@pytest.mark.postgres
def test_a_lapsed_consent_is_refused_and_overridden_at_start_on_postgresql(
    pg_url: str,
) -> None:
    clinic = build_small_clinic(pg_url)
    try:
        day = first_day(clinic)
        appointment = changed_since_booking(clinic, day, "consent_signed", "warn")
        with pytest.raises(StartRefused, match=r"Consent \[consent_signed\]"):
            start(clinic, appointment, day)
        start(clinic, appointment, day, overrides={"consent_signed": "new form signed today"})
        assert status(clinic, appointment) == "in_progress"
    finally:
        clinic.db.dispose()
