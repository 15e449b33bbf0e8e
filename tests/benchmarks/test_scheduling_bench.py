"""Scheduling engine speed on a 15-room clinic: with five years of holds, and with one month.

Not part of ``make test``.  Run with
``.venv/bin/python -m pytest tests/benchmarks/test_scheduling_bench.py -s -o addopts=""``.

The five-year case hands the availability object the clinic's whole history (about a quarter of
a million holds) to show that indexing makes history irrelevant: a plan or a search costs the
same as with only the coming month's holds.  (In the application the store's snapshot is limited
to the planning window anyway.)  Every measured run works on a fresh ``fork()``, so no cached
day from an earlier run helps.  Targets: IV induction plan < 50 ms, 12-session Spravato plan
and 4-week openings search < 100 ms, five-year / one-month ratio <= 1.5.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import platform
import random
import statistics
import time
from collections.abc import Callable

from ketadesk.config import Catalog, load_default_catalog
from ketadesk.scheduling.availability import Availability
from ketadesk.scheduling.calendar import ClinicCalendar, ShiftPattern
from ketadesk.scheduling.catalog import WEEKDAYS, ResourceKind
from ketadesk.scheduling.model import ExistingHold, ResourceInfo, session_holds
from ketadesk.scheduling.openings import Preferences, find_openings
from ketadesk.scheduling.planner import plan_series

ROOMS = 15
NURSES = 5
PRESCRIBERS = 2
THERAPISTS = 3
TODAY = dt.date(2025, 3, 3)  # a Monday; plans and searches start the next day
RUNS = 25
TARGETS_MS = {
    "IV induction plan (6)": 50,
    "Spravato TRD plan (12)": 100,
    "4-week IV openings": 100,
}
MAX_RATIO = 1.5


def _resources(catalog: Catalog) -> list[ResourceInfo]:
    settings = catalog.settings
    out: list[ResourceInfo] = []
    rid = 0

    def add(kind: ResourceKind, subkind: str, name: str, capacity: int = 1) -> None:
        nonlocal rid
        rid += 1
        out.append(ResourceInfo(rid, kind, subkind, name, capacity, sort_order=rid))

    for i in range(1, ROOMS + 1):
        add(ResourceKind.ROOM, "treatment", f"Room {i}")
    for i in range(1, 4):
        add(ResourceKind.ROOM, "office", f"Office {i}")
    for i in range(1, ROOMS + 1):
        add(ResourceKind.EQUIPMENT, "vital_signs_monitor", f"Monitor {i}")
        add(ResourceKind.EQUIPMENT, "pulse_oximeter", f"Oximeter {i}")
    for role, count in (("nurse", NURSES), ("prescriber", PRESCRIBERS), ("therapist", THERAPISTS)):
        for i in range(1, count + 1):
            add(ResourceKind.STAFF, role, f"{role.title()} {i}", settings.capacity_for_role(role))
    return out


def _shifts(catalog: Catalog, resources: list[ResourceInfo]) -> list[ShiftPattern]:
    out = []
    for weekday, key in enumerate(WEEKDAYS):
        hours = catalog.settings.hours[key]
        if hours is None:
            continue
        for r in resources:
            if r.is_staff:
                out.append(
                    ShiftPattern(
                        r.id,
                        weekday,
                        hours[0].hour * 60 + hours[0].minute,
                        hours[1].hour * 60 + hours[1].minute,
                    )
                )
    return out


def _history(
    catalog: Catalog, calendar: ClinicCalendar, resources: list[ResourceInfo], first: dt.date
) -> list[ExistingHold]:
    """A busy clinic from ``first`` to a month after TODAY: each room runs IV and Spravato
    sessions back to back with short turnovers, about seven in ten slots taken."""
    rng = random.Random(1)
    by = {(r.kind, r.subkind): [x for x in resources if x.subkind == r.subkind] for r in resources}
    rooms = by[(ResourceKind.ROOM, "treatment")]
    monitors = by[(ResourceKind.EQUIPMENT, "vital_signs_monitor")]
    oximeters = by[(ResourceKind.EQUIPMENT, "pulse_oximeter")]
    nurses = by[(ResourceKind.STAFF, "nurse")]
    prescribers = by[(ResourceKind.STAFF, "prescriber")]
    iv = catalog.session_types["iv_infusion"]
    spravato = catalog.session_types["spravato"]
    holds: list[ExistingHold] = []
    day = first
    last = TODAY + dt.timedelta(days=31)
    while day <= last:
        hours = catalog.settings.hours[WEEKDAYS[day.weekday()]]
        if hours is not None and not calendar.holiday(day):
            close = hours[1].hour * 60 + hours[1].minute
            for i, room in enumerate(rooms):
                minute = hours[0].hour * 60 + hours[0].minute + (i % 6) * 5
                while True:
                    spec = iv if rng.random() < 0.6 else spravato
                    if minute + spec.total_minutes > close:
                        break
                    if rng.random() < 0.7:
                        assignment = {
                            "room": room.id,
                            "monitor": monitors[i].id,
                            "oximeter": oximeters[i].id,
                            "nurse": nurses[i % NURSES].id,
                            "prescriber": prescribers[i % PRESCRIBERS].id,
                        }
                        start = calendar.at_local(day, minute)
                        for h in session_holds(spec, start, assignment):
                            holds.append(ExistingHold(h.resource_id, h.span, h.mode, h.units))
                    minute += spec.total_minutes + 15
        day += dt.timedelta(days=1)
    return holds


def _medians_ms(
    case: Callable[[Availability], object], long: Availability, short: Availability
) -> tuple[float, float]:
    """Median milliseconds of ``case`` on fresh forks of both availabilities.

    Runs alternate between the two so that both see the same load on a shared machine; the
    ratio then measures the index, not the neighbours.
    """
    case(long.fork())  # warm-up: imports, holiday tables
    case(short.fork())
    times: dict[int, list[float]] = {0: [], 1: []}
    for _ in range(RUNS):
        for which, avail in enumerate((long, short)):
            fresh = avail.fork()
            gc.collect()
            t = time.perf_counter()
            case(fresh)
            times[which].append((time.perf_counter() - t) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def test_scheduling_engine_speed_does_not_depend_on_history() -> None:
    catalog = load_default_catalog()
    resources = _resources(catalog)
    calendar = ClinicCalendar(catalog.settings, shifts=tuple(_shifts(catalog, resources)))
    five_years = _history(catalog, calendar, resources, TODAY - dt.timedelta(days=5 * 365))
    window_start = calendar.at_local(TODAY, 0)
    one_month = [h for h in five_years if h.span.end > window_start]

    built: dict[str, Availability] = {}
    build_ms: dict[str, float] = {}
    for label, holds in (("5 years", five_years), ("1 month", one_month)):
        t = time.perf_counter()
        built[label] = Availability(calendar, resources, holds)
        build_ms[label] = (time.perf_counter() - t) * 1000

    types = catalog.session_types
    start = TODAY + dt.timedelta(days=1)
    prefs = Preferences(preferred_start=dt.time(10, 0))
    cases: dict[str, Callable[[Availability], object]] = {
        "IV induction plan (6)": lambda a: plan_series(
            catalog.protocols["iv_induction"], start, prefs, a, types
        ),
        "Spravato TRD plan (12)": lambda a: plan_series(
            catalog.protocols["spravato_trd"], start, prefs, a, types
        ),
        "4-week IV openings": lambda a: find_openings(
            a, types["iv_infusion"], start, start + dt.timedelta(days=27)
        ),
        "4-week IV openings, 10:00 preferred": lambda a: find_openings(
            a, types["iv_infusion"], start, start + dt.timedelta(days=27), prefs
        ),
    }
    print()
    print(f"{os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"15-room clinic; holds: 5 years {len(five_years):,}, 1 month {len(one_month):,}")
    print(
        f"availability built in {build_ms['5 years']:.0f} ms (5 years), "
        f"{build_ms['1 month']:.1f} ms (1 month) - not part of the medians below"
    )
    sample = find_openings(
        built["1 month"].fork(), types["iv_infusion"], start, start + dt.timedelta(days=27)
    )
    print(f"the 4-week search finds {len(sample.openings):,} IV openings")
    print(f"{'median of ' + str(RUNS):<38}{'5 years':>10}{'1 month':>10}{'ratio':>8}")
    results = {}
    for name, case in cases.items():
        long, short = _medians_ms(case, built["5 years"], built["1 month"])
        results[name] = (long, short)
        print(f"{name:<38}{long:>8.1f}ms{short:>8.1f}ms{long / short:>8.2f}")
    for name, target in TARGETS_MS.items():
        assert results[name][0] < target, f"{name}: {results[name][0]:.1f} ms, target {target}"
    for name, (long, short) in results.items():
        assert long / short <= MAX_RATIO, f"{name}: history costs ({long:.1f} vs {short:.1f} ms)"
