"""A clinic that stored "off" for a clinical safety rule (Settings offered it once) opens again:
migration 0018_safety_off_to_warn makes each such rule "warn", audits it, and leaves every other
value alone; without it the loader refuses the clinic, naming the key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.scheduling.catalog import ConfigError
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.store.clinic_config import load_catalog, read_raw_config
from ketadesk.store.config_upgrade import SAFETY_OFF_ACTION, lift_safety_off
from ketadesk.store.database import Database
from ketadesk.store.migrate import current_revision, revision_graph
from ketadesk.store.models import AuditEvent, ClinicSetting
from tests.clinic_fixtures import SmallClinic, build_small_clinic
from tests.store.migrations import migrate_to

MIGRATION = "0018_safety_off_to_warn"
#: Stored "off" as Settings let a clinic choose before the rule; and a non-safety rule "off".
OFF = {
    ("gating", "rems_site_certified"),
    ("chair", "dose"),
    ("protocol_rules", "concurrent_course"),
}
NOT_SAFETY = ("gating", "prior_auth_valid")


@pytest.fixture
def clinic_with_off(db_url: str) -> Iterator[SmallClinic]:
    clinic = build_small_clinic(db_url)
    _store(clinic.db, {*OFF, NOT_SAFETY}, "off")
    yield clinic
    clinic.db.dispose()


def _store(db: Database, keys: set[tuple[str, str]], value: str) -> None:
    """Write levels past the loader, as an older KetaDesk's Settings did."""
    with db.write() as session:
        for section, rule in keys:
            row = session.get(ClinicSetting, section)
            assert row is not None
            row.value = {**row.value, rule: value}


def test_a_stored_off_is_refused_by_the_loader_naming_the_key(
    clinic_with_off: SmallClinic,
) -> None:
    with clinic_with_off.db.read() as session, pytest.raises(ConfigError, match=r'"off" is not'):
        load_catalog(session)


def test_the_migration_makes_each_stored_off_a_warn_and_audits_it(
    clinic_with_off: SmallClinic, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clinic_with_off.db.dispose()
    migrate_to(db_url, "0017_tentative_deadline_index")
    opened = open_clinic(db_url)  # upgrades an outdated clinic: the migration runs
    clinic_with_off.db = opened.db
    assert current_revision(opened.db) == revision_graph().head
    keys = ", ".join(sorted(f"{s}.{r}" for s, r in OFF))
    assert f'stored "off" are now "warn" (each is in the audit trail): {keys}' in caplog.text

    with opened.db.read() as session:
        raw = read_raw_config(session)
        for section, rule in OFF:
            assert raw.clinic[section][rule] == "warn"
        assert raw.clinic[NOT_SAFETY[0]][NOT_SAFETY[1]] == "off"  # not a safety rule: kept
        assert raw.clinic["gating"]["age"] == "block"  # the rest untouched
        catalog = load_catalog(session)  # the clinic opens again
        assert catalog is not None
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == SAFETY_OFF_ACTION)
        ).all()
        assert {e.entity for e in events} == {"setting"}
        by_section = {next(iter(e.after)): e for e in events}  # type: ignore[arg-type]
        assert set(by_section) == {s for s, _ in OFF}
        chair = by_section["chair"]
        assert chair.before["chair"]["dose"] == "off"  # type: ignore[index]
        assert chair.after["chair"]["dose"] == "warn"  # type: ignore[index]
        assert f"migration {MIGRATION}" in chair.detail
        assert "chair.dose" in chair.detail


def test_a_clinic_without_a_stored_off_is_not_touched(sqlite_url: str) -> None:
    clinic = build_small_clinic(sqlite_url)
    with clinic.db.read() as session:
        before = read_raw_config(session)
    now = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    with clinic.db.engine.begin() as conn:
        assert lift_safety_off(conn, now=now) == ()
    with clinic.db.read() as session:
        assert read_raw_config(session) == before
        assert not session.scalars(
            select(AuditEvent).where(AuditEvent.action == SAFETY_OFF_ACTION)
        ).all()
    clinic.db.dispose()
