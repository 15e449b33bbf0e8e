"""The chair's rules as plain functions: each finding names its rule and the fact, and the
clinic's ``[chair]`` policy decides whether it refuses, warns or is off."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ketadesk.config import load_default_catalog
from ketadesk.scheduling import chair_rules
from ketadesk.scheduling.catalog import ConfigError, DoseRule
from ketadesk.scheduling.chair_rules import (
    BpReading,
    ChairSettings,
    Effects,
    hard_stop_note,
    parse_chair_settings,
)

DOSE = dt.datetime(2030, 1, 7, 18, 15, tzinfo=dt.UTC)  # any instant: the rules are pure
#: The clinic's time format the findings' words are read in (these expectations: 24-hour).
FMT = "24h"
SPRAVATO = DoseRule(device_mg=28, allowed_mg=(56, 84), starting_mg=(56,), step_mg=28)
BLOCK = ChairSettings()


def pre_dose_findings(*args: Any, **kwargs: Any) -> list[chair_rules.ChairFinding]:
    return chair_rules.pre_dose_findings(*args, time_format=FMT, **kwargs)


def discharge_findings(**kwargs: Any) -> list[chair_rules.ChairFinding]:
    return chair_rules.discharge_findings(time_format=FMT, **kwargs)


def pre_dose_story(*args: Any, **kwargs: Any) -> dict[str, chair_rules.PreDoseNote]:
    return chair_rules.pre_dose_story(*args, time_format=FMT, **kwargs)


def _bp(label: str, minutes: int, systolic: int | None, diastolic: int | None) -> BpReading:
    return BpReading(label, DOSE + dt.timedelta(minutes=minutes), systolic, diastolic)


def _rules(findings: list[chair_rules.ChairFinding]) -> list[str]:
    return [f.rule for f in findings]


def test_no_pre_dose_bp_is_refused_naming_the_check() -> None:
    found = pre_dose_findings([], {"Pre-dose"}, DOSE, BLOCK, zone=dt.UTC)
    assert [(f.rule, f.fact, f.blocks) for f in found] == [
        ("pre_dose_bp", "no “Pre-dose” blood pressure recorded before 18:15", True)
    ]


def test_a_pre_dose_reading_taken_after_the_dose_does_not_count() -> None:
    late = [_bp("Pre-dose", 5, 128, 82)]
    assert _rules(pre_dose_findings(late, {"Pre-dose"}, DOSE, BLOCK)) == ["pre_dose_bp"]
    on_time = [_bp("Pre-dose", -5, 128, 82)]
    assert pre_dose_findings(on_time, {"Pre-dose"}, DOSE, BLOCK) == []


def test_a_pre_dose_bp_above_the_hard_stop_is_refused_with_its_numbers() -> None:
    found = pre_dose_findings(
        [_bp("Pre-dose", -5, 186, 104)], {"Pre-dose"}, DOSE, BLOCK, zone=dt.UTC
    )
    assert [f.text for f in found] == [
        "Pre-dose BP hard stop: the pre-dose BP 186/104 (18:10) is above the clinic's hard "
        "stop 180/110"
    ]
    assert _rules(
        pre_dose_findings([_bp("Pre-dose", -5, 150, 111)], {"Pre-dose"}, DOSE, BLOCK)
    ) == ["pre_dose_hard_stop"]
    # At the threshold, not above it: no hard stop (the 140/90 warning is the record's).
    assert pre_dose_findings([_bp("Pre-dose", -5, 180, 110)], {"Pre-dose"}, DOSE, BLOCK) == []


def test_the_hard_stop_is_configuration() -> None:
    strict = parse_chair_settings({"hard_stop_systolic": 160, "hard_stop_diastolic": 100})
    found = pre_dose_findings([_bp("Pre-dose", -5, 165, 90)], {"Pre-dose"}, DOSE, strict)
    assert _rules(found) == ["pre_dose_hard_stop"]
    assert "160/100" in found[0].fact


def test_the_latest_pre_dose_reading_before_the_dose_decides_the_hard_stop() -> None:
    # 190/112 refused, then a documented recheck after rest: the recheck decides; the first
    # reading stays on the record but no longer stops the dose.
    checks = {"Pre-dose", "+40 min", "Before discharge"}
    high = _bp("Pre-dose", -5, 190, 112)
    recheck = _bp("Pre-dose recheck", -1, 148, 92)
    assert pre_dose_findings([high, recheck], {"Pre-dose"}, DOSE, BLOCK, check_labels=checks) == []
    # A recheck still above the stop is named, with its own numbers and time.
    still = _bp("Pre-dose recheck", -1, 184, 100)
    found = pre_dose_findings(
        [high, still], {"Pre-dose"}, DOSE, BLOCK, zone=dt.UTC, check_labels=checks
    )
    assert [f.fact for f in found] == [
        "the pre-dose BP 184/100 (18:14) is above the clinic's hard stop 180/110"
    ]
    # A reading after the dose start is no recheck: the pre-dose 190/112 still decides.
    after = _bp("Pre-dose recheck", 2, 130, 80)
    assert _rules(
        pre_dose_findings([high, after], {"Pre-dose"}, DOSE, BLOCK, check_labels=checks)
    ) == ["pre_dose_hard_stop"]
    # Nor is a later check of the schedule (it is not a pre-dose reading).
    scheduled = _bp("+40 min", -1, 130, 80)
    assert _rules(
        pre_dose_findings([high, scheduled], {"Pre-dose"}, DOSE, BLOCK, check_labels=checks)
    ) == ["pre_dose_hard_stop"]
    # An extra reading alone does not stand in for the pre-dose check itself.
    assert _rules(pre_dose_findings([recheck], {"Pre-dose"}, DOSE, BLOCK, check_labels=checks)) == [
        "pre_dose_bp"
    ]


def test_a_session_type_without_a_pre_dose_check_owes_none() -> None:
    assert pre_dose_findings([], set(), DOSE, BLOCK) == []


def test_200_mg_with_one_device_breaks_the_device_and_allowed_dose_rules() -> None:
    found = chair_rules.dose_findings(200, 1, SPRAVATO, BLOCK, previous_mg=56)
    assert [f.text for f in found] == [
        "Dose is whole devices: 200 mg with 1 device: 1 × 28 mg is 28 mg",
        "Allowed doses: 200 mg is not an allowed dose (56 mg, 84 mg)",
    ]


def test_84_mg_with_two_devices_is_refused_naming_the_device_rule() -> None:
    found = chair_rules.dose_findings(84, 2, SPRAVATO, BLOCK, previous_mg=56)
    assert [(f.rule, f.fact) for f in found] == [
        ("dose_devices", "84 mg with 2 devices: 2 × 28 mg is 56 mg")
    ]


def test_a_first_session_starts_at_the_starting_dose() -> None:
    found = chair_rules.dose_findings(84, 3, SPRAVATO, BLOCK, starting_mg=(56,))
    assert [f.text for f in found] == [
        "Starting dose: 84 mg at a first session: the starting dose is 56 mg"
    ]
    assert chair_rules.dose_findings(56, 2, SPRAVATO, BLOCK, starting_mg=(56,)) == []
    # A protocol that starts at 84 mg (MDD with suicidal thinking) allows it.
    assert chair_rules.dose_findings(84, 3, SPRAVATO, BLOCK, starting_mg=(84,)) == []


def test_doses_change_one_device_at_a_time() -> None:
    assert chair_rules.dose_findings(84, 3, SPRAVATO, BLOCK, previous_mg=56) == []
    wide = DoseRule(28, (28, 56, 84), (28, 56), 28)
    assert _rules(chair_rules.dose_findings(84, 3, wide, BLOCK, previous_mg=28)) == ["dose_step"]


def test_a_good_dose_and_a_type_without_a_dose_rule_pass() -> None:
    assert chair_rules.dose_findings(56, 2, SPRAVATO, BLOCK, previous_mg=56) == []
    assert chair_rules.dose_findings(35, None, None, BLOCK) == []


def test_a_warn_policy_warns_and_off_is_refused() -> None:
    warn = parse_chair_settings({"dose": "warn"})
    found = chair_rules.dose_findings(84, 2, SPRAVATO, warn, previous_mg=56)
    assert [(f.rule, f.blocks) for f in found] == [("dose_devices", False)]
    assert chair_rules.blocking(found, overridden=()) == []
    with pytest.raises(ConfigError, match=r'chair\.dose: "off" is not allowed'):
        parse_chair_settings({"dose": "off"})


CLEAR = Effects("none", "none", False, False, False, False)


def _discharge(
    at_minutes: int,
    readings: list[BpReading],
    effects: Effects | None = CLEAR,
    dose_at: dt.datetime | None = DOSE,
    monitored: bool = True,
) -> list[chair_rules.ChairFinding]:
    return discharge_findings(
        session_name="Spravato (esketamine)",
        dose_at=dose_at,
        discharge_at=DOSE + dt.timedelta(minutes=at_minutes),
        observation_minutes=120,
        required_labels=["Pre-dose", "+40 min", "Before discharge"],
        readings=readings,
        effects=effects,
        settings=BLOCK,
        monitored_by_recorded=monitored,
        zone=dt.UTC,
    )


ALL_READINGS = [
    _bp("Pre-dose", -5, 128, 82),
    _bp("+40 min", 40, 134, 86),
    _bp("Before discharge", 118, 124, 80),
]


def test_discharge_before_the_observation_minutes_is_refused_with_the_earliest_time() -> None:
    found = _discharge(25, ALL_READINGS)
    assert [f.text for f in found] == [
        "Observation before discharge: 18:40 is only 25 min after the dose (18:15): "
        "Spravato (esketamine) needs 120 min (earliest 20:15)"
    ]
    assert _discharge(120, ALL_READINGS) == []


def test_a_twelve_hour_clinic_reads_the_chairs_times_twelve_hour() -> None:
    found = chair_rules.discharge_findings(
        session_name="Spravato (esketamine)",
        dose_at=DOSE,
        discharge_at=DOSE + dt.timedelta(minutes=25),
        observation_minutes=120,
        required_labels=["Pre-dose", "+40 min", "Before discharge"],
        readings=ALL_READINGS,
        effects=CLEAR,
        settings=BLOCK,
        monitored_by_recorded=True,
        zone=dt.UTC,
        time_format="12h",
    )
    assert [f.text for f in found] == [
        "Observation before discharge: 6:40 PM is only 25 min after the dose (6:15 PM): "
        "Spravato (esketamine) needs 120 min (earliest 8:15 PM)"
    ]
    high = chair_rules.pre_dose_findings(
        [_bp("Pre-dose", -5, 186, 104)], {"Pre-dose"}, DOSE, BLOCK, zone=dt.UTC, time_format="12h"
    )
    assert "(6:10 PM)" in high[0].text


def test_discharge_without_the_configured_readings_names_each_missing_one() -> None:
    found = _discharge(125, [ALL_READINGS[0], _bp("+40 min", 40, None, None)])
    assert [f.text for f in found] == [
        "Readings before discharge: no BP recorded for “+40 min”, “Before discharge”"
    ]


def test_discharge_waits_for_effects_to_be_marked_resolved() -> None:
    severe = Effects("severe", "mild", True, False, True, False)
    found = _discharge(125, ALL_READINGS, severe)
    assert [f.text for f in found] == [
        "Effects resolved before discharge: sedation (severe) is not marked resolved; "
        "respiratory depression is not marked resolved"
    ]
    resolved = Effects("severe", "mild", True, True, True, True)
    assert _discharge(125, ALL_READINGS, resolved) == []
    assert [
        f.fact for f in _discharge(125, ALL_READINGS, Effects("", "", False, *[False] * 3))
    ] == ["sedation is not recorded; dissociation is not recorded"]


def test_a_session_with_no_record_at_all_cannot_be_discharged() -> None:
    found = _discharge(25, [], effects=None, dose_at=None, monitored=False)
    assert _rules(found) == [
        "discharge_no_dose",
        "discharge_readings",
        "discharge_monitored_by",
        "discharge_effects",
    ]


def test_discharge_names_who_monitored_the_patient() -> None:
    found = _discharge(125, ALL_READINGS, monitored=False)
    assert [f.text for f in found] == [
        "Who monitored, before discharge: who monitored the patient is not recorded (Monitored by)"
    ]


def test_an_override_sets_only_its_own_rule_aside() -> None:
    found = _discharge(25, ALL_READINGS[:1], CLEAR)
    left = chair_rules.blocking(found, overridden={"discharge_observation"})
    assert _rules(left) == ["discharge_readings"]


def test_chair_configuration_mistakes_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"clinic.toml: chair.dose: must be one of block, warn"):
        parse_chair_settings({"dose": "sometimes"})
    with pytest.raises(ConfigError, match=r"chair.hard_stop_systolic: must be a whole number"):
        parse_chair_settings({"hard_stop_systolic": "high"})
    with pytest.raises(ConfigError, match=r"chair.override_roles: must list roles"):
        parse_chair_settings({"override_roles": ["janitor"]})


def test_the_shipped_configuration_holds_the_label_numbers() -> None:
    catalog = load_default_catalog()
    settings = parse_chair_settings(catalog.settings.extra.get("chair"))
    assert (settings.hard_stop_systolic, settings.hard_stop_diastolic) == (180, 110)
    assert settings.override_roles == ("prescriber",)
    spravato = catalog.session_types["spravato"]
    assert spravato.dose == SPRAVATO
    assert spravato.observation_minutes == 120
    assert catalog.protocols["spravato_mdd_si"].starting_dose_mg == (84,)
    assert catalog.protocols["spravato_trd"].starting_dose_mg is None


def test_iv_infusions_get_a_reading_every_configured_minutes() -> None:
    iv = load_default_catalog().session_types["iv_infusion"]
    assert iv.reading_cadence is not None
    assert iv.reading_cadence.every_minutes == 15
    # In the order they fall due: before the infusion, every 15 min to the end of recovery
    # (40 + 45 min), then before discharge.
    assert [(c.label, c.phase, c.offset_minutes) for c in iv.bp_checks] == [
        ("Pre-dose", "infusion", -5),
        *[(f"+{m} min", "infusion", m) for m in range(0, 85, 15)],
        ("Before discharge", "recovery", 40),
    ]


def test_the_discharge_verdict_names_what_refuses_in_a_few_words_without_values() -> None:
    """The verdict the completion and the chair board share: refusals once the overridden rules
    are set aside, the board's words for each (no severity, no SpO2 value), the time apart."""
    readings = [
        BpReading("Pre-dose", DOSE - dt.timedelta(minutes=5), 128, 82, 98),
        BpReading("+40 min", DOSE + dt.timedelta(minutes=40), 134, 86, 91),
    ]
    effects = Effects("severe", "none", True, False, False, False)
    found = discharge_findings(
        session_name="Spravato",
        dose_at=DOSE,
        discharge_at=DOSE + dt.timedelta(minutes=60),
        observation_minutes=120,
        required_labels=["Pre-dose", "+40 min", "Before discharge"],
        readings=readings,
        effects=effects,
        settings=BLOCK,
        monitored_by_recorded=True,
        spo2_below=93,
        zone=dt.UTC,
    )
    earliest = chair_rules.earliest_discharge(DOSE, 120)
    assert earliest == DOSE + dt.timedelta(minutes=120)
    verdict = chair_rules.discharge_verdict(found, (), earliest=earliest)
    assert (verdict.ready, verdict.too_early) == (False, True)
    assert verdict.not_yet == (
        "BP “Before discharge” missing",
        "sedation not marked resolved; respiratory depression not marked resolved; SpO2 below 93%",
    )
    assert "severe" not in " ".join(verdict.not_yet)
    overridden = chair_rules.discharge_verdict(
        found, ("discharge_observation", "discharge_readings", "discharge_effects")
    )
    assert overridden.ready
    warned = chair_rules.discharge_verdict(
        discharge_findings(
            session_name="Spravato",
            dose_at=DOSE,
            discharge_at=DOSE + dt.timedelta(minutes=60),
            observation_minutes=120,
            required_labels=[],
            readings=[],
            effects=Effects("none", "none", False, False, False, False),
            settings=ChairSettings(discharge="warn"),
            monitored_by_recorded=True,
        ),
        (),
    )
    assert warned.ready
    assert [f.rule for f in warned.warnings] == ["discharge_observation"]


