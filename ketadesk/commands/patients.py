"""``ketadesk patients import``: register a list of patients from a CSV file, all or nothing.
``ketadesk patients away add|list|remove``: a patient's days away, as the patient record keeps
them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ketadesk.cli import add_db_argument
from ketadesk.scheduling.words import counted


def register(sub: Any) -> None:
    text = "work with patient charts"
    parser = sub.add_parser("patients", help=text, description=text)
    kinds = parser.add_subparsers(dest="patients_command", metavar="ACTION", required=True)
    import_text = (
        "register the patients of a CSV file, all or nothing: every row is checked as the "
        "patient form checks it (dates MM/DD/YYYY or YYYY-MM-DD), duplicates of existing "
        "charts and within the file are reported; exit status 1 when any row has a problem"
    )
    imp = kinds.add_parser(
        "import", help="register patients from a CSV file", description=import_text
    )
    add_db_argument(imp, required_because="an import registers a whole list of patients")
    imp.add_argument("--from", dest="source", required=True, type=Path, metavar="FILE.csv")
    imp.add_argument(
        "--dry-run", action="store_true", help="check every row and report; write nothing"
    )
    imp.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="COLUMN=FIELD",
        help="read COLUMN into FIELD (e.g. 'DOB=date_of_birth'); columns with usual header "
        "names are mapped without it",
    )
    imp.set_defaults(handler=_import)
    _register_away(kinds)


def _register_away(kinds: Any) -> None:
    away_text = (
        "a patient's days away (first to last day, inclusive, with a reason): the planner, "
        "next available and re-plans skip them; a booking or move onto one is a warning"
    )
    away = kinds.add_parser("away", help="a patient's days away", description=away_text)
    actions = away.add_subparsers(dest="away_command", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add",
        help="record days away",
        description="record that a patient is away; the sessions booked then are listed",
    )
    add_db_argument(add, required_because="the days away are kept on the patient's record")
    add.add_argument("--chart", required=True, help="the patient's chart number")
    add.add_argument(
        "--first", required=True, metavar="DATE", help="the first day away (12/14/2026)"
    )
    add.add_argument(
        "--last", metavar="DATE", help="the last day away, inclusive (default: the first day)"
    )
    add.add_argument("--reason", default="", help='why ("travel", "work")')
    add.set_defaults(handler=_away_add)
    listing = actions.add_parser(
        "list", help="list a patient's days away", description="upcoming first, then the past"
    )
    add_db_argument(listing, required_because="the days away are kept on the patient's record")
    listing.add_argument("--chart", required=True, help="the patient's chart number")
    listing.set_defaults(handler=_away_list)
    remove = actions.add_parser(
        "remove",
        help="remove days away",
        description="remove a range by the number it is listed with",
    )
    add_db_argument(remove, required_because="the days away are kept on the patient's record")
    remove.add_argument("--chart", required=True, help="the patient's chart number")
    remove.add_argument("id", type=int, help="the range's number, as `away list` shows it")
    remove.set_defaults(handler=_away_remove)


def _patient_of(db: Any, chart: str) -> int:
    from sqlalchemy import select

    from ketadesk.cli import CommandError
    from ketadesk.store.models import Patient

    with db.read() as session:
        found = session.scalar(select(Patient.id).where(Patient.chart_number == chart))
    if found is None:
        raise CommandError(f"--chart: no patient with chart number {chart!r}")
    return int(found)


def _away_add(args: argparse.Namespace) -> int:
    from ketadesk.cli import CommandError, command_line_actor
    from ketadesk.scheduling.days_away import range_problem, read_day
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.common.context import ServiceError
    from ketadesk.services.patients.days_away import add_day_away, list_days_away

    db = open_clinic(args.db).db
    try:
        patient_id = _patient_of(db, args.chart)
        year = list_days_away(db, patient_id).today.year
        try:
            first = read_day(args.first, "--first", default_year=year)
            last = read_day(args.last, "--last", default_year=year) if args.last else first
        except ValueError as err:
            raise CommandError(str(err)) from None
        problem = range_problem(first, last, args.reason)
        if problem:
            raise CommandError(problem)
        try:
            saved = add_day_away(db, command_line_actor(), patient_id, first, last, args.reason)
        except ServiceError as err:
            raise CommandError(str(err)) from None
    finally:
        db.dispose()
    print(f"#{saved.away.key}: {args.chart} away {saved.away.words}")
    if saved.sessions:
        print(saved.summary + " (not moved: move them with `ketadesk move`)")
        for s in saved.sessions:
            # What ``ketadesk move --appointment ID --if-version N`` needs.
            print(
                f"  appointment #{s.appointment_id} (version {s.version}): "
                f"{s.session_type_name} {s.when}"
            )
    return 0


def _away_list(args: argparse.Namespace) -> int:
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.patients.days_away import list_days_away

    db = open_clinic(args.db).db
    try:
        listed = list_days_away(db, _patient_of(db, args.chart))
    finally:
        db.dispose()
    if not listed.ranges:
        print(f"{args.chart}: no days away on record")
        return 0
    for heading, ranges in (("upcoming", listed.upcoming), ("past", listed.past)):
        if ranges:
            print(f"{heading}:")
            for r in ranges:
                print(f"  #{r.key}  {r.words}")
    return 0


def _away_remove(args: argparse.Namespace) -> int:
    from ketadesk.cli import CommandError, command_line_actor
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.common.context import ServiceError
    from ketadesk.services.patients.days_away import list_days_away, remove_day_away

    db = open_clinic(args.db).db
    try:
        listed = list_days_away(db, _patient_of(db, args.chart))
        if args.id not in {r.key for r in listed.ranges}:
            raise CommandError(f"{args.chart} has no days away #{args.id} (see `away list`)")
        try:
            gone = remove_day_away(db, command_line_actor(), args.id)
        except ServiceError as err:
            raise CommandError(str(err)) from None
    finally:
        db.dispose()
    print(f"removed #{args.id}: {args.chart} away {gone.words}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from ketadesk.cli import CommandError, command_line_actor
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.common.context import InvalidRequest
    from ketadesk.services.patients.csv_import import auto_mapping, import_patients, read_csv

    try:
        data = args.source.read_bytes()
    except OSError as err:
        raise CommandError(f"cannot read {args.source}: {err.strerror or err}") from None
    try:
        table = read_csv(data, source=str(args.source))
    except InvalidRequest as err:
        raise CommandError(str(err)) from None
    mapping = auto_mapping(table.headers)
    for item in args.map:
        column, sep, field = item.partition("=")
        if not sep or not column.strip() or not field.strip():
            raise CommandError(f"--map {item!r}: write COLUMN=FIELD")
        mapping = {c: f for c, f in mapping.items() if f != field.strip()}
        mapping[column.strip()] = field.strip()
    db = open_clinic(args.db).db
    try:
        try:
            report = import_patients(
                db,
                command_line_actor(),
                table,
                mapping,
                dry_run=args.dry_run,
                source=args.source.name,
            )
        except InvalidRequest as err:
            raise CommandError(str(err)) from None
    finally:
        db.dispose()
    print("columns: " + ", ".join(f"{c} -> {f}" for c, f in mapping.items()))
    ignored = [h for h in table.headers if h not in mapping]
    if ignored:
        print("not imported: " + ", ".join(ignored))
    for problem in report.problems:
        print(problem)
    blocking = len(report.blocking)
    if blocking:
        print(f"{counted(report.rows, 'row')}, {counted(blocking, 'problem')}: nothing imported")
        return 1
    if report.dry_run:
        print(f"{report.rows} rows, no problems: ready to import (dry run, nothing written)")
        return 0
    if report.imported:
        print(
            f"imported {len(report.imported)} patients, "
            f"charts {report.imported[0]} to {report.imported[-1]}"
        )
    else:
        print("the file has no rows: nothing imported")
    return 0
