"""``ketadesk screenshot --db URL --date YYYY-MM-DD --out FILE.png``: the window, as a PNG.

Renders offscreen (no display needed) exactly what ``ketadesk run`` would show on that day,
and starts the same way: a SQLite file at the current schema is read with the standard library
alone, without loading SQLAlchemy (see ``commands.run``).

Nobody signs in to take a screenshot, yet the picture shows the day's patients.  So it paints
only the demo clinic (a clinic ``ketadesk demo`` built: its audit trail opens with the
``build_demo`` event) unless ``--shows-patient-data`` says that whoever runs it knows the
picture holds patient data; the PNG is written owner-only either way.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ketadesk.cli import CommandError, add_db_argument

VIEWS = ("day",)
#: A clinic ``ketadesk demo`` built (services.demo.clinic records this event first).
DEMO_SQL = "SELECT 1 FROM audit_event WHERE action = 'build_demo' LIMIT 1"
MIN_SIZE, MAX_SIZE = 200, 10_000


def register(sub: Any) -> None:
    parser = sub.add_parser("screenshot", help="render the window on a day to a PNG file")
    add_db_argument(parser)
    parser.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="the day to show")
    parser.add_argument("--out", required=True, metavar="FILE.png", help="the PNG to write")
    parser.add_argument("--width", type=int, default=1400, help="window width (default 1400)")
    parser.add_argument("--height", type=int, default=900, help="window height (default 900)")
    parser.add_argument("--view", choices=VIEWS, default="day", help="the view (default day)")
    parser.add_argument(
        "--shows-patient-data",
        action="store_true",
        help="paint a real clinic too: the PNG then holds patient names (without this, only "
        "the demo clinic is painted)",
    )
    parser.set_defaults(handler=_screenshot)


def check_output(path: Path) -> None:
    """Refuse an output path that cannot be written, before any work is done."""
    if path.is_dir():
        raise CommandError(f"--out {path} is a folder; give a file name ending in .png")
    if path.suffix.lower() != ".png":
        raise CommandError(f"--out {path}: screenshots are PNG files; give a name ending in .png")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CommandError(f"--out {path}: the folder {folder} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise CommandError(f"--out {path}: the file cannot be written")
    if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        raise CommandError(f"--out {path}: the folder {folder} cannot be written to")


def _screenshot(args: argparse.Namespace) -> int:
    from ketadesk.commands.run import file_day_window, open_day_window, parse_day, read_first_day

    day = parse_day(args.date)
    out = Path(args.out)
    check_output(out)
    for name in ("width", "height"):
        value = getattr(args, name)
        if not MIN_SIZE <= value <= MAX_SIZE:
            raise CommandError(f"--{name} {value} is out of range ({MIN_SIZE}-{MAX_SIZE})")
    # Before the QApplication exists: no display needed, same pixels everywhere.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    quick = read_first_day(args.db, day)
    opened = None
    if quick is None:  # not a SQLite file at the current schema: open the clinic properly
        from ketadesk.services.clinic.clinic_setup import open_clinic

        opened = open_clinic(args.db)
    try:
        if not args.shows_patient_data and not _is_demo(quick, opened):
            raise CommandError(
                "this is not the demo clinic: its screenshot would show patient names with "
                "nobody signed in; add --shows-patient-data if that is what you want"
            )
        from PySide6.QtCore import QEventLoop

        from ketadesk.ui.common.app import create_application

        app = create_application()
        if quick is not None:
            window = file_day_window(*quick)
        else:
            assert opened is not None
            window = open_day_window(opened.db, day)
        window.setMinimumSize(MIN_SIZE, MIN_SIZE)
        window.resize(args.width, args.height)
        # Not shown: grab() renders a hidden window just the same, without a platform window
        # and its backing store (5 MB at 1400x900), and with no mouse hovering a button.
        # The window reads its day on a worker: wait for it before taking the picture.
        while window.is_reading():
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
        app.processEvents()
        image = window.grab()
        from ketadesk.services.common.files import prepare_private

        prepare_private(out)  # the day's patients are in the picture: owner-only
        if not image.save(str(out), "PNG"):
            raise CommandError(f"--out {out}: the PNG could not be written")
    finally:
        if opened is not None:
            opened.db.dispose()
    print(f"wrote {out} ({image.width()}x{image.height()}, {day:%a %d %b %Y})")
    return 0


def _is_demo(quick: Any, opened: Any) -> bool:
    """Whether the clinic was built by ``ketadesk demo`` (read without the ORM either way)."""
    if quick is not None:
        from ketadesk.store.database import read_sqlite_file

        with read_sqlite_file(quick[0].path) as conn:
            return conn.execute(DEMO_SQL).fetchone() is not None
    from sqlalchemy import text

    with opened.db.engine.connect() as conn:
        return conn.execute(text(DEMO_SQL)).first() is not None
