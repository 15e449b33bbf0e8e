"""Bookings per second through the real booking service, against raw-driver yardsticks measured
in the same run.  Not part of ``make test``; ``make bench`` runs it (the PostgreSQL part when
KETADESK_TEST_PG_URL is set).

KetaDesk's side is ``booking.book`` as the booking dialog and ``ketadesk book`` call it: single
IV sessions for cleared patients, each its own write transaction with the whole re-check
inside (gates, the patient's other sessions, the resources' holds), spread over four weeks and
15 rooms of the one-month demo clinic so that conflicts are rare: this measures throughput, not
contention (``tests/services/clinic/test_concurrency.py`` does that).  Each writer is a process
of its own, as a workstation would be: 1 and 4 on one SQLite file, 8 on one PostgreSQL database.

The yardstick replays, with the plain driver (``sqlite3`` / ``psycopg``), exactly the rows
KetaDesk's own bookings wrote (appointment, holds, event, audit events, follow-ups), one
booking per transaction with the change-counter update (and the NOTIFY on PostgreSQL), on a
fresh copy of the same clinic: the same indexes, triggers, constraints and pragmas.  It reads
nothing and checks nothing; the ratio is what the booking's checks and machinery cost.

Targets (issue 16): SQLite, one writer, >= 25 % of the yardstick's rate; four writers no slower
than one; PostgreSQL, eight writers, >= 50 % of the yardstick's rate and a p95 latency <= 50 ms.
Each configuration runs ``ROUNDS`` times, alternating with its yardstick, and the median round
counts: on a shared machine a moment of someone else's load would otherwise decide it.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import shutil
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from ketadesk.scheduling.model import PlannedSession
from ketadesk.scheduling.openings import find_openings
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.planning import _window
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import Actor, ServiceError
from ketadesk.services.demo.clinic import build_demo
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database, parse_db_url
from ketadesk.store.migrate import revision_graph
from ketadesk.store.models import Appointment, Base, Patient
from ketadesk.store.snapshot import load_snapshot

CACHE = Path(__file__).resolve().parents[2] / ".bench-cache"
TODAY = dt.date(2026, 11, 23)  # a Monday; the demo's "today"
START = TODAY + dt.timedelta(days=1)
DAYS = 28
NOW = dt.datetime.combine(TODAY, dt.time(), tzinfo=dt.UTC)
# Patients with a course's session this many weeks before the window (or any time after its
# start) are left out of the bookings: a course spans its first to its last session.
COURSE_MARGIN_WEEKS = 12
BOOKINGS = 480  # timed bookings per run, shared out among the writers
ROUNDS = 3
ACTOR = Actor(user_id=None, username="bench", role="front_desk")
SQLITE_RATIO = 0.25
PG_RATIO = 0.50
PG_P95_MS = 50.0
# The tables a booking of single sessions writes (the counter aside); anything else growing
# means the yardstick no longer does the same work, and the bench says so.
BOOKING_TABLES = ("appointment", "resource_hold", "appointment_event", "follow_up", "audit_event")


# --------------------------------------------------------------------------------------------
# The clinic and the bookings to make


def _demo_sqlite() -> Path:
    CACHE.mkdir(exist_ok=True)
    # Named by the schema's head: writers open copies of it at once, and must not all migrate.
    path = CACHE / f"demo-15rooms-4w-{TODAY:%Y%m%d}-{revision_graph().head}.sqlite"
    if not path.exists():
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        build_demo(f"sqlite:///{partial}", today=TODAY, weeks_back=4, rooms=15)
        partial.rename(path)
    return path


@dataclass(frozen=True)
class Job:
    patient_id: int
    session: PlannedSession


def _jobs(db: Database, count: int) -> list[Job]:
    """``count`` IV bookings that do not collide with one another nor with the patients' own
    appointments: openings over four weeks, found again after each pass over the days (an
    opening names one free room, monitor and nurse; once it is taken others may still be
    free at that time), each given a cleared patient free that day and in no treatment course
    near the window (a single dose during a course is judged against it: ``concurrent_course``,
    the course's gap and weekly cap would refuse some, and this measures throughput)."""
    with db.read() as s:
        catalog = load_catalog(s)
        snapshot = load_snapshot(s, _window(catalog, START, DAYS), catalog)
        in_a_course = (
            select(Appointment.patient_id)
            .where(
                Appointment.series_id.is_not(None),
                Appointment.starts_at
                >= snapshot.window.start - dt.timedelta(weeks=COURSE_MARGIN_WEEKS),
            )
            .distinct()
        )
        patients = list(
            s.scalars(
                select(Patient.id)
                .where(
                    Patient.screening_status == "cleared",
                    Patient.consent_signed_on.is_not(None),
                    Patient.driver_name != "",
                    Patient.id.not_in(in_a_course),
                )
                .order_by(Patient.id)
            )
        )
        busy = {
            (pid, snapshot.calendar.local_date(starts))
            for pid, starts in s.execute(
                select(Appointment.patient_id, Appointment.starts_at).where(
                    Appointment.starts_at >= snapshot.window.start
                )
            )
        }
    spec = catalog.session_types["iv_infusion"]
    availability = snapshot.availability()
    last_day = START + dt.timedelta(days=DAYS - 1)
    jobs: list[Job] = []
    next_patient = 0
    while len(jobs) < count:
        found = find_openings(availability, spec, START, last_day).openings
        # One pass takes at most one opening per day, so the bookings spread over the days.
        taken_days: set[dt.date] = set()
        for opening in found:
            day = snapshot.calendar.local_date(opening.start)
            holds = opening.planned_holds(spec)
            if day in taken_days or availability.refusals(holds):
                continue
            free = [
                pid
                for pid in patients[next_patient:] + patients[:next_patient]
                if (pid, day) not in busy
            ]
            if not free:
                continue
            next_patient = (patients.index(free[0]) + 1) % len(patients)
            busy.add((free[0], day))
            availability.add(holds)
            taken_days.add(day)
            jobs.append(Job(free[0], opening.as_session(spec, 1)))
            if len(jobs) == count:
                break
        if not taken_days:
            break
    assert len(jobs) == count, f"only {len(jobs)} non-colliding bookings found"
    return jobs


# --------------------------------------------------------------------------------------------
# Writer processes: each opens the database, warms up, waits for the others, then writes


@dataclass(frozen=True)
class WriterResult:
    started: float  # time.perf_counter(): CLOCK_MONOTONIC, the same clock in every process
    finished: float
    latencies: list[float]  # seconds, one per transaction
    refused: list[str]


def _ketadesk_writer(url: str, warmup: Job, jobs: Sequence[Job], barrier: Any, out: Any) -> None:
    db = open_clinic(url).db
    try:
        booking.book(db, ACTOR, _request(warmup), now=NOW)
        barrier.wait()
        out.put(_timed(jobs, lambda job: booking.book(db, ACTOR, _request(job), now=NOW)))
    finally:
        db.dispose()


def _request(job: Job) -> BookingRequest:
    return BookingRequest(patient_id=job.patient_id, sessions=(job.session,))


def _timed(jobs: Sequence[Any], write: Callable[[Any], object]) -> WriterResult:
    latencies: list[float] = []
    refused: list[str] = []
    started = time.perf_counter()
    for job in jobs:
        t0 = time.perf_counter()
        try:
            write(job)
        except ServiceError as err:
            refused.append(str(err)[:80])
        latencies.append(time.perf_counter() - t0)
    return WriterResult(started, time.perf_counter(), latencies, refused)


# A booking's rows as the yardstick replays them: per table, the rows' columns and values
# without their ids; ``appointment_id`` and the audit events' ``entity_id`` are filled in with
# the ids the replay's own inserts return.
RowSet = dict[str, list[dict[str, Any]]]


def _sqlite_replay(
    path: str, warmup: RowSet, jobs: Sequence[RowSet], barrier: Any, out: Any
) -> None:
    conn = sqlite3.connect(path, isolation_level=None, timeout=10.0)
    # The pragmas KetaDesk's own connections set (store/database.py); the file is in WAL.
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    statements = _statements("?")

    def write(rows: RowSet) -> None:
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            _replay(cur, statements, rows, "?")
            cur.execute(
                "UPDATE change_counter SET value = value + 1, changed_at = ? WHERE id = 1",
                (rows["appointment"][0]["created_at"],),
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    try:
        write(warmup)
        barrier.wait()
        out.put(_timed(jobs, write))
    finally:
        conn.close()


def _pg_replay(url: str, warmup: RowSet, jobs: Sequence[RowSet], barrier: Any, out: Any) -> None:
    import psycopg
    from psycopg.types.json import Jsonb

    conninfo = parse_db_url(url).set(drivername="postgresql").render_as_string(False)
    conn = psycopg.connect(conninfo)
    statements = _statements("%s")

    def adapt(rows: RowSet) -> RowSet:
        return {
            table: [
                {k: Jsonb(v) if isinstance(v, dict | list) else v for k, v in row.items()}
                for row in table_rows
            ]
            for table, table_rows in rows.items()
        }

    def write(rows: RowSet) -> None:
        with conn.transaction(), conn.cursor() as cur:
            _replay(cur, statements, rows, "%s")
            cur.execute(
                "UPDATE change_counter SET value = value + 1, changed_at = %s WHERE id = 1",
                (rows["appointment"][0]["created_at"],),
            )
            cur.execute("NOTIFY ketadesk_changes")

    try:
        warm, timed = adapt(warmup), [adapt(j) for j in jobs]
        write(warm)
        barrier.wait()
        out.put(_timed(timed, write))
    finally:
        conn.close()


def _statements(mark: str) -> dict[str, tuple[list[str], str]]:
    """Each booking table's insert, over its columns but the id, returning the new id."""
    found = {}
    for name in BOOKING_TABLES:
        cols = [c.name for c in Base.metadata.tables[name].columns if c.name != "id"]
        found[name] = (
            cols,
            f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
            " RETURNING id",
        )
    return found


def _replay(
    cur: Any, statements: dict[str, tuple[list[str], str]], rows: RowSet, mark: str
) -> None:
    """One booking's rows, in the order the foreign keys need, as a plain program would write
    them: one insert per appointment and follow-up (their ids are needed), a multi-row
    executemany for the rest."""
    ids: dict[tuple[str, int], int] = {}

    def insert_one(table: str, row: dict[str, Any]) -> int:
        cols, sql = statements[table]
        cur.execute(sql, [row[c] for c in cols])
        new_id: int = cur.fetchone()[0]
        return new_id

    def insert_many(table: str, table_rows: list[dict[str, Any]]) -> None:
        if not table_rows:
            return
        cols, sql = statements[table]
        cur.executemany(
            sql.removesuffix(" RETURNING id"), [[r[c] for c in cols] for r in table_rows]
        )

    for row in rows["appointment"]:
        ids[("appointment", row["_id"])] = insert_one("appointment", _clean(row))
    fix = {"appointment_id": lambda v: ids[("appointment", v)]}
    insert_many("resource_hold", [_clean(r, fix) for r in rows["resource_hold"]])
    insert_many("appointment_event", [_clean(r, fix) for r in rows["appointment_event"]])
    for row in rows["follow_up"]:
        ids[("follow_up", row["_id"])] = insert_one("follow_up", _clean(row, fix))
    audit = [
        {**_clean(r), "entity_id": ids.get((r["entity"], r["entity_id"]), r["entity_id"])}
        for r in rows["audit_event"]
    ]
    insert_many("audit_event", audit)


def _clean(
    row: dict[str, Any], fix: dict[str, Callable[[Any], Any]] | None = None
) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k != "_id"}
    for key, f in (fix or {}).items():
        if out.get(key) is not None:
            out[key] = f(out[key])
    return out


# --------------------------------------------------------------------------------------------
# Running one configuration


@dataclass(frozen=True)
class RunResult:
    rate: float  # committed bookings per second, over all writers
    median_ms: float
    p95_ms: float
    refused: int


def _run(
    target: Callable[..., None],
    url: str,
    warmups: Sequence[Any],
    jobs: Sequence[Any],
    writers: int,
) -> RunResult:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(writers)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(url, warmups[n], jobs[n::writers], barrier, out))
        for n in range(writers)
    ]
    for p in procs:
        p.start()
    results: list[WriterResult] = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0, f"a writer failed ({p.exitcode})"
    refused = [r for res in results for r in res.refused]
    assert len(refused) <= len(jobs) // 20, f"too many refusals to measure: {refused[:3]}"
    latencies = sorted(x for res in results for x in res.latencies)
    elapsed = max(r.finished for r in results) - min(r.started for r in results)
    return RunResult(
        rate=(len(jobs) - len(refused)) / elapsed,
        median_ms=statistics.median(latencies) * 1000,
        p95_ms=latencies[int(0.95 * (len(latencies) - 1))] * 1000,
        refused=len(refused),
    )


