"""The waitlist's matching on plain data: who can take a place that just came free.

The day: Rooms 1 and 3 are taken all day; Room 2 is taken but for 10:00-12:00, which has just
come free (a cancelled IV infusion).  "Now" is the morning of the Friday before.
"""

from __future__ import annotations

import datetime as dt

from ketadesk.scheduling.availability import Availability
from ketadesk.scheduling.calendar import Interval
from ketadesk.scheduling.model import ExistingHold
from ketadesk.scheduling.waitlist import (
    FreedPlace,
    WaitlistWish,
    match_waitlist,
    weigh_waitlist,
    wish_problem,
)
from tests.scheduling.conftest import DemoClinic

MON = dt.date(2025, 3, 3)


def _now(clinic: DemoClinic) -> dt.datetime:
    return clinic.at(MON - dt.timedelta(days=3), "09:00")


def _holds(clinic: DemoClinic, room_3_until: str = "18:00") -> list[ExistingHold]:
    return [
        clinic.hold("Room 1", MON, "07:30", "18:00"),
        clinic.hold("Room 3", MON, "07:30", room_3_until),
        clinic.hold("Room 2", MON, "07:30", "10:00"),
        clinic.hold("Room 2", MON, "12:00", "18:00"),
    ]


def _day(clinic: DemoClinic) -> tuple[Availability, FreedPlace]:
    holds = _holds(clinic)
    freed = FreedPlace(
        start=clinic.at(MON, "10:00"),
        end=clinic.at(MON, "11:40"),
        room_id=clinic.id("Room 2"),
        staff_ids=frozenset({clinic.id("Nurse Ana")}),
    )
    return clinic.availability(holds), freed


def _wish(clinic: DemoClinic, entry_id: int, **kw: object) -> WaitlistWish:
    values: dict[str, object] = {
        "entry_id": entry_id,
        "patient_id": 100 + entry_id,
        "session_type": "iv_infusion",
        "added_at": _now(clinic) - dt.timedelta(days=entry_id),
    }
    values.update(kw)
    return WaitlistWish(**values)  # type: ignore[arg-type]


def _match(clinic: DemoClinic, *wishes: WaitlistWish) -> list[int]:
    availability, freed = _day(clinic)
    found = match_waitlist(
        availability,
        clinic.catalog.session_types,
        freed,
        wishes,
        now=_now(clinic),
    )
    return [m.wish.entry_id for m in found]


def test_an_iv_wish_takes_the_freed_room_at_the_freed_time(clinic: DemoClinic) -> None:
    availability, freed = _day(clinic)
    (match,) = match_waitlist(
        availability,
        clinic.catalog.session_types,
        freed,
        [_wish(clinic, 1)],
        now=_now(clinic),
    )
    assert match.opening.start == freed.start
    assert match.opening.resource_for("room") == clinic.id("Room 2")


def test_a_wish_for_other_weekdays_is_not_offered(clinic: DemoClinic) -> None:
    assert _match(clinic, _wish(clinic, 1, weekdays=("tue", "thu"))) == []
    assert _match(clinic, _wish(clinic, 1, weekdays=("mon",))) == [1]


def test_the_whole_session_must_lie_in_the_time_of_day_asked_for(clinic: DemoClinic) -> None:
    afternoons = _wish(clinic, 1, available_from=dt.time(13, 0))
    ends_too_early = _wish(clinic, 2, available_until=dt.time(11, 0))
    mornings = _wish(clinic, 3, available_from=dt.time(9, 0), available_until=dt.time(12, 0))
    assert _match(clinic, afternoons, ends_too_early, mornings) == [3]


def test_a_session_longer_than_the_freed_place_does_not_fit(clinic: DemoClinic) -> None:
    # Spravato books 150 minutes; Room 2 is free for 120.
    assert _match(clinic, _wish(clinic, 1, session_type="spravato")) == []


def test_deadlines_passed_or_before_the_day_are_not_offered(clinic: DemoClinic) -> None:
    now_day = MON - dt.timedelta(days=3)
    passed = _wish(clinic, 1, deadline=now_day - dt.timedelta(days=1))
    before_the_day = _wish(clinic, 2, deadline=MON - dt.timedelta(days=1))
    on_the_day = _wish(clinic, 3, deadline=MON)
    assert _match(clinic, passed, before_the_day, on_the_day) == [3]
    spec = clinic.spec("iv_infusion")
    assert wish_problem(passed, spec, MON, now_day) is not None
    assert wish_problem(on_the_day, spec, MON, now_day) is None


