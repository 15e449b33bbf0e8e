"""A clinic created before the rules engine gets the shipped rules it did not have: its stored
protocols and settings lack the rule keys, so the 2-in-7-days Spravato cap silently does not
apply.  Migration 0015_protocol_rules_upgrade (and ``ketadesk config add-shipped-rules``) adds
each missing key, keeps every value the clinic set, leaves a clinic-made protocol alone, audits
what it added, and the cap is then enforced at booking; ``ketadesk check`` warns until then."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import select

from ketadesk.cli import main
from ketadesk.config import RawConfig
from ketadesk.config import read_raw_config as read_shipped_config
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.rule_check import RuleRefused
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import SYSTEM, Actor, PermissionDenied
from ketadesk.services.settings.shipped_rules import add_missing_rules, read_missing_rules
from ketadesk.store.clinic_config import read_raw_config
from ketadesk.store.config_upgrade import AUDIT_ACTION, missing_shipped_rules, plan_upgrade
from ketadesk.store.migrate import current_revision, revision_graph
from ketadesk.store.models import AuditEvent
from tests.clinic_fixtures import SmallClinic, build_small_clinic
from tests.store.migrations import migrate_to
from tests.store.old_config import (
    CLINIC_PROTOCOL,
    OLD_MISSING_SECTIONS,
    strip_to_old_config,
)

# The clock is injected: "now" is the Tuesday before the first Monday the tests book.
NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
MONDAY = dt.date(2026, 12, 7)
SPRAVATO = {
    "room": "Room 2",
    "monitor": "Monitor 2",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}


@pytest.fixture
def old_clinic(db_url: str) -> Iterator[SmallClinic]:
    """A clinic as one created before the rules engine stored it, with a few values of its own."""
    clinic = build_small_clinic(db_url)
    strip_to_old_config(clinic.db)
    yield clinic
    clinic.db.dispose()


def _raw(clinic: SmallClinic) -> RawConfig:
    with clinic.db.read() as session:
        return read_raw_config(session)


def _stage(raw: RawConfig, protocol: str, index: int = 0) -> dict[str, Any]:
    stage: dict[str, Any] = raw.protocols["protocols"][protocol]["stages"][index]
    return stage


def _book(
    clinic: SmallClinic, patient: str, offsets: Sequence[int], hhmm: str = "10:00"
) -> list[int]:
    sessions = tuple(
        clinic.session("spravato", MONDAY + dt.timedelta(days=d), hhmm, SPRAVATO, index=n + 1)
        for n, d in enumerate(offsets)
    )
    result = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(patient_id=clinic.ids[patient], sessions=sessions, protocol="spravato_trd"),
        now=NOW,
    )
    return list(result.appointment_ids)


def _assert_upgraded(clinic: SmallClinic) -> None:
    raw = _raw(clinic)
    shipped = read_shipped_config()
    induction = _stage(raw, "spravato_trd")
    # The keys are back...
    assert induction["window_cap"] == {"sessions": 2, "days": 7}
    assert induction["on_complete"]["followup"] == "induction_review"
    assert induction["window_days"] == 28
    assert _stage(raw, "kap_program", 1)["followed_by"]["session_type"] == "integration"
    assert raw.protocols["protocols"]["spravato_mdd_si"]["starting_dose_mg"] == [84]
    for section in OLD_MISSING_SECTIONS:
        assert raw.clinic[section] == shipped.clinic[section]
    assert raw.clinic["gating"]["age"] == "block"
    assert raw.clinic["eligibility"]["min_age_years"] == {"spravato": 18}
    # ...the clinic's own values are kept...
    assert _stage(raw, "spravato_mdd_si")["window_days"] == 21
    assert raw.clinic["gating"]["prior_auth_valid"] == "block"
    assert raw.clinic["eligibility"]["consent_valid_months"] == 120
    # ...and its own protocol is left alone.
    assert raw.protocols["protocols"]["our_course"] == CLINIC_PROTOCOL


def test_an_old_clinic_upgraded_to_0015_has_the_cap_again_and_keeps_its_own_values(
    old_clinic: SmallClinic, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The hole: on the old configuration three Spravato doses in five days book.
    assert len(_book(old_clinic, "Ada Lovelace", [0, 2, 4])) == 3
    old_clinic.db.dispose()
    migrate_to(db_url, "0014_eligibility")

    opened = open_clinic(db_url)  # upgrades an outdated clinic: migration 0015 runs
    old_clinic.db = opened.db
    assert current_revision(opened.db) == revision_graph().head  # 0015 and those after it
    # What the upgrade left alone is said (a warning: `ketadesk db upgrade` prints it).
    assert "left alone: protocol our_course: the clinic's own protocol" in caplog.text
    _assert_upgraded(old_clinic)

    with old_clinic.db.read() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == AUDIT_ACTION)).all()
        details = "\n".join(e.detail for e in events)
        cap = "window_cap = { sessions = 2, days = 7 }"
        assert f'protocol spravato_trd, stage 1 "Induction (weeks 1-4, twice weekly)": {cap}' in (
            details
        )
        assert "migration 0015_protocol_rules_upgrade" in details
        trd = next(e for e in events if e.entity == "protocol" and "spravato_trd" in e.detail)
        assert "window_cap" not in trd.before["stages"][0]  # type: ignore[index]
        assert trd.after["stages"][0]["window_cap"] == {"sessions": 2, "days": 7}  # type: ignore[index]
        assert {e.entity for e in events} == {"protocol", "setting", "configuration"}
        left = next(e for e in events if e.entity == "configuration")
        assert "left alone" in left.detail
        assert "protocol our_course: the clinic's own protocol" in left.detail
        assert not missing_shipped_rules(session.connection()).added  # nothing left to add

    # The rule now holds at booking: a third dose in 7 days in induction is refused.
    with pytest.raises(RuleRefused, match=r"\[window_cap\]"):
        _book(old_clinic, "Mary Seacole", [0, 2, 4], "13:00")
    assert len(_book(old_clinic, "Mary Seacole", [0, 3, 7], "13:00")) == 3


def test_add_shipped_rules_on_demand_dry_run_first(
    old_clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    url = old_clinic.db.url.render_as_string(hide_password=False)
    before = _raw(old_clinic)
    assert main(["config", "add-shipped-rules", "--db", url, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert (
        'would add protocol spravato_trd, stage 1 "Induction (weeks 1-4, twice weekly)": '
        "window_cap = { sessions = 2, days = 7 }" in out
    )
    assert 'would add [chair]: pre_dose_bp = "block"' in out
    assert "left alone: protocol our_course: the clinic's own protocol" in out
    assert "nothing was written (--dry-run)" in out
    assert _raw(old_clinic) == before

    assert main(["config", "add-shipped-rules", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "added protocol spravato_trd" in out
    assert "would add" not in out
    _assert_upgraded(old_clinic)
    with old_clinic.db.read() as session:
        who = session.scalars(
            select(AuditEvent.username).where(AuditEvent.action == AUDIT_ACTION)
        ).all()
    assert who
    assert all(name.endswith("(command line)") for name in who)

    assert main(["config", "add-shipped-rules", "--db", url]) == 0
    assert "has every shipped rule key; nothing to add" in capsys.readouterr().out


def test_only_an_administrator_adds_them_on_demand(old_clinic: SmallClinic) -> None:
    nurse = Actor(user_id=None, username="kim", role="nurse")
    with pytest.raises(PermissionDenied):
        add_missing_rules(old_clinic.db, nurse, now=NOW)
    assert read_missing_rules(old_clinic.db).keys  # nothing was added
    # A dry run only reads: anyone may see what is missing.
    assert add_missing_rules(old_clinic.db, nurse, dry_run=True, now=NOW).added


def test_check_warns_of_each_missing_rule_key_and_names_the_command(
    old_clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    url = old_clinic.db.url.render_as_string(hide_password=False)
    assert main(["check", "--db", url]) == 0  # a warning: the exit status is the rows'
    out = capsys.readouterr().out
    assert (
        'warning: configuration: protocol spravato_trd, stage 1 "Induction (weeks 1-4, twice '
        'weekly)" lacks the shipped rule window_cap (shipped: window_cap = { sessions = 2, '
        "days = 7 })" in out
    )
    assert "warning: configuration: [urgent_review] lacks the shipped rule deadline_hours" in out
    assert "our_course" not in out  # the clinic's own protocol is its business
    assert "ketadesk config add-shipped-rules --db URL" in out

    assert main(["config", "add-shipped-rules", "--db", url]) == 0
    capsys.readouterr()
    assert main(["check", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "configuration:" not in out
    assert "add-shipped-rules" not in out


def _renamed(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {
            k: new if v == old and k != "shade" else _renamed(v, old, new) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_renamed(v, old, new) for v in value]
    return value


def test_an_addition_the_loader_refuses_is_reported_and_the_rest_added() -> None:
    shipped = read_shipped_config()
    stored = copy.deepcopy(shipped)
    types = stored.session_types["session_types"]
    # The clinic calls Spravato's dosing phase "dose": the shipped BP checks (at "dosing")
    # do not fit its session type.
    types["spravato"] = _renamed(types["spravato"], "dosing", "dose")
    types["spravato"]["observation_from"] = "dose"
    del types["spravato"]["bp_checks"]
    del stored.protocols["protocols"]["spravato_trd"]["stages"][0]["window_cap"]
    plan, new = plan_upgrade(stored, shipped)
    assert [(a.code, a.key) for a in plan.added] == [("spravato_trd", "window_cap")]
    refused = [str(s) for s in plan.left_alone]
    assert len(refused) == 1, refused
    assert refused[0].startswith("session type spravato: bp_checks: not added, the loader")
    assert "bp_checks" not in new.session_types["session_types"]["spravato"]


def test_a_configuration_that_does_not_load_gets_nothing_and_says_why() -> None:
    shipped = read_shipped_config()
    stored = copy.deepcopy(shipped)
    del stored.protocols["protocols"]["spravato_trd"]["stages"][0]["window_cap"]
    stored.clinic["clinic"]["slot_minutes"] = 7  # does not divide an hour
    plan, new = plan_upgrade(stored, shipped)
    assert not plan.added
    assert new == stored
    assert [s.where for s in plan.left_alone] == ["the stored configuration"]
    assert "slot_minutes" in plan.left_alone[0].reason


def test_a_new_clinic_has_nothing_to_add(sqlite_url: str) -> None:
    opened = open_clinic(sqlite_url, create=True)
    try:
        with opened.db.read() as session:
            upgrade = missing_shipped_rules(session.connection())
            assert not upgrade.added
            assert not upgrade.left_alone
            assert not session.scalars(
                select(AuditEvent).where(AuditEvent.action == AUDIT_ACTION)
            ).all()
    finally:
        opened.db.dispose()
