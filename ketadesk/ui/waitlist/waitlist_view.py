"""The Waitlist view (Go ▸ Waitlist): who waits for an earlier place, with filters, and Add,
Edit, Expired, Remove and Print.

The list is read on a worker (``services/waitlist/entries.list_entries``); every write goes
through the entry services on the writer worker, then the list is read again.
"""

from __future__ import annotations

import enum

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.words import counted
from ketadesk.services.common.context import ServiceError, may
from ketadesk.services.common.phones import display_phone
from ketadesk.services.printing.waitlist_list import waitlist_layout, waitlist_sheet
from ketadesk.services.waitlist.entries import (
    KIND_NAMES,
    STATUS_NAMES,
    WaitlistChoices,
    WaitlistRow,
    list_entries,
    mark_booked,
    set_status,
    waitlist_choices,
)
from ketadesk.ui.common.background import LatestOnly, run_service
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.table_model import ROW_ROLE, RowTableModel, TableColumn
from ketadesk.ui.common.tables import record_table
from ketadesk.ui.printing.print_dialogs import PREVIEW, Disclosure, DocumentPrinter
from ketadesk.ui.waitlist.entry_dialog import EntryDialog

#: How long the search field waits after the last key before reading the list again.
SEARCH_DELAY_MS = 250


class Column(enum.IntEnum):
    PATIENT = 0
    PHONE = 1
    SESSION = 2
    DAYS = 3
    TIMES = 4
    WHERE = 5
    DEADLINE = 6
    STATUS = 7


COLUMNS: tuple[TableColumn[WaitlistRow], ...] = (
    TableColumn("Patient", lambda r: f"{r.patient_name} (chart {r.chart_number})"),
    TableColumn("Phone", lambda r: display_phone(r.phone)),
    TableColumn(
        "Waits for",
        lambda r: f"{r.session_type_name}: {KIND_NAMES.get(r.kind, r.kind).lower()}",
    ),
    TableColumn("Days", lambda r: r.days_text),
    TableColumn("Time of day", lambda r: r.times_text),
    TableColumn("Rooms and staff", lambda r: r.where_text, tooltip=lambda r: r.notes),
    TableColumn(
        "Deadline",
        lambda r: r.deadline_text,
        sort_key=lambda r: r.deadline.toordinal() if r.deadline else 10**9,
    ),
    TableColumn("Status", lambda r: STATUS_NAMES.get(r.status, r.status)),
)

#: The status filter's choices: (label, statuses; empty: every status).
STATUS_FILTERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Waiting", ("waiting",)),
    ("Booked", ("booked",)),
    ("Expired or removed", ("expired", "removed")),
    ("All", ()),
)


