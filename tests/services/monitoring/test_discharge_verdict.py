"""The chair board's discharge verdict is the completion's own, for every dosing session type.

Bayside's staffed Tuesday (tests/services/staffed_day.py) plus an IM ketamine session:

    09:00 Room 1  Ada Lovelace       IV infusion  infusion 09:15, 85 min: discharge from 10:40
    10:00 Room 2  Mary Seacole       Spravato     first device 10:15, 120 min: from 12:15
    11:00 Room 4  Florence Nightingale IM ketamine  injection 11:10, 60 min: from 12:10
    13:00 Room 3  Rosalind Franklin  KAP          dosing 13:15, 120 min: from 15:15

(observation_from / observation_minutes, bp_checks and reading_cadence of session_types.toml).
Each is watched as the clock reaches its discharge time: before it the card gives the time;
at it, with the "Before discharge" reading missing, the card says "not yet" and why, and
completing is refused for the same reason; with the reading taken, the card says ready and
completing goes through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from ketadesk.services.booking.appointment_changes import change_status
from ketadesk.services.booking.booking import BookingRequest, book
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.monitoring.chair_board import ChairCard, chair_board
from ketadesk.services.monitoring.completion import ChairRefused, override
from ketadesk.services.schedule import public_holidays
from ketadesk.store.models import Appointment, SessionRecord, VitalReading
from tests.clinic_fixtures import RIDE_HOME
from tests.services.staffed_day import BOOKED_ON, TUESDAY, StaffedDay, build_staffed_day

IM = {"room": "Room 4", "monitor": "Monitor 4", "nurse": "Nurse Kim"}
#: session key -> (room, start, the dose, the earliest discharge), as the configuration lays them.
SESSIONS = {
    "iv": ("Room 1", "09:00", "09:15", "10:40"),
    "spravato": ("Room 2", "10:00", "10:15", "12:15"),
    "im": ("Room 4", "11:00", "11:10", "12:10"),
    "kap": ("Room 3", "13:00", "13:15", "15:15"),
}


@pytest.fixture(autouse=True)
def holiday_cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(public_holidays, "holiday_cache_dir", lambda: tmp_path / "holidays")


@pytest.fixture
def staffed(db_url: str) -> Iterator[StaffedDay]:
    built = build_staffed_day(db_url)
    planned = built.clinic.session("im_ketamine", TUESDAY, "11:00", IM)
    result = book(
        built.clinic.db,
        SYSTEM,
        BookingRequest(patient_id=built.clinic.ids["Florence Nightingale"], sessions=(planned,)),
        now=BOOKED_ON,
    )
    (built.appointments["im"],) = result.appointment_ids
    yield built
    built.clinic.db.dispose()


def at(staffed: StaffedDay, hhmm: str) -> dt.datetime:
    return staffed.clinic.at(TUESDAY, hhmm)


def minus(hhmm: str, minutes: int) -> str:
    moment = dt.datetime.combine(TUESDAY, dt.time.fromisoformat(hhmm))
    return f"{moment - dt.timedelta(minutes=minutes):%H:%M}"


def code_of(key: str) -> str:
    return {"iv": "iv_infusion", "im": "im_ketamine"}.get(key, key)


def start(staffed: StaffedDay, key: str) -> None:
    for action in ("check_in", "start"):
        change_status(
            staffed.clinic.db,
            SYSTEM,
            staffed.appointments[key],
            action,
            now=at(staffed, SESSIONS[key][1]),
            ride=RIDE_HOME,
        )


def record(staffed: StaffedDay, key: str, *, labels: list[str], taken: str) -> None:
    """The nurse's record (Nurse Kim monitoring): the dose at its planned time, no sedation or
    dissociation, and a BP (SpO2 98%) for each of ``labels`` at ``taken``."""
    with staffed.clinic.db.write() as session:
        rec = (
            session.query(SessionRecord)
            .filter_by(appointment_id=staffed.appointments[key])
            .one_or_none()
        )
        if rec is None:
            rec = SessionRecord(
                appointment_id=staffed.appointments[key],
                dose_started_at=at(staffed, SESSIONS[key][2]),
                sedation="none",
                dissociation="none",
                monitored_by_id=staffed.clinic.ids["Nurse Kim"],
            )
            session.add(rec)
            session.flush()
        for label in labels:
            session.add(
                VitalReading(
                    record_id=rec.id,
                    label=label,
                    taken_at=at(staffed, taken),
                    systolic=126,
                    diastolic=80,
                    spo2=98,
                )
            )


def card(staffed: StaffedDay, key: str, hhmm: str) -> ChairCard:
    board = chair_board(staffed.clinic.db, SYSTEM, now=at(staffed, hhmm))
    found = next(c for c in board.cards if c.room_name == SESSIONS[key][0])
    assert found.appointment_id == staffed.appointments[key]
    return found


def labels_of(staffed: StaffedDay, key: str) -> list[str]:
    return [c.label for c in staffed.clinic.catalog.session_types[code_of(key)].bp_checks]


def status_of(staffed: StaffedDay, key: str) -> str:
    with staffed.clinic.db.read() as session:
        appointment = session.get(Appointment, staffed.appointments[key])
        assert appointment is not None
        return appointment.status


@pytest.mark.parametrize("key", list(SESSIONS))
def test_the_card_says_when_why_not_and_ready_as_completing_judges(
    staffed: StaffedDay, key: str
) -> None:
    _room, _start, _dose, allowed = SESSIONS[key]
    spec = staffed.clinic.catalog.session_types[code_of(key)]
    assert spec.observation_minutes is not None  # every dosing type waits, by configuration
    assert "Pre-dose" in labels_of(staffed, key)
    assert labels_of(staffed, key)[-1] == "Before discharge"
    start(staffed, key)
    record(
        staffed,
        key,
        labels=[label for label in labels_of(staffed, key) if label != "Before discharge"],
        taken=minus(allowed, 30),
    )

    before = card(staffed, key, minus(allowed, 1))
    assert f"{before.discharge_allowed_at:%H:%M}" == allowed
    assert (before.discharge_ready, before.discharge_not_yet) == (False, ())

    due = card(staffed, key, allowed)
    assert not due.discharge_ready
    assert due.discharge_not_yet == ("BP “Before discharge” missing",)
    with pytest.raises(ChairRefused) as refused:
        change_status(
            staffed.clinic.db,
            SYSTEM,
            staffed.appointments[key],
            "complete",
            now=at(staffed, allowed),
            ride=RIDE_HOME,
        )
    assert [f.rule for f in refused.value.findings] == ["discharge_readings"]

    record(staffed, key, labels=["Before discharge"], taken=allowed)
    ready = card(staffed, key, allowed)
    assert (ready.discharge_ready, ready.discharge_not_yet) == (True, ())
    change_status(
        staffed.clinic.db,
        SYSTEM,
        staffed.appointments[key],
        "complete",
        now=at(staffed, allowed),
        ride=RIDE_HOME,
    )
    assert status_of(staffed, key) == "completed"


@pytest.mark.parametrize(("key", "minutes"), [("im", 60), ("kap", 120)])
def test_im_and_kap_completion_is_refused_before_the_observation_minutes(
    staffed: StaffedDay, key: str, minutes: int
) -> None:
    _room, _start, _dose, allowed = SESSIONS[key]
    start(staffed, key)
    record(staffed, key, labels=labels_of(staffed, key), taken=minus(allowed, 5))
    early = minus(allowed, 10)
    with pytest.raises(ChairRefused) as refused:
        change_status(
            staffed.clinic.db,
            SYSTEM,
            staffed.appointments[key],
            "complete",
            now=at(staffed, early),
            ride=RIDE_HOME,
        )
    assert [f.rule for f in refused.value.findings] == ["discharge_observation"]
    assert f"needs {minutes} min (earliest {allowed})" in str(refused.value)
    assert card(staffed, key, early).discharge_not_yet == ()  # the card gives the time instead
    change_status(
        staffed.clinic.db,
        SYSTEM,
        staffed.appointments[key],
        "complete",
        now=at(staffed, allowed),
        ride=RIDE_HOME,
    )
    assert status_of(staffed, key) == "completed"


def test_unresolved_effects_and_a_missing_dose_are_named_without_their_values(
    staffed: StaffedDay,
) -> None:
    start(staffed, "kap")
    # No dose start recorded: the board promises no discharge time and lists nothing "not
    # yet" (its dose line says the dose is not recorded); the rule is all it says.
    undosed = card(staffed, "kap", "15:15")
    assert undosed.discharge_not_yet == ()
    assert undosed.discharge_allowed_at is None
    assert undosed.discharge_after_dose_minutes == 120
    assert not undosed.discharge_ready
    record(staffed, "kap", labels=labels_of(staffed, "kap"), taken="15:10")
    with staffed.clinic.db.write() as session:
        rec = (
            session.query(SessionRecord).filter_by(appointment_id=staffed.appointments["kap"]).one()
        )
        rec.sedation, rec.respiratory_depression = "moderate", True
    assert card(staffed, "kap", "15:15").discharge_not_yet == (
        "sedation not marked resolved; respiratory depression not marked resolved",
    )


def test_the_board_reads_every_chair_in_one_round(staffed: StaffedDay) -> None:
    """As many statements for four chairs in session as for one: no read per chair."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = staffed.clinic.db.engine
    start(staffed, "iv")
    record(staffed, "iv", labels=["Pre-dose"], taken="09:10")
    event.listen(engine, "before_cursor_execute", count)
    try:
        chair_board(staffed.clinic.db, SYSTEM, now=at(staffed, "13:20"))
        one = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    for key in ("spravato", "im", "kap"):
        start(staffed, key)
        record(staffed, key, labels=labels_of(staffed, key), taken="13:10")
    statements.clear()
    event.listen(engine, "before_cursor_execute", count)
    try:
        board = chair_board(staffed.clinic.db, SYSTEM, now=at(staffed, "13:20"))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert sum(1 for c in board.cards if c.stage == "in_session") == 4
    assert len(statements) == one


def test_a_prescribers_override_counts_on_the_board_as_on_completing(staffed: StaffedDay) -> None:
    """Mary's Spravato, every reading taken by 11:45: before 12:15 the card gives the time;
    once a prescriber overrides the observation with a reason, it says ready, and completing
    goes through at the same minute."""
    start(staffed, "spravato")
    record(staffed, "spravato", labels=labels_of(staffed, "spravato"), taken="11:45")
    assert card(staffed, "spravato", "11:50").discharge_ready is False
    prescriber = Actor(user_id=None, username="patel", role="prescriber")
    override(
        staffed.clinic.db,
        prescriber,
        staffed.appointments["spravato"],
        ["discharge_observation"],
        "patient well, transport waiting; reviewed in person",
        now=at(staffed, "11:50"),
    )
    assert card(staffed, "spravato", "11:50").discharge_ready is True
    change_status(
        staffed.clinic.db,
        SYSTEM,
        staffed.appointments["spravato"],
        "complete",
        now=at(staffed, "11:50"),
        ride=RIDE_HOME,
    )
    assert status_of(staffed, "spravato") == "completed"