def test_the_recording_form_names_the_hard_stop_and_what_to_do() -> None:
    """A user trial: a pre-dose BP of 186/112 was only refused at the save; the form now says
    in red which rule it breaks and what to do, from the clinic's own numbers and roles."""
    block = parse_chair_settings({})
    assert hard_stop_note(180, 110, block, before_dose=True) is None  # at it, not above
    assert hard_stop_note(186, 112, block, before_dose=True) == (
        "Pre-dose BP hard stop: BP 186/112 is above the clinic's hard stop 180/110: do not "
        "start dosing. Let the patient rest and recheck (as an extra reading); dosing needs a "
        "prescriber's override with a reason"
    )
    assert hard_stop_note(181, 90, block, before_dose=False) == (
        "BP 181/90 is above the clinic's hard stop 180/110: recheck now and tell the "
        "prescriber; no discharge while it stays this high"
    )
    strict = parse_chair_settings(
        {"hard_stop_systolic": 160, "hard_stop_diastolic": 100, "pre_dose_bp": "warn"}
    )
    note = hard_stop_note(165, 95, strict, before_dose=True)
    assert note is not None
    assert "above the clinic's hard stop 160/100: consider not dosing" in note


# --------------------------------------------------------------------------------------------
# When each check is due: one rule for the paper, the board and the record


