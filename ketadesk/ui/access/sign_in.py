"""Signing in: the sign-in dialog, and the first administrator's account for a new clinic.

Both check passwords through ``ketadesk.services.access.accounts`` on a worker thread (an
argon2 hash takes tens of milliseconds on purpose), so the dialog never freezes.  A refusal
after too many wrong passwords disables "Sign in" and counts the wait down.

At start-up the sign-in dialog shows before the clinic is open (``SignInDialog.show_early``):
this module imports the accounts service (SQLAlchemy, the ORM models, argon2) only inside the
functions that run on the worker, so none of it is on the way to the dialog's first paint.
A "Sign in" pressed before the clinic is open is checked as soon as it is; given an early
check (``services.access.file_sign_in`` on a SQLite file), the password is checked at once on
a worker too, and a "yes" there hides the dialog and says ``checked_early`` so that the window
can show the day meanwhile.  The full sign-in still runs once the clinic is open and decides:
should it refuse, the dialog shows again with its answer (``early_withdrawn``).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QEvent, QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ketadesk import APP_NAME
from ketadesk.services.common.context import Actor, Database, InvalidFields, ServiceError
from ketadesk.ui.common import milestones
from ketadesk.ui.common.background import BackgroundCall, run_service
from ketadesk.ui.common.sizing import fit_dialog

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


Clock = Callable[[], dt.datetime]
#: ``(username, password)``: the user when they may be let in before the clinic is open.
EarlyCheck = Callable[[str, str], Actor | None]


def error_color(palette: QPalette) -> QColor:
    """A red that reads on the palette's window colour, light or dark."""
    dark = palette.color(QPalette.ColorRole.Window).lightness() < 128
    return QColor("#ff8a80") if dark else QColor("#b00020")


def error_label(parent: QWidget | None = None) -> QLabel:
    """A label for an error message: red for the palette, wrapped, hidden while empty."""
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, error_color(palette))
    label.setPalette(palette)
    label.hide()
    return label


def show_error(label: QLabel, message: str) -> None:
    label.setText(message)
    label.setVisible(bool(message))
    label.setAccessibleDescription(message)


def mark_invalid(edit: QLineEdit, message: str) -> None:
    """Mark a field as wrong (or clear the mark with ""): a red frame and the message as its
    tooltip and accessible description."""
    edit.setProperty("invalid", bool(message))
    edit.setToolTip(message)
    edit.setAccessibleDescription(message)
    if message:
        color = error_color(edit.palette()).name()
        edit.setStyleSheet(f"QLineEdit {{ border: 1px solid {color}; padding: 2px; }}")
    else:
        edit.setStyleSheet("")


