"""Two workstations acting on the same appointment at the same moment: each gets an answer in
words (never a driver's or the ORM's exception), only one wins where only one can, and the
appointment and its holds agree afterwards.  Real threads, each with its own engine, released
together by a barrier, twenty rounds per pair of actions, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select

from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.appointment_changes import change_status, move
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.planning import PlanWishes, propose_series
from ketadesk.services.booking.series_moves import move_series, propose_series_move
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.clinic.integrity import find_problems
from ketadesk.services.common.context import SYSTEM, Actor, Database, ServiceError
from ketadesk.store.models import Appointment, ResourceHold
from tests.clinic_fixtures import SmallClinic, build_small_clinic

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tuesday 1 Dec 2026, 08:00 in San Diego
ON_WED = dt.datetime(2026, 12, 2, 15, 30, tzinfo=dt.UTC)  # Wednesday 07:30 in San Diego
WED = dt.date(2026, 12, 2)
ROUNDS = 20
SERIES_ROUNDS = 8  # each books and clears a whole induction series
ROOM_1 = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}
ROOM_2 = {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"}
DESK_A = Actor(user_id=None, username="maria", role="front_desk")
DESK_B = Actor(user_id=None, username="lee", role="front_desk")


@dataclass
class Desks:
    """The clinic, and two more workstations on it, each with its own engine."""

    clinic: SmallClinic
    a: Database
    b: Database


@pytest.fixture
def desks(db_url: str) -> Iterator[Desks]:
    clinic = build_small_clinic(db_url)
    a, b = open_clinic(db_url).db, open_clinic(db_url).db
    yield Desks(clinic, a, b)
    for db in (a, b, clinic.db):
        db.dispose()


Outcome = Any  # what the call returned, or the ServiceError it raised


def _race(a: Callable[[], object], b: Callable[[], object]) -> tuple[Outcome, Outcome]:
    """Run ``a`` and ``b`` on two threads released at once; a ServiceError is an answer, any
    other exception fails the test with its type (the point of the exercise)."""
    barrier = threading.Barrier(2)
    outcomes: list[Outcome] = [None, None]
    raw: list[BaseException] = []

    def run(slot: int, work: Callable[[], object]) -> None:
        barrier.wait()
        try:
            outcomes[slot] = work()
        except ServiceError as err:
            outcomes[slot] = err
        except BaseException as err:  # reported below, by type
            raw.append(err)

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate((a, b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a workstation hung"
    assert not raw, f"raw exceptions reached the caller: {[repr(e) for e in raw]}"
    return outcomes[0], outcomes[1]


def _won(outcome: Outcome) -> bool:
    return not isinstance(outcome, ServiceError)


def _book_iv(clinic: SmallClinic, hhmm: str = "09:00") -> int:
    request = BookingRequest(
        patient_id=clinic.ids["Ada Lovelace"],
        sessions=(clinic.session("iv_infusion", WED, hhmm, ROOM_1),),
    )
    return booking.book(clinic.db, SYSTEM, request, now=NOW).appointment_ids[0]


def _assert_consistent(clinic: SmallClinic) -> None:
    """No two sessions share what they cannot, and every appointment agrees with its holds."""
    assert find_problems(clinic.db) == []
    with clinic.db.read() as s:
        for appt in s.scalars(select(Appointment)):
            holds = s.scalars(
                select(ResourceHold).where(ResourceHold.appointment_id == appt.id)
            ).all()
            assert holds, f"appointment #{appt.id} lost its holds"
            released = appt.status in RELEASED_STATUSES
            assert all(h.active != released for h in holds), f"#{appt.id} {appt.status}"
            assert min(h.starts_at for h in holds) >= appt.starts_at
            assert max(h.ends_at for h in holds) <= appt.ends_at
            rooms = {h.resource_id for h in holds if h.need == "room"}
            assert rooms == {appt.room_id}


def _clear(clinic: SmallClinic, appointment_id: int) -> None:
    """End a round: the appointment is cancelled so the next round finds the day free."""
    with clinic.db.read() as s:
        appt = s.get(Appointment, appointment_id)
        assert appt is not None
        status = appt.status
    if status not in RELEASED_STATUSES:
        appointment_changes.change_status(
            clinic.db, SYSTEM, appointment_id, "cancel", reason="end of round", now=NOW
        )


def _status(clinic: SmallClinic, appointment_id: int) -> str:
    with clinic.db.read() as s:
        appt = s.get(Appointment, appointment_id)
        assert appt is not None
        return appt.status


def test_two_desks_cancelling_one_appointment_one_cancels_the_other_is_told(
    desks: Desks,
) -> None:
    clinic = desks.clinic
    for _ in range(ROUNDS):
        appt = _book_iv(clinic)
        outcomes = _race(
            partial(change_status, desks.a, DESK_A, appt, "cancel", reason="flu", now=NOW),
            partial(change_status, desks.b, DESK_B, appt, "cancel", reason="no ride", now=NOW),
        )
        assert sum(_won(o) for o in outcomes) == 1, outcomes
        loser = next(o for o in outcomes if not _won(o))
        assert "already cancelled" in str(loser) or "another workstation" in str(loser)
        assert _status(clinic, appt) == "cancelled"
    _assert_consistent(clinic)


def test_a_move_and_a_cancel_at_once_leave_the_appointment_whole(desks: Desks) -> None:
    clinic = desks.clinic
    for _ in range(ROUNDS):
        appt = _book_iv(clinic)
        to = clinic.session("iv_infusion", WED, "13:00", ROOM_2)
        moved, cancelled = _race(
            partial(move, desks.a, DESK_A, appt, to, now=NOW),
            partial(change_status, desks.b, DESK_B, appt, "cancel", reason="flu", now=NOW),
        )
        # Move then cancel both succeed; once cancelled, the move is refused.
        assert _won(cancelled) or "another workstation" in str(cancelled), cancelled
        assert (
            _won(moved) or "cannot be moved" in str(moved) or "another workstation" in str(moved)
        ), moved
        _assert_consistent(clinic)
        _clear(clinic, appt)


def test_two_desks_moving_one_appointment_only_one_move_lands(desks: Desks) -> None:
    clinic = desks.clinic
    for _ in range(ROUNDS):
        appt = _book_iv(clinic)
        to_a = clinic.session("iv_infusion", WED, "11:00", ROOM_1)
        to_b = clinic.session("iv_infusion", WED, "14:00", ROOM_2)
        outcomes = _race(
            partial(move, desks.a, DESK_A, appt, to_a, expected_version=1, now=NOW),
            partial(move, desks.b, DESK_B, appt, to_b, expected_version=1, now=NOW),
        )
        assert sum(_won(o) for o in outcomes) == 1, outcomes
        winner = to_a if _won(outcomes[0]) else to_b
        with clinic.db.read() as s:
            row = s.get(Appointment, appt)
            assert row is not None
            assert row.starts_at == winner.start
        _assert_consistent(clinic)
        _clear(clinic, appt)


def test_a_check_in_and_a_move_at_once_both_land_in_some_order(desks: Desks) -> None:
    clinic = desks.clinic
    for _ in range(ROUNDS):
        appt = _book_iv(clinic)
        to = clinic.session("iv_infusion", WED, "13:00", ROOM_2)
        checked_in, moved = _race(
            # On the session's own day (a check-in waits for it), before either time.
            partial(change_status, desks.a, DESK_A, appt, "check_in", now=ON_WED),
            partial(move, desks.b, DESK_B, appt, to, now=ON_WED),
        )
        assert _won(checked_in), checked_in
        assert _won(moved), moved
        with clinic.db.read() as s:
            row = s.get(Appointment, appt)
            assert row is not None
            assert (row.status, row.starts_at, row.version) == ("checked_in", to.start, 3)
        _assert_consistent(clinic)
        _clear(clinic, appt)


def _book_induction(clinic: SmallClinic) -> list[int]:
    proposal = propose_series(
        clinic.db,
        chart="BT-1",
        protocol="iv_induction",
        start=WED,
        wishes=PlanWishes(weekdays=("mon", "wed", "fri"), time=dt.time(10)),
        today=NOW.date(),
    )
    assert proposal.plan.complete
    result = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=proposal.patient_id, sessions=proposal.sessions, protocol="iv_induction"
        ),
        now=NOW,
    )
    return list(result.appointment_ids)


def test_a_series_move_and_a_cancel_in_the_series_at_once(desks: Desks) -> None:
    clinic = desks.clinic
    for _ in range(SERIES_ROUNDS):
        ids = _book_induction(clinic)
        with clinic.db.read() as s:
            second = s.get(Appointment, ids[1])
            assert second is not None
            new_day = clinic.calendar.local_date(second.starts_at) + dt.timedelta(days=3)
        new_start = clinic.at(new_day, "10:00")
        proposal = propose_series_move(clinic.db, ids[1], new_start, now=NOW)
        assert proposal.complete
        assert len(proposal.moves) > 2
        moved, cancelled = _race(
            partial(move_series, desks.a, DESK_A, proposal, now=NOW),
            partial(change_status, desks.b, DESK_B, ids[3], "cancel", reason="flu", now=NOW),
        )
        assert _won(cancelled) or "another workstation" in str(cancelled), cancelled
        assert _won(moved) or "another workstation" in str(moved), moved
        _assert_consistent(clinic)
        for appt in ids:
            _clear(clinic, appt)
