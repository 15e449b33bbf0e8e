"""The Staff settings page: the clinic's staff in a table, and a dialog to add or edit one
(details, weekly shifts every week or every other week, the phases they may be booked for).

Reads and writes go through the staff settings service on a worker (``run_service``); the
widgets hold rows, never a database session.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence

from PySide6.QtCore import QDate, QSize, Qt, QTime, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
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
    QPushButton,
    QTableView,
    QTableWidget,
    QTabWidget,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.catalog import WEEKDAYS
from ketadesk.scheduling.dates import clock
from ketadesk.services.common.context import InvalidFields, ServiceError
from ketadesk.services.common.phones import display_phone
from ketadesk.services.schedule.day import clinic_today
from ketadesk.services.settings.staff import (
    ROLES,
    PhaseChoice,
    ShiftRow,
    StaffForm,
    StaffInfo,
    StaffScreen,
    StaffStillBooked,
    add_staff,
    role_label,
    set_staff_active,
    staff_screen,
    update_staff,
)
from ketadesk.ui.common.background import run_service
from ketadesk.ui.common.colors import is_dark
from ketadesk.ui.common.date_fields import DateField, TimeField
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.sizing import fixed_minimum
from ketadesk.ui.common.table_model import ROW_ROLE, RowTableModel, TableColumn

ERROR_COLORS = {"light": "#b3261e", "dark": "#f2b8b5"}
DIALOG_MINIMUM = QSize(720, 480)
PAGE_MINIMUM = QSize(480, 240)
# How many bookings a refusal to deactivate lists before "and N more".
LISTED_SESSIONS = 8
REPEATS = (("Every week", 1), ("Every other week", 2))
DETAIL_FIELDS = (
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("credentials", "Credentials (as printed)"),
    ("name", "Name on the schedule"),
    ("phone", "Phone"),
    ("email", "E-mail"),
)


def error_color(palette: QPalette) -> QColor:
    return QColor(ERROR_COLORS["dark" if is_dark(palette) else "light"])


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _day_ranges(days: Sequence[int]) -> str:
    """Weekdays as ranges: [0, 1, 2, 4] -> "Mon-Wed, Fri"."""
    parts: list[str] = []
    run: list[int] = []
    for day in sorted(days):
        if run and day != run[-1] + 1:
            parts.append(_run_text(run))
            run = []
        run.append(day)
    if run:
        parts.append(_run_text(run))
    return ", ".join(parts)


def _run_text(run: Sequence[int]) -> str:
    first, last = WEEKDAYS[run[0]].capitalize(), WEEKDAYS[run[-1]].capitalize()
    return first if len(run) == 1 else f"{first}-{last}"


def shifts_summary(shifts: Sequence[ShiftRow], time_format: str) -> str:
    """The week in a line, days with the same hours and repeat together:
    "Mon-Fri 7:00 AM–6:30 PM; Sat 9:00 AM–1:00 PM, every other week from 11/30/2026"."""
    groups: dict[tuple[int, int, int, dt.date | None], list[int]] = {}
    for s in shifts:
        key = (s.start_minute, s.end_minute, s.every_n_weeks, s.anchor)
        groups.setdefault(key, []).append(s.weekday)
    parts = []
    for (start, end, n, anchor), days in groups.items():
        sample = ShiftRow(days[0], start, end, n, anchor)
        text = sample.describe(time_format).split(" ", 1)[1]
        parts.append(f"{_day_ranges(days)} {text}")
    return "; ".join(parts) or "no shifts"


def _to_qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _from_qdate(value: QDate) -> dt.date:
    return dt.date(value.year(), value.month(), value.day())


def staff_columns(time_format: Callable[[], str]) -> tuple[TableColumn[StaffInfo], ...]:
    """The staff table's columns; shifts in the clinic's time format as last read."""
    return (
        TableColumn("Name", lambda s: s.name),
        TableColumn("Role", lambda s: s.role_label),
        TableColumn("Credentials", lambda s: s.credentials),
        TableColumn("Phone", lambda s: display_phone(s.phone)),
        TableColumn(
            "Shifts",
            lambda s: shifts_summary(s.shifts, time_format()),
            tooltip=lambda s: s.printed_name,
        ),
        TableColumn(
            "Booked for",
            lambda s: f"{len(s.qualifications)} phases" if s.qualifications else "anything",
        ),
        TableColumn("Status", lambda s: "active" if s.active else "inactive"),
    )


class StaffTableModel(RowTableModel[StaffInfo]):
    """The staff table: one row per ``StaffInfo``; inactive rows greyed.

    Attributes:
        time_format: how the clinic reads a time of day (its shifts are shown so).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        self.time_format = "12h"
        super().__init__(staff_columns(lambda: self.time_format), parent)

    def cell_data(self, row: StaffInfo, column: int, role: int) -> object:
        if role == Qt.ItemDataRole.ForegroundRole and not row.active:
            return QColor("#888888")
        return None