class SignInDialog(QDialog):
    """Username and password; on success ``actor()`` is the signed-in user.

    Signals:
        signed_in(object): the Actor, just before the dialog is accepted.

    Attributes:
        username_edit, password_edit: the two fields.
        sign_in_button: the default button; disabled while checking or while a wait runs.
    """

    signed_in = Signal(object)
    #: The early check said yes (the Actor): the dialog has hidden itself meanwhile.
    checked_early = Signal(object)
    #: The full sign-in did not confirm the early yes: the dialog is showing again.
    early_withdrawn = Signal()
    #: "Sign in" was pressed before the clinic was open and only the full sign-in can answer.
    needs_clinic = Signal()
    _full_check_ended = Signal()

    def __init__(
        self,
        db: Database | None,
        parent: QWidget | None = None,
        *,
        username: str = "",
        now: Clock | None = None,
        title: str = "Sign in",
        hint: str = "",
        label: str = "",
        early_check: EarlyCheck | None = None,
    ) -> None:
        """``db`` None: the clinic is still being opened (``label`` names it meanwhile);
        ``set_database`` gives it once it is.  ``early_check(username, password)``: the
        user when the password is theirs and may be trusted before the clinic is open, else
        None (it runs on a worker)."""
        super().__init__(parent)
        self._db: Database | None = None
        self._submit_when_open = False
        self._early_check = early_check
        self._early_call: BackgroundCall[Actor | None] | None = None
        self._early_actor: Actor | None = None
        self._now = now
        self._actor: Actor | None = None
        self._call: BackgroundCall[tuple[Actor, bool]] | None = None
        self._password = ""
        self.new_password_dialog: NewPasswordDialog | None = None
        self._wait_left = 0
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self.setWindowTitle(f"{title} — {APP_NAME}")
        self.setModal(True)

        # The file or server until the clinic's name is read (on a worker, a moment later).
        label = db.label if db is not None else label
        heading = QLabel(f"<b>{html.escape(label)}</b>", self)
        self.heading = heading
        heading.setWordWrap(True)
        heading.setTextFormat(Qt.TextFormat.RichText)
        heading.setToolTip(label)
        heading.setAccessibleName("Clinic")
        self.username_edit = QLineEdit(username, self)
        self.username_edit.setAccessibleName("Username")
        self.username_edit.setMaxLength(64)
        self.password_edit = QLineEdit(self)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setAccessibleName("Password")
        self.error_label = error_label(self)
        self.error_label.setAccessibleName("Sign-in problem")

        form = QFormLayout()
        form.addRow("&Username:", self.username_edit)
        form.addRow("&Password:", self.password_edit)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.sign_in_button = QPushButton("&Sign in", self)
        self.sign_in_button.setAccessibleName("Sign in")
        self.sign_in_button.setDefault(True)
        self.buttons.addButton(self.sign_in_button, QDialogButtonBox.ButtonRole.AcceptRole)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        self.hint_label = QLabel(html.escape(hint), self)
        self.hint_label.setObjectName("sign_in_hint")
        self.hint_label.setWordWrap(True)
        self.hint_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hint_label.setVisible(bool(hint))
        layout.addWidget(self.hint_label)
        layout.addStretch(1)  # a window made taller keeps the fields together, the buttons low
        layout.addWidget(self.buttons)
        fit_dialog(self, 380)

        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        self._countdown.timeout.connect(self._on_countdown_timeout)
        # The last user's name is a suggestion, never a trap: at a shared desk the next person
        # may be anyone, and with the cursor in Password the next one typed their own name as
        # the last user's password, a failed sign-in on that account (trial 3, A9).  So the
        # cursor starts in Username with the name selected: typing replaces it, and the last
        # user goes on with Tab or Enter.  The name is selected whole again whenever the field
        # is entered unchanged (``eventFilter``).  "Switch user" suggests no name at all.
        self._suggested_username = username
        self.username_edit.installEventFilter(self)
        self.username_edit.setFocus()
        if username:
            self.username_edit.selectAll()
        milestones.record_after_paint(self, milestones.SIGN_IN_PAINTED)
        if db is not None:
            self.set_database(db)

    def set_database(self, db: Database, hint: str = "") -> None:
        """The clinic is open: read its name for the heading, show ``hint`` (the demo
        clinic's sign-ins), and check a "Sign in" pressed while it was opening."""
        self._db = db
        if hint:
            self.hint_label.setText(html.escape(hint))
            self.hint_label.show()

        def clinic_name() -> str:
            from ketadesk.services.access import accounts

            return accounts.clinic_name(db)

        run_service(
            self,
            clinic_name,
            self._on_clinic_name_read,
            failed=lambda _err: None,  # the heading keeps the database's label
            busy="",
        )
        if self._submit_when_open:
            self._submit_when_open = False
            self._set_busy(False)
            self.submit()

    def _on_clinic_name_read(self, name: str) -> None:
        self.heading.setText(f"<b>{html.escape(name)}</b>")

    @override
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.username_edit
            and event.type() == QEvent.Type.FocusIn
            and self._shows_suggested_name()
        ):
            # After the click that gave the focus has placed the cursor (as an address bar
            # selects its address on the first click).
            QTimer.singleShot(0, self.username_edit, self._select_suggested_name)
        return super().eventFilter(watched, event)

    def _shows_suggested_name(self) -> bool:
        return bool(
            self._suggested_username
            and self.username_edit.text() == self._suggested_username
            and not self.username_edit.isModified()
        )

    def _select_suggested_name(self) -> None:
        # Asked again when it runs: a quick typist's name may have replaced it meanwhile.
        if self._shows_suggested_name():
            self.username_edit.selectAll()

    # -- public ------------------------------------------------------------------------------

    def actor(self) -> Actor | None:
        return self._actor

    def early_actor(self) -> Actor | None:
        """Whom the early check let in while the full sign-in has not answered yet."""
        return self._early_actor

    @classmethod
    def ask(
        cls,
        db: Database,
        parent: QWidget | None = None,
        *,
        username: str = "",
        hint: str = "",
        now: Clock | None = None,
    ) -> Actor | None:
        """Show the dialog and wait: the signed-in user, or None if cancelled.  Tests may
        replace this entry point."""
        dialog = cls(db, parent, username=username, hint=hint, now=now)
        try:
            return dialog.actor() if dialog.exec() == QDialog.DialogCode.Accepted else None
        finally:
            dialog.deleteLater()

    @classmethod
    def show_early(
        cls,
        parent: QWidget | None = None,
        *,
        label: str,
        username: str = "",
        early_check: EarlyCheck | None = None,
    ) -> SignInDialog | None:
        """At start-up: the dialog shown at once, over ``parent``, while the clinic (``label``)
        is still being opened; ``ask_when_open`` then waits for the answer.  None when there
        is no dialog to show early (tests replace this entry point, as they do ``ask``)."""
        dialog = cls(None, parent, username=username, label=label, early_check=early_check)
        dialog.open()
        return dialog

    def ask_when_open(
        self, db: Database, parent: QWidget | None = None, *, username: str = "", hint: str = ""
    ) -> Actor | None:
        """Like ``ask``, with this dialog, already showing: the signed-in user, or None if
        cancelled.  (``parent`` and ``username`` were given to ``show_early``.)"""
        del parent, username
        self.set_database(db, hint)
        try:
            if self._early_actor is not None and not self.isVisible():
                # Hidden by the early yes: wait for the full sign-in without showing again.
                loop = QEventLoop()
                self._full_check_ended.connect(loop.quit)
                if self._call is not None:
                    loop.exec()
                if self.result() == QDialog.DialogCode.Accepted:
                    return self.actor()
            if self.result() == QDialog.DialogCode.Rejected and not self.isVisible():
                return None  # cancelled while the clinic was opening
            return self.actor() if self.exec() == QDialog.DialogCode.Accepted else None
        finally:
            self.deleteLater()

    def submit(self) -> None:
        """Check the password (as pressing "Sign in" does)."""
        if self._call is not None or self._wait_left:
            return
        username = self.username_edit.text().strip()
        password = self.password_edit.text()
        if not username:
            show_error(self.error_label, "Enter your username.")
            self.username_edit.setFocus()
            return
        if not password:
            if self.focusWidget() is self.username_edit:  # Enter after the name: password next
                show_error(self.error_label, "")
            else:
                show_error(self.error_label, "Enter your password.")
            self.password_edit.setFocus()
            return
        now = self._now() if self._now else None
        db = self._db
        self._set_busy(True)
        show_error(self.error_label, "")
        if db is None:  # still opening: checked as soon as it is open (and now, if it may be)
            self._submit_when_open = True
            self._check_early(username, password)
            return

        def sign_in() -> tuple[Actor, bool]:
            from ketadesk.services.access import accounts

            actor = accounts.sign_in(db, username, password, now=now)
            assert actor.user_id is not None
            return actor, accounts.password_change_required(db, actor.user_id)

        self._password = password  # the current password, should a new one be asked for
        call: BackgroundCall[tuple[Actor, bool]] = BackgroundCall(sign_in, self)
        call.succeeded.connect(self._on_call_succeeded)
        call.failed.connect(self._on_call_failed)
        self._call = call
        call.start()

    def _check_early(self, username: str, password: str) -> None:
        check = self._early_check
        if self._early_call is not None:
            return
        if check is None:
            self.needs_clinic.emit()
            return
        call: BackgroundCall[Actor | None] = BackgroundCall(lambda: check(username, password), self)
        call.succeeded.connect(self._on_early_checked)
        call.failed.connect(self._on_early_not_checked)  # the full sign-in decides
        self._early_call = call
        call.start()

    # -- slots -------------------------------------------------------------------------------

    def _on_early_checked(self, actor: object) -> None:
        if not isinstance(actor, Actor) or self._db is not None or not self._submit_when_open:
            self._on_early_not_checked(None)  # no, or too late to matter: the full sign-in
            return
        self._early_actor = actor
        self.hide()  # not rejected: the full sign-in still runs and decides
        self.checked_early.emit(actor)

    def _on_buttons_accepted(self) -> None:
        self.submit()

    def _on_call_succeeded(self, result: object) -> None:
        self._finish_call()
        assert isinstance(result, tuple)
        actor, must_change = result
        assert isinstance(actor, Actor)
        if must_change or actor != self._early_actor:
            self._withdraw_early()
        if must_change and self._db is not None:
            # The desk opens only once a new password is chosen.
            self._ask_new_password(self._db, actor)
            return
        self._password = ""
        self._finish_sign_in(actor)

    def _on_early_not_checked(self, _error: object) -> None:
        self._early_call = None  # a later "Sign in" (after a wrong password) may ask again
        if self._db is None:
            self.needs_clinic.emit()

    def _finish_sign_in(self, actor: Actor) -> None:
        self._actor = actor
        self.password_edit.clear()
        self.signed_in.emit(actor)
        self.accept()
        self._full_check_ended.emit()

    def _withdraw_early(self) -> None:
        """The full sign-in did not confirm the early yes: show the dialog again."""
        if self._early_actor is None:
            return
        self._early_actor = None
        self.early_withdrawn.emit()
        self.show()
        self._full_check_ended.emit()

    def _ask_new_password(self, db: Database, actor: Actor) -> None:
        dialog = NewPasswordDialog(db, actor, self._password, self, now=self._now)
        self._password = ""
        self.new_password_dialog = dialog
        dialog.password_chosen.connect(self._on_new_password_chosen)
        dialog.rejected.connect(self._on_new_password_rejected)
        self._set_busy(True)
        dialog.open()

    def _on_new_password_chosen(self, actor: object) -> None:
        assert isinstance(actor, Actor)
        self.new_password_dialog = None
        self._set_busy(False)
        self._finish_sign_in(actor)

    def _on_new_password_rejected(self) -> None:
        self.new_password_dialog = None
        self._set_busy(False)
        self.password_edit.clear()
        self.password_edit.setFocus()
        show_error(
            self.error_label,
            "Your administrator asks you to choose a new password: sign in again to choose it.",
        )

    def _on_call_failed(self, error: object) -> None:
        # Loaded already: the check that failed ran it.
        from ketadesk.services.access.accounts import SignInRefused

        self._finish_call()
        self._withdraw_early()
        self.password_edit.clear()
        self.password_edit.setFocus()
        if isinstance(error, SignInRefused):
            show_error(self.error_label, _sentence(str(error)))
            if error.retry_after:
                self._start_wait(error.retry_after)
        elif isinstance(error, ServiceError):
            show_error(self.error_label, _sentence(str(error)))
        else:
            show_error(self.error_label, f"Could not sign in: {error}")

    def _on_countdown_timeout(self) -> None:
        self._wait_left -= 1
        if self._wait_left <= 0:
            self._countdown.stop()
            self._wait_left = 0
            self.sign_in_button.setEnabled(True)
            self.sign_in_button.setText("&Sign in")
        else:
            self.sign_in_button.setText(f"Wait {self._wait_left} s")

    # -- internals ---------------------------------------------------------------------------

    def _start_wait(self, seconds: int) -> None:
        self._wait_left = seconds
        self.sign_in_button.setEnabled(False)
        self.sign_in_button.setText(f"Wait {seconds} s")
        self._countdown.start()

    def _finish_call(self) -> None:
        if self._call is not None:
            self._call.deleteLater()
        self._call = None
        self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        self.username_edit.setEnabled(not busy)
        self.password_edit.setEnabled(not busy)
        self.sign_in_button.setEnabled(not busy and not self._wait_left)
        if busy:
            self.setCursor(Qt.CursorShape.BusyCursor)
        else:
            self.unsetCursor()

    @override
    def reject(self) -> None:
        for call in (self._call, self._early_call):
            if call is not None:
                call.wait()  # let the check end; its outcome is dropped with the dialog
        self._countdown.stop()
        super().reject()


