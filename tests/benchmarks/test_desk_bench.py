"""The desk's questions through the services, on real SQLite demo clinics: 15 rooms with five
years of history, and 15 rooms with one month.  Not part of ``make test``; ``make bench`` runs it.

Each figure is the whole service call: opening a read transaction, loading the window's snapshot
from the database, planning, gating.  Bookings per second commit single IV sessions one
transaction each (BEGIN IMMEDIATE, re-check, write holds, events, audit): the median of three
rounds of 100, each on a fresh copy of the clinic.  Targets on a 2-core machine: IV induction
plan < 50 ms, 4-week openings < 100 ms, >= 200 bookings/s, and every five-year / one-month
ratio <= 1.5 (cost follows the window, not the history).

The demo databases are built once and kept in ``.bench-cache/`` (delete it to rebuild).
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import platform
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from ketadesk.scheduling.gating import consent_lapses_on, eligibility_settings
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.planning import _window, propose_series, search_openings
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import SYSTEM, ServiceError
from ketadesk.services.demo.clinic import build_demo
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import Patient
from ketadesk.store.snapshot import load_snapshot

CACHE = Path(__file__).resolve().parents[2] / ".bench-cache"
TODAY = dt.date(2026, 11, 23)  # a Monday; the demo's "today"
START = TODAY + dt.timedelta(days=1)
RUNS = 15
BOOKINGS = 100
BOOKING_ROUNDS = 3  # each on a fresh copy of the clinic; the median round counts
CLINICS = {"5 years": 260, "1 month": 4}  # weeks of history, 15 rooms each
TARGETS = {
    "IV induction plan (6)": ("ms", 50.0),
    "Spravato TRD plan (12)": ("ms", 100.0),
    "4-week IV openings": ("ms", 100.0),
    "single bookings": ("per s", 200.0),
}
MAX_RATIO = 1.5


def _demo(weeks_back: int) -> Path:
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"demo-15rooms-{weeks_back}w-{TODAY:%Y%m%d}.sqlite"
    if not path.exists():
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        started = time.perf_counter()
        build_demo(f"sqlite:///{partial}", today=TODAY, weeks_back=weeks_back, rooms=15)
        print(f"\nbuilt {path.name} in {time.perf_counter() - started:.1f} s")
        partial.rename(path)
    return path


def _paired_medians_ms(
    long: Callable[[], object], short: Callable[[], object]
) -> tuple[float, float]:
    """Medians of the two clinics' timings, taken alternately, so a moment of someone else's
    load on this shared machine falls on both sides instead of deciding the ratio."""
    long(), short()  # warm caches that any desk session would have warm (imports, holidays)
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(RUNS):
        for fn, into in ((long, samples[0]), (short, samples[1])):
            gc.collect()
            t0 = time.perf_counter()
            fn()
            into.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples[0]), statistics.median(samples[1])


def _cleared_charts(db: Database) -> list[str]:
    """Cleared patients whose consent still stands through the weeks booked (on the five-year
    clinic many signed once, years ago, and have lapsed: the booking would refuse them)."""
    with db.read() as s:
        elig = eligibility_settings(load_catalog(s).settings)
        rows = s.execute(
            select(Patient.chart_number, Patient.consent_signed_on)
            .where(
                Patient.screening_status == "cleared",
                Patient.consent_signed_on.is_not(None),
                Patient.driver_name != "",
            )
            .order_by(Patient.id)
        ).all()
    last_day = START + dt.timedelta(days=28)
    charts = []
    for chart, signed in rows:
        lapses = consent_lapses_on(signed, elig) if signed is not None else None
        if signed is not None and (lapses is None or lapses > last_day):
            charts.append(chart)
    return charts


def _bookings_per_second(path: Path, tmp: Path) -> float:
    """The median rate of a few rounds of bookings: one round lasts only a fraction of a second,
    so on a shared machine a moment of someone else's load would otherwise decide it."""
    rates = [_booking_round(path, tmp / f"round-{n}") for n in range(BOOKING_ROUNDS)]
    print(f"\n{path.name}: bookings per second by round: {', '.join(f'{r:.0f}' for r in rates)}")
    return statistics.median(rates)