class ShiftEditor(QWidget):
    """The weekly shift grid: one row per shift (day, from, to, every week or every other
    week, starting the week of a date); rows added and removed with the buttons below."""

    DAY, FROM, TO, REPEATS, ANCHOR = range(5)

    def __init__(
        self, today: dt.date, parent: QWidget | None = None, *, time_format: str = "12h"
    ) -> None:
        super().__init__(parent)
        self._today = today
        self._time_format = time_format
        self.table = QTableWidget(0, 5, self)
        self.table.setHorizontalHeaderLabels(
            ["Day", "From", "To", "Repeats", "Starting the week of"]
        )
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.add_button = QPushButton("Add shift", self)
        self.remove_button = QPushButton("Remove shift", self)
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(self.error)
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)

    def _on_add_button_clicked(self) -> None:
        # A new row copies the last one to the next weekday: typing a week is five clicks.
        rows = self.shifts()
        if rows:
            last = rows[-1]
            self.add_shift(dataclasses.replace(last, weekday=min(last.weekday + 1, 6)))
        else:
            self.add_shift(ShiftRow(0, 8 * 60, 17 * 60))

    def _on_remove_button_clicked(self) -> None:
        row = self.table.currentRow()
        if row < 0:
            row = self.table.rowCount() - 1
        if row >= 0:
            self.table.removeRow(row)

    def add_shift(self, shift: ShiftRow) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        day = QComboBox()
        for i in range(len(WEEKDAYS)):
            day.addItem(dt.date(2024, 1, 1 + i).strftime("%A"), i)  # 1 Jan 2024 was a Monday
        day.setCurrentIndex(shift.weekday)
        fmt = self._time_format
        start, end = TimeField(time_format=fmt), TimeField(time_format=fmt)
        start.setTime(QTime(shift.start_minute // 60, shift.start_minute % 60))
        end_minute = min(shift.end_minute, 24 * 60 - 1)
        end.setTime(QTime(end_minute // 60, end_minute % 60))
        repeats = QComboBox()
        for text, n in REPEATS:
            repeats.addItem(text, n)
        repeats.setCurrentIndex(max(0, repeats.findData(shift.every_n_weeks)))
        anchor = DateField()
        anchor.setDate(_to_qdate(shift.anchor or week_start(self._today)))
        anchor.setEnabled(shift.every_n_weeks > 1)
        repeats.currentIndexChanged.connect(
            lambda _i, r=repeats, a=anchor: a.setEnabled(r.currentData() != 1)
        )
        self.table.setCellWidget(row, self.DAY, day)
        self.table.setCellWidget(row, self.FROM, start)
        self.table.setCellWidget(row, self.TO, end)
        self.table.setCellWidget(row, self.REPEATS, repeats)
        self.table.setCellWidget(row, self.ANCHOR, anchor)

    def set_shifts(self, shifts: Sequence[ShiftRow]) -> None:
        self.table.setRowCount(0)
        for s in shifts:
            self.add_shift(s)

    def _widget(self, row: int, column: int) -> QWidget:
        widget = self.table.cellWidget(row, column)
        assert widget is not None
        return widget

    def shifts(self) -> tuple[ShiftRow, ...]:
        out = []
        for row in range(self.table.rowCount()):
            day = self._widget(row, self.DAY)
            start = self._widget(row, self.FROM)
            end = self._widget(row, self.TO)
            repeats = self._widget(row, self.REPEATS)
            anchor = self._widget(row, self.ANCHOR)
            assert isinstance(day, QComboBox)
            assert isinstance(repeats, QComboBox)
            assert isinstance(start, QTimeEdit)
            assert isinstance(end, QTimeEdit)
            assert isinstance(anchor, QDateEdit)
            n = int(repeats.currentData())
            out.append(
                ShiftRow(
                    weekday=int(day.currentData()),
                    start_minute=start.time().hour() * 60 + start.time().minute(),
                    end_minute=end.time().hour() * 60 + end.time().minute(),
                    every_n_weeks=n,
                    anchor=week_start(_from_qdate(anchor.date())) if n > 1 else None,
                )
            )
        return tuple(out)

    def set_row(self, row: int, **values: object) -> None:
        """Set a row's cells from values (``weekday``, ``start``/``end`` as "HH:MM",
        ``every_n_weeks``, ``anchor``): what a user does with the editors, for tests."""
        if "weekday" in values:
            day = self._widget(row, self.DAY)
            assert isinstance(day, QComboBox)
            day.setCurrentIndex(int(values["weekday"]))  # type: ignore[call-overload]
        for key, column in (("start", self.FROM), ("end", self.TO)):
            if key in values:
                editor = self._widget(row, column)
                assert isinstance(editor, QTimeEdit)
                editor.setTime(QTime.fromString(str(values[key]), "HH:mm"))
        if "every_n_weeks" in values:
            repeats = self._widget(row, self.REPEATS)
            assert isinstance(repeats, QComboBox)
            repeats.setCurrentIndex(repeats.findData(values["every_n_weeks"]))
        if "anchor" in values:
            anchor = self._widget(row, self.ANCHOR)
            assert isinstance(anchor, QDateEdit)
            assert isinstance(values["anchor"], dt.date)
            anchor.setDate(_to_qdate(values["anchor"]))

    def show_errors(self, errors: dict[str, str]) -> None:
        messages = [m for k, m in errors.items() if k.startswith("shifts")]
        self.error.setText("\n".join(messages))
        self.error.setVisible(bool(messages))


class StaffDialog(QDialog):
    """Add or edit one staff member: details, weekly shifts, what they may be booked for.

    Signals:
        saved(object): the ``StaffInfo`` as saved.
        not_saved(): the service refused; the mistakes are shown at their fields.
    """

    saved = Signal(object)
    not_saved = Signal()

    def __init__(
        self,
        desk: Desk,
        phases: Sequence[PhaseChoice],
        today: dt.date,
        original: StaffInfo | None = None,
        parent: QWidget | None = None,
        *,
        time_format: str = "12h",
    ) -> None:
        super().__init__(parent)
        self._desk = desk
        self._phases = tuple(phases)
        self._time_format = time_format
        self._saving = False
        self.original = original
        self.setWindowTitle(f"Edit {original.name}" if original else "Add a staff member")
        self.tabs = QTabWidget(self)
        self.errors: dict[str, QLabel] = {}
        self.fields: dict[str, QLineEdit] = {}
        self.tabs.addTab(self._build_details(), "Details")
        self.shift_editor = ShiftEditor(today, self, time_format=time_format)
        self.tabs.addTab(self.shift_editor, "Weekly shifts")
        self.tabs.addTab(self._build_qualifications(), "Booked for")
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.role.currentIndexChanged.connect(self._on_role_current_index_changed)
        for label in (*self.errors.values(), self.message, self.shift_editor.error):
            label.setStyleSheet(f"color: {error_color(self.palette()).name()}")
        fixed_minimum(self, DIALOG_MINIMUM)
        self.set_form(original.as_form() if original else StaffForm("nurse", "", ""))

    # -- parts ----------------------------------------------------------------------------------

    def _error_label(self, name: str, parent: QWidget) -> QLabel:
        label = QLabel(parent)
        label.setWordWrap(True)
        label.setVisible(False)
        self.errors[name] = label
        return label

    def _build_details(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        self.role = QComboBox(page)
        for role in ROLES:
            self.role.addItem(role_label(role), role)
        form.addRow("Role", self.role)
        form.addRow("", self._error_label("role", page))
        for name, label in DETAIL_FIELDS:
            edit = QLineEdit(page)
            edit.setObjectName(name)
            self.fields[name] = edit
            form.addRow(label, edit)
            form.addRow("", self._error_label(name, page))
        self.fields["name"].setPlaceholderText("first and last name")
        return page

    def _build_qualifications(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        hint = QLabel(
            "Tick the phases this person may be booked for. With none ticked they may be "
            "booked for every phase their role is asked for.",
            page,
        )
        hint.setWordWrap(True)
        self.qualifications = QListWidget(page)
        layout.addWidget(hint)
        layout.addWidget(self.qualifications)
        layout.addWidget(self._error_label("qualifications", page))
        return page

    # -- the form ---------------------------------------------------------------------------------

    def _fill_qualifications(self, role: str, ticked: set[tuple[str, str]]) -> None:
        self.qualifications.clear()
        for choice in self._phases:
            if role not in choice.roles:
                continue
            item = QListWidgetItem(choice.label, self.qualifications)
            item.setData(Qt.ItemDataRole.UserRole, (choice.session_type, choice.phase))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            key = (choice.session_type, choice.phase)
            item.setCheckState(Qt.CheckState.Checked if key in ticked else Qt.CheckState.Unchecked)

    def _ticked(self) -> tuple[tuple[str, str], ...]:
        out = []
        for i in range(self.qualifications.count()):
            item = self.qualifications.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                session_type, phase = item.data(Qt.ItemDataRole.UserRole)
                out.append((str(session_type), str(phase)))
        return tuple(out)

    def _on_role_current_index_changed(self, _index: int) -> None:
        self._fill_qualifications(str(self.role.currentData()), set(self._ticked()))

    def set_form(self, form: StaffForm) -> None:
        self.role.blockSignals(True)
        self.role.setCurrentIndex(max(0, self.role.findData(form.role)))
        self.role.blockSignals(False)
        for name, edit in self.fields.items():
            edit.setText(str(getattr(form, name)))
        self.shift_editor.set_shifts(form.shifts)
        self._fill_qualifications(form.role, set(form.qualifications))

    def form(self) -> StaffForm:
        texts = {name: edit.text() for name, edit in self.fields.items()}
        return StaffForm(
            role=str(self.role.currentData()),
            shifts=self.shift_editor.shifts(),
            qualifications=self._ticked(),
            **texts,
        )

    def show_errors(self, errors: dict[str, str]) -> None:
        for name, label in self.errors.items():
            label.setText(errors.get(name, ""))
            label.setVisible(name in errors)
        self.shift_editor.show_errors(errors)
        if errors:
            first = next(iter(errors))
            tab = 1 if first.startswith("shifts") else 2 if first == "qualifications" else 0
            self.tabs.setCurrentIndex(tab)
            self._show_message("Not saved: " + "; ".join(errors.values()))

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # -- saving -----------------------------------------------------------------------------------

    def is_saving(self) -> bool:
        return self._saving

    def save(self) -> None:
        """Save on the writer worker: then ``saved`` and the dialog closes, or the mistakes
        are shown at their fields and the dialog stays open."""
        if self._saving:
            return
        form, desk = self.form(), self._desk
        staff_id = self.original.id if self.original else None

        def work() -> StaffInfo | InvalidFields:
            try:
                if staff_id is None:
                    return add_staff(desk.db, desk.actor, form, now=desk.now())
                return update_staff(desk.db, desk.actor, staff_id, form, now=desk.now())
            except InvalidFields as err:
                return err

        self._saving = True
        self.buttons.setEnabled(False)
        run_service(
            self,
            work,
            self._on_save_done,
            failed=self._on_save_refused,
            busy="Saving the staff member…",
            writes=True,
        )

    def _on_save_done(self, outcome: StaffInfo | InvalidFields) -> None:
        self._saving = False
        self.buttons.setEnabled(True)
        if isinstance(outcome, InvalidFields):
            self.show_errors(outcome.errors)
            self.not_saved.emit()
            return
        self.show_errors({})
        self.saved.emit(outcome)
        self.accept()

    def _on_save_refused(self, err: ServiceError) -> None:
        self._saving = False
        self.buttons.setEnabled(True)
        self._show_message(f"Not saved: {err}")
        self.not_saved.emit()


class StaffPage(QWidget):
    """Settings ▸ Staff: the clinic's staff, with Add…, Edit… and Deactivate / Reactivate.

    Signals:
        loaded(): the table holds what the services last said.
        changed(): a staff member was added, edited, deactivated or reactivated.

    Attributes:
        dialog: the add/edit dialog while one is open (tests fill it in).
    """

    title = "Staff"
    loaded = Signal()
    changed = Signal()

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._desk = desk
        self._screen = StaffScreen(())
        self._today = desk.now().date()
        self.dialog: StaffDialog | None = None
        self.model = StaffTableModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.add_button = QPushButton("Add…", self)
        self.edit_button = QPushButton("Edit…", self)
        self.active_button = QPushButton("Deactivate", self)
        self.show_inactive = QCheckBox("Show inactive", self)
        self.show_inactive.setChecked(True)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.active_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.show_inactive)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table)
        layout.addWidget(self.message)
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.edit_button.clicked.connect(self._on_edit_button_clicked)
        self.active_button.clicked.connect(self._on_active_button_clicked)
        self.show_inactive.toggled.connect(self.refresh)
        self.table.doubleClicked.connect(self._on_edit_button_clicked)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self._on_selection_changed()
        fixed_minimum(self, PAGE_MINIMUM)
        self.refresh()

    # -- reading ----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the staff and the session types' phases on a worker."""
        db, now, inactive = self._desk.db, self._desk.now(), self.show_inactive.isChecked()

        def work() -> tuple[StaffScreen, dt.date]:
            return staff_screen(db, include_inactive=inactive), clinic_today(db, now=now)

        run_service(self, work, self._on_loaded, busy="Reading the staff…")

    def _on_loaded(self, result: tuple[StaffScreen, dt.date]) -> None:
        selected = self.selected()
        self._screen, self._today = result
        self.model.time_format = self._screen.time_format
        self.model.set_rows(self._screen.staff)
        if selected is not None:
            self.select(selected.id)
        self._on_selection_changed()
        self.loaded.emit()

    def selected(self) -> StaffInfo | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        row = index.siblingAtColumn(0).data(ROW_ROLE)
        return row if isinstance(row, StaffInfo) else None

    def select(self, staff_id: int) -> None:
        for i, row in enumerate(self.model.rows()):
            if row.id == staff_id:
                self.table.selectRow(i)
                return

    def _on_selection_changed(self, *_args: object) -> None:
        row = self.selected()
        self.edit_button.setEnabled(row is not None)
        self.active_button.setEnabled(row is not None)
        self.active_button.setText("Reactivate" if row and not row.active else "Deactivate")

    # -- writing ----------------------------------------------------------------------------------

    def _open_dialog(self, original: StaffInfo | None) -> StaffDialog:
        dialog = StaffDialog(
            self._desk,
            self._screen.phases,
            self._today,
            original,
            self,
            time_format=self._screen.time_format,
        )
        dialog.saved.connect(self._on_dialog_saved)
        dialog.finished.connect(self._on_dialog_finished)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _on_add_button_clicked(self) -> None:
        self._open_dialog(None)

    def _on_edit_button_clicked(self, *_args: object) -> None:
        row = self.selected()
        if row is not None:
            self._open_dialog(row)

    def _on_dialog_saved(self, info: StaffInfo) -> None:
        warned = "".join(f" Note: {w}." for w in info.warnings)
        self.message.setText(f"Saved {info.name}.{warned}")
        self.changed.emit()
        self.refresh()

    def _on_dialog_finished(self, _result: int) -> None:
        self.dialog = None

    def _on_active_button_clicked(self) -> None:
        row = self.selected()
        if row is not None:
            self.set_active(row, not row.active)

    def set_active(self, row: StaffInfo, active: bool, *, force: bool = False) -> None:
        desk = self._desk

        def work() -> StaffInfo:
            return set_staff_active(
                desk.db, desk.actor, row.id, active, force=force, now=desk.now()
            )

        def failed(err: ServiceError) -> None:
            if isinstance(err, StaffStillBooked) and self.confirm_deactivation(self, err):
                self.set_active(row, active, force=True)
            else:
                self.message.setText(f"Not changed: {err}")

        def done(info: StaffInfo) -> None:
            self.message.setText(f"{info.name} is {'active' if info.active else 'inactive'}.")
            self.changed.emit()
            self.refresh()

        run_service(self, work, done, failed=failed, busy="Saving…", writes=True)

    @staticmethod
    def confirm_deactivation(parent: QWidget, err: StaffStillBooked) -> bool:
        """Ask whether to deactivate a staff member who still holds sessions (tests replace
        this)."""
        lines = [
            f"{s.starts_at:%m/%d/%Y} {clock(s.starts_at, s.time_format)}  {s.patient}, "
            f"{s.session_type}"
            for s in err.sessions[:LISTED_SESSIONS]
        ]
        more = len(err.sessions) - LISTED_SESSIONS
        if more > 0:
            lines.append(f"… and {more} more")
        answer = QMessageBox.question(
            parent,
            "Still booked",
            f"{err}.\n\n" + "\n".join(lines) + "\n\nDeactivate anyway?",
        )
        return answer == QMessageBox.StandardButton.Yes
