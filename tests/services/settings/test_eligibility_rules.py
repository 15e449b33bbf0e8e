"""[eligibility] on Settings ▸ Clinic rules: the consent validity and the per-type minimum ages
are fields; a bad value comes back at its field with the loader's message, nothing saved; a
good one is used by the next booking's gates."""

from __future__ import annotations

import pytest

from ketadesk.config import build_catalog
from ketadesk.scheduling.catalog import ConfigError
from ketadesk.scheduling.gating import eligibility_settings
from ketadesk.services.common.context import SYSTEM, InvalidFields
from ketadesk.services.settings.rules import read_rules, save_rules
from ketadesk.store.clinic_config import load_catalog, read_raw_config
from tests.clinic_fixtures import build_small_clinic


def test_eligibility_fields_are_edited_and_checked(db_url: str) -> None:
    small = build_small_clinic(db_url)
    try:
        rules = read_rules(small.db)
        assert rules.value("eligibility.consent_valid_months") == 120  # the fixture's
        assert rules.value("eligibility.min_age_years.spravato") == 18
        with pytest.raises(InvalidFields) as caught:
            save_rules(small.db, SYSTEM, {"eligibility.consent_valid_months": -3})
        assert caught.value.errors == {
            "eligibility.consent_valid_months": "must be a whole number >= 0, got -3"
        }
        with pytest.raises(InvalidFields) as caught:
            save_rules(small.db, SYSTEM, {"eligibility.min_age_years.spravato": -1})
        assert "eligibility.min_age_years.spravato" in caught.value.errors
        assert save_rules(small.db, SYSTEM, {"eligibility.min_age_years.spravato": 21}) == 1
        with small.db.read() as session:
            elig = eligibility_settings(load_catalog(session).settings)
        assert elig.min_age_years == {"spravato": 21}
    finally:
        small.db.dispose()


def test_a_bad_eligibility_section_stops_the_clinic_opening_with_its_key(db_url: str) -> None:
    small = build_small_clinic(db_url)
    try:
        with small.db.read() as session:
            raw = read_raw_config(session)
        raw.clinic["eligibility"] = {**raw.clinic["eligibility"], "min_age_years": {"ivv": 18}}
        with pytest.raises(ConfigError, match=r"clinic\.toml: eligibility\.min_age_years\.ivv: "):
            build_catalog(raw)
    finally:
        small.db.dispose()
