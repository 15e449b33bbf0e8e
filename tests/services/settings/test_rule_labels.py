"""Settings ▸ Clinic rules reads as words, never raw codes: a per-type field is named by the
session type's name, a follow-up field by the follow-up's name."""

from __future__ import annotations

from ketadesk.services.settings.rules import read_rules
from tests.clinic_fixtures import build_small_clinic


def test_rule_fields_are_labelled_in_words(db_url: str) -> None:
    small = build_small_clinic(db_url)
    try:
        rules = read_rules(small.db)
        labels = {f.key: f.label for g in rules.groups for f in g.fields}
        assert labels["eligibility.min_age_years.spravato"] == (
            "Youngest age for Spravato (esketamine)"
        )
        rems = [label for label in labels.values() if label.startswith("REMS monitoring form")]
        assert rems == ["REMS monitoring form due within"]
        assert not any(": within" in label or "Rems" in label for label in labels.values())
        assert labels["clinic.check_in_days_ahead"] == (
            "Check in or start before the session's day by"
        )
        assert rules.value("clinic.check_in_days_ahead") == 0
    finally:
        small.db.dispose()
