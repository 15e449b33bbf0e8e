"""``ketadesk print day|card|calls|record``: printed documents as PDF files, for scripts.

ketadesk print day --db URL --date YYYY-MM-DD [--by room|staff] [--initials] --out FILE.pdf
ketadesk print card --db URL --patient CHART --out FILE.pdf
ketadesk print calls --db URL --date YYYY-MM-DD --out FILE.pdf
ketadesk print record --db URL (--appointment ID | --patient CHART --date D) --out FILE.pdf

What a document leaves out (a clinic logo that cannot be read) is said on stderr; the PDF is
still written.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ketadesk.cli import CommandError, add_db_argument
from ketadesk.commands._planning_args import iso_date
from ketadesk.scheduling.dates import short_date


def register(sub: Any) -> None:
    text = "print day sheets, appointment cards, call lists and session records to PDF"
    parser = sub.add_parser("print", help=text, description=text)
    kinds = parser.add_subparsers(dest="print_kind", metavar="DOCUMENT", required=True)

    day_text = "the day sheet of a date, by room or by staff member"
    day = kinds.add_parser("day", help=day_text, description=day_text)
    add_db_argument(day)
    day.add_argument("--date", required=True, type=iso_date, metavar="YYYY-MM-DD")
    day.add_argument("--by", choices=("room", "staff"), default="room", help="default room")
    day.add_argument(
        "--initials", action="store_true", help="initials instead of names (public view)"
    )
    _common(day)
    day.set_defaults(handler=_day)

    card_text = "a patient's appointment card: upcoming sessions and what to do before"
    card = kinds.add_parser("card", help=card_text, description=card_text)
    add_db_argument(card)
    card.add_argument("--patient", required=True, metavar="CHART", help="chart number")
    _common(card)
    card.set_defaults(handler=_card)

    calls_text = "the follow-up calls due on a date (and overdue), with phone numbers"
    calls = kinds.add_parser("calls", help=calls_text, description=calls_text)
    add_db_argument(calls)
    calls.add_argument("--date", required=True, type=iso_date, metavar="YYYY-MM-DD")
    _common(calls)
    calls.set_defaults(handler=_calls)

    record_text = "a dosing session's monitoring record, laid out for the Spravato REMS form"
    record = kinds.add_parser("record", help=record_text, description=record_text)
    add_db_argument(record)
    record.add_argument("--appointment", type=int, metavar="ID", help="the appointment's id")
    record.add_argument("--patient", metavar="CHART", help="chart number (with --date)")
    record.add_argument("--date", type=iso_date, metavar="YYYY-MM-DD", help="with --patient")
    _common(record)
    record.set_defaults(handler=_record)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, metavar="FILE.pdf")
    parser.add_argument(
        "--paper",
        choices=("letter", "legal", "a4"),
        default=None,
        help="paper size (default: the clinic's, Settings ▸ Clinic; US Letter for a new clinic)",
    )


def check_output(path: Path) -> None:
    """Refuse an output path that cannot be written, before any work is done."""
    from ketadesk.services.printing.layout import output_problem

    problem = output_problem(path)
    if problem is not None:
        raise CommandError(problem)


@contextlib.contextmanager
def _opened(url: str) -> Iterator[Any]:
    """The clinic's database for one command, its connections closed when the command is done
    (a PostgreSQL server kept them idle until the process ended)."""
    from ketadesk.services.clinic.clinic_setup import open_clinic

    db = open_clinic(url).db
    try:
        yield db
    finally:
        db.dispose()


def _print(
    layout: Any,
    args: argparse.Namespace,
    began: float,
    db: Any,
    what: str,
    detail: str,
    **patient: Any,
) -> int:
    """Render ``layout`` to ``args.out``; record the disclosure (``what``, for ``patient``:
    chart= or appointment_id=) in the audit trail."""
    from ketadesk.cli import command_line_actor
    from ketadesk.services.access.audit import record_disclosure
    from ketadesk.services.settings.clinic_details import clinic_paper_size

    def disclose(saved: str) -> None:
        record_disclosure(db, command_line_actor(), what, None, saved, **patient)

    return _render(layout, args, began, disclose, args.paper or clinic_paper_size(db), detail)


def _render(
    layout: Any,
    args: argparse.Namespace,
    began: float,
    disclose: Callable[[str], None],
    paper: str,
    detail: str,
) -> int:
    """Render ``layout`` to ``args.out`` on ``paper``, once ``disclose(detail)`` recorded the
    disclosure in the audit trail."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    from ketadesk.services.common.files import prepare_private
    from ketadesk.ui.printing.printing import PrintError, print_pdf

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0] if sys.argv else "ketadesk"])
    # The disclosure is recorded before the file exists, and the file is owner-only before Qt
    # writes a byte into it: patient data never lies in a file nobody recorded or anyone reads.
    disclose(f"{detail}; saved to {args.out}")
    try:
        prepare_private(args.out)
        result = print_pdf(layout, args.out, paper)
    except OSError as err:
        raise CommandError(f"cannot write {args.out}: {err.strerror or err}") from None
    except PrintError as err:
        args.out.unlink(missing_ok=True)
        raise CommandError(str(err)) from None
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    elapsed = time.perf_counter() - began
    pages = f"{result.pages} page{'s' if result.pages != 1 else ''}"
    print(f"{args.out}: {pages} in {elapsed:.2f} s")
    return 0


