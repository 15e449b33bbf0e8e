"""Command-line entry point: ``ketadesk [COMMAND] [options]``.

With no command KetaDesk opens its window.  Each command lives in ``ketadesk/commands/<name>.py``
and exposes ``register(subparsers)``; a module imports only argparse-level things at the top so
that ``ketadesk --help`` and start-up stay fast, and loads its real work inside its handler.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ketadesk import APP_NAME, __version__

if TYPE_CHECKING:
    from ketadesk.services.common.context import Actor

# Order is the order of `ketadesk --help`.  A module may register more than one command
# (``plan`` registers plan and book, which share their arguments).
COMMAND_MODULES = (
    "run",
    "demo",
    "check",
    "db",
    "screenshot",
    "openings",
    "plan",
    "move",
    "printing",
    "export",
    "backup",
    "config",
    "availability",
    "patients",
    "reminders",
)


class CommandError(Exception):
    """A problem the user can fix; printed as one line, exit status 2 unless given."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ketadesk",
        description=f"{APP_NAME}: the scheduling desk of a ketamine-therapy clinic.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"ketadesk.commands.{name}")
        module.register(sub)
    return parser


def add_db_argument(
    parser: argparse.ArgumentParser,
    *,
    required: bool = False,
    required_because: str = "",
    workstation_default: bool = True,
    refuse_default: Callable[[argparse.Namespace], str | None] | None = None,
) -> None:
    """``--db URL``.  By default it may be left out: the command then uses this workstation's
    clinic (ketadesk.workstation) and says so on stderr.  ``required`` makes it compulsory,
    for commands where a default would be dangerous (they say why in their help).
    ``required_because`` does too, and says why in the help.
    ``refuse_default(args)`` returns why --db must be given for these arguments (None: the
    default will do); ``workstation_default=False`` leaves the default to the command."""
    required = required or bool(required_because)
    if required:
        help_default = " (required here, never this workstation's clinic by default" + (
            f": {required_because})" if required_because else ")"
        )
    elif workstation_default:
        help_default = (
            " (default: this workstation's clinic, the one `ketadesk run` opens: the last "
            "--db it was given, else the clinic in the user's data folder)"
        )
    else:
        help_default = ""
    parser.add_argument(
        "--db",
        metavar="URL",
        required=required,
        help="database: sqlite:///path/clinic.sqlite, a file path, or "
        "postgresql+psycopg://user@host/db" + help_default,
    )
    if workstation_default and not required:
        parser.set_defaults(db_default=True, db_refuse_default=refuse_default)


def use_workstation_clinic(args: argparse.Namespace) -> None:
    """Fill in ``args.db`` with this workstation's clinic when the command allows it and none
    was given, and say which clinic that is (one line on stderr); a CommandError naming the
    problem and its fix when no clinic is known here."""
    if not getattr(args, "db_default", False) or getattr(args, "db", None) is not None:
        return
    refuse = getattr(args, "db_refuse_default", None)
    why = refuse(args) if refuse is not None else None
    if why:
        raise CommandError(why)
    from ketadesk.workstation import WorkstationError, workstation_clinic

    try:
        clinic = workstation_clinic()
    except WorkstationError as err:
        raise CommandError(str(err)) from None
    if clinic is None:
        raise CommandError(
            "no clinic is known on this workstation: give --db URL, or open the clinic once "
            "with `ketadesk run --db URL` (it is remembered for the commands)"
        )
    args.db = clinic.url
    args.db_from_workstation = True
    print(
        f"ketadesk {args.command}: using the clinic at {clinic.describe()} (this workstation's)",
        file=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (
        args_list[0].startswith("-") and args_list[0] not in ("-h", "--help", "--version")
    ):
        args_list.insert(0, "run")
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 2
    from ketadesk.scheduling.catalog import ConfigError
    from ketadesk.services.common.context import ServiceError
    from ketadesk.store.database import StoreError

    try:
        use_workstation_clinic(args)
        status: int = args.handler(args)
        sys.stdout.flush()  # here, so that a reader gone away is caught below
    except CommandError as err:
        print(f"ketadesk {args.command}: {err}", file=sys.stderr)
        return err.status
    except ServiceError as err:
        print(f"ketadesk {args.command}: {_located(err, args)}", file=sys.stderr)
        return 1
    except (StoreError, ConfigError) as err:
        print(f"ketadesk {args.command}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ketadesk {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`ketadesk openings ... | head`): that is no error of ours. Point
        # stdout at /dev/null so that Python's own flush at exit does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as err:
        # A file the command reads or writes (not the database): its name and the system's words.
        where = f"{err.filename}: " if err.filename else ""
        print(f"ketadesk {args.command}: {where}{err.strerror or err}", file=sys.stderr)
        return 1
    except Exception as err:
        # A database error no service turned into words (a full disk or a read-only clinic file
        # met by a command's own write, a NUL in a text): the same words the window shows.
        from ketadesk.services.common.errors import translated

        words = translated(err)
        if words is None:
            raise
        print(f"ketadesk {args.command}: {_located(words, args)}", file=sys.stderr)
        return 1
    return status


def _located(err: Exception, args: argparse.Namespace) -> Exception:
    """A refusal of the clinic's storage, naming the database the command was given."""
    from ketadesk.services.common.errors import StorageRefused

    db = getattr(args, "db", None)
    if not isinstance(err, StorageRefused) or err.where or not isinstance(db, str):
        return err
    from ketadesk.store.database import StoreError, describe_url, parse_db_url

    try:
        return err.at(describe_url(parse_db_url(db)))
    except StoreError:
        return err


def command_line_actor() -> Actor:
    """Who acts for a command (there is no sign-in at a shell): the operating-system user,
    with the administrator's rights, named as such in the audit trail."""
    import getpass

    from ketadesk.services.common.context import Actor

    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        who = "unknown"
    return Actor(user_id=None, username=f"{who} (command line)", role="admin")
