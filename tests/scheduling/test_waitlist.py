"""The waitlist's matching on plain data: who can take a place that just came free.

The day: Rooms 1 and 3 are taken all day; Room 2 is taken but for 10:00-12:00, which has just
come free (a cancelled IV infusion).  "Now" is the morning of the Friday before.
"""

from __future__ import annotations

import datetime as dt

from ketadesk.scheduling.availability import Availability
from ketadesk.scheduling.calendar import Interval
from ketadesk.scheduling.waitlist import (
    FreedPlace,
    WaitlistWish,
    match_waitlist,
    wish_problem,
)
from tests.scheduling.conftest import DemoClinic

MON = dt.date(2025, 3, 3)


def _now(clinic: DemoClinic) -> dt.datetime:
    return clinic.at(MON - dt.timedelta(days=3), "09:00")


def _day(clinic: DemoClinic) -> tuple[Availability, FreedPlace]:
    holds = [
        clinic.hold("Room 1", MON, "07:30", "18:00"),
        clinic.hold("Room 3", MON, "07:30", "18:00"),
        clinic.hold("Room 2", MON, "07:30", "10:00"),
        clinic.hold("Room 2", MON, "12:00", "18:00"),
    ]
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
    assert match.minutes_from_freed_start == 0


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


def test_best_fit_first_then_nearest_deadline_then_longest_waiting(clinic: DemoClinic) -> None:
    late_start = _wish(clinic, 1, available_from=dt.time(10, 20))  # fits, 20 minutes off
    no_deadline_old = _wish(clinic, 2)
    no_deadline_new = _wish(clinic, 3, added_at=_now(clinic))
    soon = _wish(clinic, 4, deadline=MON + dt.timedelta(days=2))
    assert _match(clinic, late_start, no_deadline_new, no_deadline_old, soon) == [4, 2, 3, 1]


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