class _AccountForm(QDialog):
    """What the first administrator's account and a new password share: an introduction, the
    fields (each with its problem shown under it), a line for other problems, Cancel and the
    dialog's own button, and the service called on a worker thread (never twice at once).

    Attributes:
        edits: the fields by name (``FIELDS``); field_errors: their messages.
        accept_button: the dialog's own button (disabled while the call runs).
    """

    FIELDS: tuple[str, ...] = ()
    #: Fields typed as passwords (echo hidden).
    SECRET: tuple[str, ...] = ()

    def __init__(self, parent: QWidget | None, title: str) -> None:
        super().__init__(parent)
        self._call: BackgroundCall[object] | None = None
        self.setWindowTitle(f"{title} — {APP_NAME}")
        self.setModal(True)
        self.edits: dict[str, QLineEdit] = {}
        self.field_errors: dict[str, QLabel] = {}
        self.error_label = error_label(self)

    def _lay_out(
        self,
        intro: str,
        labels: dict[str, tuple[str, str]],
        button: tuple[str, str],
        width: int,
    ) -> None:
        """The dialog's widgets: ``labels`` by field (label text with its mnemonic, accessible
        name); ``button`` likewise."""
        intro_label = QLabel(intro, self)
        intro_label.setWordWrap(True)
        intro_label.setTextFormat(Qt.TextFormat.RichText)
        form = QFormLayout()
        for name in self.FIELDS:
            text, accessible = labels[name]
            edit = QLineEdit(self)
            edit.setAccessibleName(accessible)
            if name in self.SECRET:
                edit.setEchoMode(QLineEdit.EchoMode.Password)
            problem = error_label(self)
            problem.setAccessibleName(f"{accessible} problem")
            box = QVBoxLayout()
            box.setSpacing(2)
            box.addWidget(edit)
            box.addWidget(problem)
            label = QLabel(text, self)
            label.setBuddy(edit)
            form.addRow(label, box)
            self.edits[name] = edit
            self.field_errors[name] = problem
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.accept_button = QPushButton(button[0], self)
        self.accept_button.setAccessibleName(button[1])
        self.accept_button.setDefault(True)
        self.buttons.addButton(self.accept_button, QDialogButtonBox.ButtonRole.AcceptRole)
        layout = QVBoxLayout(self)
        layout.addWidget(intro_label)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        fit_dialog(self, width)
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        self.edits[self.FIELDS[0]].setFocus()

    def submit(self) -> None:
        raise NotImplementedError

    def _start(self, work: Callable[[], object]) -> None:
        """``work`` on a worker thread; its answer comes to ``_on_call_succeeded`` or
        ``_on_call_failed``."""
        call: BackgroundCall[object] = BackgroundCall(work, self)
        call.succeeded.connect(self._on_call_succeeded)
        call.failed.connect(self._on_call_failed)
        self._call = call
        self.accept_button.setEnabled(False)
        call.start()

    def _on_buttons_accepted(self) -> None:
        self.submit()

    def _on_call_succeeded(self, result: object) -> None:
        raise NotImplementedError

    def _on_call_failed(self, error: object) -> None:
        self._end_call()
        if isinstance(error, InvalidFields):
            self._show_errors(error.errors)
        elif isinstance(error, ServiceError):
            show_error(self.error_label, _sentence(str(error)))
        else:
            show_error(self.error_label, f"{self._failed_words()}: {error}")

    def _failed_words(self) -> str:
        """What could not be done, for an unexpected failure ("Could not …")."""
        raise NotImplementedError

    def _end_call(self) -> None:
        if self._call is not None:
            self._call.deleteLater()
        self._call = None
        self.accept_button.setEnabled(True)

    def _show_errors(self, errors: dict[str, str]) -> None:
        first: QLineEdit | None = None
        for name in self.FIELDS:
            message = errors.get(name, "")
            show_error(self.field_errors[name], _sentence(message) if message else "")
            mark_invalid(self.edits[name], message)
            if message and first is None:
                first = self.edits[name]
        other = [self._other_problem(k, v) for k, v in errors.items() if k not in self.FIELDS]
        show_error(self.error_label, _sentence("; ".join(other)))
        if first is not None:
            first.setFocus()

    def _other_problem(self, key: str, message: str) -> str:
        """A problem with something that is not one of the fields, in words."""
        return f"{key}: {message}"

    @override
    def reject(self) -> None:
        if self._call is not None:
            self._call.wait()
        super().reject()


