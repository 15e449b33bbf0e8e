"""``ketadesk demo --db URL [--seed N] [--today YYYY-MM-DD] ...``: build the demo clinic."""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
from typing import Any

from ketadesk.cli import CommandError, add_db_argument


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="build the demo clinic (Harbor Ketamine & Wellness) in a new database",
        description="Build a demo clinic with rooms, staff, patients in every state of care, "
        "weeks of past sessions and weeks of bookings ahead. The database must be new or empty.",
    )
    add_db_argument(parser, required_because="a demo belongs in a database of its own")
    parser.add_argument(
        "--seed",
        type=int,
        default=7,
        help="random seed: the same seed and day give the same clinic",
    )
    parser.add_argument(
        "--today",
        metavar="YYYY-MM-DD",
        help="the demo's today (default: the real today, with the real time of day)",
    )
    parser.add_argument(
        "--weeks-back", type=int, default=6, metavar="N", help="weeks of history (default 6)"
    )
    parser.add_argument(
        "--weeks-ahead", type=int, default=4, metavar="N", help="weeks booked ahead (default 4)"
    )
    parser.add_argument(
        "--rooms", type=int, default=6, metavar="N", help="treatment rooms (default 6)"
    )
    parser.add_argument(
        "--patients",
        type=int,
        metavar="N",
        help="patients in care today (default 25 per room); a long history adds past patients",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    parser.set_defaults(handler=_demo)


def _check(args: argparse.Namespace) -> dt.date | None:
    if args.rooms < 1:
        raise CommandError(f"--rooms must be at least 1, not {args.rooms}")
    for option in ("weeks_back", "weeks_ahead", "patients"):
        value = getattr(args, option)
        if value is not None and value < 0:
            raise CommandError(f"--{option.replace('_', '-')} cannot be negative ({value})")
    if args.today is None:
        return None
    try:
        return dt.date.fromisoformat(args.today)
    except ValueError:
        raise CommandError(f"--today must be a date like 2026-11-24, not {args.today!r}") from None


def _demo(args: argparse.Namespace) -> int:
    today = _check(args)
    from ketadesk.services.common.context import ServiceError
    from ketadesk.services.demo.clinic import build_demo

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"  {message}", flush=True)

    try:
        summary = build_demo(
            args.db,
            seed=args.seed,
            today=today,
            weeks_back=args.weeks_back,
            weeks_ahead=args.weeks_ahead,
            rooms=args.rooms,
            patients=args.patients,
            progress=progress,
        )
    except ServiceError as err:
        raise CommandError(str(err)) from None
    for line in summary.lines():
        print(line)
    for line in _try_lines(args.db, summary.today):
        print(line)
    sys.stdout.flush()
    return 0


def _try_lines(db: str, today: dt.date) -> list[str]:
    """Commands to paste next, with dates from this demo's today (so they work on any day) and
    a cleared patient with nothing booked."""
    from sqlalchemy import exists, select

    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.store.models import Appointment, Patient

    opened = open_clinic(db)
    try:
        with opened.db.read() as session:
            chart = session.scalar(
                select(Patient.chart_number)
                .where(
                    Patient.screening_status == "cleared",
                    ~exists().where(Appointment.patient_id == Patient.id),
                )
                .order_by(Patient.id)
                .limit(1)
            )
    finally:
        opened.db.dispose()
    if chart is None:
        return []
    monday = today + dt.timedelta(days=7 - today.weekday())
    quoted = shlex.quote(db)
    return [
        "Try:",
        f"  ketadesk run --db {quoted}",
        f"  ketadesk plan --db {quoted} --patient {chart} --protocol iv_induction"
        f" --start {monday} --weekdays mon,wed,fri --time 10:00",
        f"  ketadesk print day --db {quoted} --date {today} --out day-sheet.pdf",
        f"  ketadesk check --db {quoted}",
    ]
