"""Migration 0024_closures: a repeating closure is one row (``closure.repeat_rule``), which the
database checks and the reference revision follows; a 0023 clinic upgrades with its closures
kept as they were, and the way back writes each repeating closure as one closure per day it
closes, so nothing it closed opens."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.store.database import open_database
from ketadesk.store.migrate import current_revision, revision_graph
from ketadesk.store.models import Closure
from ketadesk.store.reference import reference_revision
from tests.clinic_fixtures import build_small_clinic
from tests.store.migrations import migrate_to

BEFORE = "0023_protocol"
FIRST = dt.date(2026, 12, 21)
LAST = dt.date(2026, 12, 31)


def _columns(url: str) -> list[str]:
    db = open_database(url)
    try:
        return [c["name"] for c in inspect(db.engine).get_columns("closure")]
    finally:
        db.dispose()


def test_a_repeating_closure_is_one_row_the_database_checks(db_url: str) -> None:
    clinic = build_small_clinic(db_url)
    try:
        with clinic.db.write() as session:
            before = reference_revision(session)
            row = Closure(
                kind="closure",
                starts_at=clinic.at(FIRST, "13:00"),
                ends_at=clinic.at(LAST, "17:00"),
                reason="Christmas week afternoons",
                repeat_rule="FREQ=DAILY",
            )
            session.add(row)
            session.flush()
            added = reference_revision(session)
            row.repeat_rule = "FREQ=WEEKLY;BYDAY=MO,FR"
            session.flush()
            changed = reference_revision(session)
        # The trigger of migration 0019 moves the revision with the repeat too.
        assert before != added != changed
        for bad in ("FREQ=HOURLY", "WEEKLY", "FREQ=WEEKLY;BYDAY="):
            with pytest.raises(IntegrityError), clinic.db.write() as session:
                session.add(
                    Closure(
                        kind="closure",
                        starts_at=clinic.at(FIRST, "08:00"),
                        ends_at=clinic.at(FIRST, "09:00"),
                        reason="bad rule",
                        repeat_rule=bad,
                    )
                )
        with clinic.db.read() as session:
            rules = session.scalars(select(Closure.repeat_rule)).all()
        assert rules == ["FREQ=WEEKLY;BYDAY=MO,FR"]
    finally:
        clinic.db.dispose()


def test_the_way_back_writes_a_closure_a_day_and_the_upgrade_keeps_them(db_url: str) -> None:
    clinic = build_small_clinic(db_url)
    with clinic.db.write() as session:
        session.add(
            Closure(
                kind="closure",
                starts_at=clinic.at(FIRST, "13:00"),
                ends_at=clinic.at(LAST, "17:00"),
                reason="Christmas week afternoons",
                repeat_rule="FREQ=WEEKLY;BYDAY=MO,WE",
            )
        )
        session.add(
            Closure(
                kind="closure",
                starts_at=clinic.at(FIRST, "07:00"),
                ends_at=clinic.at(FIRST, "08:00"),
                reason="fire drill",
            )
        )
    calendar = clinic.calendar
    clinic.db.dispose()

    migrate_to(db_url, BEFORE)
    assert "repeat_rule" not in _columns(db_url)
    opened = open_clinic(db_url)  # upgrades the 0023 clinic: migration 0024 runs
    try:
        assert current_revision(opened.db) == revision_graph().head
        with opened.db.read() as session:
            rows = session.execute(
                select(
                    Closure.starts_at, Closure.ends_at, Closure.reason, Closure.repeat_rule
                ).order_by(Closure.starts_at)
            ).all()
    finally:
        opened.db.dispose()
    said = [
        (
            f"{calendar.local(start):%a %m-%d %H:%M}",
            f"{calendar.local(end):%H:%M}",
            reason,
            rule,
        )
        for start, end, reason, rule in rows
    ]
    # Mondays and Wednesdays from Dec 21 to Dec 31: Dec 21, 23, 28 and 30.
    assert said == [
        ("Mon 12-21 07:00", "08:00", "fire drill", ""),
        ("Mon 12-21 13:00", "17:00", "Christmas week afternoons", ""),
        ("Wed 12-23 13:00", "17:00", "Christmas week afternoons", ""),
        ("Mon 12-28 13:00", "17:00", "Christmas week afternoons", ""),
        ("Wed 12-30 13:00", "17:00", "Christmas week afternoons", ""),
    ]
