"""``ketadesk run [--db URL] [--demo-if-missing] [--date YYYY-MM-DD]``: open the window.

The clinic given with ``--db`` is remembered, once opened, as this workstation's clinic
(``ketadesk.workstation``): what plain ``ketadesk run`` opens next, and every command's ``--db``
by default.

This is also what plain ``ketadesk`` does.  Start-up time matters here: Qt, SQLAlchemy and the
store are imported inside the handler, and only what the first paint needs is loaded.  On a
SQLite file at the current schema that is Qt and the standard library: the first day is read
straight from the file (services.schedule.SqliteFileDays), the window is painted covered, and
the sign-in dialog shows over it at once.  "Sign in" is checked at once on the file
(services.access.file_sign_in, on a worker) and a "yes" shows the day; a worker thread opens
the clinic properly (SQLAlchemy, the ORM models, the schema check) OPEN_CLINIC_AFTER_MS later,
and the full sign-in then decides.  ``KETADESK_MILESTONES`` (ui.common.milestones) records
when the sign-in dialog and the signed-in day were painted, for the start-up bench.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ketadesk.cli import CommandError, add_db_argument

#: On a SQLite file, the clinic is opened (SQLAlchemy, the ORM models, the schema check) this
#: long after the sign-in dialog has painted, so that it competes neither with the first paint
#: nor with the typing and the early password check (``services.access.file_sign_in``); at
#: once when "Sign in" is pressed and only the open clinic can answer.
OPEN_CLINIC_AFTER_MS = 1500

if TYPE_CHECKING:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from ketadesk.services.access.accounts import SignInScreen
    from ketadesk.services.clinic.clinic_setup import OpenedClinic
    from ketadesk.services.common.context import Actor
    from ketadesk.services.schedule.day_schedule import DaySchedule
    from ketadesk.services.schedule.sqlite_file import SqliteFileDays
    from ketadesk.store.database import Database
    from ketadesk.ui.access.sign_in import SignInDialog
    from ketadesk.ui.common.background import BackgroundCall
    from ketadesk.ui.shell.main_window import MainWindow
    from ketadesk.ui.shell.session import SignedInSession


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "run",
        help="open the KetaDesk window (what plain `ketadesk` does)",
        description="Open the window on a clinic. The clinic given with --db, once opened, "
        "becomes this workstation's clinic: plain `ketadesk run` opens it next time, and "
        "every command uses it when given no --db. Without --db and with none remembered: "
        "the clinic in the user's data folder.",
    )
    add_db_argument(parser, workstation_default=False)
    parser.add_argument(
        "--demo-if-missing",
        action="store_true",
        help="if the database does not exist yet (or is an empty server database), build the "
        "demo clinic in it first; without --db, the clinic in the user's data folder (never "
        "this workstation's remembered clinic)",
    )
    parser.add_argument(
        "--date", metavar="YYYY-MM-DD", help="the day to open on (default: today at the clinic)"
    )
    parser.set_defaults(handler=_run)


def parse_day(text: str) -> dt.date:
    """A YYYY-MM-DD date from the command line, or a CommandError saying what is wrong."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--date {text!r} is not a date; use YYYY-MM-DD") from None


def open_day_window(
    db: Database,
    day: dt.date | None = None,
    *,
    now: Callable[[], dt.datetime] | None = None,
    actor: Actor | None = None,
) -> MainWindow:
    """The main window on an open clinic, showing ``day`` (default: today at the clinic);
    with ``actor``, signed in as them (every view, booking, undo)."""
    from functools import partial

    from ketadesk.services.common.context import utcnow
    from ketadesk.services.schedule.day import clinic_today, day_schedule
    from ketadesk.ui.common.desk import Desk
    from ketadesk.ui.shell.main_window import MainWindow

    def today() -> dt.date:
        return clinic_today(db, now=now() if now else None)

    window = MainWindow(
        load_day=partial(day_schedule, db),
        today=today,
        database_label=db.label,
        start_day=day,
        now=now,
    )
    if actor is not None:
        window.attach_desk(Desk(db, actor, now or utcnow))
    return window


