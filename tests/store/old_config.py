"""A clinic's stored configuration as one created before the rules engine stored it: its
protocols and settings without the rule keys, and a few values of the clinic's own.  Used by
tests/store/test_protocol_rules_upgrade.py and the Settings note's test."""

from __future__ import annotations

import copy

from sqlalchemy import select

from ketadesk.store.database import Database
from ketadesk.store.models import ClinicSetting, Protocol

#: A stage's keys an old clinic lacked (min_gap_days and max_gap_days it always had).
OLD_MISSING_STAGE_KEYS = ("window_days", "window_cap", "followed_by", "on_complete")
#: Whole sections an old clinic did not have, and the [gating] items it lacked.
OLD_MISSING_SECTIONS = ("protocol_rules", "chair", "urgent_review", "dropout", "rems_form")
OLD_MISSING_GATES = ("age", "contraindications", "precautions")
#: A clinic's own protocol (no rule keys): left alone, and said so.
CLINIC_PROTOCOL = {
    "name": "Our Spravato course",
    "default_weekdays": ["tue"],
    "stages": [
        {
            "name": "Weekly",
            "session_type": "spravato",
            "count": 4,
            "min_gap_days": 6,
            "max_gap_days": 8,
        }
    ],
}


def strip_to_old_config(db: Database) -> None:
    """Take the rule keys away as an old clinic lacked them; keep a few values of its own."""
    with db.write() as session:
        for row in session.scalars(select(Protocol)):
            definition = copy.deepcopy(row.definition)
            for stage in definition["stages"]:
                for key in OLD_MISSING_STAGE_KEYS:
                    stage.pop(key, None)
            definition.pop("starting_dose_mg", None)
            if row.code == "spravato_mdd_si":
                # The clinic's own: a shorter window for its four weeks.
                definition["stages"][0]["window_days"] = 21
            row.definition = definition
        for key in OLD_MISSING_SECTIONS:
            row_ = session.get(ClinicSetting, key)
            if row_ is not None:
                session.delete(row_)
        gating = session.get(ClinicSetting, "gating")
        assert gating is not None
        kept = {k: v for k, v in gating.value.items() if k not in OLD_MISSING_GATES}
        gating.value = {**kept, "prior_auth_valid": "block"}  # the clinic's own choice
        eligibility = session.get(ClinicSetting, "eligibility")
        assert eligibility is not None
        eligibility.value = {"consent_valid_months": 120}  # the clinic's own, set by the fixture
        session.add(
            Protocol(
                code="our_course",
                name="Our Spravato course",
                definition=CLINIC_PROTOCOL,
                sort_order=99,
            )
        )