class FirstAdminDialog(_AccountForm):
    """A new clinic's first account: the administrator (username, name, password twice).

    Mistakes are shown at the fields; ``actor()`` is the new administrator, signed in.

    Signals:
        created(object): the new administrator's Actor.

    Attributes:
        create_button: creates the account (``accept_button``).
    """

    created = Signal(object)
    FIELDS = ("username", "display_name", "password", "password_again")
    SECRET = ("password", "password_again")

    def __init__(
        self, db: Database, parent: QWidget | None = None, *, now: Clock | None = None
    ) -> None:
        super().__init__(parent, "New clinic")
        self._db = db
        self._now = now
        self._actor: Actor | None = None
        self._lay_out(
            f"<b>Welcome to {APP_NAME}.</b><br>This clinic has no users yet. Create the "
            "administrator's account: the administrator adds everyone else, manages backups "
            "and reads the audit trail.",
            {
                "username": ("&Username:", "Username"),
                "display_name": ("&Full name:", "Full name"),
                "password": ("&Password:", "Password"),
                "password_again": ("Password &again:", "Password again"),
            },
            ("&Create administrator", "Create administrator"),
            460,
        )
        self.create_button = self.accept_button

    def actor(self) -> Actor | None:
        return self._actor

    @classmethod
    def ask(
        cls, db: Database, parent: QWidget | None = None, *, now: Clock | None = None
    ) -> Actor | None:
        dialog = cls(db, parent, now=now)
        try:
            return dialog.actor() if dialog.exec() == QDialog.DialogCode.Accepted else None
        finally:
            dialog.deleteLater()

    @override
    def submit(self) -> None:
        if self._call is not None:
            return
        values = {name: edit.text() for name, edit in self.edits.items()}
        errors = {}
        if values["password"] != values["password_again"]:
            errors["password_again"] = "does not match the password"
        for name in ("username", "display_name", "password"):
            if not values[name].strip():
                errors[name] = "is required"
        if errors:
            self._show_errors(errors)
            return
        self._show_errors({})
        db = self._db
        now = self._now() if self._now else None

        def create() -> Actor:
            from ketadesk.services.access import accounts

            return accounts.create_first_admin(
                db,
                values["username"],
                values["display_name"],
                values["password"],
                password_again=values["password_again"],
                now=now,
            )

        self._start(create)

    @override
    def _on_call_succeeded(self, result: object) -> None:
        self._end_call()
        assert isinstance(result, Actor)
        self._actor = result
        self.created.emit(result)
        self.accept()

    @override
    def _failed_words(self) -> str:
        return "Could not create the account"


