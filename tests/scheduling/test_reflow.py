"""Re-flowing a booked series after one session moved, was missed or was cancelled."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from ketadesk.scheduling.availability import Availability
from ketadesk.scheduling.model import ExistingHold
from ketadesk.scheduling.openings import Preferences
from ketadesk.scheduling.planner import (
    ChangeKind,
    SeriesChange,
    SeriesPlan,
    plan_series,
    reflow,
    spacing_problems,
)
from tests.scheduling.conftest import DemoClinic

MON = dt.date(2025, 3, 3)
WED = dt.date(2025, 3, 5)
THU = dt.date(2025, 3, 6)
FRI = dt.date(2025, 3, 7)
NEXT_MON = dt.date(2025, 3, 10)
TEN = Preferences(preferred_start=dt.time(10, 0))


def booked_induction(clinic: DemoClinic) -> tuple[SeriesPlan, Availability]:
    """An IV induction booked Mon/Wed/Fri at ten from 3 March, and the clinic with its holds."""
    protocol = clinic.protocol("iv_induction")
    plan = plan_series(protocol, MON, TEN, clinic.availability(), clinic.catalog.session_types)
    assert plan.complete
    holds = [ExistingHold(h.resource_id, h.span, h.mode, h.units) for h in plan.holds]
    return plan, clinic.availability(holds)


def change(
    clinic: DemoClinic,
    plan: SeriesPlan,
    avail: Availability,
    what: SeriesChange,
) -> SeriesPlan:
    return reflow(
        plan, what, clinic.protocol("iv_induction"), avail, clinic.catalog.session_types, TEN
    )


def dates(clinic: DemoClinic, plan: SeriesPlan) -> list[dt.date]:
    return [clinic.local(s.start).date() for s in plan.sessions]


def test_moving_an_infusion_to_monday_shifts_the_rest(clinic: DemoClinic) -> None:
    plan, avail = booked_induction(clinic)
    moved = change(
        clinic, plan, avail, SeriesChange(3, ChangeKind.MOVED, clinic.at(NEXT_MON, "10:00"))
    )
    assert moved.complete, moved.problems
    assert moved.sessions[:2] == plan.sessions[:2]
    assert dates(clinic, moved) == [
        MON,
        WED,
        NEXT_MON,
        dt.date(2025, 3, 12),
        dt.date(2025, 3, 14),
        dt.date(2025, 3, 17),
    ]
    # The series keeps its own room and time: its old holds were released first.
    assert {s.resource_for("room") for s in moved.sessions} == {
        plan.sessions[0].resource_for("room")
    }


def test_moving_within_the_rules_leaves_the_rest_as_booked(clinic: DemoClinic) -> None:
    plan, avail = booked_induction(clinic)
    moved = change(clinic, plan, avail, SeriesChange(3, ChangeKind.MOVED, clinic.at(THU, "11:00")))
    assert moved.complete, moved.problems
    assert clinic.local(moved.sessions[2].start).strftime("%a %H:%M") == "Thu 11:00"
    assert moved.sessions[3:] == plan.sessions[3:]


def test_missed_session_stays_visible_and_is_made_up(clinic: DemoClinic) -> None:
    plan, avail = booked_induction(clinic)
    after = change(clinic, plan, avail, SeriesChange(2, ChangeKind.MISSED))
    assert after.complete, after.problems
    (missed,) = after.missed
    assert missed.index == 2
    assert clinic.local(missed.start).date() == WED
    assert missed.problems == ("missed on Wed Mar 5",)
    assert [s.index for s in after.sessions] == [1, 2, 3, 4, 5, 6]
    assert dates(clinic, after)[1] > WED  # the make-up comes after the missed day
    assert dates(clinic, after)[1] == FRI


def test_missed_session_is_made_up_no_earlier_than_today(clinic: DemoClinic) -> None:
    plan, avail = booked_induction(clinic)
    today = NEXT_MON
    after = change(clinic, plan, avail, SeriesChange(2, ChangeKind.MISSED, not_before=today))
    assert dates(clinic, after)[1] >= today
    # A gap that long breaks the protocol's spacing, and the plan says so.
    assert any(p.startswith("sessions 1 and 2 are 7 days apart") for p in after.problems)


def test_an_earlier_miss_still_open_stays_a_gap_in_a_make_up(clinic: DemoClinic) -> None:
    """Session 3 cancelled and left undecided (out of the sessions, kept in ``missed``), then
    session 2 missed: the make-up does not count on a session 3 nobody books; the spacing is
    kept from the make-up to session 4."""
    plan, avail = booked_induction(clinic)
    third = plan.sessions[2]
    open_miss = dataclasses.replace(
        plan,
        sessions=tuple(s for s in plan.sessions if s.index != 3),
        missed=(dataclasses.replace(third, holds=()),),
    )
    after = change(clinic, open_miss, avail, SeriesChange(2, ChangeKind.MISSED))
    assert [s.index for s in after.sessions] == [1, 2, 4, 5, 6]
    assert [m.index for m in after.missed] == [3, 2]
    # The spacing judged on what would be booked, session 4 right after the make-up.
    assert (
        spacing_problems(clinic.protocol("iv_induction"), after.sessions, clinic.calendar()) == ()
    )
    assert after.problems == ()


def test_cancelled_without_make_up_leaves_the_series_one_short(clinic: DemoClinic) -> None:
    plan, avail = booked_induction(clinic)
    after = change(clinic, plan, avail, SeriesChange(2, ChangeKind.CANCELLED, make_up=False))
    assert [s.index for s in after.sessions] == [1, 3, 4, 5, 6]
    assert after.problems[0] == (
        "session 2 cancelled without a make-up: the series has 5 of 6 sessions"
    )
    assert after.missed[0].problems == ("cancelled on Wed Mar 5",)


def test_move_to_a_busy_time_is_refused_with_alternatives(clinic: DemoClinic) -> None:
    plan, _ = booked_induction(clinic)
    holds = [ExistingHold(h.resource_id, h.span, h.mode, h.units) for h in plan.holds]
    busy = holds + [clinic.hold(f"Room {i}", FRI, "14:00", "17:00") for i in (1, 2, 3)]
    avail = clinic.availability(busy)
    moved = change(clinic, plan, avail, SeriesChange(3, ChangeKind.MOVED, clinic.at(FRI, "14:00")))
    third = moved.sessions[2]
    assert not third.placed
    assert third.problems == (
        "session 3 cannot move to 14:00 on Fri Mar 7: no treatment room free 14:00–15:40 "
        "on Fri Mar 7",
    )
    assert third.alternatives
    series_days = {clinic.local(s.start).date() for s in plan.sessions if s.index != 3}
    for alternative in third.alternatives:
        day = clinic.local(alternative).date()
        assert day > WED
        assert day not in series_days


def test_reflow_of_an_unbooked_plan_keeps_the_earlier_sessions_in_view(clinic: DemoClinic) -> None:
    protocol = clinic.protocol("iv_induction")
    avail = clinic.availability()
    plan = plan_series(protocol, MON, TEN, avail, clinic.catalog.session_types)
    moved = reflow(
        plan,
        SeriesChange(3, ChangeKind.MOVED, clinic.at(NEXT_MON, "10:00")),
        protocol,
        avail,
        clinic.catalog.session_types,
        TEN,
        booked=False,
    )
    assert moved.complete
    assert all(avail.can_take(h) for h in moved.holds)  # nothing was left on the input


def test_reflow_needs_a_session_the_plan_has(clinic: DemoClinic) -> None:
    plan, avail = booked_induction(clinic)
    with pytest.raises(ValueError, match="no session 9"):
        change(clinic, plan, avail, SeriesChange(9, ChangeKind.MISSED))


def test_moved_change_needs_its_new_start() -> None:
    with pytest.raises(ValueError, match="new start"):
        SeriesChange(3, ChangeKind.MOVED)
