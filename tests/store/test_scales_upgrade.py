"""A clinic created before the timed scales gets them on upgrade: its session types are stored
in its database, so its IV infusions and Spravato sessions owed no MOAA/S or CADSS reading.
The scales migration gives each shipped session type without ``scales`` the shipped ones (and
``[scales]`` its thresholds), keeps the scales a clinic set itself, leaves a clinic-made type
alone, audits each change, and changes nothing an earlier migration recorded.  Its way back
keeps a corrected reading's corrected score."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import inspect, select

from ketadesk.config import read_raw_config as read_shipped_config
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.monitoring import scale_readings
from ketadesk.store.clinic_config import load_catalog, read_raw_config
from ketadesk.store.config_upgrade import (
    AUDIT_ACTION,
    SCALES_ACTION,
    add_shipped_scales,
    missing_shipped_rules,
)
from ketadesk.store.database import Database, open_database
from ketadesk.store.migrate import current_revision, revision_graph
from ketadesk.store.models import AuditEvent, ClinicSetting, ScaleReading, SessionType
from tests.clinic_fixtures import SmallClinic, build_small_clinic, use_scales
from tests.scale_fixtures import add_user, at, iv_session, record_reading
from tests.store.migrations import migrate_to
from tests.store.old_config import strip_to_old_config

#: The scales migration, by its name (the merger may renumber it), and the revision before it.
MIGRATION = next(r for r in revision_graph().parents if r.endswith("_scales2"))
BEFORE = str(revision_graph().parents[MIGRATION])
#: The clinic's own Spravato scales: MOAA/S once, an hour after the first device.
OWN_SPRAVATO = [{"scale": "moaas", "at": [60]}]
NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)


def _older_clinic(url: str) -> SmallClinic:
    """The small clinic as one created before the timed scales: no ``scales`` on its session
    types (the small clinic keeps none) and no ``[scales]``; Spravato given scales of its own,
    and an IV infusion type of its own made from the shipped one."""
    clinic = build_small_clinic(url)
    with clinic.db.write() as session:
        scales = session.get(ClinicSetting, "scales")
        assert scales is not None
        session.delete(scales)
        types = {t.code: t for t in session.scalars(select(SessionType))}
        assert all("scales" not in t.definition for t in types.values())
        types["spravato"].definition = {**types["spravato"].definition, "scales": OWN_SPRAVATO}
        own = copy.deepcopy(types["iv_infusion"].definition)
        own["name"] = "IV infusion, long recovery"
        session.add(
            SessionType(
                code="iv_long",
                name=own["name"],
                color=types["iv_infusion"].color,
                dosing=True,
                definition=own,
                sort_order=90,
            )
        )
    return clinic


def _columns(url: str) -> set[str]:
    db = open_database(url)
    try:
        return {c["name"] for c in inspect(db.engine).get_columns("scale_reading")}
    finally:
        db.dispose()


def _types(db: Database) -> dict[str, Any]:
    with db.read() as session:
        types: dict[str, Any] = read_raw_config(session).session_types["session_types"]
        return types


@pytest.fixture
def older(db_url: str) -> Iterator[SmallClinic]:
    clinic = _older_clinic(db_url)
    clinic.db.dispose()
    yield clinic
    clinic.db.dispose()


def test_an_older_clinic_gets_the_shipped_scales_and_keeps_its_own(
    older: SmallClinic, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    migrate_to(db_url, BEFORE)
    assert "corrects_id" not in _columns(db_url)  # the way back drops the correction's columns
    shipped = read_shipped_config()
    shipped_types = shipped.session_types["session_types"]

    opened = open_clinic(db_url)  # upgrades an outdated clinic: the scales migration runs
    try:
        assert current_revision(opened.db) == revision_graph().head
        assert {"corrects_id", "correction_reason", "corrected_by_id", "corrected_at"} <= (
            _columns(db_url)
        )
        types = _types(opened.db)
        assert types["iv_infusion"]["scales"] == shipped_types["iv_infusion"]["scales"]
        assert types["spravato"]["scales"] == OWN_SPRAVATO  # the clinic's choice, kept
        assert "scales" not in types["iv_long"]  # the clinic's own type: its business
        assert "scales" not in types["integration"]  # a type shipped without scales
        with opened.db.read() as session:
            assert read_raw_config(session).clinic["scales"] == shipped.clinic["scales"]
            catalog = load_catalog(session)  # the upgraded configuration loads
            assert [p.scale for p in catalog.session_types["iv_infusion"].scales] == [
                "moaas",
                "cadss",
            ]
            events = [
                (e.entity, e.entity_id, e.before, e.after, e.detail)
                for e in session.scalars(
                    select(AuditEvent).where(AuditEvent.action == SCALES_ACTION)
                )
            ]
            # Only once: nothing asks to add scales to a type left without them afterwards.
            assert not [
                a for a in missing_shipped_rules(session.connection()).added if a.key == "scales"
            ]
        assert {(entity, entity_id is not None) for entity, entity_id, *_ in events} == {
            ("session_type", True),
            ("setting", False),
            ("configuration", False),
        }
        _, _, before, after, detail = next(e for e in events if e[0] == "session_type")
        assert before is not None
        assert "scales" not in before
        assert after is not None
        assert after["scales"] == shipped_types["iv_infusion"]["scales"]
        assert detail.startswith(f"shipped scales added (migration {MIGRATION}): ")
        assert 'scales = [{ scale = "moaas", at = [0, 15, 30, 45], at_discharge = true }' in (
            detail
        )
        left = next(e[4] for e in events if e[0] == "configuration")
        assert left.startswith(
            f"shipped scales left alone (migration {MIGRATION}): session type spravato: "
            "its own scales kept (scales = [{ "
        )
        # (PostgreSQL's JSON keeps the keys in an order of its own.)
        assert 'scale = "moaas"' in left
        assert "at = [60]" in left
        assert "left alone: session type spravato: its own scales kept" in caplog.text
        # Once done, again adds nothing.
        with opened.db.write() as session:
            again = add_shipped_scales(session.connection(), now=NOW)
        assert not again.added
    finally:
        opened.db.dispose()


def test_the_rules_migration_of_an_older_clinic_records_no_scales(sqlite_url: str) -> None:
    """A clinic from before the rules engine: 0015 adds the rule keys it added before (never
    the scales), and the scales migration adds the scales apart, under its own action."""
    clinic = build_small_clinic(sqlite_url)
    strip_to_old_config(clinic.db)
    clinic.db.dispose()
    migrate_to(sqlite_url, "0014_eligibility")
    opened = open_clinic(sqlite_url)
    try:
        with opened.db.read() as session:
            rules = session.scalars(
                select(AuditEvent.detail).where(AuditEvent.action == AUDIT_ACTION)
            ).all()
            scales = session.scalars(
                select(AuditEvent.detail).where(AuditEvent.action == SCALES_ACTION)
            ).all()
        assert rules
        assert not any("scales" in d for d in rules)
        assert any(d.startswith("shipped scales added") for d in scales)
    finally:
        opened.db.dispose()


def test_the_way_back_keeps_a_corrected_reading_by_its_corrected_score(db_url: str) -> None:
    clinic = build_small_clinic(db_url)
    with clinic.db.write() as session:
        use_scales(session)
    nurse = add_user(clinic, "kim", "Kim Nguyen", "nurse")
    iv = iv_session(clinic, nurse)
    typed = record_reading(clinic, nurse, iv, "moaas", "2", "13:16").readings[0]
    first = scale_readings.correct_scale_reading(
        clinic.db, nurse, typed.reading_id, "3", "typo", now=at(clinic, "13:18")
    ).readings[0]
    scale_readings.correct_scale_reading(
        clinic.db, nurse, first.reading_id, "4", "typo again", now=at(clinic, "13:19")
    )
    clinic.db.dispose()
    migrate_to(db_url, BEFORE)
    db = open_database(db_url)
    try:
        with db.read() as session:
            kept = session.execute(select(ScaleReading.scale, ScaleReading.score)).all()
    finally:
        db.dispose()
    assert [tuple(r) for r in kept] == [("moaas", 4)]