def _day(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    check_output(args.out)
    from ketadesk.services.printing.day_sheet import day_sheet, day_sheet_layout

    detail = f"{short_date(args.date, year=True)}, by {args.by}" + (
        ", initials" if args.initials else ""
    )
    printed = _day_from_file(args, began, detail)
    if printed is not None:
        return printed
    with _opened(args.db) as db:
        sheet = day_sheet(db, args.date, by=args.by, use_initials=args.initials)
        return _print(day_sheet_layout(sheet), args, began, db, "day sheet", detail)


def _day_from_file(args: argparse.Namespace, began: float, detail: str) -> int | None:
    """A plain SQLite clinic at the current schema: read, recorded and printed with sqlite3
    alone, without importing SQLAlchemy (most of the command's time).  None: go the usual
    way (another database, an old schema to upgrade, anything unreadable: said fully there)."""
    from ketadesk.scheduling.catalog import ConfigError
    from ketadesk.services.printing.day_sheet import day_sheet_layout
    from ketadesk.services.printing.sqlite_file import SqliteFileSheets
    from ketadesk.store.database import StoreError

    sheets = SqliteFileSheets.of(args.db)
    if sheets is None:
        return None
    try:
        sheet, paper = sheets.day_sheet(args.date, by=args.by, use_initials=args.initials)
    except (StoreError, ConfigError, ValueError):
        return None
    from ketadesk.cli import command_line_actor

    # Recorded before the file exists (as ``_print`` does).  A clinic that cannot take the
    # record (read-only, locked, refusing it) goes the usual way, which says why in its words.
    try:
        sheets.record_disclosure(
            command_line_actor(), "day sheet", f"{detail}; saved to {args.out}"
        )
    except StoreError:
        return None

    def disclose(_saved: str) -> None:
        """Recorded above already."""

    return _render(day_sheet_layout(sheet), args, began, disclose, args.paper or paper, detail)


def _card(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    check_output(args.out)
    from ketadesk.services.common.context import NotFound
    from ketadesk.services.printing.card import appointment_card, card_layout

    with _opened(args.db) as db:
        try:
            card = appointment_card(db, args.patient)
        except NotFound as err:
            raise CommandError(str(err)) from None
        detail = f"chart {args.patient}"
        return _print(
            card_layout(card), args, began, db, "appointment card", detail, chart=args.patient
        )


def _calls(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    check_output(args.out)
    from ketadesk.cli import command_line_actor
    from ketadesk.services.printing.call_list import call_list, calls_layout

    with _opened(args.db) as db:
        calls = call_list(db, command_line_actor(), args.date)
        detail = short_date(args.date, year=True)
        return _print(calls_layout(calls), args, began, db, "call list", detail)


def _record(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    if (args.appointment is None) == (args.patient is None):
        raise CommandError("give either --appointment ID or --patient CHART --date YYYY-MM-DD")
    if args.patient is not None and args.date is None:
        raise CommandError("--patient needs --date YYYY-MM-DD: the day of the session")
    check_output(args.out)
    from ketadesk.cli import command_line_actor
    from ketadesk.services.common.context import ServiceError
    from ketadesk.services.printing.session_record import (
        find_session,
        session_record_layout,
        session_record_sheet,
    )

    with _opened(args.db) as db:
        try:
            appointment = args.appointment
            if appointment is None:
                appointment = find_session(db, args.patient, args.date)
            sheet = session_record_sheet(db, command_line_actor(), appointment)
        except ServiceError as err:
            raise CommandError(str(err)) from None
        return _print(
            session_record_layout(sheet),
            args,
            began,
            db,
            "session record",
            f"appointment #{appointment}",
            appointment_id=appointment,
        )
