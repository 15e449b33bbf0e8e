"""The Users settings page: the clinic's accounts in a table, and dialogs to add or edit one,
reset a password to a one-time one (shown once), and deactivate or reactivate an account.

Reads and writes go through ``ketadesk.services.access.accounts`` on a worker (``run_service``);
the widgets hold rows (``UserInfo``, ``StaffChoice``), never a database session.  What may be
done (administrators only, never demoting or deactivating the last administrator, one user
per staff member) is the service's to judge; the page shows its answer in words.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.words import ROLE_NAMES, role_label
from ketadesk.services.access import accounts
from ketadesk.services.access.accounts import StaffChoice, UserInfo
from ketadesk.services.common.context import ROLES, InvalidFields, ServiceError
from ketadesk.ui.access.sign_in import error_label, mark_invalid, show_error
from ketadesk.ui.common.background import LatestOnly, run_service
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.sizing import fit_dialog
from ketadesk.ui.common.table_model import SORT_ROLE, RowTableModel, TableColumn

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


ROLE_LABELS = {role: role_label(role) for role in ROLE_NAMES}


def _yes(value: bool) -> str:
    return "Yes" if value else ""


USER_COLUMNS: tuple[TableColumn[UserInfo], ...] = (
    TableColumn("Username", lambda u: u.username),
    TableColumn("Name", lambda u: u.display_name),
    TableColumn("Role", lambda u: role_label(u.role)),
    TableColumn("Linked staff", lambda u: u.staff_name),
    TableColumn("Active", lambda u: "Active" if u.active else "Inactive"),
    TableColumn(
        "Must change password",
        lambda u: _yes(u.must_change_password),
        tooltip=lambda u: (
            "Asked for a new password at the next sign-in" if u.must_change_password else ""
        ),
    ),
)


class UserTableModel(RowTableModel[UserInfo]):
    """The accounts, one row each (``ROW_ROLE`` gives the ``UserInfo``); inactive rows grey."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(USER_COLUMNS, parent)

    @override
    def cell_data(self, row: UserInfo, column: int, role: int) -> object:
        if role == Qt.ItemDataRole.ForegroundRole and not row.active:
            return QGuiApplication.palette().color(QPalette.ColorRole.PlaceholderText)
        return None


@dataclass(frozen=True, slots=True)
class UsersScreen:
    """What the page shows, read in one go: the accounts and the staff they may link to."""

    users: list[UserInfo]
    staff: list[StaffChoice]


def read_users_screen(desk: Desk, include_inactive: bool) -> UsersScreen:
    return UsersScreen(
        accounts.list_users(desk.db, include_inactive=include_inactive),
        accounts.list_staff_choices(desk.db),
    )


# --------------------------------------------------------------------------------------------
# The add / edit dialog


class _FieldForm:
    """Fields with a message under each, marked by the names the service uses."""

    def __init__(self, parent: QWidget) -> None:
        self._parent = parent
        self.form = QFormLayout()
        self.widgets: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self.general = error_label(parent)

    def add(self, name: str, text: str, accessible: str, widget: QWidget) -> None:
        widget.setAccessibleName(accessible)
        problem = error_label(self._parent)
        problem.setAccessibleName(f"{accessible} problem")
        box = QVBoxLayout()
        box.setSpacing(2)
        box.addWidget(widget)
        box.addWidget(problem)
        label = QLabel(text, self._parent)
        label.setBuddy(widget)
        self.form.addRow(label, box)
        self.widgets[name] = widget
        self.errors[name] = problem

    def show(self, errors: dict[str, str]) -> None:
        first: QWidget | None = None
        for name, label in self.errors.items():
            message = errors.get(name, "")
            show_error(label, _sentence(message) if message else "")
            widget = self.widgets[name]
            if isinstance(widget, QLineEdit):
                mark_invalid(widget, message)
            if message and first is None:
                first = widget
        other = [f"{k}: {v}" for k, v in errors.items() if k not in self.errors]
        show_error(self.general, _sentence("; ".join(other)))
        _grow_to_fit(self._parent)
        if first is not None:
            first.setFocus()