def file_day_window(
    days: SqliteFileDays, first: DaySchedule, *, settings: QSettings | None = None
) -> MainWindow:
    """The main window on ``first``, a day read straight from a SQLite file, reading further
    days the same way until it is given an open clinic (``MainWindow.set_day_source``)."""
    from ketadesk.ui.shell.main_window import MainWindow

    return MainWindow(
        load_day=days,
        today=days.today,
        database_label=days.label,
        schedule=first,
        settings=settings,
    )


def read_first_day(url: str, day: dt.date | None) -> tuple[SqliteFileDays, DaySchedule] | None:
    """Start-up's quick way to its first day: straight from a SQLite file, without SQLAlchemy.
    None when it does not apply; then the clinic is opened the usual way (``open_clinic``)."""
    from ketadesk.services.schedule.sqlite_file import SqliteFileDays

    days = SqliteFileDays.of(url)
    first = days.first_day(day) if days is not None else None
    return (days, first) if days is not None and first is not None else None


def _run(args: argparse.Namespace) -> int:
    day = parse_day(args.date) if args.date else None
    if args.db:
        url = args.db
    elif args.demo_if_missing:
        # `make run`: the demo's own file in the data folder, never a remembered clinic (an
        # empty server database there would be given a demo).
        from ketadesk.paths import default_db_url

        url = default_db_url()
    else:
        url = workstation_url()
    # A clinic named with --db becomes this workstation's once it has opened.
    remember = url if args.db else None
    if args.demo_if_missing:
        build_demo_if_missing(url)

    from ketadesk.ui.common.qt_workarounds import read_sources_lightly

    read_sources_lightly()  # first: every module imported from here on is looked at by PySide6
    from PySide6.QtCore import QSettings

    from ketadesk.ui.common.app import create_application

    missing = None if args.demo_if_missing else _missing_file(url)
    quick = None if missing is not None else read_first_day(url, day)
    app = create_application(sys.argv[:1])
    if missing is not None:
        chosen = _ask_about_missing(missing)
        if chosen is None:
            print(f"ketadesk run: {_missing_message(missing)}", file=sys.stderr)
            return 2
        url = f"sqlite:///{chosen}"
        remember = url
        quick = read_first_day(url, day)
    from ketadesk.ui.common import garbage

    garbage.start_up()  # until the signed-in day is read: nothing to collect, much to scan
    try:
        settings = QSettings()
        if quick is not None:
            return _run_from_file(app, url, quick, settings=settings, remember=remember)
        return _run_opened(
            app,
            url,
            day,
            demo_if_missing=args.demo_if_missing,
            settings=settings,
            remember=remember,
        )
    finally:
        garbage.start_up_over()


def _missing_file(url: str) -> Path | None:
    """The SQLite file ``url`` names when it does not exist (the window asks what to do)."""
    from ketadesk.store.database import plain_sqlite_path

    file = plain_sqlite_path(url)
    return file if file is not None and not file.exists() else None


def _missing_message(file: Path) -> str:
    return (
        f"no database at {file} (the file does not exist); start with `ketadesk run "
        "--demo-if-missing` for a demo clinic, or `ketadesk db upgrade --create --db URL` for a "
        "new, empty one"
    )


def _ask_about_missing(file: Path) -> Path | None:
    """Ask in a window whether to create a new clinic at ``file`` or open another file: the
    clinic to open, or None to quit."""
    from ketadesk.ui.common.app import has_screen
    from ketadesk.ui.shell.missing_clinic import MissingClinicDialog

    if not has_screen():
        return None
    answer = MissingClinicDialog.ask(file)
    if answer.created:
        print(f"ketadesk run: created a new clinic in {file}")
    return answer.path


