"""The demo clinic's timed sedation and dissociation readings: its completed and in-progress IV
infusions and Spravato sessions carry MOAA/S and CADSS readings at their set times, a few
missed, one low MOAA/S that resolved; every completed session's last readings let the patient
go, and the chair board at the demo's clock shows the next reading and a missed one in red.

A Monday morning of a clinic big enough to have IV patients in the chairs at the demo's clock
(5 rooms, 90 patients, one week back)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.chair_rules import earliest_discharge
from ketadesk.scheduling.scale_rules import MOAAS, scale_discharge_problems
from ketadesk.services.common.context import SYSTEM
from ketadesk.services.demo.clinic import build_demo
from ketadesk.services.demo.facts import DEMO_CLOCK_MINUTE
from ketadesk.services.monitoring import chair_board
from ketadesk.services.monitoring.scale_readings import (
    readings_by_session,
    scale_settings,
    schedule_of,
)
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database, open_database
from ketadesk.store.models import Appointment, ScaleReading, SessionRecord, SessionType, User

MONDAY = dt.date(2025, 12, 1)


@dataclass
class Demo:
    db: Database
    catalog: Catalog
    now: dt.datetime


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    path: Path = tmp_path_factory.mktemp("demo") / "monday.sqlite"
    url = f"sqlite:///{path}"
    build_demo(url, seed=7, today=MONDAY, rooms=5, weeks_back=1, weeks_ahead=1, patients=90)
    db = open_database(url)
    with db.read() as session:
        catalog = load_catalog(session)
    now = ClinicCalendar(catalog.settings).at_local(MONDAY, DEMO_CLOCK_MINUTE)
    yield Demo(db, catalog, now)
    db.dispose()


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def test_dosed_iv_and_spravato_sessions_carry_readings_a_few_missed_one_low_that_resolved(
    demo: Demo,
) -> None:
    catalog = demo.catalog
    with demo.db.read() as session:
        rows = session.execute(
            select(
                Appointment.id,
                Appointment.status,
                SessionType.code,
                SessionRecord.dose_started_at,
                SessionRecord.discharged_at,
                SessionRecord.sedation,
            )
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .join(SessionRecord, SessionRecord.appointment_id == Appointment.id)
            .where(
                Appointment.status.in_(("completed", "in_progress")),
                SessionRecord.dose_started_at.is_not(None),
            )
        ).all()
        readings = readings_by_session(session, [r[0] for r in rows])
        nurses = set(session.scalars(select(User.display_name).where(User.role == "nurse")))
        recorders = {r.recorded_by for rs in readings.values() for r in rs}
        kinds = set(session.scalars(select(ScaleReading.scale)))
    scaled = [r for r in rows if catalog.session_types[r[2]].scales]
    assert {r[2] for r in scaled} == {"iv_infusion", "spravato"}
    assert {r[1] for r in scaled} == {"completed", "in_progress"}
    assert kinds == {"moaas", "cadss"}
    assert recorders <= nurses  # each recorded by the nurse who monitored the session
    assert all(readings[r[0]] for r in scaled if r[1] == "completed")
    # A session type without scales has none.
    assert not any(readings[r[0]] for r in rows if not catalog.session_types[r[2]].scales)
    settings = scale_settings(catalog)
    early = catalog.settings.monitoring["reading_early_minutes"]
    missed = 0
    for aid, status, code, dose_at, discharged, _sedation in scaled:
        spec = catalog.session_types[code]
        assert dose_at is not None
        schedule = schedule_of(catalog, spec, dose_at, readings[aid], now=demo.now)
        assert schedule is not None
        missed += len(schedule.missed)
        if status != "completed":
            continue
        # Discharged: the last readings said sedation and dissociation had resolved.
        assert discharged is not None
        problems = scale_discharge_problems(
            spec.scales,
            readings[aid],
            discharge_at=_aware(discharged),
            discharge_due=earliest_discharge(_aware(dose_at), spec.observation_minutes),
            settings=settings,
            early_minutes=early,
            time_format="12h",
        )
        assert problems == [], (aid, problems)
    assert 0 < missed < len(scaled)  # a few, not every session's
    # One low MOAA/S that resolved: 2 at +15 min, then 3, 4, and 5 at discharge.
    low = [
        (r, readings[r[0]])
        for r in scaled
        if any(x.scale == MOAAS and x.score == 2 for x in readings[r[0]])
    ]
    assert len(low) == 1
    (aid, status, code, *_rest, sedation), taken = low[0]
    assert (code, status, sedation) == ("iv_infusion", "completed", "moderate")
    assert [x.score for x in taken if x.scale == MOAAS] == [5, 2, 3, 4, 5]


def test_the_board_at_the_demo_clock_shows_the_next_reading_and_a_missed_one(demo: Demo) -> None:
    board = chair_board.chair_board(demo.db, SYSTEM, now=demo.now)
    cards = [c for c in board.cards if c.appointment_id is not None]
    assert any(c.next_scale for c in cards)
    missed = [c for c in cards if c.scale_missed]
    assert len(missed) == 1
    assert " missed (due " in missed[0].scale_missed
    assert missed[0].needs_attention