def _grow_to_fit(dialog: QWidget) -> None:
    """Make room for messages that appeared (never shrinks, so the dialog does not jump)."""
    layout = dialog.layout()
    if layout is not None:
        layout.activate()
    needed = dialog.sizeHint().height()
    if needed > dialog.height():
        dialog.resize(dialog.width(), needed)


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


class UserDialog(QDialog):
    """Add a user (username, name, role, linked staff, password, "must change it") or edit one
    (name, role, linked staff).  Saves through the service on the writer worker; mistakes are
    shown at their fields and the dialog stays open.

    Signals:
        saved(object): the ``UserInfo`` saved.
    """

    saved = Signal(object)

    def __init__(
        self,
        desk: Desk,
        staff: Sequence[StaffChoice],
        user: UserInfo | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._desk = desk
        self._user = user
        self._busy = False
        self.setWindowTitle("Add user" if user is None else f"Edit user {user.username}")
        self.setModal(True)
        self.fields = _FieldForm(self)
        self._build_fields(staff)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        layout = QVBoxLayout(self)
        layout.addLayout(self.fields.form)
        layout.addWidget(self.fields.general)
        layout.addWidget(self.buttons)
        fit_dialog(self, 460)
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)

    def _build_fields(self, staff: Sequence[StaffChoice]) -> None:
        user = self._user
        self.username_edit = QLineEdit(self)
        self.username_edit.setMaxLength(64)
        self.name_edit = QLineEdit(user.display_name if user else "", self)
        self.role_combo = QComboBox(self)
        for role in ROLES:
            self.role_combo.addItem(role_label(role), role)
        self.role_combo.setCurrentIndex(ROLES.index(user.role) if user else ROLES.index("nurse"))
        self.staff_combo = QComboBox(self)
        self.staff_combo.addItem("— none —", None)
        self._staff_names = {choice.id: choice.name for choice in staff}
        self._filled_name = ""  # the full name last taken from the linked staff member
        for choice in staff:
            taken = choice.user_id is not None and (user is None or choice.user_id != user.id)
            retired = "" if choice.active else ", retired"
            text = f"{choice.name} ({role_label(choice.role)}{retired})"
            self.staff_combo.addItem(
                text + (" — linked to another user" if taken else ""), choice.id
            )
        if user is not None and user.staff_id is not None:
            self.staff_combo.setCurrentIndex(max(0, self.staff_combo.findData(user.staff_id)))
        if user is None:
            self.fields.add("username", "&Username:", "Username", self.username_edit)
        self.fields.add("display_name", "&Full name:", "Full name", self.name_edit)
        self.fields.add("role", "&Role:", "Role", self.role_combo)
        self.fields.add("staff_id", "Linked &staff:", "Linked staff member", self.staff_combo)
        if user is None:
            self.password_edit = QLineEdit(self)
            self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
            self.fields.add("password", "&Password:", "Password", self.password_edit)
            self.generate_button = QPushButton("&Generate", self)
            self.generate_button.setToolTip("Fill in a strong one-time password to hand over")
            self.generate_button.setAutoDefault(False)
            self.generated_note = QLabel("", self)
            self.generated_note.setWordWrap(True)
            generate_row = QHBoxLayout()
            generate_row.addWidget(self.generate_button)
            generate_row.addWidget(self.generated_note, 1)
            self.fields.form.addRow("", generate_row)
            self.must_change_check = QCheckBox("Ask for a new password at the first sign-in", self)
            self.must_change_check.setChecked(True)
            self.fields.form.addRow("", self.must_change_check)
            self.generate_button.clicked.connect(self._on_generate_button_clicked)
            self.password_edit.textEdited.connect(self._on_password_edit_text_edited)
        self.staff_combo.currentIndexChanged.connect(self._on_staff_combo_changed)

    def _on_staff_combo_changed(self, _index: int) -> None:
        """The linked staff member's name fills in the full name while it is empty (or still
        the one filled in from the previous choice): the admin need not type it twice."""
        name = self._staff_names.get(self.staff_combo.currentData(), "")
        typed = self.name_edit.text().strip()
        if name and (not typed or typed == self._filled_name):
            self.name_edit.setText(name)
            self._filled_name = name

    def _on_generate_button_clicked(self) -> None:
        desk = self._desk

        def work() -> str:
            return accounts.generate_password(accounts.account_settings(desk.db))

        self.generate_button.setEnabled(False)
        run_service(
            self,
            work,
            self._on_generated,
            settled=lambda: self.generate_button.setEnabled(True),
            busy="Generating a password…",
        )

    def _on_generated(self, password: str) -> None:
        # Shown in clear, once, so the administrator can hand it over; they choose their own
        # password at the first sign-in (``must_change_password``), so it is one-time.
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Normal)
        self.password_edit.setText(password)
        self.must_change_check.setChecked(True)
        self.generated_note.setText(
            "Hand this one-time password over now: it is not shown again once saved."
        )
        _grow_to_fit(self)

    def _on_password_edit_text_edited(self, _text: str) -> None:
        # Typed by hand: hidden again, like any password being typed.
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.generated_note.setText("")

    def submit(self) -> None:
        if self._busy:
            return
        desk, user = self._desk, self._user
        name = self.name_edit.text()
        role = str(self.role_combo.currentData())
        staff_id = self.staff_combo.currentData()
        if user is None:
            username = self.username_edit.text()
            password = self.password_edit.text()
            must_change = self.must_change_check.isChecked()

            def work() -> UserInfo:
                return accounts.create_user(
                    desk.db,
                    desk.actor,
                    username,
                    name,
                    role,
                    password,
                    staff_id=staff_id,
                    must_change_password=must_change,
                    now=desk.now(),
                )
        else:
            user_id = user.id

            def work() -> UserInfo:
                return accounts.update_user(
                    desk.db,
                    desk.actor,
                    user_id,
                    display_name=name,
                    role=role,
                    staff_id=staff_id,
                    now=desk.now(),
                )

        self._busy = True
        self.save_button.setEnabled(False)
        run_service(
            self,
            work,
            self._on_saved,
            failed=self._on_failed,
            busy="Saving the user…",
            writes=True,
        )

    def _on_buttons_accepted(self) -> None:
        self.submit()

    def _on_saved(self, info: UserInfo) -> None:
        self._busy = False
        self.save_button.setEnabled(True)
        self.saved.emit(info)
        self.accept()

    def _on_failed(self, error: ServiceError) -> None:
        self._busy = False
        self.save_button.setEnabled(True)
        if isinstance(error, InvalidFields):
            self.fields.show(error.errors)
        else:
            self.fields.show({})
            show_error(self.fields.general, _sentence(str(error)))
            _grow_to_fit(self)