def workstation_url() -> str:
    """The clinic plain ``ketadesk run`` opens here: the one ``run --db`` last remembered,
    else the file in the user's data folder (built by ``--demo-if-missing``)."""
    from ketadesk.paths import default_db_url
    from ketadesk.workstation import WorkstationError, remembered_clinic

    try:
        return remembered_clinic() or default_db_url()
    except WorkstationError as err:
        raise CommandError(str(err)) from None


def remember_workstation_clinic(url: str | None) -> None:
    """Make ``url`` (a clinic just opened with --db) this workstation's clinic, and say so
    when that changed it; a setting that cannot be written is only a warning."""
    if url is None:
        return
    from ketadesk.workstation import (
        WorkstationError,
        canonical_url,
        display_url,
        remember_clinic,
    )

    try:
        changed = remember_clinic(url)
    except WorkstationError as err:
        print(f"ketadesk run: {err}", file=sys.stderr)
        return
    if changed:
        print(
            f"ketadesk run: this workstation's clinic is now {display_url(canonical_url(url))} "
            "(commands use it when given no --db)"
        )


def _run_opened(
    app: QApplication,
    url: str,
    day: dt.date | None,
    *,
    demo_if_missing: bool,
    settings: QSettings,
    remember: str | None = None,
) -> int:
    """Open the clinic, then its window (the way for PostgreSQL, and for a file to upgrade)."""
    from functools import partial

    from ketadesk.scheduling.catalog import ConfigError
    from ketadesk.services.schedule.day import clinic_today, day_schedule
    from ketadesk.store.database import StoreError
    from ketadesk.ui.common.app import show_error
    from ketadesk.ui.shell.main_window import MainWindow

    try:
        # Before the window exists: nobody waits on these reads.
        opened, screen = _open_for_sign_in(url)
    except (StoreError, ConfigError) as err:
        message = _server_hint(str(err))
        if message.startswith("no database at") and not demo_if_missing:
            message += (
                "; start with `ketadesk run --demo-if-missing` for a demo clinic, or "
                "`ketadesk db upgrade --create --db URL` for a new, empty one"
            )
        print(f"ketadesk run: {message}", file=sys.stderr)
        show_error("KetaDesk cannot open the clinic", message)
        return 2
    _report_upgrade(opened)
    remember_workstation_clinic(remember)
    db = opened.db
    try:
        try:
            window = MainWindow(
                load_day=partial(day_schedule, db),
                today=partial(clinic_today, db),
                database_label=db.label,
                start_day=day,
                settings=settings,
            )
        except (StoreError, ConfigError) as err:
            print(f"ketadesk run: {err}", file=sys.stderr)
            show_error("KetaDesk cannot show the clinic", str(err))
            return 2
        window.set_signed_out(True)
        _show(app, window)
        session = _start_session(window, opened, screen, settings)
        if session is None:
            return 0
        try:
            return app.exec()
        finally:
            session.close(retry_backup=_backup_question(session))
    finally:
        db.dispose()


def _server_hint(message: str) -> str:
    """``message`` with what to check when a clinic server is down or refuses the login."""
    lower = message.lower()
    if (
        "password authentication failed" in lower
        or "not permitted to log in" in lower
        or ("role" in lower and "does not exist" in lower)
    ):
        return f"{message} (the server refused the login: check the user and password in --db)"
    if any(
        words in lower
        for words in ("connection refused", "timeout expired", "could not translate host name")
    ):
        return f"{message} (is the clinic server running and reachable from here?)"
    return message