def _due(**when: dt.datetime | None) -> dict[str, str]:
    spravato = load_default_catalog().session_types["spravato"]
    booked = DOSE - dt.timedelta(minutes=15)  # the dose is 15 minutes into the session
    laid = chair_rules.check_due_times(spravato, booked, **when)
    return {label: f"{due:%H:%M}" for label, due in laid}


def test_before_discharge_is_due_by_the_earliest_discharge_not_at_the_discharge_phase() -> None:
    # Booked 18:00, dose 18:15: the discharge phase starts at 20:25 (15 + 10 + 120 min), but
    # discharge is allowed 120 min after the dose, 20:15: the reading is due by then.
    assert _due() == {"Pre-dose": "18:10", "+40 min": "18:55", "Before discharge": "20:15"}


def test_checks_follow_the_actual_start_and_then_the_recorded_dose() -> None:
    started = DOSE - dt.timedelta(minutes=11)  # started 4 minutes late
    assert _due(started_at=started) == {
        "Pre-dose": "18:14",
        "+40 min": "18:59",
        "Before discharge": "20:19",
    }
    dosed = DOSE + dt.timedelta(minutes=16)  # the first device at 18:31
    assert _due(started_at=started, dose_started_at=dosed) == {
        "Pre-dose": "18:26",
        "+40 min": "19:11",
        "Before discharge": "20:31",
    }