class NewPasswordDialog(_AccountForm):
    """Choose a new password (after an administrator's reset): the new one twice, meeting the
    clinic's password rules.  The current password was just typed at the sign-in, so it is
    passed in rather than asked again.

    Signals:
        password_chosen(object): the Actor, once the new password is saved.

    Attributes:
        edits: the two fields ("password", "password_again"); field_errors: their messages.
        save_button: saves the new password (``accept_button``).
    """

    password_chosen = Signal(object)
    FIELDS = ("password", "password_again")
    SECRET = FIELDS

    def __init__(
        self,
        db: Database,
        actor: Actor,
        current_password: str,
        parent: QWidget | None = None,
        *,
        now: Clock | None = None,
    ) -> None:
        super().__init__(parent, "Choose a new password")
        self._db = db
        self._actor = actor
        self._current = current_password
        self._now = now
        self._lay_out(
            f"<b>{html.escape(actor.username)}</b>, your administrator gave you a one-time "
            "password. Choose your own before the desk opens.",
            {
                "password": ("&New password:", "New password"),
                "password_again": ("New password &again:", "New password again"),
            },
            ("&Save and sign in", "Save and sign in"),
            420,
        )
        self.save_button = self.accept_button

    @override
    def submit(self) -> None:
        if self._call is not None:
            return
        password = self.edits["password"].text()
        again = self.edits["password_again"].text()
        if not password:
            self._show_errors({"password": "is required"})
            return
        self._show_errors({})
        db, actor, current = self._db, self._actor, self._current
        now = self._now() if self._now else None

        def choose() -> None:
            from ketadesk.services.access import accounts

            accounts.choose_new_password(db, actor, current, password, again, now=now)

        self._start(choose)

    @override
    def _on_call_succeeded(self, result: object) -> None:
        self._end_call()
        self._current = ""
        self.password_chosen.emit(self._actor)
        self.accept()

    @override
    def _failed_words(self) -> str:
        return "Could not save the new password"

    @override
    def _other_problem(self, key: str, message: str) -> str:
        words = {"current_password": "The one-time password"}
        return f"{words.get(key, key.replace('_', ' ').capitalize())} {message}"

    @override
    def reject(self) -> None:
        self._current = ""
        super().reject()


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