def _run_from_file(
    app: QApplication,
    url: str,
    quick: tuple[SqliteFileDays, DaySchedule],
    *,
    settings: QSettings,
    remember: str | None = None,
) -> int:
    """Ask who is there at once, and paint the first day (read straight from the SQLite file)
    once they are signed in.  The sign-in dialog paints first; then, while it waits for the
    user, a worker opens the clinic and the GUI thread builds the window (covered, not yet
    shown); days are read through the open clinic from then on."""
    from functools import partial

    from PySide6.QtCore import QObject, QTimer

    from ketadesk.services.access.file_sign_in import FileSignIn
    from ketadesk.ui.access.sign_in import SignInDialog
    from ketadesk.ui.common.background import BackgroundCall, call_after_first_paint

    days, _first = quick
    dialog = SignInDialog.show_early(
        None,
        label=days.label,
        username=remembered_user_of_file(settings, days.path),
        early_check=FileSignIn(days.path).check,
    )
    if dialog is None:  # nothing to show early: the window first, then who is there
        window = file_day_window(*quick, settings=settings)
        return _run_window_first(app, url, window, remember=remember)
    holder = QObject()  # outlives the dialog: the opening is waited for at the end
    windows: list[MainWindow] = []
    sessions: list[SignedInSession] = []
    early = [dialog]
    opening = BackgroundCall(partial(_open_for_sign_in, url), holder)
    # Cancelled: the dialog was the last window, which ends the event loop (Qt's
    # quitOnLastWindowClosed); the clinic may still be opening, and is waited for below.

    started: list[bool] = []

    def open_clinic() -> None:
        if not started:
            started.append(True)
            opening.start()

    def build_window() -> None:
        window = file_day_window(*quick, settings=settings)
        window.set_signed_out(True)
        windows.append(window)
        opening.succeeded.connect(
            partial(_on_clinic_opened, window, sessions, early, remember=remember)
        )
        opening.failed.connect(partial(_on_clinic_not_opened, window, early))
        dialog.checked_early.connect(partial(_show_checked_early, window))
        dialog.early_withdrawn.connect(partial(window.set_signed_out, True))
        dialog.needs_clinic.connect(open_clinic)
        QTimer.singleShot(OPEN_CLINIC_AFTER_MS, holder, open_clinic)
        let_in = dialog.early_actor()
        if let_in is not None:  # answered before the window was built
            _show_checked_early(window, let_in)

    call_after_first_paint(dialog, build_window)
    try:
        return app.exec()
    finally:
        _end_run(opening, sessions)
        holder.deleteLater()


def remembered_user_of_file(settings: QSettings, path: Path) -> str:
    """The name the early sign-in suggests for the SQLite clinic at ``path``: its last user
    on this workstation, if the file still has them as an active account (read at once with
    ``sqlite3``, as the first day is); never a name remembered for another clinic."""
    from ketadesk.services.access.file_sign_in import FileSignIn
    from ketadesk.ui.access.remembered_user import clinic_of_file, last_user

    last = last_user(settings, clinic_of_file(path))
    return last if last and FileSignIn(path).knows(last) else ""


def _run_window_first(
    app: QApplication, url: str, window: MainWindow, *, remember: str | None = None
) -> int:
    """Show a window whose first day was read straight from the SQLite file (covered until
    someone signs in); open the clinic on a worker thread once it is painted, then ask who is
    there, and read days through the open clinic from then on."""
    from functools import partial

    from ketadesk.ui.common.background import BackgroundCall, call_after_first_paint

    window.set_signed_out(True)
    sessions: list[SignedInSession] = []
    opening = BackgroundCall(partial(_open_for_sign_in, url), window)
    opening.succeeded.connect(partial(_on_clinic_opened, window, sessions, [], remember=remember))
    opening.failed.connect(partial(_on_clinic_not_opened, window, []))
    call_after_first_paint(window, opening.start)
    try:
        _show(app, window)
        return app.exec()
    finally:
        _end_run(opening, sessions)


