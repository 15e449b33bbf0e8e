"""The series planner against the exact optimum of its own score (issue 16, item 1).

Not part of ``make test``; ``make bench`` runs it.  Needs OR-Tools (``pip install -e '.[bench]'``);
skipped without it.

The clinic is the five-year, 15-room one of ``test_scheduling_bench`` (about a quarter of a
million holds of history), with the planning months filled unevenly: ordinary weeks about seven
in ten slots taken, busy weeks nine in ten, quiet weeks half, and the US holidays of the season
(Memorial Day, Juneteenth, Independence Day) closed.  ``CASES`` seeded cases draw a protocol (IV
induction, 6 infusions in 2-3 weeks; Spravato TRD, 12 sessions with twice-weekly induction;
Spravato MDD with suicidal thinking, 8 twice weekly), a start date and the patient's
preferences (a start time, a room, other weekdays, a start window).

For each case: the planner's series (``plan_series``), the old greedy planner's
(``whole_series=False``) and the exact optimum (``exact_planner``, CP-SAT, with the planner's
series as its hint and upper bound), all scored by ``plan_score``.  The exact series is checked
session by session with ``Availability.refusals``, and its model's objective must equal
``plan_score`` of it (the model and the planner agree on what they minimise).  A case counts
as incomplete when the planner's series is; the old planner's incomplete series are only
counted in its line.

Printed: the gap to the optimum (median, 95th percentile, worst), how many cases are within 2 %,
how many the solver proved optimal (and the gap to its best bound where it did not), the
planner's times (CPU and wall, medians and p95 per series length) and its speed ratio to the
exact planner (its candidate places, each checked, and the solve; the solve alone is printed
too).  Asserted (issue 16): within 2 % in at least 95 % of cases; a 6-session plan <= 50 ms
and a 12-session plan <= 100 ms (medians of CPU time: on a shared machine wall time measures the
neighbours); the planner at least 100x faster than the exact planner (median of per-case
ratios), issue 16's goal.  The exact model here is stronger than the issue's (it proves every
case optimal), and the ratio moves with the machine's load: 104-106x on a quiet 2-core machine
(7 Dec 2026, load 2.9), 87x at load 5, so a run beside other work can miss it.  With the opening
hours read on each day's own clock (``Availability.open_spans``, 1.04x quicker in a same-process
A/B) it measured 95x wall, 101x CPU at load 3.6-3.9 and 90x / 89x at load 3.2-3.7 (same plans).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from ketadesk.config import Catalog, load_default_catalog
from ketadesk.scheduling.availability import Availability
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import WEEKDAYS
from ketadesk.scheduling.model import ExistingHold, ResourceInfo, session_holds
from ketadesk.scheduling.openings import Preferences
from ketadesk.scheduling.planner import SeriesPlan, plan_score, plan_series
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.planning import _window
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Appointment, Patient
from ketadesk.store.snapshot import load_snapshot
from tests.benchmarks.test_booking_bench import ACTOR, NOW, START, _demo_sqlite
from tests.benchmarks.test_scheduling_bench import ROOMS, _resources, _shifts

pytest.importorskip("ortools")

from tests.benchmarks.exact_planner import exact_plan

WINDOW = dt.date(2025, 5, 5)  # a Monday: Memorial Day, Juneteenth and July 4 ahead
HISTORY_YEARS = 5
CASES = int(os.environ.get("KETADESK_PLANNER_CASES", "60"))
SOLVER_SECONDS = float(os.environ.get("KETADESK_PLANNER_SOLVER_SECONDS", "20"))
RUNS = 5  # timed runs of the planner per case (median)
GAP_GOAL = 0.02
SHARE_GOAL = 0.95
MS_GOALS = {6: 50.0, 8: 100.0, 12: 100.0}
SPEED_GOAL = 100.0  # see the module docstring
PROTOCOLS = [("iv_induction", 5), ("spravato_trd", 3), ("spravato_mdd_si", 2)]
BOOKED_CASES = 3


def _occupancy(rng: random.Random, first: dt.date, last: dt.date) -> Callable[[dt.date], float]:
    weeks: dict[dt.date, float] = {}
    monday = first - dt.timedelta(days=first.weekday())
    while monday <= last:
        weeks[monday] = rng.choices([0.5, 0.7, 0.9], weights=[1, 2, 1])[0]
        monday += dt.timedelta(days=7)
    return lambda day: weeks.get(day - dt.timedelta(days=day.weekday()), 0.7)


def _clinic_holds(
    catalog: Catalog, calendar: ClinicCalendar, resources: list[ResourceInfo]
) -> list[ExistingHold]:
    """Five years of history up to WINDOW, then four busy-and-quiet months ahead: each room runs
    IV and Spravato sessions back to back with short turnovers."""
    rng = random.Random(16)
    first = WINDOW - dt.timedelta(days=365 * HISTORY_YEARS)
    last = WINDOW + dt.timedelta(days=120)
    occupancy = _occupancy(rng, WINDOW, last)
    by_sub: dict[str, list[ResourceInfo]] = {}
    for r in resources:
        by_sub.setdefault(r.subkind, []).append(r)
    rooms = by_sub["treatment"]
    monitors, oximeters = by_sub["vital_signs_monitor"], by_sub["pulse_oximeter"]
    nurses, prescribers = by_sub["nurse"], by_sub["prescriber"]
    iv, spravato = catalog.session_types["iv_infusion"], catalog.session_types["spravato"]
    holds: list[ExistingHold] = []
    day = first
    while day <= last:
        hours = catalog.settings.hours[WEEKDAYS[day.weekday()]]
        taken = occupancy(day) if day >= WINDOW else 0.7
        if hours is not None and not calendar.holiday(day):
            close = hours[1].hour * 60 + hours[1].minute
            for i, room in enumerate(rooms):
                minute = hours[0].hour * 60 + hours[0].minute + rng.choice([0, 15, 30, 45])
                while True:
                    spec = iv if rng.random() < 0.6 else spravato
                    if minute + spec.total_minutes > close:
                        break
                    if rng.random() < taken:
                        assignment = {
                            "room": room.id,
                            "monitor": monitors[i].id,
                            "oximeter": oximeters[i].id,
                            "nurse": nurses[i % len(nurses)].id,
                            "prescriber": prescribers[i % len(prescribers)].id,
                        }
                        start = calendar.at_local(day, minute)
                        for h in session_holds(spec, start, assignment):
                            holds.append(ExistingHold(h.resource_id, h.span, h.mode, h.units))
                    minute += spec.total_minutes + rng.choice([15, 15, 30, 45])
        day += dt.timedelta(days=1)
    return holds


def _case(
    rng: random.Random, catalog: Catalog, rooms: list[int]
) -> tuple[str, dt.date, Preferences]:
    code = rng.choices([c for c, _ in PROTOCOLS], weights=[w for _, w in PROTOCOLS])[0]
    start = WINDOW + dt.timedelta(days=rng.randint(0, 40))
    kind = rng.random()
    if kind < 0.3:
        prefs = Preferences()
    elif kind < 0.6:
        prefs = Preferences(preferred_start=dt.time(rng.choice([9, 10, 11, 13, 14]), 0))
    elif kind < 0.75:
        prefs = Preferences(
            preferred_start=dt.time(rng.choice([9, 10, 13]), 30), preferred_room=rng.choice(rooms)
        )
    elif kind < 0.9:
        days = rng.choice([("tue", "thu"), ("mon", "wed", "fri"), ("mon", "thu")])
        prefs = Preferences(weekdays=days, preferred_start=dt.time(rng.choice([10, 12]), 0))
    else:
        prefs = Preferences(earliest_start=dt.time(12, 0), latest_start=dt.time(16, 0))
    return code, start, prefs


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def test_planner_is_near_the_exact_optimum_and_fast() -> None:
    catalog = load_default_catalog()
    resources = _resources(catalog)
    calendar = ClinicCalendar(catalog.settings, shifts=tuple(_shifts(catalog, resources)))
    holds = _clinic_holds(catalog, calendar, resources)
    clinic = Availability(calendar, resources, holds)
    types = catalog.session_types
    rooms = [r.id for r in resources if r.subkind == "treatment"]
    assert len(rooms) == ROOMS
    rng = random.Random(2026)

    gaps: list[float] = []
    rows: list[str] = []
    optimal = 0
    bound_gaps: list[float] = []
    ratios: list[float] = []
    greedy_gaps: list[float] = []
    cpu_ms: dict[int, list[float]] = {}
    wall_ms: dict[int, list[float]] = {}
    solver_s: list[float] = []
    build_s: list[float] = []
    solve_ratios: list[float] = []
    cpu_ratios: list[float] = []
    incomplete = 0
    greedy_incomplete = 0
    plan_series(catalog.protocols["iv_induction"], WINDOW, None, clinic.fork(), types)  # warm-up
    for n in range(CASES):
        code, start, prefs = _case(rng, catalog, rooms)
        protocol = catalog.protocols[code]

        def plan(whole: bool = True) -> SeriesPlan:
            return plan_series(protocol, start, prefs, clinic.fork(), types, whole_series=whole)  # noqa: B023

        cpu: list[float] = []
        wall: list[float] = []
        result = plan()
        for _ in range(RUNS):
            c0, w0 = time.process_time(), time.perf_counter()
            again = plan()
            cpu.append((time.process_time() - c0) * 1000)
            wall.append((time.perf_counter() - w0) * 1000)
            assert again == result, "the planner is not deterministic"
        greedy = plan(False)
        size = len(result.sessions)
        cpu_ms.setdefault(size, []).append(statistics.median(cpu))
        wall_ms.setdefault(size, []).append(statistics.median(wall))
        if not result.complete:
            incomplete += 1
            rows.append(f"{n:>3} {code:<16} {start} incomplete: {result.problems[:1]}")
            continue

        def score(sessions: tuple) -> int:  # type: ignore[type-arg]
            return plan_score(protocol, start, prefs, clinic, types, sessions)  # noqa: B023

        # The old planner is only a reference: its incomplete series (it never goes back past
        # a holiday) have no gap, and do not count against the planner.
        ours = score(result.sessions)
        old = score(greedy.sessions) if greedy.complete else None
        exact_cpu = time.process_time()
        exact = exact_plan(
            protocol,
            start,
            prefs,
            clinic,
            types,
            upper_bound=ours,
            hint=result.sessions,
            time_limit=SOLVER_SECONDS,
        )
        exact_cpu = time.process_time() - exact_cpu  # the solver's threads included
        assert exact.sessions, f"case {n}: the solver found no series"
        # The exact series is feasible (each session against the clinic and the ones before it)
        # and the model minimised exactly the planner's score.
        check = clinic.fork()
        for s in exact.sessions:
            assert not check.refusals(s.holds), f"case {n}: session {s.index} refused"
            check.add(s.holds)
        assert score(exact.sessions) == exact.objective, f"case {n}: model and score disagree"
        best = exact.objective
        gap = (ours - best) / best if best else (0.0 if ours == best else float("inf"))
        gaps.append(gap)
        if old is None:
            greedy_incomplete += 1
        else:
            greedy_gaps.append(
                (old - best) / best if best else (0.0 if old == best else float("inf"))
            )
        optimal += exact.optimal
        if not exact.optimal:
            bound_gaps.append((ours - exact.bound) / max(exact.bound, 1))
        solver_s.append(exact.seconds)
        build_s.append(exact.build_seconds)
        # The exact planner's time: its candidate places (each checked) and the solve.
        ratios.append((exact.build_seconds + exact.seconds) * 1000 / statistics.median(wall))
        solve_ratios.append(exact.seconds * 1000 / statistics.median(wall))
        cpu_ratios.append(exact_cpu * 1000 / statistics.median(cpu))
        rows.append(
            f"{n:>3} {code:<16} {start} {size:>2} sessions  exact {best:>5}"
            f"{' (optimal)' if exact.optimal else f' (bound {exact.bound:.0f})'}"
            f"  planner {ours:>5} ({gap:+.1%})  greedy "
            f"{old if old is not None else 'incomplete':>5}  "
            f"{statistics.median(cpu):5.1f} ms cpu  solver {exact.seconds:5.1f} s"
            f" on {exact.places:,} places"
        )

    load = os.getloadavg()
    print()
    print("\n".join(rows))
    print(
        f"\nplanner vs exact optimum (CP-SAT, {SOLVER_SECONDS:.0f} s limit), "
        f"{len(gaps)} complete cases of {CASES} (load {load[0]:.1f}, {os.cpu_count()} cores)"
    )
    within = sum(g <= GAP_GOAL for g in gaps) / len(gaps)
    print(
        f"gap to optimum: median {statistics.median(gaps):.1%}, p95 {_pct(gaps, 0.95):.1%}, "
        f"worst {max(gaps):.1%}; within 2 %: {within:.0%}"
    )
    print(
        f"greedy planner's gap: median {statistics.median(greedy_gaps):.1%}, "
        f"p95 {_pct(greedy_gaps, 0.95):.1%}, worst {max(greedy_gaps):.1%}"
        f" ({greedy_incomplete} of its series incomplete)"
    )
    print(
        f"solver proved optimal: {optimal} of {len(gaps)}"
        + (
            f"; elsewhere the planner is within {max(bound_gaps):.1%} of the best bound"
            if bound_gaps
            else ""
        )
    )
    for size in sorted(cpu_ms):
        print(
            f"{size:>2}-session plan: cpu median {statistics.median(cpu_ms[size]):.1f} ms, "
            f"p95 {_pct(cpu_ms[size], 0.95):.1f} ms; wall median "
            f"{statistics.median(wall_ms[size]):.1f} ms, p95 {_pct(wall_ms[size], 0.95):.1f} ms"
        )
    print(
        f"exact planner: places built and checked in {statistics.median(build_s):.1f} s, "
        f"solved in {statistics.median(solver_s):.1f} s (medians); speed ratio exact/planner "
        f"(wall, both): median {statistics.median(ratios):.0f}x, lowest {min(ratios):.0f}x; "
        f"the solve alone: median {statistics.median(solve_ratios):.0f}x; in CPU time: median "
        f"{statistics.median(cpu_ratios):.0f}x, lowest {min(cpu_ratios):.0f}x"
    )
    assert incomplete <= CASES // 10, f"{incomplete} cases without a complete series"
    assert within >= SHARE_GOAL, f"only {within:.0%} of cases within 2 % of the optimum"
    for size, goal in MS_GOALS.items():
        if size in cpu_ms:
            med = statistics.median(cpu_ms[size])
            assert med <= goal, f"{size}-session plan: {med:.1f} ms, goal {goal:.0f} ms"
    assert statistics.median(ratios) >= SPEED_GOAL, f"{statistics.median(ratios):.0f}x"


def test_exact_series_are_accepted_by_the_booking_service(tmp_path: Path) -> None:
    """The exact planner's places are real: a few of its series, planned on the demo clinic's
    database (15 rooms), are booked through ``booking.book``, which re-checks every hold, the
    protocol's spacing and the patient's gates inside its transaction."""
    path = tmp_path / "demo.sqlite"
    shutil.copy(_demo_sqlite(), path)
    url = f"sqlite:///{path}"
    db = open_clinic(url).db
    try:
        with db.read() as s:
            catalog = load_catalog(s)
            patients = list(
                s.scalars(
                    select(Patient.id)
                    .where(
                        Patient.screening_status == "cleared",
                        Patient.consent_signed_on.is_not(None),
                        Patient.driver_name != "",
                        ~Patient.id.in_(
                            select(Appointment.patient_id).where(Appointment.starts_at >= NOW)
                        ),
                    )
                    .order_by(Patient.id)
                )
            )
        assert len(patients) >= BOOKED_CASES
        protocol = catalog.protocols["iv_induction"]
        prefs_list = [
            Preferences(),
            Preferences(preferred_start=dt.time(13, 0)),
            Preferences(preferred_start=dt.time(9, 30), weekdays=("tue", "thu")),
        ]
        for n in range(BOOKED_CASES):
            prefs = prefs_list[n % len(prefs_list)]
            start = START + dt.timedelta(days=2 * n)
            with db.read() as s:
                snapshot = load_snapshot(s, _window(catalog, START, 45), catalog, now=NOW)
            availability = snapshot.availability()
            types = catalog.session_types
            plan = plan_series(protocol, start, prefs, availability, types)
            assert plan.complete, plan.problems
            ours = plan_score(protocol, start, prefs, availability, types, plan.sessions)
            exact = exact_plan(
                protocol,
                start,
                prefs,
                availability,
                types,
                upper_bound=ours,
                hint=plan.sessions,
                time_limit=SOLVER_SECONDS,
            )
            assert exact.sessions
            result = booking.book(
                db,
                ACTOR,
                BookingRequest(
                    patient_id=patients[n], sessions=exact.sessions, protocol=protocol.code
                ),
                now=NOW,
            )
            assert len(result.appointment_ids) == len(exact.sessions)
            print(
                f"booked the exact series #{n + 1} (score {exact.objective}, planner {ours}) "
                f"for patient #{patients[n]}"
            )
    finally:
        db.dispose()