def _median_run(runs: Sequence[RunResult]) -> RunResult:
    return sorted(runs, key=lambda r: r.rate)[len(runs) // 2]


# --------------------------------------------------------------------------------------------
# Reading back what the bookings wrote, for the yardstick


def _table_counts(db: Database) -> dict[str, int]:
    with db.read() as s:
        return {
            name: s.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in Base.metadata.tables.items()
        }


def _max_ids(db: Database) -> dict[str, int]:
    with db.read() as s:
        return {
            name: s.execute(
                select(func.coalesce(func.max(Base.metadata.tables[name].c.id), 0))
            ).scalar_one()
            for name in BOOKING_TABLES
        }


def _written_rows(db: Database, since: dict[str, int]) -> list[RowSet]:
    """The rows the bookings wrote (ids above ``since``), one RowSet per booking in booking
    order, each value as the driver handed it back (which the same driver accepts again)."""
    per_table: dict[str, list[dict[str, Any]]] = {}
    with db.read() as s:
        conn = s.connection()
        for name in BOOKING_TABLES:
            cols = [c.name for c in Base.metadata.tables[name].columns]
            sql = f"SELECT {', '.join(cols)} FROM {name} WHERE id > {since[name]:d} ORDER BY id"
            per_table[name] = [
                {("_id" if c == "id" else c): v for c, v in zip(cols, row, strict=True)}
                for row in conn.exec_driver_sql(sql)
            ]
    follow_up_of = {r["_id"]: r["appointment_id"] for r in per_table["follow_up"]}
    sets: dict[int, RowSet] = {}
    for row in per_table["appointment"]:
        sets[row["_id"]] = {"appointment": [row], **{t: [] for t in BOOKING_TABLES[1:]}}
    for name in ("resource_hold", "appointment_event", "follow_up"):
        for row in per_table[name]:
            sets[row["appointment_id"]][name].append(row)
    for row in per_table["audit_event"]:
        entity_id = row["entity_id"]
        owner = entity_id if row["entity"] == "appointment" else follow_up_of[entity_id]
        sets[owner]["audit_event"].append(row)
    return [sets[k] for k in sorted(sets)]


def _rows_per_booking(sets: Sequence[RowSet]) -> str:
    counts = {t: sum(len(s[t]) for s in sets) / len(sets) for t in BOOKING_TABLES}
    return ", ".join(f"{n:g} {t}" for t, n in counts.items())


# --------------------------------------------------------------------------------------------
# Round trips per booking, counted on the engine (test-only: an event listener)


def round_trips(db: Database, jobs: Sequence[Job]) -> tuple[float, list[str]]:
    """Round trips to the database per booking (statements sent, and the commit), the mean
    over ``jobs``; and the statements of the last booking, shortened, for the report."""
    seen: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(" ".join(sql.split())[:100])

    def commit(_conn: Any) -> None:
        seen.append("COMMIT")

    event.listen(db.engine, "before_cursor_execute", statement)
    event.listen(db.engine, "commit", commit)
    counts: list[int] = []
    try:
        for job in jobs:
            seen.clear()
            booking.book(db, ACTOR, _request(job), now=NOW)
            counts.append(len(seen))
    finally:
        event.remove(db.engine, "before_cursor_execute", statement)
        event.remove(db.engine, "commit", commit)
    return sum(counts) / len(counts), list(seen)


# --------------------------------------------------------------------------------------------
# The benchmarks


def _load() -> str:
    load1, load5, _ = os.getloadavg()
    return f"load average {load1:.2f} (1 min) {load5:.2f} (5 min), {os.cpu_count()} cores"


def _fsynced_copy(source: Path, target: Path) -> Path:
    shutil.copy(source, target)
    # Written through to disk before the clock starts: otherwise the first WAL checkpoint of
    # the run would pay for writing back the whole copy, which is setup and not booking.
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return target


def _line(label: str, r: RunResult, yard: RunResult | None = None) -> str:
    ratio = f" | {r.rate / yard.rate:.2f}" if yard is not None else " |"
    return (
        f"| {label} | {r.rate:.0f}/s | {r.median_ms:.1f} ms | {r.p95_ms:.1f} ms{ratio}"
        f" | {r.refused} |"
    )


def _print_table(title: str, lines: Sequence[str], trips: float, last: Sequence[str]) -> None:
    print()
    print(f"{title}; {_load()}")
    print("| run | bookings/s | median | p95 | ratio to yardstick | refused |")
    print("|---|---|---|---|---|---|")
    for line in lines:
        print(line)
    print(f"statements per booking (a pipeline's sent together): {trips:.1f}")
    for sql in last:
        print(f"    {sql}")


@pytest.mark.slow
def test_sqlite_bookings_against_the_raw_yardstick(tmp_path: Path) -> None:
    source = _demo_sqlite()
    plan_db = open_clinic(str(_fsynced_copy(source, tmp_path / "plan.sqlite"))).db
    try:
        everything = _jobs(plan_db, BOOKINGS + 8 + 5)
    finally:
        plan_db.dispose()
    warmups, jobs, probes = everything[:4], everything[4 : 4 + BOOKINGS], everything[-5:]

    runs: dict[str, list[RunResult]] = {"1 writer": [], "4 writers": [], "raw 1": [], "raw 4": []}
    replay: list[RowSet] = []
    for round_ in range(ROUNDS):
        for writers in (1, 4):
            copy = _fsynced_copy(source, tmp_path / f"kd-{round_}-{writers}.sqlite")
            db = open_clinic(str(copy)).db
            before, since = _table_counts(db), _max_ids(db)
            db.dispose()
            runs[f"{writers} writer" + ("s" if writers > 1 else "")].append(
                _run(_ketadesk_writer, str(copy), warmups, jobs, writers)
            )
            if not replay:
                db = open_clinic(str(copy)).db
                after = _table_counts(db)
                grew = {t for t in after if after[t] != before[t]} - {*BOOKING_TABLES}
                assert not grew, f"bookings wrote to {grew}: teach the yardstick those rows"
                sets = _written_rows(db, since)
                db.dispose()
                replay = sets
            copy.unlink()
            raw_copy = _fsynced_copy(source, tmp_path / f"raw-{round_}-{writers}.sqlite")
            runs[f"raw {writers}"].append(
                _run(_sqlite_replay, str(raw_copy), replay[:writers], replay[writers:], writers)
            )
            raw_copy.unlink()

    probe_db = open_clinic(str(_fsynced_copy(source, tmp_path / "probe.sqlite"))).db
    try:
        booking.book(probe_db, ACTOR, _request(probes[0]), now=NOW)  # warm
        trips, last = round_trips(probe_db, probes[1:])
    finally:
        probe_db.dispose()

    one, four = _median_run(runs["1 writer"]), _median_run(runs["4 writers"])
    raw1, raw4 = _median_run(runs["raw 1"]), _median_run(runs["raw 4"])
    _print_table(
        f"SQLite bookings, {BOOKINGS} single IV sessions per run, median of {ROUNDS} rounds "
        f"(yardstick rows per booking: {_rows_per_booking(replay)})",
        [
            _line("KetaDesk, 1 writer", one, raw1),
            _line("raw sqlite3, 1 writer", raw1),
            _line("KetaDesk, 4 writers", four, raw4),
            _line("raw sqlite3, 4 writers", raw4),
        ],
        trips,
        last,
    )
    failures = []
    if one.rate < SQLITE_RATIO * raw1.rate:
        failures.append(f"1 writer: {one.rate / raw1.rate:.2f} of the yardstick < {SQLITE_RATIO}")
    if four.rate < one.rate:
        failures.append(f"4 writers ({four.rate:.0f}/s) slower than 1 ({one.rate:.0f}/s)")
    assert not failures, failures


@pytest.fixture
def pg_admin() -> Iterator[Any]:
    from sqlalchemy import create_engine

    url = os.environ.get("KETADESK_TEST_PG_URL")
    if not url:
        pytest.skip("KETADESK_TEST_PG_URL is not set: the PostgreSQL bookings bench skipped")
    engine = create_engine(parse_db_url(url), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.mark.slow
def test_postgresql_bookings_against_the_raw_yardstick(pg_admin: Any) -> None:
    from sqlalchemy import text

    admin_url = pg_admin.url
    made: list[str] = []

    def new_database(template: str | None = None) -> str:
        name = f"ketadesk_bench_{uuid.uuid4().hex[:10]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        with pg_admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        made.append(name)
        return name

    def url_of(name: str) -> str:
        rendered: str = admin_url.set(database=name).render_as_string(hide_password=False)
        return rendered

    writers = 8
    try:
        base = new_database()
        build_demo(url_of(base), today=TODAY, weeks_back=4, rooms=15)
        plan_db = open_clinic(url_of(base)).db
        try:
            everything = _jobs(plan_db, BOOKINGS + writers + 5)
        finally:
            plan_db.dispose()
        warmups, jobs = everything[:writers], everything[writers : writers + BOOKINGS]
        probes = everything[-5:]

        kd_runs: list[RunResult] = []
        raw_runs: list[RunResult] = []
        replay: list[RowSet] = []
        for _ in range(ROUNDS):
            name = new_database(base)
            db = open_clinic(url_of(name)).db
            since = _max_ids(db)
            db.dispose()
            kd_runs.append(_run(_ketadesk_writer, url_of(name), warmups, jobs, writers))
            if not replay:
                db = open_clinic(url_of(name)).db
                replay = _written_rows(db, since)
                db.dispose()
            raw = new_database(base)
            raw_runs.append(
                _run(_pg_replay, url_of(raw), replay[:writers], replay[writers:], writers)
            )

        probe_db = open_clinic(url_of(new_database(base))).db
        try:
            booking.book(probe_db, ACTOR, _request(probes[0]), now=NOW)  # warm
            trips, last = round_trips(probe_db, probes[1:])
        finally:
            probe_db.dispose()
    finally:
        with pg_admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    kd, raw_run = _median_run(kd_runs), _median_run(raw_runs)
    _print_table(
        f"PostgreSQL bookings, {writers} writers, {BOOKINGS} single IV sessions per run, "
        f"median of {ROUNDS} rounds (yardstick rows per booking: {_rows_per_booking(replay)})",
        [_line("KetaDesk, 8 writers", kd, raw_run), _line("raw psycopg, 8 writers", raw_run)],
        trips,
        last,
    )
    failures = []
    if kd.rate < PG_RATIO * raw_run.rate:
        failures.append(f"{kd.rate / raw_run.rate:.2f} of the yardstick < {PG_RATIO}")
    if kd.p95_ms > PG_P95_MS:
        failures.append(f"p95 {kd.p95_ms:.0f} ms > {PG_P95_MS:.0f} ms")
    assert not failures, failures
