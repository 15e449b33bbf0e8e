"""The soak driver behind `make soak`: builds a fresh clinic (a SQLite file, or a new PostgreSQL
database on the test server), forks workstation processes that each open their own engine
(tests/soak/worker.py), optionally kills them with SIGKILL at random moments and starts new
ones, then runs the independent checker (tests/soak/checker.py) and prints the figures.

    python -m tests.soak --backend sqlite --workers 4 --minutes 2
    python -m tests.soak --backend postgresql --workers 8 --ops 100000
    python -m tests.soak --kills 1000            # a kill -9 soak: runs until 1000 kills

The run stops at the first of --minutes and --ops (per run, shared out among the workers); with
--kills it stops once that many workers have been killed (or at --minutes if given first).  The
figures go to stdout and, as JSON, to <out>/figures.json.  The exit status is 1 when the checker
found any violation (a raw error included).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from tests.soak import checker
from tests.soak.clinic import SoakClinic, build_soak_clinic
from tests.soak.worker import MIX, WorkerPlan, run_worker

PG_ENV = "KETADESK_TEST_PG_URL"
DEFAULT_MINUTES = 2.0
KILL_AFTER = (0.05, 1.0)  # seconds a worker runs, once it is ready, before it is killed


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=None, help="4 on SQLite, 8 on PostgreSQL")
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("--ops", type=int, default=None, help="operations in all")
    parser.add_argument("--kills", type=int, default=0, help="kill -9 this many workers")
    parser.add_argument("--seed", type=int, default=None, help="repeat a run's random choices")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("SOAK_PG_URL") or os.environ.get(PG_ENV, ""),
        help=f"the server, where a new database is made (default $SOAK_PG_URL or ${PG_ENV})",
    )
    parser.add_argument("--out", type=Path, default=None, help="folder for logs and figures")
    parser.add_argument(
        "--rotate-appointments",
        type=int,
        default=30,
        help="the days in focus move on by one for every this many appointments booked ...",
    )
    parser.add_argument(
        "--rotate-seconds", type=float, default=120.0, help="... and every this many seconds"
    )
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument(
        "--json", type=Path, default=None, help="figures (default out/figures.json)"
    )
    args = parser.parse_args(argv)
    if args.workers is None:
        args.workers = 8 if args.backend == "postgresql" else 4
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.minutes is None and args.ops is None and not args.kills:
        args.minutes = DEFAULT_MINUTES
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2**31)
    if args.backend == "postgresql" and not args.pg_url:
        parser.error(f"PostgreSQL needs --pg-url or ${PG_ENV} (a role that may create databases)")
    return args


# -- the database -----------------------------------------------------------------------------


def _create_pg_database(admin_url: str) -> tuple[str, str]:
    from sqlalchemy import create_engine, text

    from ketadesk.store.database import parse_db_url

    admin = parse_db_url(admin_url)
    name = f"ketadesk_soak_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False), name


def _drop_pg_database(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    from ketadesk.store.database import parse_db_url

    engine = create_engine(parse_db_url(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


# -- the workers ------------------------------------------------------------------------------


class Fleet:
    """The worker processes, forked from this warmed-up driver so a restart costs no imports."""

    def __init__(self, out: Path, clinic_file: Path, args: argparse.Namespace) -> None:
        self.out = out
        self.clinic_file = clinic_file
        self.args = args
        self.context = multiprocessing.get_context("fork")
        self.generation: Counter[int] = Counter()
        self.procs: dict[int, Any] = {}
        self.stop_file = out / "STOP"
        self.epoch = time.time()
        self.deadline = self.epoch + args.minutes * 60 if args.minutes is not None else None

    def start(self, slot: int, *, wait_ready: bool) -> Any:
        gen = self.generation[slot]
        self.generation[slot] += 1
        tag = f"w{slot:02d}g{gen:04d}"
        per_worker = None
        if self.args.ops is not None and not self.args.kills:
            share, extra = divmod(self.args.ops, self.args.workers)
            per_worker = share + (1 if slot < extra else 0)
        plan = WorkerPlan(
            tag=tag,
            seed=f"{self.args.seed}-{slot}-{gen}",
            log_path=str(self.out / "logs" / f"{tag}.jsonl"),
            stop_file=str(self.stop_file),
            deadline=self.deadline,
            max_ops=per_worker,
            rotate_seconds=self.args.rotate_seconds,
            rotate_appointments=self.args.rotate_appointments,
            epoch=self.epoch,
        )
        receiver, sender = self.context.Pipe(duplex=False)
        proc = self.context.Process(
            target=run_worker, args=(str(self.clinic_file), plan, sender), name=tag
        )
        proc.start()
        sender.close()
        if wait_ready:
            _wait_ready(receiver, proc)
        receiver.close()
        self.procs[slot] = proc
        return proc

    def wait_all(self) -> None:
        """Let the workers reach their deadline or operation count by themselves."""
        for proc in self.procs.values():
            proc.join()

    def stop_all(self) -> list[int]:
        self.stop_file.touch()
        codes = []
        for proc in self.procs.values():
            proc.join(120)
            if proc.is_alive():
                proc.kill()
                proc.join(10)
            codes.append(proc.exitcode)
        return codes


def _wait_ready(receiver: Connection, proc: Any) -> None:
    if not receiver.poll(60):
        raise SystemExit(f"worker {proc.name} did not open the clinic within a minute")
    receiver.recv()


def _run_kills(fleet: Fleet, args: argparse.Namespace, rng: random.Random) -> int:
    for slot in range(args.workers):
        fleet.start(slot, wait_ready=True)
    kills = 0
    while kills < args.kills:
        if fleet.deadline is not None and time.time() >= fleet.deadline:
            break
        time.sleep(rng.uniform(*KILL_AFTER) / args.workers)
        slot = rng.randrange(args.workers)
        proc = fleet.procs[slot]
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.join(30)
        fleet.start(slot, wait_ready=True)
        if kills % 50 == 0 and kills:
            print(f"  {kills} kills", flush=True)
    return kills


# -- the figures --------------------------------------------------------------------------------


def _operations(log_dir: Path) -> dict[str, dict[str, int]]:
    """Operations by kind and outcome (ok, refused by kind, raw by exception), from the logs."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for path in sorted(log_dir.glob("*.jsonl")):
        with path.open("rb") as f:
            for raw in f:
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue
                op = line.get("op", "?")
                outcome = line.get("r")
                table[op]["total"] += 1
                if outcome == "ok":
                    table[op]["ok"] += 1
                elif outcome == "refused":
                    table[op]["refused"] += 1
                    table[op][f"refused:{line.get('kind')}"] += 1
                else:
                    table[op]["raw"] += 1
                    table[op][f"raw:{line.get('kind')}"] += 1
    return {op: dict(sorted(c.items())) for op, c in sorted(table.items())}


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _print_figures(figures: dict[str, Any]) -> None:
    print()
    print(
        f"soak: {figures['backend']}, {figures['workers']} workers, "
        f"{figures['seconds']:.0f} s (checked in {figures['check_seconds']:.0f} s), "
        f"seed {figures['seed']}, commit {figures['commit']}"
    )
    print(
        f"machine: {figures['nproc']} cpus, load average {figures['load_before']} before, "
        f"{figures['load_after']} after ({figures['platform']})"
    )
    total = figures["totals"]
    print(
        f"operations: {total['total']} ({total['ok']} ok, {total['refused']} refused, "
        f"{total['raw']} raw errors), {figures['ops_per_second']:.1f}/s; kills {figures['kills']}"
    )
    for op, c in figures["operations"].items():
        refusals = ", ".join(
            f"{k.split(':', 1)[1]} {v}" for k, v in c.items() if k.startswith("refused:")
        )
        raws = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in c.items() if k.startswith("raw:"))
        print(
            f"  {op:12s} {c.get('total', 0):8d}  ok {c.get('ok', 0):7d}  "
            f"refused {c.get('refused', 0):7d}"
            + (f" ({refusals})" if refusals else "")
            + (f"  RAW {c.get('raw', 0)} ({raws})" if c.get("raw") else "")
        )


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="ketadesk-soak-"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    print(
        f"soak: {args.backend}, {args.workers} workers, "
        + (f"{args.minutes} min " if args.minutes is not None else "")
        + (f"{args.ops} ops " if args.ops is not None else "")
        + (f"{args.kills} kills " if args.kills else "")
        + f"seed {args.seed}; logs in {out}",
        flush=True,
    )
    rng = random.Random(args.seed)
    pg_name = None
    if args.backend == "postgresql":
        url, pg_name = _create_pg_database(args.pg_url)
    else:
        url = f"sqlite:///{out / 'clinic.sqlite'}"
    load_before = [round(x, 2) for x in os.getloadavg()]
    status = 1
    try:
        clinic = build_soak_clinic(url)
        clinic_file = out / "clinic.json"
        clinic.save(clinic_file)
        _warm_up(clinic)
        fleet = Fleet(out, clinic_file, args)
        began = time.monotonic()
        kills = 0
        if args.kills:
            kills = _run_kills(fleet, args, rng)
        else:
            for slot in range(args.workers):
                fleet.start(slot, wait_ready=False)
            fleet.wait_all()
        codes = fleet.stop_all()
        seconds = time.monotonic() - began
        load_after = [round(x, 2) for x in os.getloadavg()]
        print("checking ...", flush=True)
        checking = time.monotonic()
        findings = checker.check(url, out / "logs", killed=bool(args.kills))
        check_seconds = time.monotonic() - checking
        operations = _operations(out / "logs")
        totals = Counter({"total": 0, "ok": 0, "refused": 0, "raw": 0})
        for c in operations.values():
            for key in ("total", "ok", "refused", "raw"):
                totals[key] += c.get(key, 0)
        figures = {
            "backend": args.backend,
            "workers": args.workers,
            "seconds": round(seconds, 1),
            "check_seconds": round(check_seconds, 1),
            "seed": args.seed,
            "commit": _git_commit(),
            "nproc": os.cpu_count(),
            "load_before": load_before,
            "load_after": load_after,
            "platform": (
                f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
            ),
            "kills": kills,
            "worker_exit_codes": dict(Counter(str(c) for c in codes)),
            "totals": dict(totals),
            "ops_per_second": round(totals["total"] / seconds, 1) if seconds else 0.0,
            "operations": operations,
            "mix": MIX,
            **findings.as_dict(),
        }
        _print_figures(figures)
        print(checker.report(findings))
        bad_exits = [c for c in codes if c not in (0, -signal.SIGKILL)]
        if bad_exits:
            print(f"workers that did not end cleanly: exit codes {bad_exits}")
        json_path = args.json or out / "figures.json"
        json_path.write_text(json.dumps(figures, indent=1), encoding="utf-8")
        print(f"figures: {json_path}")
        print(f"repeat with: --seed {args.seed}")
        status = 1 if findings.total or bad_exits else 0
    finally:
        if pg_name is not None:
            if args.keep:
                print(f"kept PostgreSQL database {pg_name}")
            else:
                _drop_pg_database(args.pg_url, pg_name)
    return status


def _warm_up(clinic: SoakClinic) -> None:
    """Import and build in the driver what every booking needs (holiday tables, the catalogue
    parse), so forked workers start working at once and kills land while they write."""
    from ketadesk.scheduling.calendar import ClinicCalendar
    from ketadesk.services.booking import appointment_changes, booking, series_moves  # noqa: F401
    from ketadesk.store.clinic_config import load_catalog
    from ketadesk.store.database import open_database

    db = open_database(clinic.url)
    try:
        with db.read() as session:
            catalog = load_catalog(session)
        calendar = ClinicCalendar(catalog.settings)
        for day in clinic.days:
            calendar.closed_reason(dt.date.fromisoformat(day))
    finally:
        db.dispose()


if __name__ == "__main__":
    sys.exit(main())