# --------------------------------------------------------------------------------------------
# The story of a pre-dose BP over the hard stop


CHECKS = {"Pre-dose", "+40 min", "Before discharge"}


def _story(
    readings: list[BpReading], dose_at: dt.datetime | None, settings: ChairSettings = BLOCK
) -> dict[str, chair_rules.PreDoseNote]:
    return pre_dose_story(readings, {"Pre-dose"}, CHECKS, dose_at, settings, zone=dt.UTC)


def test_no_story_while_no_pre_dose_bp_is_over_the_hard_stop() -> None:
    assert _story([_bp("Pre-dose", -5, 178, 108), _bp("Extra 1", -2, 150, 90)], DOSE) == {}


def test_the_refused_reading_and_the_recheck_that_cleared_dosing_say_so() -> None:
    high, recheck = _bp("Pre-dose", -16, 186, 112), _bp("Extra 1", -1, 150, 90)
    told = _story([high, recheck, _bp("+40 min", 40, 120, 80)], DOSE)
    assert set(told) == {"Pre-dose", "Extra 1"}  # after the dose, no part of it
    assert (told["Pre-dose"].tag, told["Pre-dose"].over_hard_stop) == ("over the hard stop", True)
    assert told["Pre-dose"].text == (
        "Pre-dose BP 186/112 at 17:59 is above the clinic's hard stop 180/110: dosing refused; "
        "the pre-dose recheck (150/90 at 18:14) cleared dosing; dose delayed to 18:15"
    )
    cleared = told["Extra 1"]
    assert (cleared.shown_label, cleared.tag, cleared.cleared) == (
        "Pre-dose recheck (Extra 1)",
        "cleared dosing",
        True,
    )
    assert cleared.text.endswith("at or below 180/110, cleared dosing; dose started 18:15")
    # Before any dose is recorded the same readings tell the same story, without the dose.
    waiting = _story([high, recheck], None)
    assert waiting["Pre-dose"].text.endswith(
        "the pre-dose recheck (150/90 at 18:14) cleared dosing"
    )