def test_rooms_and_staff_asked_for_are_kept_to(clinic: DemoClinic) -> None:
    only_room_1 = _wish(clinic, 1, rooms=frozenset({clinic.id("Room 1")}))
    room_2 = _wish(clinic, 2, rooms=frozenset({clinic.id("Room 2")}))
    therapist_only = _wish(clinic, 3, staff=frozenset({clinic.id("Tess Rivera")}))
    nurse_ben = _wish(clinic, 4, staff=frozenset({clinic.id("Nurse Ben")}))
    assert sorted(_match(clinic, only_room_1, room_2, therapist_only, nurse_ben)) == [2, 4]


def test_a_patient_already_booked_then_is_not_offered(clinic: DemoClinic) -> None:
    busy = (Interval(clinic.at(MON, "09:30"), clinic.at(MON, "12:00")),)
    assert _match(clinic, _wish(clinic, 1, patient_busy=busy)) == []


def test_nearest_deadline_first_then_longest_waiting(clinic: DemoClinic) -> None:
    no_deadline_old = _wish(clinic, 2)
    no_deadline_new = _wish(clinic, 3, added_at=_now(clinic))
    soon = _wish(clinic, 4, deadline=MON + dt.timedelta(days=2))
    assert _match(clinic, no_deadline_new, no_deadline_old, soon) == [4, 2, 3]


def test_the_place_is_offered_as_it_came_free_never_another_room_or_time(
    clinic: DemoClinic,
) -> None:
    """Room 3 is free from 11:00 too; the freed place is Room 2 from 10:00.  A patient who can
    come only from 10:20, or only to Room 3, is not offered some other place that happens to
    overlap it: they are told why the freed place does not suit them."""
    _, freed = _day(clinic)
    availability = clinic.availability(_holds(clinic, room_3_until="11:00"))
    anyone = _wish(clinic, 1)
    late_start = _wish(clinic, 2, available_from=dt.time(10, 20))
    room_3 = _wish(clinic, 3, rooms=frozenset({clinic.id("Room 3")}))
    office = _wish(clinic, 4, session_type="integration")
    answer = weigh_waitlist(
        availability,
        clinic.catalog.session_types,
        freed,
        [anyone, late_start, room_3, office],
        now=_now(clinic),
    )
    (match,) = answer.matches
    assert match.wish is anyone
    assert match.opening.start == freed.start
    assert match.opening.resource_for("room") == clinic.id("Room 2")
    why = {r.wish.entry_id: r.reasons for r in answer.refused}
    assert why == {
        2: ("asks for 10:20–closing; the session would run 10:00–11:40",),
        3: ("asks for Room 3 only",),
        4: ("Integration therapy cannot be held in Room 2",),
    }


def test_a_wish_that_cannot_take_the_place_says_why(clinic: DemoClinic) -> None:
    availability, freed = _day(clinic)
    wishes = [
        _wish(clinic, 1, weekdays=("tue", "thu")),
        _wish(clinic, 2, session_type="spravato"),
        _wish(
            clinic, 3, patient_busy=(Interval(clinic.at(MON, "09:30"), clinic.at(MON, "10:30")),)
        ),
        _wish(clinic, 4, staff=frozenset({clinic.id("Tess Rivera")})),
    ]
    answer = weigh_waitlist(
        availability, clinic.catalog.session_types, freed, wishes, now=_now(clinic)
    )
    assert answer.matches == ()
    why = {r.wish.entry_id: " ".join(r.reasons) for r in answer.refused}
    assert why[1] == "asks for Tue, Thu only"
    # Spravato books 150 minutes: from 10:00 it runs into Room 2's next booking.
    assert why[2] == "Room 2 booked 12:00–18:00 on Mon Mar 3"
    assert why[3] == "the patient has another session 09:30–10:30 on Mon Mar 3"
    assert why[4] == "asks for Tess Rivera, not free then"


def test_one_offer_per_patient(clinic: DemoClinic) -> None:
    first = _wish(clinic, 1, patient_id=7)
    second = _wish(clinic, 2, patient_id=7, session_type="im_ketamine")
    assert len(_match(clinic, first, second)) == 1


def test_a_place_freed_in_the_past_is_offered_to_nobody(clinic: DemoClinic) -> None:
    availability, freed = _day(clinic)
    after = freed.end + dt.timedelta(minutes=1)
    assert (
        match_waitlist(
            availability, clinic.catalog.session_types, freed, [_wish(clinic, 1)], now=after
        )
        == ()
    )
