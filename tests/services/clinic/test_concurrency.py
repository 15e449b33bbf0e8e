"""Several workstations booking at once never double-book: 4 processes on one SQLite file, 8 on
one PostgreSQL database.  Every success a process reports is in the database, every failure was
reported to its caller, and the holds in the database never overlap or overfill a resource."""

from __future__ import annotations

import datetime as dt
import itertools
import multiprocessing as mp
import random
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.plan_check import BookingConflict
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import Actor, InvalidRequest
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Appointment, ResourceHold
from tests.clinic_fixtures import CLEARED, SmallClinic, build_small_clinic

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
DAYS = [dt.date(2026, 12, 2), dt.date(2026, 12, 3)]
ATTEMPTS = 25


def _worker(
    url: str, ids: dict[str, int], seed: int, out: mp.Queue[tuple[int, list[int], int]]
) -> None:
    """One workstation: tries random IV bookings into a tight calendar, reports each outcome."""
    rng = random.Random(seed)
    opened = open_clinic(url)
    with opened.db.read() as s:
        catalog = load_catalog(s)
    clinic = SmallClinic(db=opened.db, catalog=catalog, ids=ids)
    actor = Actor(user_id=None, username=f"ws{seed}", role="front_desk")
    booked: list[int] = []
    refused = 0
    for _ in range(ATTEMPTS):
        n = rng.randint(1, 4)
        assign = {
            "room": f"Room {n}",
            "monitor": f"Monitor {rng.randint(1, 4)}",
            "nurse": "Nurse Kim",
        }
        hhmm = f"{rng.randint(8, 14):02d}:{rng.choice(['00', '15', '30', '45'])}"
        plan = clinic.session("iv_infusion", rng.choice(DAYS), hhmm, assign)
        try:
            result = booking.book(
                opened.db,
                actor,
                BookingRequest(patient_id=ids[rng.choice(CLEARED)], sessions=(plan,)),
                now=NOW,
            )
            booked.extend(result.appointment_ids)
        except (BookingConflict, InvalidRequest):
            refused += 1
    opened.db.dispose()
    out.put((seed, booked, refused))


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _run_workstations(clinic: SmallClinic, url: str, count: int) -> tuple[list[int], int]:
    ctx = mp.get_context("spawn")
    out: mp.Queue[tuple[int, list[int], int]] = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(url, clinic.ids, seed, out)) for seed in range(count)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    booked = [a for _, ids, _ in results for a in ids]
    refused = sum(r for _, _, r in results)
    return booked, refused


@pytest.mark.slow
def test_workstations_racing_for_the_same_chairs_never_double_book(
    clinic: SmallClinic, db_url: str
) -> None:
    from ketadesk.services.clinic.integrity import find_problems

    count = 8 if db_url.startswith("postgresql") else 4
    booked, refused = _run_workstations(clinic, db_url, count)
    assert booked, "no booking succeeded: the test proves nothing"
    assert refused, "no booking was refused: the calendar was not tight enough to race"
    assert len(booked) + refused == count * ATTEMPTS
    with clinic.db.read() as s:
        in_db = set(s.scalars(select(Appointment.id)))
        holds = s.execute(
            select(ResourceHold.resource_id, ResourceHold.starts_at, ResourceHold.ends_at).where(
                ResourceHold.exclusive.is_(True), ResourceHold.active.is_(True)
            )
        ).all()
    assert set(booked) == in_db
    by_resource: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    for rid, start, end in holds:
        by_resource.setdefault(rid, []).append((start, end))
    for spans in by_resource.values():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end <= start
    assert find_problems(clinic.db) == []
