"""Signing in at start-up, switching user, the idle lock, and the backups a workstation makes.

The window opens signed out (nothing of the clinic shown).  Once the clinic is open, the first
start of a new clinic asks for its administrator; otherwise the sign-in dialog asks who is
there.  The signed-in user's Desk is attached to the window, and an ``IdleLock`` covers it
after the configured idle minutes (Lock and Switch user are the same curtain; Switch user
asks at once who signs in).  The sign-in suggests the last user of this clinic on this
workstation (``ui.access.remembered_user``).  On a SQLite clinic, a backup is written every
day the application runs and when it closes, kept 7 daily and 4 weekly (services.backup), on
a worker while the window is open.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, QSettings, QTimer
from PySide6.QtWidgets import QMessageBox, QWidget

from ketadesk.services.access import accounts
from ketadesk.services.access.accounts import SignInScreen
from ketadesk.services.common.context import Actor, Database, ServiceError, utcnow
from ketadesk.ui.access.idle_lock import IdleLock
from ketadesk.ui.access.remembered_user import clinic_of, last_user, remember_user, suggested_user
from ketadesk.ui.access.sign_in import FirstAdminDialog, SignInDialog
from ketadesk.ui.common import garbage, milestones
from ketadesk.ui.common.background import run_service
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.shell.main_window import MainWindow
from ketadesk.ui.shell.reminder_loop import ReminderLoop

AskSignIn = Callable[..., Actor | None]
AskFirstAdmin = Callable[[Database, QWidget | None], Actor | None]
#: How often a running workstation writes its scheduled backup of a SQLite clinic.
BACKUP_INTERVAL_MS = 24 * 60 * 60 * 1000


def default_backup_dir() -> Path:
    from ketadesk.paths import user_data_dir

    return user_data_dir() / "backups"


class SignedInSession(QObject):
    """Who is at the window, from sign-in to close."""

    def __init__(
        self,
        window: MainWindow,
        db: Database,
        *,
        settings: QSettings | None = None,
        now: Callable[[], dt.datetime] = utcnow,
        ask_sign_in: AskSignIn | None = None,
        ask_first_admin: AskFirstAdmin | None = None,
        backup_dir: Path | None = None,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.db = db
        self._settings = settings
        self._now = now
        # The session's clock, so the sign-in and the first account are dated as the desk is.
        self._ask_sign_in = ask_sign_in or partial(SignInDialog.ask, now=now)
        self._ask_first_admin = ask_first_admin or partial(FirstAdminDialog.ask, now=now)
        self._backup_dir = backup_dir
        self.lock: IdleLock | None = None
        #: Where the last scheduled backup went (None before the first).
        self.last_backup: Path | None = None
        self._backup_timer = QTimer(self)
        self._backup_timer.setInterval(BACKUP_INTERVAL_MS)
        self._backup_timer.timeout.connect(self._on_backup_timer_timeout)
        self.reminders = ReminderLoop(db, now, self)
        self._lock_pending = False
        a = window.actions_by_name
        a["lock"].triggered.connect(self._on_lock_triggered)
        a["switch_user"].triggered.connect(self._on_switch_user_triggered)

    def start(self, screen: SignInScreen, *, cover: bool = True) -> bool:
        """Ask who is there (``screen``, read off the GUI thread, says whether a new clinic needs
        its administrator); False when they cancelled (the application then closes).  ``cover``
        False: the day stays in view while the sign-in is asked (start-up's early password
        check let the user in already; the full sign-in confirms it)."""
        if cover or screen.at_rest.refused or screen.needs_first_admin:
            self.window.set_signed_out(True)
        if screen.at_rest.refused:
            QMessageBox.critical(
                self.window,
                "Clinic file not protected",
                f"{screen.at_rest.notice}\n\nThis clinic requires it ([security] "
                'disk_encryption = "require"), so KetaDesk will not open it here. Move the '
                "file to an encrypted disk, or turn on the disk's encryption, and start again.",
            )
            return False
        if screen.needs_first_admin:
            actor = self._ask_first_admin(self.db, self.window)
        else:
            last = suggested_user(
                last_user(self._settings, clinic_of(self.db)), screen.active_usernames
            )
            actor = self._ask_sign_in(self.db, self.window, username=last, hint=screen.demo_hint)
        if actor is None:
            return False
        self.sign_in_as(actor)
        if screen.at_rest.notice:
            self.window.set_at_rest_notice(screen.at_rest.notice)
        if self.db.is_sqlite and self._backup_dir is not None:
            self._backup_timer.start()
        self.reminders.start()
        return True

    def sign_in_as(self, actor: Actor) -> None:
        first = self.window.desk() is None
        self.window.attach_desk(Desk(self.db, actor, self._now))
        self.window.set_signed_out(False)
        if first:
            self.window.set_view(self.window.remembered_view())
            window = self.window
            milestones.record_after_paint(
                window,
                milestones.DAY_PAINTED,
                lambda: not window.is_signed_out() and not window.is_reading(),
            )
            garbage.start_up_ends_when(
                lambda: (
                    not shiboken6.isValid(window)
                    or (not window.is_signed_out() and not window.is_reading())
                )
            )
        if first:  # a new clinic with no rooms and no staff: offer its set-up assistant
            controller = self.window.desk_controller()
            if controller is not None:
                controller.offer_setup()
        remember_user(self._settings, clinic_of(self.db), actor.username)
        if self.lock is None and not self._lock_pending:
            self._lock_pending = True
            db = self.db
            run_service(
                self.window,
                lambda: accounts.account_settings(db).idle_lock_minutes,
                self._start_idle_lock,
                failed=self._on_idle_lock_not_started,
                busy="",
            )

    def _start_idle_lock(self, minutes: int) -> None:
        self._lock_pending = False
        if self.lock is None:
            self.lock = IdleLock(self._current_desk, minutes, self.window)
            self.lock.user_switched.connect(self.sign_in_as)

    def _on_idle_lock_not_started(self, err: ServiceError) -> None:
        self._lock_pending = False  # the next sign-in tries again
        self.window.show_message(f"The idle lock could not start: {err}", 20000)

    def _current_desk(self) -> Desk:
        desk = self.window.desk()
        assert desk is not None, "the idle lock runs only while someone is signed in"
        return desk

    def _on_lock_triggered(self) -> None:
        if self.lock is not None:
            self.lock.lock()

    def _on_switch_user_triggered(self) -> None:
        if self.lock is not None:
            self.lock.switch_user()

    def back_up(self) -> str | None:
        """The scheduled backup of a SQLite clinic, written now on this thread (at exit, when
        the window is closing and nothing waits on it).  None when it was written or there is
        none to make; else the failure, in words, also said on stderr and in the status bar."""
        if self._backup_dir is None or not self.db.is_sqlite:
            return None
        try:
            self.last_backup = self._write_backup(self._backup_dir)
        except (ServiceError, OSError) as err:
            self._on_backup_failed(err)
            return f"{err}"
        return None

    def _on_backup_timer_timeout(self) -> None:
        """The daily backup while the window is open: a whole copy of the file and an
        integrity check, so on a worker; said in the status bar when it fails."""
        folder = self._backup_dir
        if folder is None or not self.db.is_sqlite:
            return

        def work() -> Path:
            try:
                return self._write_backup(folder)
            except OSError as err:  # a full or missing disk: said like a refusal
                raise ServiceError(str(err)) from err

        run_service(
            self.window, work, self._on_backed_up, failed=self._on_backup_failed, busy="Backing up…"
        )

    def _write_backup(self, folder: Path) -> Path:
        from ketadesk.services.clinic.backup import scheduled_backup

        return scheduled_backup(self.db, folder, self._now()).path

    def _on_backed_up(self, path: Path) -> None:
        self.last_backup = path

    def _on_backup_failed(self, err: Exception) -> None:
        message = f"The scheduled backup failed: {err}"
        print(f"ketadesk: {message}", file=sys.stderr)
        self.window.show_message(message, 20000)

    def ask_retry_backup(self, failure: str) -> bool:
        """The closing backup failed: say so in a window (the main one is gone) and ask
        whether to try again; True to try again."""
        box = QMessageBox(QMessageBox.Icon.Warning, "KetaDesk: the closing backup failed", "")
        box.setText("The backup KetaDesk makes when it closes was not written.")
        box.setInformativeText(
            f"{failure}\n\nThe clinic file itself is as it was: nothing you saved is lost. "
            f"Backups are kept in {self._backup_dir}. Try again, or quit now and make a backup "
            "later (it is made again the next time KetaDesk closes, and daily while it is open)."
        )
        retry = box.addButton("Try again", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Quit without a backup", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(retry)
        box.exec()
        return box.clickedButton() is retry

    def close(self, *, retry_backup: Callable[[str], bool] | None = None) -> None:
        """At exit: stop the lock and the timer, and write the closing backup.

        ``retry_backup``: asked, with the failure in words, when the closing backup fails
        (the window is gone by then, so its status bar says it to nobody); True to try again.
        A user trial saw the only word of a failed closing backup on a terminal."""
        self._backup_timer.stop()
        self.reminders.stop()
        if self.lock is not None:
            self.lock.dispose()
        if self.window.desk() is not None:
            failure = self.back_up()
            while failure is not None and retry_backup is not None and retry_backup(failure):
                failure = self.back_up()
        self.window.detach_desk()  # stops the change watcher's threads