# --------------------------------------------------------------------------------------------
# Resetting a password


class ResetPasswordDialog(QDialog):
    """Give a user a one-time password, generated or typed; the result is shown once, to be
    handed to the user, who must choose their own at the next sign-in.

    Signals:
        reset(str): the one-time password, once saved.
    """

    reset = Signal(str)

    def __init__(self, desk: Desk, user: UserInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._desk = desk
        self._user = user
        self._busy = False
        self.setWindowTitle(f"Reset the password of {user.username}")
        self.setModal(True)
        intro = QLabel(
            f"<b>{html.escape(user.display_name)}</b> gets a one-time password and must choose "
            "a new one at the next sign-in.",
            self,
        )
        intro.setWordWrap(True)
        self.generate_radio = QRadioButton("&Generate a one-time password", self)
        self.generate_radio.setChecked(True)
        self.type_radio = QRadioButton("&Use this one-time password:", self)
        self.password_edit = QLineEdit(self)
        self.password_edit.setAccessibleName("One-time password")
        self.password_edit.setEnabled(False)
        self.password_error = error_label(self)
        self.password_error.setAccessibleName("One-time password problem")
        self.result_label = QLabel(self)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.setWordWrap(True)
        self.result_label.hide()
        self.error_label = error_label(self)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.reset_button = QPushButton("&Reset password", self)
        self.reset_button.setDefault(True)
        self.buttons.addButton(self.reset_button, QDialogButtonBox.ButtonRole.AcceptRole)
        layout = QVBoxLayout(self)
        for widget in (
            intro,
            self.generate_radio,
            self.type_radio,
            self.password_edit,
            self.password_error,
            self.result_label,
            self.error_label,
            self.buttons,
        ):
            layout.addWidget(widget)
        fit_dialog(self, 440)
        self.type_radio.toggled.connect(self._on_type_radio_toggled)
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)

    def _on_type_radio_toggled(self, checked: bool) -> None:
        self.password_edit.setEnabled(checked)
        if checked:
            self.password_edit.setFocus()

    def _on_buttons_accepted(self) -> None:
        if self.result_label.isVisible():
            self.accept()  # "Done" after the password was shown
            return
        self.submit()

    def submit(self) -> None:
        if self._busy:
            return
        desk, user_id = self._desk, self._user.id
        typed = self.password_edit.text() if self.type_radio.isChecked() else None

        def work() -> str:
            return accounts.reset_password(desk.db, desk.actor, user_id, typed, now=desk.now())

        self._busy = True
        self.reset_button.setEnabled(False)
        run_service(
            self, work, self._on_done, failed=self._on_failed, busy="Resetting…", writes=True
        )

    def _on_done(self, one_time: str) -> None:
        self._busy = False
        show_error(self.password_error, "")
        show_error(self.error_label, "")
        for widget in (self.generate_radio, self.type_radio, self.password_edit):
            widget.setEnabled(False)
        self.result_label.setText(
            f"One-time password for <b>{html.escape(self._user.username)}</b>:<br>"
            f"<span style='font-family: monospace; font-size: 14pt'>{html.escape(one_time)}"
            "</span><br>Hand it over now: it is not shown again."
        )
        self.result_label.show()
        _grow_to_fit(self)
        self.reset_button.setText("&Done")
        self.reset_button.setEnabled(True)
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        if cancel is not None:
            cancel.hide()
        self.reset.emit(one_time)

    def _on_failed(self, error: ServiceError) -> None:
        self._busy = False
        self.reset_button.setEnabled(True)
        if isinstance(error, InvalidFields) and "password" in error.errors:
            show_error(self.password_error, _sentence(error.errors["password"]))
            mark_invalid(self.password_edit, error.errors["password"])
        else:
            show_error(self.error_label, _sentence(str(error)))
        _grow_to_fit(self)


