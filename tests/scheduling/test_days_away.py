"""A patient's days away: the pure rule (is this day away, and why), and the planner, the
re-flow, the openings search and the rules engine respecting it."""

from __future__ import annotations

import datetime as dt

import pytest

from ketadesk.scheduling.days_away import (
    AwayRange,
    away_days,
    away_on,
    away_reason,
    range_problem,
    read_day,
    upcoming_first,
)
from ketadesk.scheduling.gating import Severity
from ketadesk.scheduling.model import ExistingHold
from ketadesk.scheduling.openings import Preferences, find_openings
from ketadesk.scheduling.planner import ChangeKind, SeriesChange, plan_series, reflow
from ketadesk.scheduling.protocol_rules import (
    PATIENT_AWAY,
    CourseSession,
    judge,
    rule_settings,
)
from tests.scheduling.conftest import DemoClinic

MON = dt.date(2025, 3, 3)
TEN = Preferences(preferred_start=dt.time(10, 0))


def day(offset: int) -> dt.date:
    return MON + dt.timedelta(days=offset)


TRAVEL = AwayRange(day(7), day(11), "travel", key=1)  # the second week, Mon to Fri
DENTIST = AwayRange(day(2), day(2), "dentist", key=2)  # one Wednesday


def test_a_day_is_away_inside_a_range_first_and_last_day_included() -> None:
    assert away_on([TRAVEL], day(6)) is None
    assert away_on([TRAVEL], day(7)) == TRAVEL
    assert away_on([TRAVEL], day(11)) == TRAVEL
    assert away_on([TRAVEL], day(12)) is None
    assert away_on([TRAVEL, DENTIST], day(2)) == DENTIST
    assert away_reason([TRAVEL], day(9)) == "the patient is away Mar 10 – 14, 2025 (travel)"
    assert away_reason([DENTIST], day(2)) == "the patient is away Wed Mar 5, 2025 (dentist)"
    assert away_reason([TRAVEL], day(1)) == ""
    assert away_days([TRAVEL, DENTIST], day(0), day(8)) == {day(2), day(7), day(8)}


def test_the_record_lists_upcoming_ranges_first_and_the_past_after() -> None:
    old = AwayRange(day(-30), day(-28), "work", key=3)
    older = AwayRange(day(-60), day(-60), "", key=4)
    listed = upcoming_first([older, TRAVEL, old, DENTIST], today=day(1))
    assert listed == [DENTIST, TRAVEL, old, older]


def test_a_range_as_typed_is_refused_in_words() -> None:
    assert range_problem(day(3), day(3), "work") == ""
    assert "before the first" in range_problem(day(3), day(2), "work")
    assert "Wed Mar 5, 2025" in range_problem(day(3), day(2), "")
    assert "longer than" in range_problem(day(3), day(4), "x" * 500)
    assert range_problem(None, day(4), "") == "the first day away is missing"
    assert read_day("3/10/2025", "--first") == day(7)
    assert read_day("2025-03-10", "--first") == day(7)
    assert read_day("Mar 10", "--first", default_year=2025) == day(7)
    with pytest.raises(ValueError, match="--first 'next week' is not a date"):
        read_day("next week", "--first")


def test_the_planner_never_proposes_a_day_away_and_says_why(clinic: DemoClinic) -> None:
    protocol = clinic.protocol("iv_induction")
    types = clinic.catalog.session_types
    free = plan_series(protocol, MON, TEN, clinic.availability(), types)
    assert free.complete
    free_days = {clinic.local(s.start).date() for s in free.sessions}
    assert free_days & {day(7), day(9)}, "the test needs a plan that uses the week away"

    away = plan_series(protocol, MON, TEN, clinic.availability(), types, patient_away=[TRAVEL])
    days = [clinic.local(s.start).date() for s in away.sessions if s.placed]
    assert not any(TRAVEL.covers(d) for d in days), days
    # The days stepped around are named, with the range and its reason.
    said = " ".join((*away.notes, *away.problems, *(p for s in away.sessions for p in s.problems)))
    assert "the patient is away Mar 10 – 14, 2025 (travel)" in said, said


def test_a_re_flow_keeps_off_the_days_away(clinic: DemoClinic) -> None:
    protocol = clinic.protocol("iv_induction")
    types = clinic.catalog.session_types
    plan = plan_series(protocol, MON, TEN, clinic.availability(), types)
    holds = [ExistingHold(h.resource_id, h.span, h.mode, h.units) for h in plan.holds]
    avail = clinic.availability(holds)
    # Session 3 missed: the rest re-planned, never in the week away.
    change = SeriesChange(3, ChangeKind.CANCELLED, not_before=day(5), make_up=True)
    plain = reflow(plan, change, protocol, avail, types, TEN)
    assert any(TRAVEL.covers(clinic.local(s.start).date()) for s in plain.sessions if s.placed)
    kept = reflow(plan, change, protocol, avail, types, TEN, patient_away=[TRAVEL])
    later = [clinic.local(s.start).date() for s in kept.sessions if s.placed and s.index >= 3]
    assert later
    assert not any(TRAVEL.covers(d) for d in later), later


def test_next_available_skips_the_days_away(clinic: DemoClinic) -> None:
    spec = clinic.catalog.session_types["iv_infusion"]
    found = find_openings(
        clinic.availability(), spec, day(7), day(14), TEN, earliest_day=True, away=[TRAVEL]
    )
    assert found.openings
    assert clinic.local(found.openings[0].start).date() == day(14)
    assert any(
        r.startswith("the patient is away Mar 10 – 14, 2025 (travel)") for r in found.reasons
    )


def test_the_rules_engine_warns_of_a_session_on_a_day_away(clinic: DemoClinic) -> None:
    settings = clinic.catalog.settings
    start = clinic.at(day(8), "10:00")
    moved = CourseSession(7, 1, 3, "iv_infusion", "iv_induction", start, day(8), 6)
    found = judge(
        [moved],
        {7},
        protocols=clinic.catalog.protocols,
        session_types=clinic.catalog.session_types,
        clinic=settings,
        away=[TRAVEL],
    )
    assert [(f.rule, f.severity) for f in found] == [(PATIENT_AWAY, Severity.WARN)]
    assert found[0].message == (
        "session 3/6 on Tue Mar 11 falls while the patient is away Mar 10 – 14, 2025 (travel)"
    )
    assert found[0].stops
    # Whoever books may go past it with a reason: the patient's own plans, not a clinical rule.
    rules = rule_settings(settings)
    assert rules.may_override("front_desk", [PATIENT_AWAY])
    assert not rules.may_override("front_desk", [PATIENT_AWAY, "min_gap"])
    overridden = judge(
        [moved],
        {7},
        protocols=clinic.catalog.protocols,
        session_types=clinic.catalog.session_types,
        clinic=settings,
        away=[TRAVEL],
        overrides={PATIENT_AWAY: "patient will fly back early"},
    )
    assert not overridden[0].stops
    # Not changed, not judged: a session booked before the range was added stops nothing else.
    assert not judge(
        [moved],
        set(),
        protocols=clinic.catalog.protocols,
        session_types=clinic.catalog.session_types,
        clinic=settings,
        away=[TRAVEL],
    )
