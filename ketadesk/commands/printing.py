"""``ketadesk print day|card|calls``: printed documents as PDF files, for scripts.

ketadesk print day --db URL --date YYYY-MM-DD [--by room|staff] [--initials] --out FILE.pdf
ketadesk print card --db URL --patient CHART --out FILE.pdf
ketadesk print calls --db URL --date YYYY-MM-DD --out FILE.pdf
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from ketadesk.cli import CommandError, add_db_argument
from ketadesk.commands._planning_args import iso_date


def register(sub: Any) -> None:
    text = "print day sheets, appointment cards and call lists to PDF"
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


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, metavar="FILE.pdf")
    parser.add_argument(
        "--paper", choices=("a4", "letter"), default="a4", help="paper size (default a4)"
    )


def check_output(path: Path) -> None:
    """Refuse an output path that cannot be written, before any work is done."""
    if path.is_dir():
        raise CommandError(f"cannot write {path}: it is a folder")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CommandError(f"cannot write {path}: the folder {folder} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise CommandError(f"cannot write {path}: the file is read-only")
    if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        raise CommandError(f"cannot write {path}: the folder {folder} cannot be written to")


def _open(url: str) -> Any:
    from ketadesk.services.clinic_setup import open_clinic

    return open_clinic(url).db


def _print(layout: Any, args: argparse.Namespace, began: float) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    from ketadesk.ui.printing import PrintError, print_pdf

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0] if sys.argv else "ketadesk"])
    try:
        result = print_pdf(layout, args.out, args.paper)
    except PrintError as err:
        raise CommandError(str(err)) from None
    elapsed = time.perf_counter() - began
    pages = f"{result.pages} page{'s' if result.pages != 1 else ''}"
    print(f"{args.out}: {pages} in {elapsed:.2f} s")
    return 0


def _day(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    check_output(args.out)
    from ketadesk.services.documents import day_sheet, day_sheet_layout

    sheet = day_sheet(_open(args.db), args.date, by=args.by, use_initials=args.initials)
    return _print(day_sheet_layout(sheet), args, began)


def _card(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    check_output(args.out)
    from ketadesk.services.context import NotFound
    from ketadesk.services.documents import appointment_card, card_layout

    try:
        card = appointment_card(_open(args.db), args.patient)
    except NotFound as err:
        raise CommandError(str(err)) from None
    return _print(card_layout(card), args, began)


def _calls(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    check_output(args.out)
    from ketadesk.services.documents import call_list, calls_layout

    calls = call_list(_open(args.db), args.date)
    return _print(calls_layout(calls), args, began)