# --------------------------------------------------------------------------------------------
# The page


class UsersPage(QWidget):
    """The Users settings page (administrators): every account in a table, with Add…, Edit…,
    Reset password…, Deactivate/Reactivate and "Show inactive".

    Attributes:
        model: the ``UserTableModel``; table: its view (through a sort proxy).
        message_label: the last action's outcome or refusal, in words.
        user_dialog, reset_dialog: the dialog open now, if any (for tests).
    """

    title = "Users"

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._desk = desk
        self._staff: list[StaffChoice] = []
        self._reads = LatestOnly(self, busy="Reading the users…")
        self.user_dialog: UserDialog | None = None
        self.reset_dialog: ResetPasswordDialog | None = None
        self.model = UserTableModel(self)
        self._proxy = QSortFilterProxyModel(self)
        self._proxy.setSourceModel(self.model)
        self._proxy.setSortRole(SORT_ROLE)
        self._build_buttons()
        self._build_table()
        self.message_label = QLabel(self)
        self.message_label.setWordWrap(True)
        self.error_label = error_label(self)
        layout = QVBoxLayout(self)
        layout.addLayout(self._button_row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message_label)
        layout.addWidget(self.error_label)
        # A message appearing must not resize the window around the page (its minimum size).
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self._connect()
        self._update_buttons()
        self.refresh()

    def _build_buttons(self) -> None:
        self.add_button = QPushButton("&Add…", self)
        self.edit_button = QPushButton("&Edit…", self)
        self.reset_button = QPushButton("&Reset password…", self)
        self.active_button = QPushButton("&Deactivate", self)
        self.show_inactive_check = QCheckBox("Show &inactive", self)
        row = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.reset_button, self.active_button):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(self.show_inactive_check)
        self._button_row = row

    def _build_table(self) -> None:
        table = QTableView(self)
        table.setModel(self._proxy)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSortingEnabled(True)
        table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        table.verticalHeader().hide()
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setStretchLastSection(True)
        table.setAccessibleName("Users")
        self.table = table

    def _connect(self) -> None:
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.edit_button.clicked.connect(self._on_edit_button_clicked)
        self.reset_button.clicked.connect(self._on_reset_button_clicked)
        self.active_button.clicked.connect(self._on_active_button_clicked)
        self.show_inactive_check.toggled.connect(self._on_show_inactive_toggled)
        self.table.doubleClicked.connect(self._on_edit_button_clicked)
        selection = self.table.selectionModel()
        selection.selectionChanged.connect(self._on_selection_changed)
        self.model.modelReset.connect(self._update_buttons)

    # -- public ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the accounts again (on a worker); the selection is kept by user id."""
        desk, inactive = self._desk, self.show_inactive_check.isChecked()
        self._reads.run(lambda: read_users_screen(desk, inactive), self._on_read)

    def selected_user(self) -> UserInfo | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.row_or_none(self._proxy.mapToSource(rows[0]).row())

    def select_user(self, user_id: int) -> None:
        for row, user in enumerate(self.model.rows()):
            if user.id == user_id:
                self.table.selectRow(self._proxy.mapFromSource(self.model.index(row, 0)).row())
                return

    # -- slots -------------------------------------------------------------------------------

    def _on_read(self, screen: UsersScreen) -> None:
        selected = self.selected_user()
        self._staff = screen.staff
        self.model.set_rows(screen.users)
        if selected is not None:
            self.select_user(selected.id)
        self._update_buttons()

    def _on_add_button_clicked(self) -> None:
        self._open_user_dialog(None)

    def _on_edit_button_clicked(self) -> None:
        user = self.selected_user()
        if user is not None:
            self._open_user_dialog(user)

    def _on_reset_button_clicked(self) -> None:
        user = self.selected_user()
        if user is None:
            return
        dialog = ResetPasswordDialog(self._desk, user, self)
        dialog.reset.connect(self._on_password_reset)
        dialog.finished.connect(self._on_reset_dialog_finished)
        self.reset_dialog = dialog
        dialog.open()

    def _on_active_button_clicked(self) -> None:
        user = self.selected_user()
        if user is None:
            return
        desk, user_id, active = self._desk, user.id, user.active

        def work() -> UserInfo:
            if active:
                return accounts.deactivate_user(desk.db, desk.actor, user_id, now=desk.now())
            return accounts.reactivate_user(desk.db, desk.actor, user_id, now=desk.now())

        self.active_button.setEnabled(False)
        run_service(
            self,
            work,
            self._on_active_changed,
            failed=self._on_write_failed,
            busy="Saving…",
            writes=True,
        )

    def _on_active_changed(self, info: UserInfo) -> None:
        state = "active again" if info.active else "deactivated: it can no longer sign in"
        self._say(f"{info.username} is {state}.")
        self.refresh()

    def _on_write_failed(self, error: ServiceError) -> None:
        self._update_buttons()
        self.message_label.clear()
        show_error(self.error_label, _sentence(str(error)))

    def _on_show_inactive_toggled(self, _checked: bool) -> None:
        self.refresh()

    def _on_selection_changed(self, *_args: object) -> None:
        self._update_buttons()

    def _on_user_saved(self, info: object) -> None:
        assert isinstance(info, UserInfo)
        self._say(f"{info.username} is saved.")
        self.refresh()

    def _on_user_dialog_finished(self, _result: int) -> None:
        if self.user_dialog is not None:
            self.user_dialog.deleteLater()
        self.user_dialog = None

    def _on_password_reset(self, _one_time: str) -> None:
        user = self.selected_user()
        who = user.username if user else "The user"
        self._say(f"{who} has a one-time password and must choose a new one at sign-in.")
        self.refresh()

    def _on_reset_dialog_finished(self, _result: int) -> None:
        if self.reset_dialog is not None:
            self.reset_dialog.deleteLater()
        self.reset_dialog = None

    # -- internals ---------------------------------------------------------------------------

    def _open_user_dialog(self, user: UserInfo | None) -> None:
        dialog = UserDialog(self._desk, self._staff, user, self)
        dialog.saved.connect(self._on_user_saved)
        dialog.finished.connect(self._on_user_dialog_finished)
        self.user_dialog = dialog
        dialog.open()

    def _say(self, message: str) -> None:
        show_error(self.error_label, "")
        self.message_label.setText(message)

    def _update_buttons(self) -> None:
        user = self.selected_user()
        for button in (self.edit_button, self.reset_button, self.active_button):
            button.setEnabled(user is not None)
        self.active_button.setText("&Reactivate" if user and not user.active else "&Deactivate")
