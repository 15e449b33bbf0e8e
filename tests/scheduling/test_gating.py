"""Gating: what must be on file before a dosing session may be booked."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from ketadesk.scheduling.catalog import ClinicSettings, ConfigError
from ketadesk.scheduling.gating import (
    EligibilitySettings,
    GateResult,
    PatientFacts,
    ScreeningStatus,
    Severity,
    age_on,
    booking_allowed,
    check_gates,
    parse_eligibility_settings,
)
from tests.scheduling.conftest import DemoClinic

FIRST = dt.date(2025, 3, 3)
SERIES = [FIRST + dt.timedelta(days=d) for d in (0, 2, 4, 7, 9, 11)]
READY = PatientFacts(
    screening_status=ScreeningStatus.CLEARED,
    screening_cleared_on=FIRST - dt.timedelta(days=14),
    consent_signed_on=FIRST - dt.timedelta(days=14),
    rems_enrolled_on=FIRST - dt.timedelta(days=10),
    prior_auth_expires_on=FIRST + dt.timedelta(days=90),
    prior_auth_sessions_left=12,
    driver_name="Sam (partner)",
    date_of_birth=dt.date(1980, 5, 17),
)


def certified(clinic: DemoClinic, until: str = "2026-12-31") -> ClinicSettings:
    return dataclasses.replace(clinic.settings, rems_site_certified_until=until)


def rules(results: list[GateResult]) -> list[str]:
    return [r.rule for r in results]


def test_ready_patient_passes_every_spravato_gate(clinic: DemoClinic) -> None:
    assert check_gates(clinic.spec("spravato"), READY, SERIES, certified(clinic)) == []


def test_iv_infusion_does_not_ask_for_rems_or_prior_auth(clinic: DemoClinic) -> None:
    facts = dataclasses.replace(
        READY, rems_enrolled_on=None, prior_auth_expires_on=None, prior_auth_sessions_left=None
    )
    assert check_gates(clinic.spec("iv_infusion"), facts, SERIES, clinic.settings) == []


def test_spravato_without_rems_enrollment_is_blocked(clinic: DemoClinic) -> None:
    facts = dataclasses.replace(READY, rems_enrolled_on=None)
    results = check_gates(clinic.spec("spravato"), facts, SERIES, certified(clinic))
    (result,) = results
    assert result.rule == "rems_patient_enrolled"
    assert result.severity is Severity(clinic.settings.gating["rems_patient_enrolled"])
    assert result.message == "patient not enrolled in the REMS program"
    assert not booking_allowed(results)


def test_rems_enrollment_after_the_first_dose_is_blocked(clinic: DemoClinic) -> None:
    facts = dataclasses.replace(READY, rems_enrolled_on=FIRST + dt.timedelta(days=1))
    (result,) = check_gates(clinic.spec("spravato"), facts, SERIES, certified(clinic))
    assert result.message == ("REMS enrollment on Tue Mar 4, after the first session on Mon Mar 3")


def test_missing_driver_warns_and_a_clinician_may_override_it(clinic: DemoClinic) -> None:
    iv = clinic.spec("iv_infusion")
    facts = dataclasses.replace(READY, driver_name="")
    (warning,) = check_gates(iv, facts, SERIES[:1], clinic.settings)
    assert warning.rule == "driver_arranged"
    assert warning.severity is Severity.WARN
    assert warning.message == (
        f"no driver or escort arranged; the patient may not drive for "
        f"{iv.drives_after_hours} hours after the session"
    )
    assert not booking_allowed([warning])
    reason = "taxi booked by the clinic; nurse escorts to the car"
    (overridden,) = check_gates(
        iv, facts, SERIES[:1], clinic.settings, overrides=[("driver_arranged", reason)]
    )
    assert overridden.overridden
    assert overridden.override_reason == reason
    assert booking_allowed([overridden])


def test_override_without_a_reason_does_not_count(clinic: DemoClinic) -> None:
    facts = dataclasses.replace(READY, driver_name="")
    results = check_gates(
        clinic.spec("iv_infusion"),
        facts,
        SERIES[:1],
        clinic.settings,
        overrides={"driver_arranged": "   "},
    )
    assert not booking_allowed(results)


def test_block_cannot_be_overridden(clinic: DemoClinic) -> None:
    facts = dataclasses.replace(READY, screening_status=ScreeningStatus.PENDING)
    (result,) = check_gates(
        clinic.spec("iv_infusion"),
        facts,
        SERIES,
        clinic.settings,
        overrides=[("screening_cleared", "the prescriber said it is fine")],
    )
    assert result.severity is Severity.BLOCK
    assert not result.overridden
    assert result.stops_booking
    assert result.message == (
        "screening not yet cleared by a prescriber (this rule blocks and cannot be overridden)"
    )


def test_not_eligible_patient_is_blocked(clinic: DemoClinic) -> None:
    facts = dataclasses.replace(READY, screening_status=ScreeningStatus.NOT_ELIGIBLE)
    (result,) = check_gates(clinic.spec("iv_infusion"), facts, SERIES, clinic.settings)
    assert result.message == "screening found the patient not eligible"


def test_consent_signed_after_the_first_session_is_blocked(clinic: DemoClinic) -> None:
    facts = dataclasses.replace(READY, consent_signed_on=FIRST + dt.timedelta(days=3))
    (result,) = check_gates(clinic.spec("iv_infusion"), facts, SERIES, clinic.settings)
    assert result.rule == "consent_signed"
    assert result.message == "consent signed on Thu Mar 6, after the first session on Mon Mar 3"


def test_rule_turned_off_in_settings_is_skipped(clinic: DemoClinic) -> None:
    settings = certified(clinic)
    settings = dataclasses.replace(settings, gating={**settings.gating, "prior_auth_valid": "off"})
    facts = dataclasses.replace(READY, prior_auth_expires_on=FIRST - dt.timedelta(days=1))
    assert check_gates(clinic.spec("spravato"), facts, SERIES, settings) == []


def test_rule_missing_from_settings_blocks(clinic: DemoClinic) -> None:
    gating = {k: v for k, v in clinic.settings.gating.items() if k != "driver_arranged"}
    settings = dataclasses.replace(clinic.settings, gating=gating)
    facts = dataclasses.replace(READY, driver_name="")
    (result,) = check_gates(clinic.spec("iv_infusion"), facts, SERIES, settings)
    assert result.severity is Severity.BLOCK


def test_prior_auth_expiring_mid_series_warns_about_the_later_sessions(
    clinic: DemoClinic,
) -> None:
    facts = dataclasses.replace(READY, prior_auth_expires_on=FIRST + dt.timedelta(days=5))
    (result,) = check_gates(clinic.spec("spravato"), facts, SERIES, certified(clinic))
    assert result.rule == "prior_auth_valid"
    assert result.severity is Severity(clinic.settings.gating["prior_auth_valid"])
    assert result.message == (
        "prior authorization expires Sat Mar 8, 2025; 3 sessions after that "
        "(Mon Mar 10, Wed Mar 12, Fri Mar 14)"
    )


def test_prior_auth_with_too_few_sessions_left_warns(clinic: DemoClinic) -> None:
    facts = dataclasses.replace(READY, prior_auth_sessions_left=4)
    (result,) = check_gates(clinic.spec("spravato"), facts, SERIES, certified(clinic))
    assert result.message == (
        "prior authorization covers 4 more; 6 sessions planned (Wed Mar 12, Fri Mar 14 not covered)"
    )


def test_no_prior_auth_on_file_warns(clinic: DemoClinic) -> None:
    facts = dataclasses.replace(READY, prior_auth_expires_on=None, prior_auth_sessions_left=None)
    (result,) = check_gates(clinic.spec("spravato"), facts, SERIES, certified(clinic))
    assert result.message == "no prior authorization on file"


def test_site_certification_lapsing_mid_series_blocks_the_later_sessions(
    clinic: DemoClinic,
) -> None:
    settings = certified(clinic, until="2025-03-09")
    (result,) = check_gates(clinic.spec("spravato"), READY, SERIES, settings)
    assert result.rule == "rems_site_certified"
    assert result.severity is Severity.BLOCK
    assert result.message.startswith("the site's REMS certification ends Sun Mar 9, 2025; 3")


def test_site_certification_not_recorded_blocks(clinic: DemoClinic) -> None:
    settings = certified(clinic, until="")
    (result,) = check_gates(clinic.spec("spravato"), READY, SERIES, settings)
    assert result.message == (
        "the site's REMS certification date is not recorded "
        "(Settings ▸ Clinic ▸ REMS certification)"
    )


def test_no_sessions_no_gates(clinic: DemoClinic) -> None:
    assert check_gates(clinic.spec("spravato"), PatientFacts(), [], clinic.settings) == []


def test_screening_status_may_come_as_the_stored_text(clinic: DemoClinic) -> None:
    facts = dataclasses.replace(READY, screening_status="cleared")  # type: ignore[arg-type]
    assert check_gates(clinic.spec("iv_infusion"), facts, SERIES, clinic.settings) == []


# --------------------------------------------------------------------------------------------
# Eligibility: every session judged at its own date

ELIG = EligibilitySettings(
    consent_valid_months=12,
    min_age_years={"spravato": 18},
    contraindications={"av_malformation": "Arteriovenous malformation"},
    precautions={"pregnancy": "Pregnancy"},
)


def _gates(clinic: DemoClinic, facts: PatientFacts, dates: list[dt.date] = SERIES) -> list[str]:
    results = check_gates(
        clinic.spec("spravato"), facts, dates, certified(clinic), eligibility=ELIG
    )
    return [r.message for r in results]


def test_default_eligibility_is_the_domain_list(clinic: DemoClinic) -> None:
    elig = parse_eligibility_settings(clinic.settings.extra.get("eligibility"))
    assert elig.consent_valid_months == 12
    assert elig.min_age_years == {"spravato": 18}
    assert set(elig.contraindications) == {
        "aneurysmal_vascular_disease",
        "av_malformation",
        "intracerebral_hemorrhage",
        "hypersensitivity",
    }
    assert set(elig.precautions) == {
        "uncontrolled_hypertension",
        "pregnancy",
        "psychosis_mania",
        "substance_use",
    }
    assert clinic.settings.gating["age"] == "block"
    assert clinic.settings.gating["contraindications"] == "block"
    assert clinic.settings.gating["precautions"] == "warn"


def test_age_needs_a_date_of_birth(clinic: DemoClinic) -> None:
    facts = dataclasses.replace(READY, date_of_birth=None)
    (result,) = check_gates(clinic.spec("spravato"), facts, SERIES, certified(clinic))
    assert (result.rule, result.severity) == ("age", Severity.BLOCK)
    assert result.explained == (
        "Age (age): no date of birth on file; Spravato (esketamine) needs it (patients 18 or older)"
    )


def test_age_is_reached_mid_series(clinic: DemoClinic) -> None:
    # 18 on Fri Mar 7 2025: the sessions on Mar 3 and Mar 5 are too early, the rest are not.
    facts = dataclasses.replace(READY, date_of_birth=dt.date(2007, 3, 7))
    assert _gates(clinic, facts) == [
        "the patient is 17 on Mon Mar 3; Spravato (esketamine) is for patients 18 or older "
        "(from Fri Mar 7, 2025); 2 sessions before that (Mon Mar 3, Wed Mar 5)"
    ]
    assert _gates(clinic, facts, SERIES[2:]) == []


def test_age_on_counts_whole_years_and_leap_days() -> None:
    assert age_on(dt.date(2008, 2, 29), dt.date(2026, 2, 28)) == 17
    assert age_on(dt.date(2008, 2, 29), dt.date(2026, 3, 1)) == 18


def test_a_clinic_created_before_the_eligibility_rules_still_judges_them(
    clinic: DemoClinic,
) -> None:
    # Its stored Spravato type lists none of them, and its [gating] has no entry for them.
    old = dataclasses.replace(
        clinic.spec("spravato"),
        gating=("screening_cleared", "consent_signed", "rems_patient_enrolled"),
    )
    settings = dataclasses.replace(
        certified(clinic),
        gating={
            k: v
            for k, v in clinic.settings.gating.items()
            if k not in ("age", "contraindications", "precautions")
        },
    )
    facts = dataclasses.replace(READY, date_of_birth=None, flags=frozenset({"pregnancy"}))
    results = check_gates(old, facts, SERIES, settings, eligibility=ELIG)
    # Missing from [gating]: clinic.toml's defaults for these rules.
    assert [(r.rule, r.severity) for r in results] == [
        ("age", Severity.BLOCK),
        ("precautions", Severity.WARN),
    ]


def test_iv_infusion_needs_no_date_of_birth(clinic: DemoClinic) -> None:
    facts = dataclasses.replace(READY, date_of_birth=None)
    assert check_gates(clinic.spec("iv_infusion"), facts, SERIES, clinic.settings) == []


def test_contraindication_blocks_precaution_warns(clinic: DemoClinic) -> None:
    facts = dataclasses.replace(READY, flags=frozenset({"av_malformation", "pregnancy"}))
    results = check_gates(
        clinic.spec("spravato"),
        facts,
        SERIES,
        certified(clinic),
        {"contraindications": "x", "precautions": "seen by Dr P"},
        eligibility=ELIG,
    )
    assert [(r.rule, r.severity, r.overridden) for r in results] == [
        ("contraindications", Severity.BLOCK, False),
        ("precautions", Severity.WARN, True),
    ]
    assert results[0].message == (
        "recorded for this patient: Arteriovenous malformation; Spravato (esketamine) is "
        "contraindicated (this rule blocks and cannot be overridden)"
    )
    # The IV infusion lists the same rules.
    iv = check_gates(clinic.spec("iv_infusion"), facts, SERIES, clinic.settings)
    assert [r.rule for r in iv] == ["contraindications", "precautions"]


def test_a_flag_the_clinic_no_longer_lists_is_not_judged(clinic: DemoClinic) -> None:
    facts = dataclasses.replace(READY, flags=frozenset({"retired_item"}))
    assert _gates(clinic, facts) == []


def test_consent_lapses_mid_series(clinic: DemoClinic) -> None:
    # Signed Mar 7 2024: valid through Mar 6 2025; the sessions from Mar 7 on need a new one.
    facts = dataclasses.replace(READY, consent_signed_on=dt.date(2024, 3, 7))
    assert _gates(clinic, facts) == [
        "consent signed Thu Mar 7, 2024 is valid 12 months, through Thu Mar 6, 2025; "
        "4 sessions after that (Fri Mar 7, Mon Mar 10, Wed Mar 12 and 1 more): take a new consent"
    ]
    assert _gates(clinic, facts, SERIES[:2]) == []


def test_consent_validity_is_configured(clinic: DemoClinic) -> None:
    facts = dataclasses.replace(READY, consent_signed_on=dt.date(2023, 1, 5))
    forever = dataclasses.replace(ELIG, consent_valid_months=0)
    assert (
        check_gates(clinic.spec("spravato"), facts, SERIES, certified(clinic), eligibility=forever)
        == []
    )
    assert len(_gates(clinic, facts)) == 1


def test_prior_auth_starts_late(clinic: DemoClinic) -> None:
    facts = dataclasses.replace(READY, prior_auth_starts_on=FIRST + dt.timedelta(days=1))
    assert _gates(clinic, facts) == [
        "prior authorization starts Tue Mar 4, 2025; 1 session before that (Mon Mar 3)"
    ]


def test_prior_auth_units_per_session(clinic: DemoClinic) -> None:
    facts = dataclasses.replace(READY, prior_auth_sessions_left=7)
    two = dataclasses.replace(ELIG, prior_auth_units={"spravato": 2})
    (result,) = check_gates(
        clinic.spec("spravato"), facts, SERIES, certified(clinic), eligibility=two
    )
    assert result.message == (
        "prior authorization covers 7 more units; 6 sessions of 2 units planned "
        "(Mon Mar 10, Wed Mar 12, Fri Mar 14 not covered)"
    )


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"consent_valid_months": -1}, "eligibility.consent_valid_months: must be a whole"),
        ({"consent_valid_months": "12"}, "eligibility.consent_valid_months: must be a whole"),
        ({"min_age_years": {"spravato": 17.5}}, "eligibility.min_age_years.spravato: must"),
        ({"min_age_years": {"sprav": 18}}, "eligibility.min_age_years.sprav: is not a session"),
        ({"prior_auth_units": {"spravato": 0}}, "eligibility.prior_auth_units.spravato: must"),
        ({"contraindications": {"Bad Code": "x"}}, "eligibility.contraindications.Bad Code: "),
        ({"precautions": {"pregnancy": ""}}, "eligibility.precautions.pregnancy: needs a label"),
        ({"precautions": {"av_malformation": "AVM"}}, "precautions.av_malformation: is a contra"),
        ({"min_age": 18}, "eligibility.min_age: is not a setting"),
    ],
)
def test_eligibility_config_errors_name_the_key(
    clinic: DemoClinic, given: dict[str, object], problem: str
) -> None:
    with pytest.raises(ConfigError) as err:
        parse_eligibility_settings(given, "clinic.toml", clinic.catalog.session_types)
    assert str(err.value).startswith("clinic.toml: ")
    assert problem in str(err.value)


def test_prior_auth_spending_counts_each_sessions_units_in_date_order() -> None:
    from ketadesk.scheduling.gating import parse_eligibility_settings, prior_auth_spending

    elig = parse_eligibility_settings({"prior_auth_units": {"spravato": 2}})
    spends = prior_auth_spending([(10, "spravato"), (11, "iv_infusion"), (12, "spravato")], elig)
    assert [(s.before, s.units, s.through) for s in spends.values()] == [
        (0, 2, 2),
        (2, 1, 3),
        (3, 2, 5),
    ]
    # What prior_auth_valid is given for the third alone: 6 authorized, 3 spent ahead of it.
    assert spends[12].left_for(6) == 3
    assert spends[12].left_for(2) == 0


def test_units_are_spent_by_sessions_booked_or_given_from_the_start_date() -> None:
    from ketadesk.scheduling.gating import (
        parse_eligibility_settings,
        prior_auth_spends,
        prior_auth_units_spent,
    )

    elig = parse_eligibility_settings({"prior_auth_units": {"spravato": 2}})
    start = dt.date(2026, 3, 2)
    before, on = start - dt.timedelta(days=1), start
    for status in ("booked", "checked_in", "in_progress", "completed"):
        assert prior_auth_spends(status, on, start)
        assert not prior_auth_spends(status, before, start)
        assert prior_auth_spends(status, before, None)
    for status in ("tentative", "no_show", "cancelled", "released"):
        assert not prior_auth_spends(status, on, start)
    sessions = [
        ("spravato", "completed", before),  # an earlier authorization's
        ("spravato", "completed", on),
        ("iv_infusion", "in_progress", on),
        ("spravato", "no_show", on),
        ("spravato", "booked", on + dt.timedelta(days=3)),
    ]
    spent = prior_auth_units_spent(sessions, start, elig)
    assert (spent.units, spent.given) == (5, 3)
    spent = prior_auth_units_spent(sessions, None, elig)
    assert (spent.units, spent.given) == (7, 5)


def test_the_warning_names_the_units_given_and_a_missing_start_date(clinic: DemoClinic) -> None:
    spravato, settings = clinic.spec("spravato"), certified(clinic)
    facts = dataclasses.replace(READY, prior_auth_sessions_left=0, prior_auth_given=6)
    (result,) = check_gates(spravato, facts, SERIES[:1], settings)
    assert result.message == (
        "prior authorization covers 0 more; 1 session planned; 6 units spent by sessions given "
        "(no prior authorization start date on file: all of them count)"
    )
    dated = dataclasses.replace(facts, prior_auth_starts_on=FIRST)
    (result,) = check_gates(spravato, dated, SERIES[:1], settings)
    assert result.message.endswith("; 6 units spent by sessions given")
    # A session before the start spends nothing: only its date is named.
    late = dataclasses.replace(facts, prior_auth_starts_on=SERIES[1])
    (result,) = check_gates(spravato, late, SERIES[:1], settings)
    assert result.message == (
        "prior authorization starts Wed Mar 5, 2025; 1 session before that (Mon Mar 3)"
    )