def _booking_round(path: Path, tmp: Path) -> float:
    tmp.mkdir()
    copy = tmp / f"booking-{path.name}"
    shutil.copy(path, copy)
    # Write the fresh copy through to disk before the clock starts: otherwise the first WAL
    # checkpoint during the bookings (its fsync) pays for writing back the whole copy, about
    # 100 ms for the five-year file, which is setup and not booking.
    fd = os.open(copy, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    opened = open_clinic(str(copy))
    db = opened.db
    try:
        charts = _cleared_charts(db)
        with db.read() as s:
            ids = dict(
                s.execute(
                    select(Patient.chart_number, Patient.id).where(Patient.chart_number.in_(charts))
                ).all()
            )
        answer = search_openings(db, session_type="iv_infusion", first=START, days=28, today=TODAY)
        with db.read() as s:
            catalog = load_catalog(s)
            snapshot = load_snapshot(s, _window(catalog, START, 28), catalog)
        spec = catalog.session_types["iv_infusion"]
        # Pick openings that do not collide with one another, as a day of desk work would.
        availability = snapshot.availability()
        chosen = []
        for opening in answer.search.openings:
            holds = opening.planned_holds(spec)
            if not availability.refusals(holds):
                availability.add(holds)
                chosen.append(opening)
            if len(chosen) == BOOKINGS:
                break
        assert len(chosen) == BOOKINGS
        now = dt.datetime.combine(TODAY, dt.time(), tzinfo=dt.UTC)
        ok = refused = 0
        t0 = time.perf_counter()
        reasons: dict[str, int] = {}
        for n, opening in enumerate(chosen):
            chart = charts[n % len(charts)]
            request = BookingRequest(patient_id=ids[chart], sessions=(opening.as_session(spec, 1),))
            try:
                booking.book(db, SYSTEM, request, now=now)
                ok += 1
            except ServiceError as err:
                refused += 1
                reasons[str(err)[:60]] = reasons.get(str(err)[:60], 0) + 1
        elapsed = time.perf_counter() - t0
        assert ok > BOOKINGS // 2, f"too many refusals ({refused}) to measure: {reasons}"
        return ok / elapsed
    finally:
        db.dispose()
        shutil.rmtree(tmp)  # the five-year copy is 160 MB


def _questions(db: Database, chart: str) -> dict[str, Callable[[], object]]:
    return {
        "IV induction plan (6)": lambda: propose_series(
            db, chart=chart, protocol="iv_induction", start=START, today=TODAY
        ),
        "Spravato TRD plan (12)": lambda: propose_series(
            db, chart=chart, protocol="spravato_trd", start=START, today=TODAY
        ),
        "4-week IV openings": lambda: search_openings(
            db, session_type="iv_infusion", first=START, days=28, today=TODAY
        ),
    }


@pytest.mark.slow
def test_desk_speed_follows_the_window_not_the_history(tmp_path: Path) -> None:
    results: dict[str, dict[str, float]] = {label: {} for label in CLINICS}
    paths = {label: _demo(weeks) for label, weeks in CLINICS.items()}
    dbs = {label: open_clinic(str(path)).db for label, path in paths.items()}
    try:
        questions = {}
        for label, db in dbs.items():
            charts = _cleared_charts(db)
            questions[label] = _questions(db, charts[len(charts) // 2])
        for name in questions["5 years"]:
            long_ms, short_ms = _paired_medians_ms(
                questions["5 years"][name], questions["1 month"][name]
            )
            results["5 years"][name], results["1 month"][name] = long_ms, short_ms
    finally:
        for db in dbs.values():
            db.dispose()
    for label, path in paths.items():
        results[label]["single bookings"] = _bookings_per_second(path, tmp_path)

    long, short = results["5 years"], results["1 month"]
    print()
    print(
        f"KetaDesk desk benchmark: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SQLite, 15 rooms, median of {RUNS}"
    )
    print("| measure | 5 years | 1 month | ratio 5y/1m | target |")
    print("|---|---|---|---|---|")
    failures = []
    for name, (unit, target) in TARGETS.items():
        a, b = long[name], short[name]
        if unit == "per s":
            ratio = b / a  # slower with history means a smaller rate
            ok = a >= target and b >= target
            cells = f"{a:.0f}/s | {b:.0f}/s | {ratio:.2f} | >= {target:.0f}/s"
        else:
            ratio = a / b
            ok = a <= target and b <= target
            cells = f"{a:.1f} ms | {b:.1f} ms | {ratio:.2f} | < {target:.0f} ms"
        print(f"| {name} | {cells} |")
        if not ok:
            failures.append(f"{name} misses its target")
        if ratio > MAX_RATIO:
            failures.append(f"{name}: 5-year/1-month ratio {ratio:.2f} > {MAX_RATIO}")
    assert not failures, failures
