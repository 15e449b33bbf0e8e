"""The audit viewer: who changed what and when, filtered by user, patient, dates and action.

Read-only by design: the table's items cannot be edited, and there is no action anywhere in
the application that changes or deletes an audit event.  Events are read through
``ketadesk.services.access.audit`` (administrators only) on a worker thread, a page at a time.
"""

from __future__ import annotations

import datetime as dt
from enum import IntEnum
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import (
    QDate,
    QModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QFontDatabase, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.dates import clock
from ketadesk.services.access import audit_log
from ketadesk.services.access.audit_log import AuditRow, action_words
from ketadesk.services.schedule import day as schedule
from ketadesk.ui.access.sign_in import error_label, show_error
from ketadesk.ui.common.background import BackgroundCall
from ketadesk.ui.common.date_fields import DateField
from ketadesk.ui.common.dates import short_date_time, us_long_date
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.table_model import AnyIndex, RowTableModel, TableColumn

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


PAGE_SIZE = 200
ALL_USERS = "All users"
ALL_ACTIONS = "All actions"


class AuditColumn(IntEnum):
    WHEN = 0
    WHO = 1
    ACTION = 2
    WHAT = 3
    PATIENT = 4
    CHANGES = 5
    DETAIL = 6


HEADERS = {
    AuditColumn.WHEN: "When",
    AuditColumn.WHO: "Who",
    AuditColumn.ACTION: "Action",
    AuditColumn.WHAT: "What",
    AuditColumn.PATIENT: "Patient",
    AuditColumn.CHANGES: "Before → after",
    AuditColumn.DETAIL: "Detail",
}


def action_text(action: str) -> str:
    return action_words(action)


def cell_text(row: AuditRow, column: AuditColumn) -> str:
    match column:
        case AuditColumn.WHEN:
            return short_date_time(row.local_at, row.time_format, year=True, seconds=True)
        case AuditColumn.WHO:
            return row.username or "—"
        case AuditColumn.ACTION:
            return action_text(row.action)
        case AuditColumn.WHAT:
            return row.what
        case AuditColumn.PATIENT:
            return row.patient
        case AuditColumn.CHANGES:
            return row.change_summary()
        case AuditColumn.DETAIL:
            return row.detail
    return ""


def describe(row: AuditRow) -> str:
    """The whole event as plain text, for the details pane."""
    lines = [
        f"When:    {us_long_date(row.local_at.date())} "
        f"{clock(row.local_at, row.time_format, seconds=True)} {row.local_at:%Z}",
        f"Who:     {row.username or '—'}",
        f"Action:  {action_text(row.action)}",
        f"What:    {row.what}",
    ]
    if row.patient:
        lines.append(f"Patient: {row.patient}")
    if row.detail:
        lines.append(f"Detail:  {row.detail}")
    changes = row.changes()
    if changes:
        lines.append("")
        lines.append("Field: before → after")
        for key, old, new in changes:
            lines.append(f"  {key}: {row.value_text(old)} → {row.value_text(new)}")
    lines.append("")
    lines.append(f"Event #{row.id}")
    return "\n".join(lines)


def _audit_column(column: AuditColumn) -> TableColumn[AuditRow]:
    def text(row: AuditRow) -> str:
        return cell_text(row, column)

    whole = column in (AuditColumn.CHANGES, AuditColumn.DETAIL)  # too long for their cells
    return TableColumn(
        HEADERS[column],
        text,
        sort_key=(lambda row: row.at) if column is AuditColumn.WHEN else None,
        tooltip=describe if whole else None,
    )


AUDIT_COLUMNS = tuple(_audit_column(column) for column in AuditColumn)


class AuditTableModel(RowTableModel[AuditRow]):
    """Audit events, newest first; read-only."""

    TEXT_ROLES = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(AUDIT_COLUMNS, parent)

    def append_rows(self, rows: list[AuditRow]) -> None:
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()

    @override
    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable  # never editable


class AuditViewer(QWidget):
    """Filters above, the events in a table, the selected event in full below.

    Signals:
        loaded(int): a page arrived; the number of events now shown.
        failed(str): loading failed (for example, the user may not read the trail).

    Attributes:
        model: the AuditTableModel.
        table: the QTableView.
        user_combo, patient_edit, action_combo, dates_check, from_edit, to_edit: the filters.
        more_button: loads the next page.
    """

    loaded = Signal(int)
    failed = Signal(str)

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._desk = desk
        self._appointment_id: int | None = None
        self._generation = 0
        self._pending: dict[BackgroundCall[Any], tuple[int, str, int]] = {}
        self._exhausted = False
        self.setObjectName("auditViewer")

        self.user_combo = QComboBox(self)
        self.user_combo.setAccessibleName("User")
        self.user_combo.addItem(ALL_USERS, None)
        self.patient_edit = QLineEdit(self)
        self.patient_edit.setAccessibleName("Patient chart number or name")
        self.patient_edit.setPlaceholderText("Patient: chart number or name")
        self.patient_edit.setClearButtonEnabled(True)
        self.action_combo = QComboBox(self)
        self.action_combo.setAccessibleName("Action")
        self.action_combo.addItem(ALL_ACTIONS, None)
        self.dates_check = QCheckBox("&Dates", self)
        self.dates_check.setAccessibleName("Filter by dates")
        self.from_edit = DateField(self)
        self.from_edit.setAccessibleName("From date")
        self.to_edit = DateField(self)
        self.to_edit.setAccessibleName("To date")
        for edit in (self.from_edit, self.to_edit):
            edit.setEnabled(False)
        self.appointment_button = QPushButton(self)
        self.appointment_button.setAccessibleName("Stop showing one appointment")
        self.appointment_button.setToolTip("Show every event again")
        self.appointment_button.hide()
        self.clear_button = QPushButton("C&lear filters", self)
        self.clear_button.setAccessibleName("Clear filters")

        filters = QHBoxLayout()
        filters.addWidget(self.user_combo)
        filters.addWidget(self.patient_edit, 2)
        filters.addWidget(self.action_combo)
        filters.addWidget(self.dates_check)
        filters.addWidget(self.from_edit)
        filters.addWidget(QLabel("–", self))
        filters.addWidget(self.to_edit)
        filters.addWidget(self.appointment_button)
        filters.addWidget(self.clear_button)

        self.model = AuditTableModel(self)
        self.table = QTableView(self)
        self.table.setAccessibleName("Audit events")
        self.table.setModel(self.model)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in (
            (AuditColumn.WHEN, 170),
            (AuditColumn.WHO, 100),
            (AuditColumn.ACTION, 110),
            (AuditColumn.WHAT, 130),
            (AuditColumn.PATIENT, 170),
            (AuditColumn.CHANGES, 300),
        ):
            self.table.setColumnWidth(column, width)
        self.details = QPlainTextEdit(self)
        self.details.setReadOnly(True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setAccessibleName("Event details")
        self.details.setPlaceholderText("Select an event to see it in full.")
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)

        self.status_label = QLabel(self)
        self.status_label.setAccessibleName("Audit status")
        self.error_label = error_label(self)
        self.more_button = QPushButton("Load &more", self)
        self.more_button.setAccessibleName("Load more events")
        self.more_button.setEnabled(False)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status_label, 1)
        bottom.addWidget(self.more_button)

        layout = QVBoxLayout(self)
        # Shown on its own (a window), the viewer must not pin the window's minimum size.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        layout.addLayout(filters)
        layout.addWidget(self.error_label)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)

        self.refresh_action = QAction("&Refresh", self)
        self.refresh_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Refresh))
        self.refresh_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(self.refresh_action)

        self._patient_timer = QTimer(self)
        self._patient_timer.setSingleShot(True)
        self._patient_timer.setInterval(300)

        self.user_combo.activated.connect(self._on_filter_changed)
        self.action_combo.activated.connect(self._on_filter_changed)
        self.patient_edit.textEdited.connect(self._on_patient_edit_text_edited)
        self._patient_timer.timeout.connect(self._on_filter_changed)
        self.dates_check.toggled.connect(self._on_dates_check_toggled)
        self.from_edit.dateChanged.connect(self._on_date_changed)
        self.to_edit.dateChanged.connect(self._on_date_changed)
        self.appointment_button.clicked.connect(self._on_appointment_button_clicked)
        self.clear_button.clicked.connect(self._on_clear_button_clicked)
        self.more_button.clicked.connect(self._on_more_button_clicked)
        self.refresh_action.triggered.connect(self._on_refresh_action_triggered)
        self.table.selectionModel().currentRowChanged.connect(self._on_table_current_row_changed)
        self._load_choices()

    # -- public ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the first page with the current filters."""
        self._load(offset=0)

    def show_appointment_history(self, appointment_id: int) -> None:
        """Only the events of one appointment (its per-appointment history)."""
        self._appointment_id = appointment_id
        self.appointment_button.setText(f"Appointment #{appointment_id}  ✕")
        self.appointment_button.show()
        self.refresh()

    def set_patient(self, text: str) -> None:
        self.patient_edit.setText(text)
        self.refresh()

    def wait(self) -> None:
        """Wait for loads in flight (tests, and closing)."""
        for call in list(self._pending):
            call.wait()

    def filters(self) -> dict[str, Any]:
        """The service's keyword arguments for the current filters."""
        kwargs: dict[str, Any] = {
            "user": self.user_combo.currentData(),
            "action": self.action_combo.currentData(),
            "patient": self.patient_edit.text().strip() or None,
        }
        if self.dates_check.isChecked():
            kwargs["first_day"] = self.from_edit.date().toPython()
            kwargs["last_day"] = self.to_edit.date().toPython()
        if self._appointment_id is not None:
            kwargs["entity"] = "appointment"
            kwargs["entity_id"] = self._appointment_id
        return kwargs

    # -- loading -----------------------------------------------------------------------------

    def _start(self, work: Any, kind: str, offset: int = 0) -> None:
        # Slots are bound methods, never closures over the viewer: a closure kept by a
        # connection could end up releasing the viewer on the worker thread.
        call: BackgroundCall[Any] = BackgroundCall(work, self)
        self._pending[call] = (self._generation, kind, offset)
        call.succeeded.connect(self._on_call_succeeded)
        call.failed.connect(self._on_call_failed)
        call.start()

    def _finish(self, call: object) -> tuple[str, int] | None:
        """The call's kind and offset if its answer is still wanted, else None."""
        if not isinstance(call, BackgroundCall):
            return None
        generation, kind, offset = self._pending.pop(call, (-1, "", 0))
        call.deleteLater()
        return (kind, offset) if generation == self._generation else None

    def _on_call_succeeded(self, result: object) -> None:
        wanted = self._finish(self.sender())
        if wanted is None:
            return
        kind, offset = wanted
        if kind == "choices":
            self._on_choices_loaded(result)
        else:
            assert isinstance(result, list)
            self._on_page_loaded(result, offset)

    def _on_call_failed(self, error: object) -> None:
        if self._finish(self.sender()) is not None:
            self._show_failure(error)

    def _load_choices(self) -> None:
        desk = self._desk

        def work() -> tuple[list[str], list[str], dt.date]:
            users, actions = audit_log.audit_choices(desk.db, desk.actor)
            return users, actions, schedule.clinic_today(desk.db, now=desk.now())

        self._generation += 1
        self._start(work, "choices")

    def _on_choices_loaded(self, result: object) -> None:
        assert isinstance(result, tuple)
        users: list[str] = result[0]
        actions: list[str] = result[1]
        today: dt.date = result[2]
        for name in users:
            self.user_combo.addItem(name, name)
        for action in actions:
            self.action_combo.addItem(action_text(action), action)
        for edit in (self.from_edit, self.to_edit):
            edit.blockSignals(True)
        self.to_edit.setDate(QDate(today.year, today.month, today.day))
        start = today - dt.timedelta(days=7)
        self.from_edit.setDate(QDate(start.year, start.month, start.day))
        for edit in (self.from_edit, self.to_edit):
            edit.blockSignals(False)
        self._load(offset=0)

    def _load(self, *, offset: int) -> None:
        desk = self._desk
        kwargs = self.filters()
        if offset == 0:
            self._generation += 1
        self.more_button.setEnabled(False)
        self.status_label.setText("Loading…")

        def work() -> list[AuditRow]:
            return audit_log.audit_events(
                desk.db, desk.actor, limit=PAGE_SIZE + 1, offset=offset, **kwargs
            )

        self._start(work, "page", offset)

    def _on_page_loaded(self, rows: list[AuditRow], offset: int) -> None:
        show_error(self.error_label, "")
        self._exhausted = len(rows) <= PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        if offset == 0:
            self.model.set_rows(rows)
            self.details.clear()
        else:
            self.model.append_rows(rows)
        count = self.model.rowCount()
        more = "" if self._exhausted else " (more to load)"
        self.status_label.setText(f"{count:,} event{'s' if count != 1 else ''}{more}")
        self.more_button.setEnabled(not self._exhausted)
        self.loaded.emit(count)

    def _show_failure(self, error: object) -> None:
        message = str(error) or type(error).__name__
        show_error(self.error_label, message[0].upper() + message[1:])
        self.status_label.setText("")
        self.failed.emit(message)

    # -- slots -------------------------------------------------------------------------------

    def _on_filter_changed(self) -> None:
        self._patient_timer.stop()
        self.refresh()

    def _on_patient_edit_text_edited(self, _text: str) -> None:
        self._patient_timer.start()

    def _on_dates_check_toggled(self, checked: bool) -> None:
        self.from_edit.setEnabled(checked)
        self.to_edit.setEnabled(checked)
        self.refresh()

    def _on_date_changed(self, _date: QDate) -> None:
        if self.dates_check.isChecked():
            self.refresh()

    def _on_appointment_button_clicked(self) -> None:
        self._appointment_id = None
        self.appointment_button.hide()
        self.refresh()

    def _on_clear_button_clicked(self) -> None:
        self.user_combo.setCurrentIndex(0)
        self.action_combo.setCurrentIndex(0)
        self.patient_edit.clear()
        self.dates_check.blockSignals(True)
        self.dates_check.setChecked(False)
        self.dates_check.blockSignals(False)
        self.from_edit.setEnabled(False)
        self.to_edit.setEnabled(False)
        self._appointment_id = None
        self.appointment_button.hide()
        self.refresh()

    def _on_more_button_clicked(self) -> None:
        self._load(offset=self.model.rowCount())

    def _on_refresh_action_triggered(self) -> None:
        self.refresh()

    def _on_table_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.details.setPlainText(describe(self.model.row_at(current.row())))
        else:
            self.details.clear()
