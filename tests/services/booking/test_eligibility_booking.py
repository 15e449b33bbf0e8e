"""Eligibility at booking: each item judged for every session of a series at its own date, at
book time (the first session) and for a later session (a consent or prior authorization that
ends mid-series, a birthday reached, a certification that lapses); each blocks or warns by
configuration, and a warning is overridden by a nurse or prescriber with a reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from ketadesk.scheduling.model import PlannedSession
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest, GateRefused
from ketadesk.services.booking.planning import load_patient_facts, patient_facts
from ketadesk.services.common.context import Actor, PermissionDenied
from ketadesk.store.models import ClinicSetting, GatingOverride, Patient
from tests.clinic_fixtures import SmallClinic, build_small_clinic

# Injected clock: Tuesday 1 Dec 2026, 08:00 in the clinic (America/Los_Angeles).
NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
WED, FRI, MON, WED2, THU2 = (dt.date(2026, 12, d) for d in (2, 4, 7, 9, 10))
SPRAVATO = {
    "room": "Room 1",
    "monitor": "Monitor 1",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")
WHO = "Ada Lovelace"


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _patient(clinic: SmallClinic, **values: Any) -> None:
    with clinic.db.write() as s:
        s.execute(update(Patient).where(Patient.id == clinic.ids[WHO]).values(**values))


def _eligibility(clinic: SmallClinic, **values: Any) -> None:
    with clinic.db.write() as s:
        row = s.get(ClinicSetting, "eligibility")
        assert row is not None
        row.value = {**row.value, **values}


def _series(clinic: SmallClinic, *days: dt.date) -> tuple[PlannedSession, ...]:
    return tuple(
        clinic.session("spravato", day, "10:00", SPRAVATO, index=i)
        for i, day in enumerate(days, start=1)
    )


def _book(
    clinic: SmallClinic, *days: dt.date, actor: Actor = FRONT_DESK, **kw: Any
) -> booking.BookingResult:
    request = BookingRequest(patient_id=clinic.ids[WHO], sessions=_series(clinic, *days), **kw)
    return booking.book(clinic.db, actor, request, now=NOW)


def _refused(clinic: SmallClinic, *days: dt.date, **kw: Any) -> GateRefused:
    with pytest.raises(GateRefused) as refused:
        _book(clinic, *days, **kw)
    return refused.value


def test_the_ready_patient_books_a_spravato_series(clinic: SmallClinic) -> None:
    assert len(_book(clinic, WED, FRI, MON).appointment_ids) == 3


# -- age ----------------------------------------------------------------------------------------


def test_no_date_of_birth_blocks_spravato(clinic: SmallClinic) -> None:
    _patient(clinic, date_of_birth=None)
    err = _refused(clinic, WED, FRI)
    assert [r.rule for r in err.results] == ["age"]
    assert "Age (age): no date of birth on file; Spravato (esketamine) needs it" in str(err)


def test_a_15_year_old_is_refused_spravato(clinic: SmallClinic) -> None:
    _patient(clinic, date_of_birth=dt.date(2011, 6, 1))
    err = _refused(clinic, WED)
    assert err.results[0].rule == "age"
    assert "the patient is 15 on Wed Dec 2; Spravato (esketamine) is for patients 18" in str(err)


def test_age_is_judged_at_each_session_date(clinic: SmallClinic) -> None:
    # 18 on Sat Dec 5 2026: the sessions before are refused, those after are not.
    _patient(clinic, date_of_birth=dt.date(2008, 12, 5))
    err = _refused(clinic, WED, MON, WED2)
    assert "2 sessions before that (Wed Dec 2" not in str(err)
    assert "1 session before that (Wed Dec 2)" in str(err)
    assert _book(clinic, MON, WED2).appointment_ids


def test_minimum_age_is_configured_per_session_type(clinic: SmallClinic) -> None:
    _patient(clinic, date_of_birth=dt.date(2008, 12, 5))
    _eligibility(clinic, min_age_years={"spravato": 17})
    assert _book(clinic, WED).appointment_ids


# -- contraindications and precautions ---------------------------------------------------------


def test_a_contraindication_blocks_and_cannot_be_overridden(clinic: SmallClinic) -> None:
    _patient(clinic, eligibility_flags=["av_malformation"])
    err = _refused(clinic, WED, actor=NURSE, overrides={"contraindications": "prescriber agreed"})
    (result,) = err.results
    assert result.rule == "contraindications"
    assert "Contraindication (contraindications): recorded for this patient: Arteriovenous" in (
        str(err)
    )
    assert "cannot be overridden" in str(err)


def test_a_contraindication_set_to_warn_is_overridden_by_a_nurse(clinic: SmallClinic) -> None:
    with clinic.db.write() as s:
        gating = s.get(ClinicSetting, "gating")
        assert gating is not None
        gating.value = {**gating.value, "contraindications": "warn"}
    _patient(clinic, eligibility_flags=["hypersensitivity"])
    assert _book(
        clinic, WED, actor=NURSE, overrides={"contraindications": "allergist cleared"}
    ).appointment_ids


def test_a_precaution_warns_and_a_nurse_overrides_it_with_a_reason(clinic: SmallClinic) -> None:
    _patient(clinic, eligibility_flags=["pregnancy", "uncontrolled_hypertension"])
    err = _refused(clinic, WED, FRI)
    (result,) = err.results
    assert result.rule == "precautions"
    assert (
        "Precaution (precautions): recorded for this patient: Pregnancy, Uncontrolled "
        "hypertension; a clinician decides before Spravato (esketamine)" in str(err)
    )
    assert "may override" in str(err)
    with pytest.raises(PermissionDenied):
        _book(clinic, WED, FRI, overrides={"precautions": "seen by Dr Patel"})
    booked = _book(clinic, WED, FRI, actor=NURSE, overrides={"precautions": "seen by Dr Patel"})
    with clinic.db.read() as s:
        reasons = s.scalars(
            select(GatingOverride.reason).where(GatingOverride.rule == "precautions")
        ).all()
    # Recorded per appointment (no series here).
    assert booked.appointment_ids
    assert reasons == ["seen by Dr Patel"] * 2


# -- consent ------------------------------------------------------------------------------------


def test_a_consent_from_2023_is_refused(clinic: SmallClinic) -> None:
    _eligibility(clinic, consent_valid_months=12)
    _patient(clinic, consent_signed_on=dt.date(2023, 3, 1))
    err = _refused(clinic, WED)
    assert err.results[0].rule == "consent_signed"
    assert "consent signed Wed Mar 1, 2023 is valid 12 months, through Thu Feb 29, 2024" in str(err)


def test_a_consent_lapsing_mid_series_refuses_the_later_sessions(clinic: SmallClinic) -> None:
    _eligibility(clinic, consent_valid_months=12)
    _patient(clinic, consent_signed_on=dt.date(2025, 12, 10))  # valid through Dec 9, 2026
    err = _refused(clinic, WED, WED2, THU2)
    assert "through Wed Dec 9, 2026; 1 session after that (Thu Dec 10)" in str(err)
    assert _book(clinic, WED, WED2).appointment_ids
    # A later session booked alone is judged at its own date too.
    assert "Thu Dec 10" in str(_refused(clinic, THU2))


def test_consent_validity_zero_never_lapses(clinic: SmallClinic) -> None:
    _eligibility(clinic, consent_valid_months=0)
    _patient(clinic, consent_signed_on=dt.date(2023, 3, 1))
    assert _book(clinic, WED).appointment_ids


# -- screening ----------------------------------------------------------------------------------


def test_screening_pending_blocks_at_book_time(clinic: SmallClinic) -> None:
    _patient(clinic, screening_status="pending", screening_cleared_on=None)
    assert _refused(clinic, WED).results[0].rule == "screening_cleared"


def test_screening_cleared_after_the_first_session_is_refused(clinic: SmallClinic) -> None:
    _patient(clinic, screening_cleared_on=FRI)
    err = _refused(clinic, WED, MON)
    assert "screening cleared on Fri Dec 4, after the first session on Wed Dec 2" in str(err)
    assert _book(clinic, MON).appointment_ids


# -- REMS ---------------------------------------------------------------------------------------


def test_rems_patient_enrolment_is_required(clinic: SmallClinic) -> None:
    _patient(clinic, rems_enrolled_on=None)
    assert _refused(clinic, WED).results[0].rule == "rems_patient_enrolled"


def test_site_certification_ending_mid_series_refuses_the_later_session(
    clinic: SmallClinic,
) -> None:
    with clinic.db.write() as s:
        rems = s.get(ClinicSetting, "rems")
        assert rems is not None
        rems.value = {**rems.value, "site_certified_until": "2026-12-08"}
    err = _refused(clinic, WED, WED2)
    assert [r.rule for r in err.results] == ["rems_site_certified"]
    assert "certification ends Tue Dec 8, 2026; 1 session after that (Wed Dec 9)" in str(err)
    assert _book(clinic, WED, MON).appointment_ids


# -- prior authorization ------------------------------------------------------------------------


def test_prior_authorization_dates_judge_each_session(clinic: SmallClinic) -> None:
    _patient(clinic, prior_auth_starts_on=FRI, prior_auth_expires_on=WED2)
    err = _refused(clinic, WED, FRI, MON, THU2, actor=NURSE)
    (result,) = err.results
    assert result.rule == "prior_auth_valid"
    assert "starts Fri Dec 4, 2026; 1 session before that (Wed Dec 2)" in result.message
    assert "expires Wed Dec 9, 2026; 1 session after that (Thu Dec 10)" in result.message
    assert _book(clinic, FRI, MON).appointment_ids


def test_units_used_by_booked_sessions_may_not_exceed_the_authorized(
    clinic: SmallClinic,
) -> None:
    _patient(clinic, prior_auth_sessions=3)
    _book(clinic, WED)
    err = _refused(clinic, FRI, MON, WED2)
    assert "prior authorization covers 2 more; 3 sessions planned (Wed Dec 9 not covered)" in (
        str(err)
    )
    assert _book(clinic, FRI, MON).appointment_ids


def test_units_per_session_are_configured(clinic: SmallClinic) -> None:
    _eligibility(clinic, prior_auth_units={"spravato": 2})
    _patient(clinic, prior_auth_sessions=5)
    _book(clinic, WED)  # 2 units used, 3 left
    err = _refused(clinic, FRI, MON)
    assert "covers 3 more units; 2 sessions of 2 units planned (Mon Dec 7 not covered)" in str(err)
    assert _book(clinic, FRI).appointment_ids


def test_facts_are_loaded_from_the_record_and_a_moved_session_does_not_count_itself(
    clinic: SmallClinic,
) -> None:
    _patient(
        clinic,
        prior_auth_sessions=2,
        prior_auth_starts_on=WED,
        eligibility_flags=["pregnancy"],
    )
    booked = _book(clinic, WED, FRI, actor=NURSE, overrides={"precautions": "seen"})
    with clinic.db.read() as s:
        facts = load_patient_facts(s, clinic.ids[WHO], clinic.catalog)
        moving = load_patient_facts(
            s, clinic.ids[WHO], clinic.catalog, excluding=booked.appointment_ids[1:]
        )
        patient = s.get(Patient, clinic.ids[WHO])
        assert patient is not None
        same = patient_facts(s, patient, clinic.catalog)
    assert facts is not None
    assert moving is not None
    assert facts == same
    assert facts.date_of_birth == dt.date(1980, 5, 17)
    assert facts.flags == frozenset({"pregnancy"})
    assert facts.prior_auth_starts_on == WED
    assert facts.prior_auth_sessions_left == 0
    assert moving.prior_auth_sessions_left == 1
