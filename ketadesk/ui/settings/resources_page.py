"""The "Rooms and equipment" settings page: a table of the clinic's rooms and equipment with
Add…, Edit…, Retire/Reactivate and "Show retired", and the dialog that adds or edits one.

Every read and write goes through ``services/settings/resources.py`` on a worker; the page
holds no rule of its own (which subkinds and session types are offered comes with the list).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QSize, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor, QPalette
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
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.availability import subkind_label
from ketadesk.services.common.context import InvalidFields, ServiceError, may
from ketadesk.services.settings.readiness import ClinicReadiness, clinic_readiness
from ketadesk.services.settings.resources import (
    KIND_LABELS,
    KINDS,
    ResourceChoices,
    ResourceForm,
    ResourceInUse,
    ResourceList,
    ResourceRow,
    RetireResult,
    add_resource,
    form_of,
    list_resources,
    reactivate_resource,
    retire_resource,
    update_resource,
)
from ketadesk.ui.common.background import LatestOnly, run_service
from ketadesk.ui.common.colors import is_dark, mix
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.sizing import fixed_minimum
from ketadesk.ui.common.table_model import SORT_ROLE, RowTableModel, TableColumn

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


FIELD_LABELS = {
    "kind": "Kind",
    "subkind": "Type",
    "name": "Name",
    "short_name": "Short name",
    "capacity": "Capacity",
    "serves": "Session types served",
    "notes": "Notes",
}
#: Error text: a red that reads on light and on dark backgrounds (as the patient form's).
ERROR_COLORS = {"light": "#b3261e", "dark": "#f2b8b5"}
DIALOG_MINIMUM = QSize(520, 520)
PAGE_MINIMUM = QSize(640, 360)
NOTES_ROWS = 3
#: The session types list shows this many rows before it scrolls.
SERVED_ROWS = 6
SERVED_ROW_PADDING = 4
#: How far a retired row's text fades towards the background.
RETIRED_FADE = 0.45


# --------------------------------------------------------------------------------------------
# Words for a row (plain functions: testable without a window)


def served_text(row: ResourceRow, names: dict[str, str]) -> str:
    if not row.serves:
        return "All that use it"
    return ", ".join(names.get(code, code) for code in row.serves)


def status_text(row: ResourceRow) -> str:
    if not row.active:
        return "Retired"
    return row.out_of_service or "In use"


def booked_text(row: ResourceRow) -> str:
    return str(row.sessions_ahead) if row.sessions_ahead else ""


class ResourceTableModel(RowTableModel[ResourceRow]):
    """The rooms and equipment, one row each; retired rows are faded."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self._names: dict[str, str] = {}
        self._faded: QColor | None = None
        columns: Sequence[TableColumn[ResourceRow]] = (
            TableColumn("Name", lambda r: r.name),
            TableColumn("Short", lambda r: r.short_name),
            TableColumn("Kind", lambda r: r.kind_label),
            TableColumn("Type", lambda r: r.subkind_label.capitalize()),
            TableColumn(
                "Capacity",
                lambda r: str(r.capacity),
                sort_key=lambda r: r.capacity,
                alignment=Qt.AlignmentFlag.AlignCenter,
            ),
            TableColumn("Session types served", lambda r: served_text(r, self._names)),
            TableColumn(
                "Booked ahead",
                booked_text,
                sort_key=lambda r: r.sessions_ahead,
                alignment=Qt.AlignmentFlag.AlignCenter,
                tooltip=lambda r: "booked sessions from now on that hold it",
            ),
            TableColumn("Status", status_text, tooltip=status_text),
        )
        super().__init__(columns, parent)

    def set_list(self, listing: ResourceList, palette: QPalette) -> None:
        self._names = dict(listing.session_type_names)
        self._faded = mix(
            palette.color(QPalette.ColorRole.Text),
            palette.color(QPalette.ColorRole.Base),
            RETIRED_FADE,
        )
        self.set_rows(listing.rows)

    @override
    def cell_data(self, row: ResourceRow, column: int, role: int) -> object:
        if role == Qt.ItemDataRole.ForegroundRole and not row.active:
            return self._faded
        return None


