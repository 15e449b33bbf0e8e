"""The demo clinic's waitlist: a handful of patients waiting for an earlier place, with the
weekdays, times, rooms and deadlines a front desk hears on the phone (invented, seeded)."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.store.models import Patient, Resource, WaitlistEntry

#: How many patients wait in the demo, and what they wait for (kind, session type).
WISHES = (
    ("earlier", "iv_infusion"),
    ("earlier", "spravato"),
    ("series_start", "iv_infusion"),
    ("preferred_time", "spravato"),
    ("series_start", "kap"),
    ("earlier", "integration"),
    ("preferred_time", "iv_infusion"),
)
#: Weekday sets and local time windows (minutes) a caller might ask for.
DAY_CHOICES = ((), ("mon", "wed", "fri"), ("tue", "thu"), ("mon", "tue", "wed", "thu", "fri"))
TIME_CHOICES = ((None, None), (8 * 60, 12 * 60 + 30), (12 * 60, 18 * 60), (9 * 60, 15 * 60))
NOTES = (
    "",
    "Works mornings; text first",
    "Driver only free Tue/Thu",
    "Would take any cancellation this week",
    "",
)


def write_waitlist(session: Session, *, seed: int, now: dt.datetime, today: dt.date) -> int:
    """Add the demo's waitlist entries; returns how many."""
    rng = random.Random(seed * 31 + 5)
    patients = list(
        session.scalars(
            select(Patient.id)
            .where(Patient.active.is_(True), Patient.phone != "")
            .order_by(Patient.id)
        )
    )
    if not patients:
        return 0
    rooms = list(
        session.scalars(
            select(Resource.id)
            .where(Resource.kind == "room", Resource.subkind == "treatment")
            .order_by(Resource.sort_order, Resource.id)
        )
    )
    chosen = rng.sample(patients, min(len(WISHES), len(patients)))
    for number, (patient_id, (kind, code)) in enumerate(zip(chosen, WISHES, strict=False)):
        earliest, latest = TIME_CHOICES[rng.randrange(len(TIME_CHOICES))]
        deadline = today + dt.timedelta(days=rng.choice((7, 10, 14, 21))) if number % 4 else None
        session.add(
            WaitlistEntry(
                patient_id=patient_id,
                kind=kind,
                session_type=code,
                weekdays=list(DAY_CHOICES[rng.randrange(len(DAY_CHOICES))]),
                earliest_minute=earliest,
                latest_minute=latest,
                room_ids=[rooms[0]] if rooms and number % 3 == 1 and code != "integration" else [],
                staff_ids=[],
                deadline=deadline,
                notes=NOTES[number % len(NOTES)],
                status="waiting",
                created_at=now - dt.timedelta(days=rng.randrange(1, 20), hours=rng.randrange(8)),
                updated_at=now,
            )
        )
    session.flush()
    return len(chosen)
