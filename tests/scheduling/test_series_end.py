"""Ending a series as plain rules: who may ([series_end] roles), the reason required, and the
words the record says."""

from __future__ import annotations

import datetime as dt

import pytest

from ketadesk.scheduling.catalog import ConfigError
from ketadesk.scheduling.series_end import (
    ended_words,
    parse_series_end_settings,
    reason_problem,
    who_may_end,
)


def test_prescribers_end_a_series_unless_the_clinic_adds_nurses() -> None:
    default = parse_series_end_settings(None)
    assert default.roles == ("prescriber",)
    assert who_may_end(default) == "Only a prescriber may end a series"
    both = parse_series_end_settings({"roles": ["prescriber", "nurse"]})
    assert who_may_end(both) == "Only a nurse or prescriber may end a series"


@pytest.mark.parametrize("roles", [[], ["front_desk"], "prescriber"])
def test_a_role_list_the_rule_cannot_take_names_its_key(roles: object) -> None:
    with pytest.raises(ConfigError, match=r"series_end\.roles"):
        parse_series_end_settings({"roles": roles})


def test_a_reason_is_required_and_other_must_say_more() -> None:
    assert reason_problem("", "") == "Choose why the series ends"
    assert "Unknown reason" in reason_problem("bored", "")
    assert reason_problem("other", "  ") == "Say why the series ends (the reason is 'other')"
    assert reason_problem("other", "moved away") == ""
    assert reason_problem("response_achieved", "") == ""


def test_the_record_says_when_why_and_who() -> None:
    day = dt.date(2026, 12, 8)
    assert (
        ended_words(day, "side_effects", "sustained hypertension", "Dr Okafor")
        == "Ended Dec 8: side effects / safety: sustained hypertension (Dr Okafor)"
    )
    assert ended_words(day, "other", "moved out of state") == "Ended Dec 8: moved out of state"
    assert ended_words(day, "patient_choice") == "Ended Dec 8: patient's choice"