# --------------------------------------------------------------------------------------------
# The dialog


class _Field:
    """One form field: its editor and the label under it that names what is wrong."""

    def __init__(self, name: str, editor: QWidget, error: QLabel) -> None:
        self.name = name
        self.editor = editor
        self.error = error

    def set_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))
        label = FIELD_LABELS[self.name]
        self.editor.setAccessibleDescription(f"{label}: {message}" if message else "")


def readiness_lines(readiness: ClinicReadiness) -> str:
    """Which session types the clinic can book, one line each, and the verdict (rich text)."""
    lines = "".join(
        f"<li>{escape(t.text())}</li>" if t.ready else f"<li><b>{escape(t.text())}</b></li>"
        for t in readiness.session_types
    )
    return f"<p>{escape(readiness.verdict())}</p><ul>{lines}</ul>"


def subkind_choice_text(choices: ResourceChoices, kind: str, subkind: str) -> str:
    """A subkind as the Type list offers it, with the session types that need it:
    "Pulse oximeter (needed by Spravato (esketamine))"; equipment no session type holds is
    still worth listing (a clinic keeps a pump or a spare for good reasons), so it says what
    that means rather than sounding wrong: "Infusion pump (kept on record; no booking
    reserves one)"."""
    label = subkind_label(subkind).capitalize()
    users = [t.name for t in choices.session_types_for(kind, subkind)]
    if not users:
        return f"{label} (kept on record; no booking reserves one)"
    return f"{label} (needed by {', '.join(users)})"


def subkind_choice_tip(choices: ResourceChoices, kind: str, subkind: str) -> str:
    """What choosing a subkind means for the schedule, for its tooltip in the Type list."""
    label = subkind_label(subkind)
    users = [t.name for t in choices.session_types_for(kind, subkind)]
    if users:
        return f"Booking {' or '.join(users)} reserves {_a(label)}."
    return (
        f"No session type holds {_a(label)}: it is listed with the clinic's equipment, and "
        "bookings never wait for one."
    )


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


