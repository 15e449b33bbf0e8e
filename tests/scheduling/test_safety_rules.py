"""The clinical safety rules can be made a "block" or a "warn", never "off": the loader refuses
"off" naming the key and the file, the non-safety rules may still be turned off, and Settings ▸
Clinic rules offers only Block and Warn for them."""

from __future__ import annotations

import copy

import pytest

from ketadesk.config import build_catalog, read_raw_config
from ketadesk.scheduling.catalog import SAFETY_RULES, ConfigError
from ketadesk.services.settings.rule_levels import level_rules

# What a clinic could switch off before: every rule that is not a clinical safety rule.
NOT_SAFETY = ("gating.precautions", "gating.prior_auth_valid", "protocol_rules.min_gap")


def _with_level(key: str, level: str) -> dict[str, dict[str, object]]:
    clinic = copy.deepcopy(read_raw_config().clinic)
    section, _, rule = key.partition(".")
    clinic[section] = {**clinic.get(section, {}), rule: level}
    return clinic


def _build(key: str, level: str) -> None:
    raw = read_raw_config()
    build_catalog(
        type(raw)(_with_level(key, level), raw.session_types, raw.protocols), "/srv/clinic-a"
    )


def test_the_safety_rules_are_the_labels_and_the_never_silent_ones() -> None:
    assert len(SAFETY_RULES) == 11
    assert {"chair.pre_dose_bp", "urgent_review.dosing", "protocol_rules.window_cap"} <= (
        SAFETY_RULES
    )
    assert not SAFETY_RULES & set(NOT_SAFETY)
    # Every one is a rule Settings lists, so none is a typo that guards nothing.
    assert set(level_rules(read_raw_config())) >= SAFETY_RULES


@pytest.mark.parametrize("key", sorted(SAFETY_RULES))
def test_a_safety_rule_set_off_stops_the_clinic_opening_naming_key_and_file(key: str) -> None:
    with pytest.raises(ConfigError) as refused:
        _build(key, "off")
    assert str(refused.value) == (
        f'/srv/clinic-a/clinic.toml: {key}: "off" is not allowed for a clinical safety rule; '
        'set it to "block" or "warn"'
    )


@pytest.mark.parametrize("key", sorted(SAFETY_RULES))
@pytest.mark.parametrize("level", ["block", "warn"])
def test_a_safety_rule_may_block_or_warn(key: str, level: str) -> None:
    _build(key, level)


@pytest.mark.parametrize("key", NOT_SAFETY)
def test_other_rules_may_still_be_turned_off(key: str) -> None:
    _build(key, "off")


def test_settings_offers_block_and_warn_only_for_a_safety_rule() -> None:
    rules = level_rules(read_raw_config())
    for key, rule in rules.items():
        labels = [c.label for c in rule.choices]
        assert labels == (["Block", "Warn"] if key in SAFETY_RULES else ["Block", "Warn", "Off"])