def _show_checked_early(window: MainWindow, _actor: Actor) -> None:
    """The early password check let the user in: show them the day read from the file while
    the clinic opens (the full sign-in then attaches the desk, or covers the day again)."""
    from ketadesk.ui.common import milestones

    window.set_signed_out(False)
    milestones.record_after_paint(
        window,
        milestones.DAY_PAINTED,
        lambda: not window.is_signed_out() and not window.is_reading(),
    )
    if not window.isVisible():
        _show_window(window)


def _backup_question(session: SignedInSession) -> Callable[[str], bool] | None:
    """Who is asked when the closing backup fails: the user, in a window, when there is a
    screen to show one on (a headless run, a test's, says it on stderr only)."""
    from ketadesk.ui.common.app import has_screen

    return session.ask_retry_backup if has_screen() else None


def _end_run(
    opening: BackgroundCall[tuple[OpenedClinic, SignInScreen]], sessions: list[SignedInSession]
) -> None:
    # The event loop is over: a clinic opened too late for it must not ask anyone to sign
    # in from some later event loop (the signal would still be queued).
    import warnings

    for signal in (opening.succeeded, opening.failed):
        # (Cancelled before the window was built, nothing is connected: Qt warns about that.)
        with contextlib.suppress(RuntimeError, TypeError), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            signal.disconnect()
    for session in sessions:
        session.close(retry_backup=_backup_question(session))
    answer = opening.wait()
    if answer is not None:
        answer[0].db.dispose()


def _open_for_sign_in(url: str) -> tuple[OpenedClinic, SignInScreen]:
    """On the worker: open the clinic and read what the sign-in asks, so that the GUI thread
    never waits on the database before anyone has signed in."""
    from ketadesk.services.access.accounts import sign_in_screen
    from ketadesk.services.clinic.clinic_setup import open_clinic

    opened = open_clinic(url, create=False)
    try:
        return opened, sign_in_screen(opened.db)
    except BaseException:
        opened.db.dispose()
        raise


def _load_desk_services() -> None:
    """Import, on a thread of its own while the password is checked, the services the
    signed-in desk imports first (plain Python), so that the GUI thread does not wait on them
    once someone has signed in."""
    import importlib

    for name in (
        "ketadesk.services.booking.appointment_changes",
        "ketadesk.services.booking.move_check",
        "ketadesk.services.booking.series_moves",
        "ketadesk.services.followups.queue",
        "ketadesk.services.printing.call_list",
        "ketadesk.services.printing.card",
        "ketadesk.services.printing.day_sheet",
        "ketadesk.services.printing.session_record",
        "ketadesk.services.schedule.week",
    ):
        importlib.import_module(name)


def _start_session(
    window: MainWindow,
    opened: OpenedClinic,
    screen: SignInScreen,
    settings: QSettings | None,
    early: SignInDialog | None = None,
) -> SignedInSession | None:
    """Ask who is there (or, on a new clinic, for its administrator), with the sign-in dialog
    ``early`` already showing if there is one; None if cancelled."""
    from ketadesk.ui.shell.session import SignedInSession, default_backup_dir

    session = SignedInSession(
        window,
        opened.db,
        settings=settings,
        backup_dir=default_backup_dir(),
        ask_sign_in=early.ask_when_open if early is not None else None,
    )
    # The day already showing to whom the early check let in stays while the full sign-in
    # decides (the dialog covers it again should that refuse).
    cover = early is None or early.early_actor() is None
    if not session.start(screen, cover=cover):
        window.close()
        return None
    return session


