"""``ketadesk export ics|csv``: calendars (.ics) and a CSV of appointments for other programs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ketadesk.cli import add_db_argument
from ketadesk.commands._planning_args import add_today, iso_date


def register(sub: Any) -> None:
    text = "export calendars (.ics) and appointment lists (.csv)"
    parser = sub.add_parser("export", help=text, description=text)
    kinds = parser.add_subparsers(dest="export_kind", metavar="KIND", required=True)

    ics_text = "an iCalendar file of a patient's upcoming sessions or a room's or staff schedule"
    ics = kinds.add_parser("ics", help=ics_text, description=ics_text)
    add_db_argument(ics)
    who = ics.add_mutually_exclusive_group(required=True)
    who.add_argument("--patient", metavar="CHART", help="a patient's upcoming sessions")
    who.add_argument(
        "--resource", metavar="NAME", help="a room's, equipment's or staff member's schedule"
    )
    ics.add_argument("--from", dest="first", type=iso_date, metavar="YYYY-MM-DD")
    ics.add_argument("--to", dest="last", type=iso_date, metavar="YYYY-MM-DD")
    ics.add_argument("--out", required=True, type=Path, metavar="FILE.ics")
    add_today(ics)
    ics.set_defaults(handler=_ics)

    csv_text = "a CSV of the appointments in a date range (inclusive)"
    csv = kinds.add_parser("csv", help=csv_text, description=csv_text)
    add_db_argument(csv)
    csv.add_argument("--from", dest="first", required=True, type=iso_date, metavar="YYYY-MM-DD")
    csv.add_argument("--to", dest="last", required=True, type=iso_date, metavar="YYYY-MM-DD")
    csv.add_argument("--out", required=True, type=Path, metavar="FILE.csv")
    csv.set_defaults(handler=_csv)


def _write(path: Path, content: bytes) -> None:
    from ketadesk.cli import CommandError
    from ketadesk.services.common.files import write_private

    try:
        write_private(path, content)
    except OSError as err:
        raise CommandError(f"cannot write {path}: {err.strerror or err}") from None


def _check_writable(path: Path) -> None:
    """Refuse an output path that cannot be written before any database work."""
    from ketadesk.cli import CommandError

    if path.is_dir():
        raise CommandError(f"cannot write {path}: it is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CommandError(f"cannot write {path}: no directory {parent}")


def _disclose(db: Any, what: str, detail: str, chart: str | None) -> None:
    from ketadesk.cli import command_line_actor
    from ketadesk.services.access.audit import record_disclosure

    record_disclosure(db, command_line_actor(), what, None, detail, chart=chart)


def _sessions(n: int) -> str:
    return f"{n} session{'' if n == 1 else 's'}"


def _ics(args: argparse.Namespace) -> int:
    from ketadesk.cli import CommandError
    from ketadesk.commands._planning_args import clinic_now
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.printing import export

    if args.patient is not None and (args.first or args.last):
        raise CommandError("--from/--to go with --resource; --patient exports upcoming sessions")
    if args.resource is not None and (args.first is None or args.last is None):
        raise CommandError("--resource needs --from YYYY-MM-DD and --to YYYY-MM-DD")
    _check_writable(args.out)
    db = open_clinic(args.db).db
    try:
        if args.patient is not None:
            _today, now = clinic_now(db, args.today)
            content = export.patient_calendar(db, args.patient, now=now)
            about = f"chart {args.patient}"
        else:
            content = export.resource_calendar(db, args.resource, first=args.first, last=args.last)
            about = f"{args.resource}, {args.first} to {args.last}"
        # The disclosure is recorded first: a file with patient data never exists unrecorded.
        _disclose(db, "calendar export (.ics)", f"{about}; saved to {args.out}", args.patient)
        _write(args.out, content)
    finally:
        db.dispose()
    print(f"wrote {_sessions(content.count(b'BEGIN:VEVENT'))} to {args.out}")
    return 0


def _csv(args: argparse.Namespace) -> int:
    import csv
    import io

    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.printing import export

    _check_writable(args.out)
    db = open_clinic(args.db).db
    try:
        text = export.appointments_csv(db, args.first, args.last)
        detail = f"{args.first} to {args.last}; saved to {args.out}"
        _disclose(db, "appointments export (.csv)", detail, None)  # first, as for .ics
        _write(args.out, text.encode("utf-8"))
    finally:
        db.dispose()
    rows = sum(1 for _ in csv.reader(io.StringIO(text))) - 1  # less the header
    print(f"wrote {_sessions(rows)} to {args.out}")
    return 0
