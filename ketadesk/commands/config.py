"""``ketadesk config export|import``: a clinic's whole set-up as one TOML file; and
``ketadesk config add-shipped-rules``: the shipped rule keys an older clinic lacks.

Export writes the settings (clinic details, hours and holidays included), session types,
protocols, rooms and equipment (retired too, with the session types each serves), staff with
their shifts and qualifications, closures to come and user accounts (never a password).
Import checks the whole file first and then applies it all or nothing; ``--dry-run`` prints
what would change and writes nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ketadesk.cli import add_db_argument


def register(sub: Any) -> None:
    text = (
        "export or import the clinic's whole configuration as one TOML file, or add the "
        "shipped rule keys an older clinic lacks"
    )
    parser = sub.add_parser("config", help=text, description=text)
    kinds = parser.add_subparsers(dest="config_action", metavar="ACTION", required=True)

    out_text = "write the settings, session types, protocols, rooms, staff and users to a file"
    out = kinds.add_parser("export", help=out_text, description=out_text)
    add_db_argument(out)
    out.add_argument("--out", required=True, type=Path, metavar="FILE.toml")
    out.set_defaults(handler=_export)

    in_text = (
        "check a configuration file and apply it (all or nothing); entities are matched by "
        "code, name and username, and nothing the file lacks is deleted"
    )
    imp = kinds.add_parser("import", help=in_text, description=in_text)
    add_db_argument(imp, required_because="an import rewrites the clinic's whole set-up")
    imp.add_argument("--from", dest="source", required=True, type=Path, metavar="FILE.toml")
    imp.add_argument(
        "--dry-run", action="store_true", help="print what would change and write nothing"
    )
    imp.set_defaults(handler=_import)

    add_text = (
        "add the shipped rule keys (a stage's window_cap, gaps and windows, [protocol_rules], "
        "[chair], ...) that the stored configuration lacks, as migration "
        "0015_protocol_rules_upgrade does; a value the clinic set is never changed and a "
        "protocol the clinic made is left alone"
    )
    add = kinds.add_parser("add-shipped-rules", help=add_text, description=add_text)
    add_db_argument(add)
    add.add_argument(
        "--dry-run", action="store_true", help="print what would be added and write nothing"
    )
    add.set_defaults(handler=_add_shipped_rules)


def _export(args: argparse.Namespace) -> int:
    from ketadesk.cli import CommandError, command_line_actor
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.common.files import write_private
    from ketadesk.services.settings.config_transfer import export_config

    opened = open_clinic(args.db)
    try:
        text = export_config(opened.db, command_line_actor())
    finally:
        opened.db.dispose()
    try:
        write_private(args.out, text.encode("utf-8"))
    except OSError as err:
        raise CommandError(f"cannot write {args.out}: {err.strerror or err}") from None
    print(f"wrote the configuration of {opened.db.label} to {args.out}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from ketadesk.cli import CommandError, command_line_actor
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.settings.config_transfer import import_config

    try:
        text = args.source.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"{args.source}: not UTF-8 text; save it as UTF-8") from None
    except OSError as err:
        raise CommandError(f"cannot read {args.source}: {err.strerror or err}") from None
    opened = open_clinic(args.db)
    try:
        report = import_config(
            opened.db, command_line_actor(), text, str(args.source), dry_run=args.dry_run
        )
    finally:
        opened.db.dispose()
    for line in report.lines():
        print(line)
    if report.passwords:
        print(
            "one-time passwords of the new users (they must change it at first sign-in;"
            " shown only now):"
        )
        for username, password in sorted(report.passwords.items()):
            print(f"  {username}: {password}")
    return 0


def _add_shipped_rules(args: argparse.Namespace) -> int:
    from ketadesk.cli import command_line_actor
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.settings.shipped_rules import add_missing_rules

    # A dry run writes nothing, a schema upgrade included (which would add the rules itself).
    opened = open_clinic(args.db, upgrade=not args.dry_run)
    try:
        done = add_missing_rules(opened.db, command_line_actor(), dry_run=args.dry_run)
    finally:
        opened.db.dispose()
    for line in done.lines():
        print(line)
    if args.dry_run and done.added:
        print("nothing was written (--dry-run)")
    return 0