class WaitlistModel(RowTableModel[WaitlistRow]):
    """The waitlist's rows; ``ROW_ROLE`` gives a row's WaitlistRow."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(COLUMNS, parent)


class WaitlistView(QWidget):
    """The waitlist with its filters and actions.

    Signals:
        refreshed(): the list was read and shown.
        patient_requested(int): open this patient's record (a row activated).
        changed(): an entry was written here (the window reloads what it shows).

    Attributes:
        model, table: the list; status_filter, type_filter, search: the filters;
        add_button, edit_button, booked_button, expire_button, remove_button, print_button;
        status.
    """

    refreshed = Signal()
    patient_requested = Signal(int)
    changed = Signal()

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.desk = desk
        self.setObjectName("waitlist_view")
        self.setAccessibleName("Waitlist")
        self._reads = LatestOnly(self, busy="Reading the waitlist…")
        self._choices: WaitlistChoices | None = None
        self._waiting: int | None = None  # among the entries shown, once read
        self.dialog: EntryDialog | None = None
        self.printer = DocumentPrinter(desk, self)
        layout = QVBoxLayout(self)
        hint = QLabel(
            "Patients waiting for an earlier place. When a session is cancelled or moved, "
            "the ones who could take its place are offered it, best fit first.",
            self,
        )
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addLayout(self._build_filters())
        self.model = WaitlistModel(self)
        self.table = record_table(
            self,
            name="waitlist_table",
            label="Waitlist entries",
            model=self.model,
            stretch=Column.WHERE,
        )
        layout.addWidget(self.table, 1)
        layout.addLayout(self._build_buttons())
        self.status = QLabel(self)
        self.status.setObjectName("waitlist_status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(self._search_timer.start)
        self.status_filter.currentIndexChanged.connect(self._on_filter_changed)
        self.type_filter.currentIndexChanged.connect(self._on_filter_changed)
        self.table.activated.connect(self._on_table_activated)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self._update_buttons()

    def _build_filters(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.status_filter = QComboBox(self)
        self.status_filter.setObjectName("waitlist_status_filter")
        self.status_filter.setAccessibleName("Show entries")
        for label, _statuses in STATUS_FILTERS:
            self.status_filter.addItem(label)
        self.type_filter = QComboBox(self)
        self.type_filter.setObjectName("waitlist_type_filter")
        self.type_filter.setAccessibleName("Session type")
        self.type_filter.addItem("Every session type", None)
        self.search = QLineEdit(self)
        self.search.setObjectName("waitlist_search")
        self.search.setPlaceholderText("Name, chart or phone")
        self.search.setAccessibleName("Search the waitlist")
        self.search.setClearButtonEnabled(True)
        row.addWidget(QLabel("Show", self))
        row.addWidget(self.status_filter)
        row.addWidget(self.type_filter)
        row.addWidget(self.search, 1)
        return row

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.add_button = QPushButton("&Add…", self)
        self.add_button.setObjectName("waitlist_add")
        self.add_button.setToolTip("Find a patient and put them on the waitlist")
        self.edit_button = QPushButton("&Edit…", self)
        self.edit_button.setObjectName("waitlist_edit")
        self.booked_button = QPushButton("Mark &booked", self)
        self.booked_button.setObjectName("waitlist_booked")
        self.booked_button.setToolTip(
            "The patient was booked another way: mark the entry booked with their next session"
        )
        self.expire_button = QPushButton("Mark e&xpired", self)
        self.expire_button.setObjectName("waitlist_expire")
        self.remove_button = QPushButton("&Remove", self)
        self.remove_button.setObjectName("waitlist_remove")
        self.print_button = QPushButton("&Print…", self)
        self.print_button.setObjectName("waitlist_print")
        self.print_button.setToolTip("Preview and print the list as filtered")
        for button in (
            self.add_button,
            self.edit_button,
            self.booked_button,
            self.expire_button,
            self.remove_button,
        ):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(self.print_button)
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.edit_button.clicked.connect(self._on_edit_button_clicked)
        self.booked_button.clicked.connect(self._on_booked_button_clicked)
        self.expire_button.clicked.connect(self._on_expire_button_clicked)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.print_button.clicked.connect(self._on_print_button_clicked)
        return row

    # -- reading ----------------------------------------------------------------------------

    def _filters(self) -> tuple[tuple[str, ...], str | None, str]:
        statuses = STATUS_FILTERS[max(0, self.status_filter.currentIndex())][1]
        code = self.type_filter.currentData()
        return statuses, (str(code) if code else None), self.search.text()

    def refresh(self) -> None:
        """Read the list (and, the first time, the session types) on a worker."""
        statuses, code, text = self._filters()
        db, now = self.desk.db, self.desk.now()
        first = self._choices is None

        def read() -> tuple[list[WaitlistRow], WaitlistChoices | None]:
            rows = list_entries(db, statuses=statuses, session_type=code, text=text, now=now)
            return rows, (waitlist_choices(db, now=now) if first else None)

        self._reads.run(read, self._on_read, failed=self._on_read_failed)

    def _on_read(self, result: tuple[list[WaitlistRow], WaitlistChoices | None]) -> None:
        rows, choices = result
        if choices is not None and self._choices is None:
            self._choices = choices
            self.type_filter.blockSignals(True)
            for code, name in choices.session_types:
                self.type_filter.addItem(name, code)
            self.type_filter.blockSignals(False)
        selected = self.selected()
        self.model.set_rows(rows)
        if selected is not None:
            for number, row in enumerate(rows):
                if row.id == selected.id:
                    self.table.selectRow(number)
        waiting = sum(1 for r in rows if r.status == "waiting")
        self.status.setText(f"{len(rows)} shown, {waiting} waiting.")
        self._waiting = waiting
        self._update_buttons()
        self.refreshed.emit()

    def status_summary(self) -> str:
        """The list's account for the main window's status bar: who is waiting among the
        entries shown ("" before the first read)."""
        if self._waiting is None:
            return ""
        shown = self.model.rowCount()
        return (
            f"Waitlist: {self._waiting} waiting for an earlier place "
            f"({counted(shown, 'entry', 'entries')} shown)"
        )

    def _on_read_failed(self, err: ServiceError) -> None:
        self.status.setText(f"The waitlist could not be read: {err}")

    def _on_filter_changed(self, _index: int) -> None:
        self.refresh()

    # -- the selection and the actions --------------------------------------------------------

    def selected(self) -> WaitlistRow | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        row = self.model.data(rows[0], ROW_ROLE)
        return row if isinstance(row, WaitlistRow) else None

    def _update_buttons(self) -> None:
        allowed = may(self.desk.actor, "manage_waitlist")
        row = self.selected()
        waiting = row is not None and row.status == "waiting"
        self.add_button.setEnabled(allowed)
        self.edit_button.setEnabled(allowed and waiting)
        self.booked_button.setEnabled(allowed and waiting)
        self.expire_button.setEnabled(allowed and waiting)
        self.remove_button.setEnabled(allowed and row is not None and row.status != "removed")

    def _on_table_activated(self, index: QModelIndex) -> None:
        row = self.model.data(index, ROW_ROLE)
        if isinstance(row, WaitlistRow):
            self.patient_requested.emit(row.patient_id)

    def add_for(self, patient_id: int) -> None:
        """Open the entry dialog for a new entry of ``patient_id``."""
        EntryDialog.open_for(self.desk, patient_id, self, self._show_dialog)

    def _on_add_button_clicked(self) -> None:
        from ketadesk.ui.patients.patient_search import FindPatientDialog

        finder = FindPatientDialog(self.desk, self)
        finder.setWindowTitle("Who waits? Find the patient")
        finder.patient_chosen.connect(self.add_for)
        finder.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        finder.open()

    def _on_edit_button_clicked(self) -> None:
        row = self.selected()
        if row is not None:
            EntryDialog.open_for(self.desk, row.patient_id, self, self._show_dialog, row=row)

    def _show_dialog(self, dialog: EntryDialog) -> None:
        self.dialog = dialog
        dialog.saved.connect(self._on_dialog_saved)
        dialog.open()

    def _on_dialog_saved(self, _entry_id: int) -> None:
        self.status.setText("Saved.")
        self.changed.emit()
        self.refresh()

    def _set_status(self, status: str, reason: str) -> None:
        row = self.selected()
        if row is None:
            return
        desk = self.desk

        def done(_none: None) -> None:
            self.status.setText(f"{row.patient_name}: {STATUS_NAMES[status].lower()}.")
            self.changed.emit()
            self.refresh()

        run_service(
            self,
            lambda: set_status(desk.db, desk.actor, row.id, status, reason=reason, now=desk.now()),
            done,
            failed=self._on_refused,
            writes=True,
        )

    def _on_booked_button_clicked(self) -> None:
        row = self.selected()
        if row is None:
            return
        desk = self.desk

        def done(_appointment_id: int) -> None:
            self.status.setText(f"{row.patient_name}: booked.")
            self.changed.emit()
            self.refresh()

        run_service(
            self,
            lambda: mark_booked(desk.db, desk.actor, row.id, now=desk.now()),
            done,
            failed=self._on_refused,
            writes=True,
        )

    def _on_expire_button_clicked(self) -> None:
        self._set_status("expired", "marked expired at the desk")

    def _on_remove_button_clicked(self) -> None:
        self._set_status("removed", "taken off the waitlist at the desk")

    def _on_refused(self, err: ServiceError) -> None:
        self.status.setText(f"Not done: {err}")

    def _on_print_button_clicked(self) -> None:
        self.print_list(PREVIEW)

    def print_list(self, mode: str = PREVIEW, path: object = None) -> object:
        """Preview, print or save the list as filtered (``DocumentPrinter`` modes)."""
        statuses, code, text = self._filters()
        db, now = self.desk.db, self.desk.now()
        return self.printer.run(
            lambda: waitlist_layout(
                waitlist_sheet(db, statuses=statuses, session_type=code, text=text, now=now)
            ),
            mode,
            path,  # type: ignore[arg-type]
            about=Disclosure("waitlist", "the waitlist as filtered"),
        )