class ResourceDialog(QDialog):
    """Add a room or piece of equipment (``row`` None) or edit one.

    Signals:
        saved(int): the resource's id, once the services saved it.
        not_saved(): a save came back with mistakes (marked at their fields) or a refusal.

    Attributes:
        fields: the form's fields by name (their editors and error labels).
        served: the checkable list of session types this resource may serve.
    """

    saved = Signal(int)
    not_saved = Signal()

    def __init__(
        self,
        desk: Desk,
        choices: ResourceChoices,
        row: ResourceRow | None = None,
        parent: QWidget | None = None,
        *,
        kind: str = "room",
    ) -> None:
        super().__init__(parent)
        self._desk = desk
        self._choices = choices
        self.resource_id = row.id if row is not None else None
        self._saving = False
        self.fields: dict[str, _Field] = {}
        what = "room" if (row.kind if row else kind) == "room" else "equipment"
        self.setWindowTitle(f"Edit {row.name}" if row is not None else f"Add {what}")
        outer = QVBoxLayout(self)
        outer.addLayout(self._build_form())
        outer.addStretch(1)  # extra height below the fields, not between them
        self.message = self._error_label("message")
        outer.addWidget(self.message)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        outer.addWidget(self.buttons)
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        self.set_form(form_of(row) if row is not None else ResourceForm(kind=kind, subkind=""))
        if row is not None:
            self.kind.setEnabled(False)  # a room stays a room
        fixed_minimum(self, DIALOG_MINIMUM)
        self.name.setFocus()

    # -- building -----------------------------------------------------------------------------

    def _build_form(self) -> QFormLayout:
        form = QFormLayout()
        self.kind = QComboBox(self)
        for kind in KINDS:
            self.kind.addItem(KIND_LABELS[kind], kind)
        self.subkind = QComboBox(self)
        self.name = QLineEdit(self)
        self.short_name = QLineEdit(self)
        self.short_name.setPlaceholderText("shown where space is short, e.g. R1")
        self.capacity = QLineEdit(self)
        self.capacity.setToolTip(
            "How many sessions may share it at once where a session type shares it;"
            " a session that holds it exclusively always has it to itself"
        )
        self.served = QListWidget(self)
        rows = self.served.fontMetrics().lineSpacing() + SERVED_ROW_PADDING
        self.served.setFixedHeight(rows * SERVED_ROWS + 2 * self.served.frameWidth())
        self.served_hint = QLabel(self)
        self.served_hint.setWordWrap(True)
        self.notes = QPlainTextEdit(self)
        self.notes.setTabChangesFocus(True)
        lines = self.notes.fontMetrics().lineSpacing() * NOTES_ROWS
        self.notes.setFixedHeight(lines + 2 * self.notes.frameWidth() + 8)
        editors: dict[str, QWidget] = {
            "kind": self.kind,
            "subkind": self.subkind,
            "name": self.name,
            "short_name": self.short_name,
            "capacity": self.capacity,
            "serves": self.served,
            "notes": self.notes,
        }
        for name, editor in editors.items():
            self._add_field(form, name, editor)
        self.kind.currentIndexChanged.connect(self._on_kind_changed)
        self.subkind.currentIndexChanged.connect(self._on_subkind_changed)
        return form

    def _error_label(self, name: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(f"error_{name}")
        label.setWordWrap(True)
        label.setVisible(False)
        palette = label.palette()
        tone = "dark" if is_dark(self.palette()) else "light"
        palette.setColor(QPalette.ColorRole.WindowText, QColor(ERROR_COLORS[tone]))
        label.setPalette(palette)
        return label

    def _add_field(self, form: QFormLayout, name: str, editor: QWidget) -> None:
        label = FIELD_LABELS[name]
        editor.setObjectName(f"field_{name}")
        editor.setAccessibleName(label)
        error = self._error_label(name)
        error.setAccessibleName(f"{label} problem")
        cell = QWidget(self)
        stack = QVBoxLayout(cell)
        stack.setContentsMargins(0, 0, 0, 0)
        stack.setSpacing(2)
        stack.addWidget(editor)
        if name == "serves":
            stack.addWidget(self.served_hint)
        stack.addWidget(error)
        caption = QLabel(f"{label}:", self)
        caption.setBuddy(editor)
        form.addRow(caption, cell)
        self.fields[name] = _Field(name, editor, error)

    # -- the form -----------------------------------------------------------------------------

    def _fill_subkinds(self, kind: str, chosen: str) -> None:
        self.subkind.blockSignals(True)
        self.subkind.clear()
        for subkind in self._choices.subkinds.get(kind, ()):
            self.subkind.addItem(subkind_choice_text(self._choices, kind, subkind), subkind)
            self.subkind.setItemData(
                self.subkind.count() - 1,
                subkind_choice_tip(self._choices, kind, subkind),
                Qt.ItemDataRole.ToolTipRole,
            )
        self.subkind.setCurrentIndex(max(self.subkind.findData(chosen), 0))
        self.subkind.blockSignals(False)

    def _fill_served(self, checked: Sequence[str]) -> None:
        kind, subkind = str(self.kind.currentData()), str(self.subkind.currentData())
        self.served.clear()
        for choice in self._choices.session_types_for(kind, subkind):
            item = QListWidgetItem(choice.name, self.served)
            item.setData(Qt.ItemDataRole.UserRole, choice.code)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            on = choice.code in checked
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        label = subkind_label(subkind)
        self.served_hint.setText(
            f"None ticked: every session type that uses a {label}."
            if self.served.count()
            else f"Kept on record: no session type reserves {_a(label)}."
        )

    def form(self) -> ResourceForm:
        checked = tuple(
            str(item.data(Qt.ItemDataRole.UserRole))
            for item in (self.served.item(i) for i in range(self.served.count()))
            if item.checkState() == Qt.CheckState.Checked
        )
        return ResourceForm(
            kind=str(self.kind.currentData()),
            subkind=str(self.subkind.currentData() or ""),
            name=self.name.text(),
            short_name=self.short_name.text(),
            capacity=self.capacity.text(),
            serves=checked,
            notes=self.notes.toPlainText(),
        )

    def set_form(self, form: ResourceForm) -> None:
        self.kind.blockSignals(True)
        self.kind.setCurrentIndex(max(self.kind.findData(form.kind), 0))
        self.kind.blockSignals(False)
        self._fill_subkinds(str(self.kind.currentData()), form.subkind)
        self._fill_served(form.serves)
        self.name.setText(form.name)
        self.short_name.setText(form.short_name)
        self.capacity.setText(form.capacity)
        self.notes.setPlainText(form.notes)

    def _on_kind_changed(self) -> None:
        self._fill_subkinds(str(self.kind.currentData()), "")
        self._fill_served(())

    def _on_subkind_changed(self) -> None:
        self._fill_served(())

    def errors(self) -> dict[str, str]:
        """The messages shown at the fields now."""
        return {n: f.error.text() for n, f in self.fields.items() if f.error.isVisibleTo(self)}

    def show_errors(self, errors: dict[str, str]) -> None:
        for name, field in self.fields.items():
            field.set_error(errors.get(name, ""))
        if errors:
            count = len(errors)
            named = ", ".join(FIELD_LABELS.get(n, n) for n in errors)
            self._show_message(
                f"{count} field{'s' if count > 1 else ''} to fix before saving"
                f" (nothing has been saved): {named}."
            )
            first = next(iter(errors))
            if first in self.fields:
                self.fields[first].editor.setFocus()
        else:
            self._show_message("")

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # -- saving -------------------------------------------------------------------------------

    def _on_buttons_accepted(self) -> None:
        self.save()

    def is_saving(self) -> bool:
        return self._saving

    def save(self) -> None:
        """Save on the writer worker: then ``saved`` and the dialog closes, or the mistakes are
        marked at their fields (``not_saved``) and it stays open."""
        if self._saving:
            return
        form = self.form()
        desk, resource_id = self._desk, self.resource_id

        def work() -> int | dict[str, str]:
            try:
                if resource_id is None:
                    return add_resource(desk.db, desk.actor, form, now=desk.now())
                update_resource(desk.db, desk.actor, resource_id, form, now=desk.now())
                return resource_id
            except InvalidFields as err:
                return err.errors

        self._saving = True
        self.buttons.setEnabled(False)
        run_service(
            self,
            work,
            self._on_save_done,
            failed=self._on_save_refused,
            busy="Saving…",
            writes=True,
        )

    def _on_save_done(self, outcome: int | dict[str, str]) -> None:
        self._saving = False
        self.buttons.setEnabled(True)
        if isinstance(outcome, dict):
            self.show_errors(outcome)
            self.not_saved.emit()
            return
        self.resource_id = outcome
        self.show_errors({})
        self.saved.emit(outcome)
        self.accept()

    def _on_save_refused(self, err: ServiceError) -> None:
        self._saving = False
        self.buttons.setEnabled(True)
        self._show_message(f"Not saved: {err}")
        self.not_saved.emit()


# --------------------------------------------------------------------------------------------
# The page


def ask_to_retire_anyway(parent: QWidget, message: str) -> bool:
    """Whether the user retires a resource that still has sessions ahead (they stay booked)."""
    answer = QMessageBox.question(
        parent,
        "Retire anyway?",
        f"{message}\n\nRetire it anyway and leave those sessions booked for you to move?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


class ResourcesPage(QWidget):
    """Rooms and equipment: the table, its buttons and the edit dialog.

    Signals:
        loaded(): a fresh list arrived and is shown.
        changed(): a write went through (the list is read again).

    Attributes:
        model: the table's model (``ResourceTableModel``), behind a sorting proxy.
        dialog: the add/edit dialog open now, if any.
        confirm_force: asks whether to retire a resource with sessions ahead (tests replace it).
    """

    title = "Rooms and equipment"
    loaded = Signal()
    changed = Signal()
    #: "Out of service…" on a room or piece of equipment (its id): the settings window opens
    #: the closure form for it on Closures and time off (a user trial found no way there).
    out_of_service_requested = Signal(int)

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._desk = desk
        self._reads = LatestOnly(self, busy="Reading the rooms and equipment…")
        self._listing: ResourceList | None = None
        self._may_configure = may(desk.actor, "configure")
        self.dialog: ResourceDialog | None = None
        self.confirm_force: Callable[[QWidget, str], bool] = ask_to_retire_anyway
        outer = QVBoxLayout(self)
        outer.addLayout(self._build_buttons())
        outer.addWidget(self._build_table(), 1)
        self.message = QLabel(self)
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(self.message)
        self.readiness = QLabel(self)
        self.readiness.setObjectName("readiness")
        self.readiness.setWordWrap(True)
        self.readiness.setTextFormat(Qt.TextFormat.RichText)
        outer.addWidget(self.readiness)
        self._update_buttons()
        fixed_minimum(self, PAGE_MINIMUM)
        self.refresh()

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.add_room_button = QPushButton("Add room…", self)
        self.add_equipment_button = QPushButton("Add equipment…", self)
        self.edit_button = QPushButton("Edit…", self)
        self.retire_button = QPushButton("Retire", self)
        self.out_of_service_button = QPushButton("Out of service…", self)
        self.out_of_service_button.setToolTip(
            "Take the selected room or equipment out of service for a while (a broken monitor,"
            " a room being painted): Closures and time off, with what it breaks shown first"
        )
        self.show_retired = QCheckBox("Show retired", self)
        for button in (
            self.add_room_button,
            self.add_equipment_button,
            self.edit_button,
            self.retire_button,
            self.out_of_service_button,
        ):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(self.show_retired)
        self.add_room_button.clicked.connect(self._on_add_room_button_clicked)
        self.add_equipment_button.clicked.connect(self._on_add_equipment_button_clicked)
        self.edit_button.clicked.connect(self._on_edit_button_clicked)
        self.retire_button.clicked.connect(self._on_retire_button_clicked)
        self.out_of_service_button.clicked.connect(self._on_out_of_service_button_clicked)
        self.show_retired.toggled.connect(self._on_show_retired_toggled)
        return row

    def _build_table(self) -> QTableView:
        self.model = ResourceTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # No column sorted at first: the clinic's own order (rooms, then equipment, each in
        # its sort order), until the user clicks a header.
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.table.doubleClicked.connect(self._on_table_double_clicked)
        return self.table

    # -- reading ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the list again on a worker (retired ones too when "Show retired" is ticked)."""
        db, now, retired = self._desk.db, self._desk.now, self.show_retired.isChecked()
        self._reads.run(
            lambda: (list_resources(db, include_retired=retired, now=now()), clinic_readiness(db)),
            self._on_read,
        )

    def is_busy(self) -> bool:
        return self._reads.is_busy()

    def _on_read(self, read: tuple[ResourceList, ClinicReadiness]) -> None:
        listing, readiness = read
        self.readiness.setText(readiness_lines(readiness))
        self._on_list_read(listing)

    def _on_list_read(self, listing: ResourceList) -> None:
        chosen = self.selected()
        self._listing = listing
        self.model.set_list(listing, self.palette())
        if chosen is not None:
            self.select(chosen.id)
        self._update_buttons()
        self.loaded.emit()

    # -- selection ----------------------------------------------------------------------------

    def selected(self) -> ResourceRow | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.row_or_none(self.proxy.mapToSource(rows[0]).row())

    def select(self, resource_id: int) -> None:
        for n, row in enumerate(self.model.rows()):
            if row.id == resource_id:
                self.table.selectRow(self.proxy.mapFromSource(self.model.index(n, 0)).row())
                return

    def _on_selection_changed(self) -> None:
        self._update_buttons()

    def _update_buttons(self) -> None:
        row = self.selected()
        ready = self._listing is not None and self._may_configure
        self.add_room_button.setEnabled(ready)
        self.add_equipment_button.setEnabled(ready)
        self.edit_button.setEnabled(ready and row is not None)
        self.retire_button.setEnabled(ready and row is not None)
        self.retire_button.setText("Reactivate" if row is not None and not row.active else "Retire")
        self.out_of_service_button.setEnabled(ready and row is not None and row.active)

    def _on_out_of_service_button_clicked(self) -> None:
        row = self.selected()
        if row is not None:
            self.out_of_service_requested.emit(row.id)

    # -- adding and editing -------------------------------------------------------------------

    def _open_dialog(self, row: ResourceRow | None, kind: str = "room") -> None:
        if self._listing is None:
            return
        dialog = ResourceDialog(self._desk, self._listing.choices, row, self, kind=kind)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._on_dialog_saved)
        dialog.finished.connect(self._on_dialog_finished)
        self.dialog = dialog
        dialog.open()

    def _on_add_room_button_clicked(self) -> None:
        self._open_dialog(None, "room")

    def _on_add_equipment_button_clicked(self) -> None:
        self._open_dialog(None, "equipment")

    def _on_edit_button_clicked(self) -> None:
        row = self.selected()
        if row is not None:
            self._open_dialog(row)

    def _on_table_double_clicked(self) -> None:
        if self._may_configure:
            self._on_edit_button_clicked()

    def _on_dialog_saved(self, resource_id: int) -> None:
        self._show_message("Saved.")
        self.changed.emit()
        self.refresh()

    def _on_dialog_finished(self) -> None:
        self.dialog = None

    # -- retiring -----------------------------------------------------------------------------

    def _on_retire_button_clicked(self) -> None:
        row = self.selected()
        if row is None:
            return
        if row.active:
            self._retire(row, force=False)
        else:
            self._write(
                lambda: reactivate_resource(
                    self._desk.db, self._desk.actor, row.id, now=self._desk.now()
                ),
                f"{row.name} is back in use.",
            )

    def _retire(self, row: ResourceRow, *, force: bool) -> None:
        desk = self._desk

        def work() -> RetireResult:
            return retire_resource(desk.db, desk.actor, row.id, force=force, now=desk.now())

        def done(result: RetireResult) -> None:
            self._after_write(f"{row.name}: {result.message}")

        def failed(err: ServiceError) -> None:
            if isinstance(err, ResourceInUse) and not force:
                if self.confirm_force(self, str(err)):
                    self._retire(row, force=True)
                else:
                    self._show_message(f"{row.name} was not retired. {err}")
                return
            self._show_message(f"Not done: {err}")

        run_service(self, work, done, failed=failed, busy="Retiring…", writes=True)

    def _write(self, work: Callable[[], object], said: str) -> None:
        run_service(
            self,
            work,
            lambda _result: self._after_write(said),
            failed=lambda err: self._show_message(f"Not done: {err}"),
            busy="Saving…",
            writes=True,
        )

    def _after_write(self, said: str) -> None:
        self._show_message(said)
        self.changed.emit()
        self.refresh()

    def _on_show_retired_toggled(self) -> None:
        self.refresh()

    def _show_message(self, text: str) -> None:
        self.message.setText(text)


__all__ = [
    "ResourceDialog",
    "ResourceTableModel",
    "ResourcesPage",
    "ask_to_retire_anyway",
    "booked_text",
    "served_text",
    "status_text",
]
