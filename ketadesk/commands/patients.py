"""``ketadesk patients import``: register a list of patients from a CSV file, all or nothing."""

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
