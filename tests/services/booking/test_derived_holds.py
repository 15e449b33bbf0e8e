"""Holds come from the session type, not from the caller (issue 13, "holds are trusted").

A plan built by hand, or by an old workstation, could hold its room as "presence" or not at
all and land on top of another booking: only exclusive holds compete for a room, and
PostgreSQL's exclusion constraint only covers exclusive holds.  Booking and moves now derive
the holds and refuse any plan whose holds differ, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from ketadesk.scheduling.catalog import HoldMode
from ketadesk.scheduling.model import PlannedSession
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.plan_check import HoldsMismatch
from ketadesk.services.clinic.integrity import find_problems
from ketadesk.services.common.context import Actor
from ketadesk.store.models import Appointment, ResourceHold
from tests.clinic_fixtures import SmallClinic, build_small_clinic

# The small clinic's own week, with ``now`` passed in: nothing here reads the real clock.
NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tue Dec 1, 08:00 in San Diego
WED = dt.date(2026, 12, 2)
IV_A = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}
IV_B = {"room": "Room 1", "monitor": "Monitor 2", "nurse": "Nurse Kim"}
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _book(clinic: SmallClinic, who: str, planned: PlannedSession) -> booking.BookingResult:
    request = BookingRequest(patient_id=clinic.ids[who], sessions=(planned,))
    return booking.book(clinic.db, FRONT_DESK, request, now=NOW)


def _room_changed(planned: PlannedSession, **change: Any) -> PlannedSession:
    holds = tuple(
        dataclasses.replace(h, **change) if h.need == "room" else h for h in planned.holds
    )
    return dataclasses.replace(planned, holds=holds)


def _without_room(planned: PlannedSession) -> PlannedSession:
    return dataclasses.replace(planned, holds=tuple(h for h in planned.holds if h.need != "room"))


def _appointments(clinic: SmallClinic) -> int:
    with clinic.db.read() as s:
        return s.scalar(select(func.count()).select_from(Appointment)) or 0


@pytest.fixture
def room_1_taken(clinic: SmallClinic) -> PlannedSession:
    """Ada's infusion in Room 1 at 10:00, and Mary's plan for Room 1 at 10:30 (the nurse's
    undivided minutes do not meet), built by the planner's own function."""
    _book(clinic, "Ada Lovelace", clinic.session("iv_infusion", WED, "10:00", IV_A))
    return clinic.session("iv_infusion", WED, "10:30", IV_B)


def test_a_room_held_as_presence_cannot_land_on_another_booking(
    clinic: SmallClinic, room_1_taken: PlannedSession
) -> None:
    planned = _room_changed(room_1_taken, mode=HoldMode.PRESENCE, units=0)
    with pytest.raises(HoldsMismatch) as refused:
        _book(clinic, "Mary Seacole", planned)
    assert refused.value.reasons == (
        "The IV ketamine infusion session on Wed Dec 2 10:30 holds its room (Room 1) "
        "10:30–12:10 as presence only; an IV ketamine infusion session holds it "
        "10:30–12:10 to itself",
    )
    assert _appointments(clinic) == 1
    assert find_problems(clinic.db) == []


def test_a_plan_without_its_room_is_refused(
    clinic: SmallClinic, room_1_taken: PlannedSession
) -> None:
    with pytest.raises(HoldsMismatch, match="holds no room; IV ketamine infusion needs a"):
        _book(clinic, "Mary Seacole", _without_room(room_1_taken))
    assert _appointments(clinic) == 1


def test_a_room_held_for_the_wrong_stretch_is_refused(
    clinic: SmallClinic, room_1_taken: PlannedSession
) -> None:
    # Held only from 11:45, once Ada's infusion (10:00-11:40) is over: it would fit, but a
    # session that needs its room from check-in would be in a room it does not hold.
    room = next(h for h in room_1_taken.holds if h.need == "room")
    late = dataclasses.replace(room.span, start=room.span.start + dt.timedelta(minutes=75))
    with pytest.raises(HoldsMismatch, match=r"holds its room \(Room 1\) 11:45–12:10 to itself"):
        _book(clinic, "Mary Seacole", _room_changed(room_1_taken, span=late))
    assert _appointments(clinic) == 1


def test_the_planners_own_plan_is_booked(clinic: SmallClinic, room_1_taken: PlannedSession) -> None:
    elsewhere = clinic.session(
        "iv_infusion", WED, "10:30", {**IV_B, "room": "Room 2"}
    )  # the same plan in a free room: nothing to refuse
    _book(clinic, "Mary Seacole", elsewhere)
    assert _appointments(clinic) == 2


def test_a_move_with_a_presence_room_is_refused(clinic: SmallClinic) -> None:
    ada = _book(clinic, "Ada Lovelace", clinic.session("iv_infusion", WED, "10:00", IV_A))
    mary = _book(
        clinic,
        "Mary Seacole",
        clinic.session("iv_infusion", WED, "13:00", {**IV_B, "room": "Room 2"}),
    )
    onto_ada = _room_changed(
        clinic.session("iv_infusion", WED, "10:30", IV_B), mode=HoldMode.PRESENCE, units=0
    )
    with pytest.raises(HoldsMismatch, match="as presence only"):
        appointment_changes.move(clinic.db, FRONT_DESK, mary.appointment_ids[0], onto_ada, now=NOW)
    with clinic.db.read() as s:
        rooms = s.scalars(
            select(ResourceHold.resource_id).where(
                ResourceHold.appointment_id == mary.appointment_ids[0],
                ResourceHold.need == "room",
            )
        ).all()
    assert rooms == [clinic.ids["Room 2"]]  # Mary still where she was
    assert ada.appointment_ids
    assert find_problems(clinic.db) == []