def _on_clinic_opened(
    window: MainWindow,
    sessions: list[SignedInSession],
    early: list[SignInDialog],
    answer: tuple[OpenedClinic, SignInScreen],
    *,
    remember: str | None = None,
) -> None:
    from functools import partial

    from ketadesk.services.schedule.day import clinic_today, day_schedule

    opened, screen = answer
    _report_upgrade(opened)
    remember_workstation_clinic(remember)
    window.set_day_source(partial(day_schedule, opened.db), partial(clinic_today, opened.db))
    dialog = early.pop() if early else None
    import threading

    threading.Thread(target=_load_desk_services, name="desk-imports", daemon=True).start()
    if dialog is not None and (screen.needs_first_admin or screen.at_rest.refused):
        _discard(dialog)  # a new clinic asks for its administrator; a refused one, nobody
        dialog = None
    shown = window.isVisible()
    session = _start_session(window, opened, screen, window.settings(), dialog)
    if session is not None:
        sessions.append(session)
        if not shown:  # asked first: the window shows once someone has signed in
            _show_window(window)
    elif not shown:  # cancelled before the window ever showed: nothing else ends the loop
        from PySide6.QtCore import QCoreApplication

        QCoreApplication.quit()


def _discard(dialog: SignInDialog) -> None:
    """Take the early sign-in dialog away without it closing the window: hidden, never
    rejected (nothing here listens to ``rejected``; disconnecting a signal with no receivers
    made PySide6 print "Failed to disconnect" at exit)."""
    dialog.hide()
    dialog.deleteLater()


def _on_clinic_not_opened(window: MainWindow, early: list[SignInDialog], err: Exception) -> None:
    from ketadesk.scheduling.catalog import ConfigError
    from ketadesk.store.database import StoreError
    from ketadesk.ui.common.app import show_error

    while early:
        _discard(early.pop())
    if not isinstance(err, StoreError | ConfigError):
        raise err
    # Nobody can sign in to a clinic that cannot be opened: say why, and close.
    print(f"ketadesk run: {err}", file=sys.stderr)
    show_error("KetaDesk cannot open the clinic", str(err))
    shown = window.isVisible()
    window.close()
    if not shown:  # only the sign-in dialog was up: nothing else ends the loop
        from PySide6.QtCore import QCoreApplication

        QCoreApplication.quit()


def _report_upgrade(opened: OpenedClinic) -> None:
    if opened.upgraded_from:
        print(f"ketadesk: upgraded {opened.db.label} from schema {opened.upgraded_from}")
        if opened.backup:
            print(f"ketadesk: the previous file was copied to {opened.backup}")


def _show_window(window: MainWindow) -> None:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    _show(app, window)


def _show(app: QApplication, window: MainWindow) -> None:
    screen = app.primaryScreen()
    room = screen.availableGeometry() if screen is not None else None
    # 1400x900, or nine tenths of a smaller screen (a 1366x768 front-desk laptop).
    window.resize(
        min(1400, int(room.width() * 0.9)) if room else 1400,
        min(900, int(room.height() * 0.9)) if room else 900,
    )
    window.show()


def build_demo_if_missing(url: str) -> None:
    """Build the demo clinic when ``url`` is a SQLite file that does not exist yet (or a
    server database without any tables)."""
    from ketadesk.store.database import describe_url, parse_db_url, plain_sqlite_path

    file = plain_sqlite_path(url)
    if file is not None and file.exists():
        return  # the usual case, settled without loading SQLAlchemy
    parsed = parse_db_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or Path(parsed.database).exists():
            return
    elif not _is_empty_database(url):
        return
    where = describe_url(parsed)
    from ketadesk.services.common.context import ServiceError
    from ketadesk.services.demo.clinic import build_demo

    print(f"ketadesk: no clinic database at {where} yet: building a demo clinic there...")
    sys.stdout.flush()
    try:
        summary = build_demo(url, progress=_print_progress)
    except ServiceError as err:
        raise CommandError(f"cannot build the demo clinic: {err}") from None
    print(f"ketadesk: demo clinic ready: {summary}")


def _is_empty_database(url: str) -> bool:
    from ketadesk.store import migrate
    from ketadesk.store.database import open_database

    db = open_database(url)
    try:
        state, _ = migrate.schema_state(db)
    finally:
        db.dispose()
    return state is migrate.SchemaState.EMPTY


def _print_progress(message: str) -> None:
    print(f"  {message}", flush=True)
