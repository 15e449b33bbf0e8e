"""``ketadesk db upgrade|status --db URL``: the database schema."""

from __future__ import annotations

import argparse
from typing import Any

from ketadesk.cli import add_db_argument


def register(sub: Any) -> None:
    parser = sub.add_parser("db", help="database schema: upgrade or show status")
    db_sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = db_sub.add_parser("upgrade", help="bring the schema up to date (SQLite: after a copy)")
    add_db_argument(up, refuse_default=_create_needs_db)
    up.add_argument(
        "--create",
        action="store_true",
        help="create a new clinic if empty (needs --db: never this workstation's clinic by "
        "default)",
    )
    up.add_argument(
        "--config",
        metavar="DIR",
        help="with --create: a folder with clinic.toml, session_types.toml and protocols.toml "
        "to start the new clinic from (default: the bundled defaults)",
    )
    up.set_defaults(handler=_upgrade)
    st = db_sub.add_parser("status", help="show the schema revision")
    add_db_argument(st)
    st.set_defaults(handler=_status)


def _create_needs_db(args: argparse.Namespace) -> str | None:
    """A new clinic is made where --db says, never at this workstation's clinic by default."""
    if args.create:
        return "--create makes a new clinic: say where with --db URL"
    return None


def _upgrade(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ketadesk.config import build_catalog, read_raw_config
    from ketadesk.services.clinic.clinic_setup import open_clinic

    raw = None
    if args.config:
        raw = read_raw_config(Path(args.config))
        build_catalog(raw, args.config)  # report mistakes with the folder's name
    opened = open_clinic(args.db, create=args.create, config=raw)
    try:
        if opened.created:
            print(f"created a new clinic in {opened.db.label}")
        elif opened.upgraded_from:
            print(f"upgraded {opened.db.label} from schema {opened.upgraded_from}")
            if opened.backup:
                print(f"the previous file was copied to {opened.backup}")
        else:
            print(f"{opened.db.label} is up to date")
    finally:
        opened.db.dispose()
    return 0


def _status(args: argparse.Namespace) -> int:
    from ketadesk.store import migrate
    from ketadesk.store.database import open_database

    db = open_database(args.db)
    try:
        state, rev = migrate.schema_state(db)
        head = migrate.revision_graph().head
        print(f"{db.label}: {state.value} (schema {rev or 'none'}, this version's is {head})")
    finally:
        db.dispose()
    return 0 if state is migrate.SchemaState.CURRENT else 1
