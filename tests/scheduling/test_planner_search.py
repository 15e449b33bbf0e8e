"""The series search (``planner_search``): properties on random busy clinics, and the cases the
old one-session-at-a-time planner got wrong.

On every seeded clinic and every protocol: no placed session is refused by the availability it
was planned on (with the series' earlier sessions taken), the plan never scores worse than the
greedy planner's (``whole_series=False``) by the planner's own score, it is complete whenever
the greedy one is, and planning twice gives the same plan.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

from ketadesk.scheduling import planner_search
from ketadesk.scheduling.availability import Availability, seconds
from ketadesk.scheduling.calendar import Interval
from ketadesk.scheduling.model import ExistingHold
from ketadesk.scheduling.openings import Preferences, PreferenceWeights
from ketadesk.scheduling.planner import (
    ChangeKind,
    SeriesChange,
    SeriesPlan,
    _Planner,
    plan_score,
    plan_series,
    reflow,
)
from ketadesk.scheduling.planner_search import _TypeDays
from tests.scheduling.conftest import DemoClinic

MON = dt.date(2025, 3, 3)
PROTOCOLS = ["iv_induction", "iv_booster", "spravato_trd", "spravato_mdd_si", "kap_program"]
ROOMS = ["Room 1", "Room 2", "Room 3"]


def _busy_clinic(clinic: DemoClinic, seed: int) -> tuple[Availability, Preferences, dt.date]:
    """Random room, monitor and nurse bookings over ten weeks, a random start and preferences."""
    rng = random.Random(seed)
    holds: list[ExistingHold] = []
    for day_no in range(70):
        day = MON + dt.timedelta(days=day_no)
        for name in [*ROOMS, "Monitor 1", "Monitor 2", "Nurse Ana", "Therapist"]:
            if name == "Therapist":
                name = "Tess Rivera"
            for _ in range(rng.randint(0, 3)):
                start = rng.randrange(8 * 60, 16 * 60, 15)
                length = rng.choice([60, 100, 150])
                end = min(start + length, 19 * 60)
                holds.append(
                    clinic.hold(
                        name,
                        day,
                        f"{start // 60:02d}:{start % 60:02d}",
                        f"{end // 60:02d}:{end % 60:02d}",
                    )
                )
    kind = rng.randrange(4)
    prefs = [
        Preferences(),
        Preferences(preferred_start=dt.time(rng.choice([9, 10, 13]), 0)),
        Preferences(preferred_room=clinic.id(rng.choice(ROOMS)), preferred_start=dt.time(11, 0)),
        Preferences(weekdays=("tue", "thu"), earliest_start=dt.time(9, 0)),
    ][kind]
    first = MON + dt.timedelta(days=rng.randrange(10))
    return clinic.availability(holds), prefs, first


def _refused(avail: Availability, plan: SeriesPlan) -> list[str]:
    work = avail.fork()
    out = []
    for s in plan.sessions:
        if not s.placed:
            continue
        refusals = work.refusals(s.holds)
        if refusals:
            out.append(f"session {s.index}: {refusals}")
        work.add(s.holds)
    return out


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("code", PROTOCOLS)
def test_search_is_feasible_never_worse_than_greedy_and_deterministic(
    clinic: DemoClinic, code: str, seed: int
) -> None:
    avail, prefs, start = _busy_clinic(clinic, seed)
    protocol = clinic.protocol(code)
    types = clinic.catalog.session_types
    plan = plan_series(protocol, start, prefs, avail, types)
    greedy = plan_series(protocol, start, prefs, avail, types, whole_series=False)
    assert _refused(avail, plan) == []
    assert plan == plan_series(protocol, start, prefs, avail, types)
    if greedy.complete:
        assert plan.complete, plan.problems
    ours = plan_score(protocol, start, prefs, avail, types, plan.sessions)
    theirs = plan_score(protocol, start, prefs, avail, types, greedy.sessions)
    assert ours <= theirs


@pytest.mark.parametrize("seed", range(6))
def test_reflow_through_the_search_stays_feasible(clinic: DemoClinic, seed: int) -> None:
    avail, prefs, start = _busy_clinic(clinic, seed)
    protocol = clinic.protocol("iv_induction")
    types = clinic.catalog.session_types
    plan = plan_series(protocol, start, prefs, avail, types)
    booked = avail.fork()
    for s in plan.sessions:
        booked.add(s.holds)
    after = reflow(
        plan, SeriesChange(2, ChangeKind.MISSED), protocol, booked, types, prefs, booked=True
    )
    work = booked.fork()
    work.release(h for s in plan.sessions if s.index >= 2 for h in s.holds)
    for s in after.sessions:
        if s.placed and s.index >= 2:
            assert not work.refusals(s.holds), f"session {s.index}"
            work.add(s.holds)
    assert [s.index for s in after.missed] == [2]


def test_the_first_free_minute_does_not_set_the_series_time(clinic: DemoClinic) -> None:
    """Monday is free from opening, every other day only from 12:00: the old planner took
    Monday's first minute and dragged every later infusion hours off it; the series search keeps
    all six at one time in one room."""
    holds = [
        clinic.hold(room, MON + dt.timedelta(days=d), "07:00", "12:00")
        for d in range(1, 25)
        for room in ROOMS
    ]
    avail = clinic.availability(holds)
    protocol = clinic.protocol("iv_induction")
    types = clinic.catalog.session_types
    plan = plan_series(protocol, MON, None, avail, types)
    greedy = plan_series(protocol, MON, None, avail, types, whole_series=False)
    assert plan.complete, plan.problems
    assert len({clinic.local(s.start).time() for s in plan.sessions}) == 1
    assert len({s.resource_for("room") for s in plan.sessions}) == 1
    assert len({clinic.local(s.start).time() for s in greedy.sessions}) > 1
    ours = plan_score(protocol, MON, None, avail, types, plan.sessions)
    assert ours < plan_score(protocol, MON, None, avail, types, greedy.sessions)


@pytest.mark.parametrize("seed", range(8))
def test_each_days_start_on_bit_grids_is_the_interval_searchs(
    clinic: DemoClinic, seed: int
) -> None:
    """The planner places each session with ``best_on_day`` on bit grids
    (``planner_search._TypeDays``): the same start, cost and resources as the interval search
    (``SessionSearch.day_options``, ``best_on_day``, ``at``) on every session type, with a kept
    room, a preferred nurse, a start window, the patient busy, holds that begin and end inside a
    minute, and times on and off the slot grid."""
    avail, prefs, first = _busy_clinic(clinic, seed)
    rng = random.Random(seed)
    odd = [
        dataclasses.replace(
            h,
            span=Interval(
                h.span.start + dt.timedelta(seconds=rng.choice([0, 20, 45])),
                h.span.end - dt.timedelta(seconds=rng.choice([0, 15, 40])),
            ),
        )
        for h in (
            clinic.hold(rng.choice(ROOMS), first + dt.timedelta(days=d), "10:00", "11:10")
            for d in range(12)
        )
    ]
    avail.add(odd)
    if seed % 2:
        prefs = dataclasses.replace(prefs, preferred_staff=clinic.id("Nurse Ben"))
    if seed % 3 == 2:
        prefs = dataclasses.replace(
            prefs, earliest_start=dt.time(9, 0), latest_start=dt.time(14, 30)
        )
    types = clinic.catalog.session_types
    for code, spec in types.items():
        planner = _Planner(
            clinic.protocol("iv_induction"), prefs, avail.fork(), types, PreferenceWeights(), 14, 3
        )
        busy_day = first + dt.timedelta(days=rng.randrange(5))
        planner.patient_busy.append(
            (seconds(clinic.at(busy_day, "11:00")), seconds(clinic.at(busy_day, "12:30")))
        )
        keep = rng.choice([None, {"room": clinic.id(rng.choice(ROOMS))}])
        search = planner.search(spec, keep=keep)
        grid = _TypeDays(planner, spec, search)
        for k in range(14):
            day = first + dt.timedelta(days=k)
            for minute in (None, 9 * 60, 10 * 60 + 2, rng.randrange(7 * 60, 18 * 60, 5)):
                bits = planner.best_on_day(search, day, minute, grid)
                assert bits == planner.best_on_day(search, day, minute), (code, day, minute)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("code", PROTOCOLS)
def test_bounded_beams_find_the_same_series_as_full_ones(
    clinic: DemoClinic, code: str, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The beams skip the steps no survivor could be (``planner_search._Bound``): the plan, its
    notes and problems are exactly those of the beams that make every step; re-flow too."""
    avail, prefs, start = _busy_clinic(clinic, seed)
    protocol = clinic.protocol(code)
    types = clinic.catalog.session_types

    def both() -> tuple[SeriesPlan, SeriesPlan]:
        plan = plan_series(protocol, start, prefs, avail, types)
        booked = avail.fork()
        for s in plan.sessions:
            booked.add(s.holds)
        change = SeriesChange(min(2, len(plan.sessions)), ChangeKind.MISSED)
        return plan, reflow(plan, change, protocol, booked, types, prefs, booked=True)

    bounded = both()
    monkeypatch.setattr(planner_search, "BOUNDED", False)
    assert both() == bounded