def test_a_reading_keeps_its_verdict_whatever_comes_after() -> None:
    high = _bp("Pre-dose", -16, 186, 112)
    alone = _story([high], None)["Pre-dose"]
    assert alone.text.endswith("dosing refused; dose withheld")
    still = _story([high, _bp("Pre-dose recheck", -8, 184, 100)], None)
    assert still["Pre-dose"].over_hard_stop
    assert still["Pre-dose recheck"].tag == "still over the hard stop"
    assert still["Pre-dose recheck"].shown_label == "Pre-dose recheck"
    cleared = _story([high, _bp("Pre-dose recheck", -8, 184, 100), _bp("x", -2, 150, 90)], DOSE)
    assert cleared["Pre-dose"].over_hard_stop  # still "over the hard stop": a fact of 17:59
    assert cleared["Pre-dose"].tag == "over the hard stop"
    assert [n.cleared for n in cleared.values()] == [False, False, True]
    # Under a "warn" policy: what the clinic asks is to consider not dosing.
    warn = parse_chair_settings({"pre_dose_bp": "warn"})
    assert _story([high], None, warn)["Pre-dose"].text.endswith("consider not dosing")


def test_a_recheck_of_the_same_minute_does_not_clear_dosing_for_the_save_nor_the_story() -> None:
    # A user trial: 186/112 and its "recheck" 152/94 both entered with "Now" at 10:22; the form
    # said the recheck cleared dosing, the save refused the dose.  One judgement now says: a
    # recheck counts only when taken later than the refused reading, after rest.
    high = _bp("Pre-dose", -5, 186, 112)
    same = _bp("Pre-dose recheck", -5, 152, 94)
    found = pre_dose_findings(
        [high, same], {"Pre-dose"}, DOSE, BLOCK, zone=dt.UTC, check_labels=CHECKS
    )
    assert [f.fact for f in found] == [
        "the pre-dose BP 186/112 (18:10) is above the clinic's hard stop 180/110; the recheck "
        "152/94 was taken the same minute, and a recheck counts only when taken later, after rest"
    ]
    told = _story([high, same], DOSE)
    assert not any(n.cleared for n in told.values())
    assert told["Pre-dose recheck"].same_minute
    assert told["Pre-dose recheck"].tag == "same minute: not a recheck"
    assert "does not clear dosing" in told["Pre-dose recheck"].text
    # Entered in the other order the same minute still holds the stop.
    assert _rules(
        pre_dose_findings([same, high], {"Pre-dose"}, DOSE, BLOCK, check_labels=CHECKS)
    ) == ["pre_dose_hard_stop"]
    # A minute later, after rest, it clears dosing for both.
    later = _bp("Pre-dose recheck", -4, 152, 94)
    assert pre_dose_findings([high, later], {"Pre-dose"}, DOSE, BLOCK, check_labels=CHECKS) == []
    assert _story([high, later], DOSE)["Pre-dose recheck"].cleared


