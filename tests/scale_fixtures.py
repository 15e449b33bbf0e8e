"""The small clinic with the shipped timed scales and its nurse, shared by the tests of the
scales (the service, the screen and the paper): Ada Lovelace's IV infusion on Wednesday 2 Dec
2026 at 13:00 in Room 2, dose 13:15 (MOAA/S at the dose, +15, +30, +45 min and at discharge;
CADSS +40 min and at discharge), recorded by Kim Nguyen, a nurse.

Registered for every test by tests/conftest.py (``pytest_plugins``).  The fixtures run on the
database of ``db_url`` (SQLite and PostgreSQL); a module that needs only SQLite (the screen,
the paper) says so with its own ``db_url``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest

from ketadesk.services.access import accounts
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.monitoring import records, scale_readings
from ketadesk.services.monitoring.record_forms import ScaleSheet, with_reading
from tests.clinic_fixtures import SmallClinic, build_small_clinic, use_scales

BOOKED_AT = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tue 1 Dec 2026, 08:00 local
WED = dt.date(2026, 12, 2)
IV = {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"}
SPR = {
    "room": "Room 1",
    "monitor": "Monitor 1",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}


@pytest.fixture
def scale_clinic(db_url: str) -> Iterator[SmallClinic]:
    """The small clinic with the shipped scales: IV MOAA/S and CADSS, Spravato MOAA/S."""
    clinic = build_small_clinic(db_url)
    with clinic.db.write() as session:
        use_scales(session)
    yield clinic
    clinic.db.dispose()


@pytest.fixture
def scale_nurse(scale_clinic: SmallClinic) -> Actor:
    """Kim Nguyen, a nurse, signed in."""
    return add_user(scale_clinic, "kim", "Kim Nguyen", "nurse")


def add_user(clinic: SmallClinic, username: str, name: str, role: str) -> Actor:
    user = accounts.create_user(
        clinic.db, SYSTEM, username, name, role, "a-long-password-1", now=BOOKED_AT
    )
    return Actor(user_id=user.id, username=username, role=role)


def at(clinic: SmallClinic, hhmm: str) -> dt.datetime:
    """``hhmm`` on Wednesday, the clinic's time."""
    return clinic.at(WED, hhmm)


def iv_session(clinic: SmallClinic, nurse: Actor, *, dosed: bool = True) -> int:
    """Ada's IV infusion, Wednesday 13:00, started; dose 13:15 (discharge from 14:40)."""
    result = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids["Ada Lovelace"],
            sessions=(clinic.session("iv_infusion", WED, "13:00", IV),),
        ),
        now=BOOKED_AT,
    )
    iv = result.appointment_ids[0]
    clinic.start(iv, WED, "13:00")
    if dosed:
        form = records.load_record(clinic.db, nurse, iv)
        form = with_reading(form, 0, time="13:10", systolic="122", diastolic="78", spo2="98")
        form = dataclasses.replace(
            form, dose_mg="35", dose_started="13:15", monitored_by_id=clinic.ids["Nurse Kim"]
        )
        records.save_record(clinic.db, nurse, iv, form, now=at(clinic, "13:16"))
    return iv


def bp_checks_taken(clinic: SmallClinic, nurse: Actor, iv: int) -> None:
    """The record's other discharge facts in order: every BP check of the infusion taken."""
    form = records.load_record(clinic.db, nurse, iv)
    rows = {r.label: i for i, r in enumerate(form.readings)}
    for label, hhmm in (
        ("+0 min", "13:15"),
        ("+15 min", "13:30"),
        ("+30 min", "13:45"),
        ("+45 min", "14:00"),
        ("+60 min", "14:15"),
        ("+75 min", "14:30"),
        ("Before discharge", "14:35"),
    ):
        form = with_reading(form, rows[label], time=hhmm, systolic="124", diastolic="80")
    form = dataclasses.replace(form, respiratory_depression=False)
    records.save_record(clinic.db, nurse, iv, form, now=at(clinic, "14:36"))


def record_reading(
    clinic: SmallClinic, nurse: Actor, iv: int, scale: str, score: str, hhmm: str, taken: str = ""
) -> ScaleSheet:
    """``nurse`` records ``score`` on ``scale`` at ``hhmm`` (taken then, or at ``taken``)."""
    return scale_readings.record_scale_reading(
        clinic.db, nurse, iv, scale, score, taken=taken, now=at(clinic, hhmm)
    )
