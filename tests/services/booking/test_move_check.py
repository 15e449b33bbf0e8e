"""The read-only move check behind dragging a block: it says why a place is refused, in the
desk's words, writes nothing, and agrees with what ``appointment_changes.move`` then writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.move_check import check_move, placement_of, plan_move, prepare_move
from ketadesk.services.booking.plan_check import BookingConflict
from ketadesk.services.clinic.integrity import check_integrity
from ketadesk.services.common.context import Actor
from ketadesk.store import changes
from tests.clinic_fixtures import RIDE_HOME, SmallClinic, build_small_clinic, ready_for_discharge

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tuesday 1 Dec 2026, 08:00 in San Diego
WED = dt.date(2026, 12, 2)
FRI = dt.date(2026, 12, 4)
IV_A = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}
IV_B = {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"}
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _book(clinic: SmallClinic, who: str, day: dt.date, hhmm: str, where: dict[str, str]) -> int:
    request = BookingRequest(
        patient_id=clinic.ids[who], sessions=(clinic.session("iv_infusion", day, hhmm, where),)
    )
    return booking.book(clinic.db, FRONT_DESK, request, now=NOW).appointment_ids[0]


def _counter(clinic: SmallClinic) -> int:
    with clinic.db.read() as session:
        return changes.current(session)


def test_a_free_place_fits_and_a_taken_room_names_who_has_it(clinic: SmallClinic) -> None:
    ada = _book(clinic, "Ada Lovelace", WED, "08:00", IV_A)
    _book(clinic, "Mary Seacole", WED, "13:00", IV_B)
    before = _counter(clinic)
    room1, room2 = clinic.ids["Room 1"], clinic.ids["Room 2"]

    assert check_move(clinic.db, ada, clinic.at(WED, "10:00"), room1, now=NOW) == []
    assert check_move(clinic.db, ada, clinic.at(WED, "10:00"), room2, now=NOW) == []
    reasons = check_move(clinic.db, ada, clinic.at(WED, "13:30"), room2, now=NOW)
    assert len(reasons) == 1
    assert reasons[0].startswith("Room 2 is taken by Seacole, M. — ")
    assert "13:00–14:40" in reasons[0]
    assert _counter(clinic) == before  # a check writes nothing


def test_refusals_say_what_is_wrong(clinic: SmallClinic) -> None:
    ada = _book(clinic, "Ada Lovelace", WED, "08:00", IV_A)
    room1, office = clinic.ids["Room 1"], clinic.ids["Office A"]
    check = prepare_move(clinic.db, ada, now=NOW)
    assert check.check(clinic.at(WED, "17:30"), room1) == [
        "a 100-minute session at 17:30–19:10 on Wed Dec 2 runs past closing (18:00)"
    ]
    office_reason = check.check(clinic.at(WED, "10:00"), office)
    assert office_reason[0].startswith("Office A is an office;")
    assert "needs a treatment room" in office_reason[0]
    assert check.check(clinic.at(WED, "10:00"), None)[0].endswith("needs a treatment room")
    past = prepare_move(clinic.db, ada, now=clinic.at(WED, "09:00"))
    assert past.check(clinic.at(WED, "08:30"), room1) == [
        "an appointment cannot be moved into the past"
    ]


def test_a_second_dosing_session_on_a_day_is_refused(clinic: SmallClinic) -> None:
    ada = _book(clinic, "Ada Lovelace", WED, "08:00", IV_A)
    _book(clinic, "Ada Lovelace", FRI, "08:00", IV_A)
    reasons = check_move(clinic.db, ada, clinic.at(FRI, "13:00"), clinic.ids["Room 2"], now=NOW)
    assert reasons
    assert "would have 2 dosing sessions on Fri Dec 4 (at most 1)" in reasons[0]


def test_a_completed_session_cannot_be_moved(clinic: SmallClinic) -> None:
    ada = _book(clinic, "Ada Lovelace", WED, "08:00", IV_A)
    ready_for_discharge(clinic.db, ada)
    on_the_day = clinic.at(WED, "07:45")  # checked in and started on its own day
    for action in ("check_in", "start", "complete"):
        appointment_changes.change_status(
            clinic.db, NURSE, ada, action, now=on_the_day, ride=RIDE_HOME
        )
    reasons = check_move(clinic.db, ada, clinic.at(WED, "10:00"), clinic.ids["Room 1"], now=NOW)
    assert reasons == ["the session is completed and cannot be moved"]


def test_checks_are_cached_per_place(clinic: SmallClinic) -> None:
    ada = _book(clinic, "Ada Lovelace", WED, "08:00", IV_A)
    check = prepare_move(clinic.db, ada, now=NOW)
    first = check.plan(clinic.at(WED, "10:00"), clinic.ids["Room 3"])
    assert check.plan(clinic.at(WED, "10:00"), clinic.ids["Room 3"]) is first
    assert first.placed


def test_the_planned_move_is_what_booking_writes(clinic: SmallClinic) -> None:
    ada = _book(clinic, "Ada Lovelace", WED, "08:00", IV_A)
    _book(clinic, "Mary Seacole", WED, "13:00", IV_B)
    room3 = clinic.ids["Room 3"]
    planned = plan_move(clinic.db, ada, clinic.at(WED, "10:00"), room3, now=NOW)
    # The room is the one asked for; the monitor and nurse stay as they were (still free).
    assert planned.resource_for("room") == room3
    assert planned.resource_for("monitor") == clinic.ids["Monitor 1"]
    assert planned.resource_for("nurse") == clinic.ids["Nurse Kim"]
    appointment_changes.move(clinic.db, FRONT_DESK, ada, planned, now=NOW)
    placed = placement_of(clinic.db, ada)
    assert placed.room_id == room3
    assert clinic.calendar.local(placed.start).strftime("%H:%M") == "10:00"
    assert check_integrity(clinic.db).clean
    with pytest.raises(BookingConflict, match="Room 2 is taken by Seacole"):
        plan_move(clinic.db, ada, clinic.at(WED, "13:00"), clinic.ids["Room 2"], now=NOW)
