"""``ketadesk screenshot [--db URL] [--view V] [--date D] --out FILE.png``: the window, as a PNG.

Renders offscreen (no display needed) what ``ketadesk run`` would show.  The day by room, with
nobody signed in, starts the way ``ketadesk run`` does: a SQLite file at the current schema is
read with the standard library alone, without loading SQLAlchemy (see ``commands.run``).  Any
other view (``--view``), a user's own window (``--user``) or a clock held still (``--time``)
opens the clinic and gives the window a desk, as a sign-in would, without anyone signing in; the
picture is taken once every read the view asked for has been answered and shown.

Nobody signs in to take a screenshot, yet the picture shows the clinic's patients.  So it
paints only the demo clinic (a clinic ``ketadesk demo`` built: its audit trail opens with the
``build_demo`` event) unless ``--shows-patient-data`` says that whoever runs it knows the
picture holds patient data; the PNG is written owner-only either way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ketadesk.cli import CommandError, add_db_argument
from ketadesk.scheduling.dates import short_date

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from ketadesk.services.common.context import Actor, Database
    from ketadesk.ui.shell.main_window import MainWindow

#: The views, by their command-line names, and the window's names for them
#: (ui/shell/main_window.VIEWS; a test keeps the two in step).
VIEWS = {
    "day": "rooms",
    "staff": "staff",
    "week": "week",
    "chairs": "chairs",
    "follow-ups": "follow_ups",
    "my-day": "my_day",
    "recall": "recall",
    "waitlist": "waitlist",
    "confirmations": "confirmations",
}
#: A clinic ``ketadesk demo`` built (services.demo.clinic records this event first).
DEMO_SQL = "SELECT 1 FROM audit_event WHERE action = 'build_demo' LIMIT 1"
MIN_SIZE, MAX_SIZE = 200, 10_000
#: How long the view may take to read what it shows before the picture is given up.
SETTLE_TIMEOUT_S = 60.0
#: Rounds of the event loop with nothing to read, nothing arriving, before the picture.
QUIET_ROUNDS = 3


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "screenshot",
        help="render one of the window's views to a PNG file",
        description="Render the window offscreen, showing one view with its data, to a PNG. "
        "Nobody signs in: only the demo clinic is painted unless --shows-patient-data is given.",
    )
    add_db_argument(parser)
    parser.add_argument("--out", required=True, metavar="FILE.png", help="the PNG to write")
    parser.add_argument(
        "--view",
        choices=tuple(VIEWS),
        default="day",
        help="the view to show (default day, the day by room)",
    )
    parser.add_argument(
        "--date", metavar="YYYY-MM-DD", help="the day to show (default: today at the clinic)"
    )
    parser.add_argument(
        "--time",
        metavar="HH:MM",
        help="hold the clinic's clock at this time of the day shown, 14:30 or 2:30pm (what the "
        "chair board, My day and the red line call now; default: the real clock)",
    )
    parser.add_argument(
        "--user",
        metavar="USERNAME",
        help="show the window as this user sees it once signed in (their role, their own My "
        "day), without their password (default: the command line, as administrator)",
    )
    parser.add_argument("--width", type=int, default=1400, help="window width (default 1400)")
    parser.add_argument("--height", type=int, default=900, help="window height (default 900)")
    parser.add_argument(
        "--shows-patient-data",
        action="store_true",
        help="paint a real clinic too: the PNG then holds patient names (without this, only "
        "the demo clinic is painted)",
    )
    parser.set_defaults(handler=_screenshot)


def parse_time(text: str) -> dt.time:
    """A time of day from the command line ("14:30" or "2:30pm"), or a CommandError saying
    what is wrong."""
    from ketadesk.commands._planning_args import TIME_FORMS
    from ketadesk.scheduling.dates import parse_clock_time

    value = parse_clock_time(text)
    if value is None:
        raise CommandError(f"--time {text!r} is not a time of day; use {TIME_FORMS}")
    return value


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
    from ketadesk.commands.run import file_day_window, parse_day, read_first_day

    day = parse_day(args.date) if args.date else None
    at = parse_time(args.time) if args.time else None
    out = Path(args.out)
    check_output(out)
    for name in ("width", "height"):
        value = getattr(args, name)
        if not MIN_SIZE <= value <= MAX_SIZE:
            raise CommandError(f"--{name} {value} is out of range ({MIN_SIZE}-{MAX_SIZE})")
    view = VIEWS[args.view]
    # Only the day by room can be painted with no desk; anything else needs the open clinic.
    with_desk = view != "rooms" or args.user is not None or at is not None
    # Before the QApplication exists: no display needed, same pixels everywhere.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    quick = None if with_desk else read_first_day(args.db, day)
    opened = None
    if quick is None:  # not a SQLite file at the current schema, or a desk: open the clinic
        from ketadesk.services.clinic.clinic_setup import open_clinic

        opened = open_clinic(args.db)
    window: MainWindow | None = None
    try:
        if not args.shows_patient_data and not _is_demo(quick, opened):
            raise CommandError(
                "this is not the demo clinic: its screenshot would show patient names with "
                "nobody signed in; add --shows-patient-data if that is what you want"
            )
        from ketadesk.ui.common.app import create_application

        app = create_application()
        if quick is not None:
            window = file_day_window(*quick)
        else:
            assert opened is not None
            window = _desk_window(opened.db, day, at, args.user if with_desk else None, with_desk)
        window.setMinimumSize(MIN_SIZE, MIN_SIZE)
        window.resize(args.width, args.height)
        # Not shown: grab() renders a hidden window just the same, without a platform window
        # and its backing store (5 MB at 1400x900), and with no mouse hovering a button.
        if with_desk:
            window.set_view(view)
        # The window and its views read on workers: wait for every answer before the picture.
        _settle(app, window)
        image = window.grab()
        shown = window.view()
        day_shown = window.day()
        from ketadesk.services.common.files import prepare_private

        prepare_private(out)  # the clinic's patients are in the picture: owner-only
        if not image.save(str(out), "PNG"):
            raise CommandError(f"--out {out}: the PNG could not be written")
    finally:
        if window is not None:
            _close(window)
        if opened is not None:
            opened.db.dispose()
    print(
        f"wrote {out} ({image.width()}x{image.height()}, {_view_text(shown)}, "
        f"{short_date(day_shown, year=True)})"
    )
    return 0


def _desk_window(
    db: Database, day: dt.date | None, at: dt.time | None, username: str | None, with_desk: bool
) -> MainWindow:
    """The window on the open clinic; with ``with_desk``, given a desk as a sign-in would
    (acting for ``username``, or the command line) with the clock held at ``at`` if given."""
    from ketadesk.commands.run import open_day_window

    now = None
    if at is not None:
        from ketadesk.services.schedule.day import clinic_today
        from ketadesk.services.settings.availability import clinic_zone

        zone = clinic_zone(db)
        shown = day or clinic_today(db)
        held = dt.datetime.combine(shown, at, tzinfo=zone).astimezone(dt.UTC)
        day = shown

        def now() -> dt.datetime:
            return held

    actor = _actor(db, username) if with_desk else None
    return open_day_window(db, day, now=now, actor=actor)


def _actor(db: Database, username: str | None) -> Actor:
    """Who the window acts for: the active user ``username`` (their role, their staff member),
    or, without one, the command line as administrator."""
    from ketadesk.cli import command_line_actor
    from ketadesk.services.access.accounts import list_users, normalize_username
    from ketadesk.services.common.context import Actor

    if username is None:
        return command_line_actor()
    users = list_users(db, include_inactive=False)
    wanted = normalize_username(username)
    match = next((u for u in users if u.username == wanted), None)
    if match is None:
        names = ", ".join(u.username for u in users) or "none yet"
        raise CommandError(
            f"--user {username!r}: no active user of that name in this clinic (its users: {names})"
        )
    return Actor(user_id=match.id, username=match.username, role=match.role)


def _settle(app: QApplication, window: MainWindow) -> None:
    """Spin the event loop until the window and its views have nothing left to read and
    nothing on its way to them, a few rounds in a row (an answer may start the next read)."""
    from PySide6.QtCore import QEventLoop

    from ketadesk.ui.common.background import background_work_pending

    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    quiet = 0
    while quiet < QUIET_ROUNDS:
        if time.monotonic() > deadline:
            raise CommandError(
                f"the {_view_text(window.view())} view was still reading after "
                f"{SETTLE_TIMEOUT_S:.0f} s; no picture written"
            )
        app.processEvents()
        if window.is_reading() or background_work_pending():
            quiet = 0
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
        else:
            quiet += 1
    app.processEvents()


def _close(window: MainWindow) -> None:
    """Stop what the desk runs (the change watcher, its timers) and let every read end
    before the clinic is closed."""
    from ketadesk.ui.common.background import wait_for_background_work

    if window.desk() is not None:
        window.detach_desk()
    window.close()
    wait_for_background_work()


def _view_text(name: str) -> str:
    from ketadesk.ui.shell.main_window import VIEWS as WINDOW_VIEWS

    return next((v.text for v in WINDOW_VIEWS if v.name == name), name)


def _is_demo(quick: Any, opened: Any) -> bool:
    """Whether the clinic was built by ``ketadesk demo`` (read without the ORM either way)."""
    if quick is not None:
        from ketadesk.store.database import read_sqlite_file

        with read_sqlite_file(quick[0].path) as conn:
            return conn.execute(DEMO_SQL).fetchone() is not None
    from sqlalchemy import text

    with opened.db.engine.connect() as conn:
        return conn.execute(text(DEMO_SQL)).first() is not None