def test_after_a_hard_stop_a_pre_dose_recheck_is_owed_until_one_clears_it() -> None:
    high = _bp("Pre-dose", -5, 186, 112)

    def owed(*readings: BpReading, dose_at: dt.datetime | None = None) -> BpReading | None:
        return chair_rules.pre_dose_recheck_owed(readings, {"Pre-dose"}, CHECKS, dose_at, BLOCK)

    assert owed(high) == high
    assert owed(high, _bp("Pre-dose recheck", -5, 150, 90)) == high  # the same minute
    assert owed(high, _bp("Pre-dose recheck", -1, 150, 90)) is None
    assert owed(high, _bp("Pre-dose recheck", -1, 184, 100)) is not None
    assert owed(_bp("Pre-dose", -5, 128, 82)) is None
    assert owed(high, dose_at=DOSE) is None  # a dose recorded: the record's own rules judge it


def _recheck(
    *readings: BpReading,
    dose_at: dt.datetime | None = DOSE,
    settings: ChairSettings = BLOCK,
) -> chair_rules.BpRecheck | None:
    return chair_rules.bp_recheck_owed(
        readings,
        {"Pre-dose"},
        CHECKS,
        dose_at,
        settings,
        warn_systolic=140,
        warn_diastolic=90,
    )


def test_a_raised_bp_after_the_dose_owes_a_recheck_until_one_is_back_in_range() -> None:
    """DOMAIN: "recheck while elevated" (a user trial: +40 min 168/102 scheduled nothing)."""
    raised = _bp("+40 min", 40, 168, 102)
    owed = _recheck(_bp("Pre-dose", -5, 128, 82), raised)
    assert owed is not None
    assert owed.reading == raised
    assert owed.kind == chair_rules.RECHECK_RAISED
    assert owed.due_at == raised.taken_at + dt.timedelta(minutes=15)  # [chair] default
    assert not owed.over_hard_stop
    assert owed.words(dt.UTC, FMT) == "BP 168/102 raised (over 140/90) at 18:55; recheck due 19:10"
    # Only the diastolic above its limit is raised too; at the limit is not.
    assert _recheck(_bp("+40 min", 40, 130, 95)) is not None
    assert _recheck(_bp("+40 min", 40, 140, 90)) is None
    # A later reading in range ends it; a later raised one moves it.
    assert _recheck(raised, _bp("Recheck", 55, 136, 84)) is None
    still = _recheck(raised, _bp("Recheck", 55, 150, 94))
    assert still is not None
    assert still.due_at == DOSE + dt.timedelta(minutes=70)
    # Raised before the dose only warns ("consider delaying"): no recheck owed after it.
    assert _recheck(_bp("Pre-dose", -5, 150, 94)) is None


def test_the_recheck_minutes_are_the_clinics_and_a_reading_over_the_hard_stop_says_so() -> None:
    settings = parse_chair_settings({"bp_recheck_minutes": 10})
    owed = _recheck(_bp("+40 min", 40, 186, 112), settings=settings)
    assert owed is not None
    assert owed.due_at == DOSE + dt.timedelta(minutes=50)
    assert owed.over_hard_stop
    assert owed.words(dt.UTC, FMT) == (
        "BP 186/112 over the hard stop (180/110) at 18:55: tell the prescriber; recheck due 19:05"
    )
    with pytest.raises(ConfigError, match=r"chair\.bp_recheck_minutes"):
        parse_chair_settings({"bp_recheck_minutes": 0})


def test_before_the_dose_a_hard_stop_owes_a_recheck_after_rest_not_now() -> None:
    high = _bp("Pre-dose", -5, 186, 112)
    owed = _recheck(high, dose_at=None)
    assert owed is not None
    assert owed.before_dose
    assert owed.due_at == high.taken_at + dt.timedelta(minutes=15)
    assert owed.words(dt.UTC, "12h") == (
        "Do not dose: BP 186/112 over the hard stop (180/110) at 6:10 PM; "
        "recheck after rest, due 6:25 PM"
    )
    assert _recheck(high, _bp("Pre-dose recheck", 5, 150, 88), dose_at=None) is None
