"""The Fees list (Go ▸ Fees…): late-cancellation and no-show fees of the sessions in a date
range, filtered by status, with what is owed; Waive… (with a reason, for the roles allowed to)
and Print… (Letter, as every document).

The list is read on a worker (``services/fees/fees.list_fees``); a waiver goes through
``fees.waive_fee`` on the writer worker, then the list is read again.
"""

from __future__ import annotations

import datetime as dt
import enum

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.fees import FEE_STATUS_NAMES, FEE_STATUSES, OWED
from ketadesk.services.common.context import ServiceError, may
from ketadesk.services.fees.fees import FeeList, FeeRow, list_fees, waive_fee
from ketadesk.services.printing.fee_list import fee_layout, fee_sheet
from ketadesk.ui.common.background import LatestOnly, run_service
from ketadesk.ui.common.date_fields import DateField
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.table_model import ROW_ROLE, RowTableModel, TableColumn
from ketadesk.ui.common.tables import record_table
from ketadesk.ui.printing.print_dialogs import PREVIEW, Disclosure, DocumentPrinter

#: How far either side of today the list reaches when it opens (days).
DEFAULT_REACH_DAYS = 30


class Column(enum.IntEnum):
    SESSION = 0
    PATIENT = 1
    KIND = 2
    AMOUNT = 3
    STATUS = 4
    NOTE = 5


COLUMNS: tuple[TableColumn[FeeRow], ...] = (
    TableColumn(
        "Session",
        lambda r: r.session_when,
        sort_key=lambda r: r.session_start.timestamp(),
    ),
    TableColumn("Patient", lambda r: f"{r.patient_name} (chart {r.chart_number})"),
    TableColumn("Fee", lambda r: f"{r.kind_name}, {r.session_type_name}"),
    TableColumn("Amount", lambda r: r.amount_text, sort_key=lambda r: r.amount_cents),
    TableColumn("Status", lambda r: r.status_name),
    TableColumn(
        "Charged / waived",
        lambda r: (
            f"waived by {r.waived_by or 'system'}: {r.waive_reason}"
            if r.status == "waived"
            else f"charged {r.charged_at:%m/%d} by {r.charged_by}"
        ),
    ),
)


class FeeModel(RowTableModel[FeeRow]):
    """The fees' rows; ``ROW_ROLE`` gives a row's FeeRow."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(COLUMNS, parent)


def _qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _date(value: QDate) -> dt.date:
    return dt.date(value.year(), value.month(), value.day())


class FeesView(QWidget):
    """The fees of a date range, with their status, a waiver and printing.

    Signals:
        refreshed(): the list was read and shown.
        changed(): a fee was waived here (the window reloads what it shows).

    Attributes:
        first_edit, last_edit, status_filter: the filters; model, table: the list;
        waive_button, print_button; summary: "N fees, M owed: $X".
    """

    refreshed = Signal()
    changed = Signal()

    def __init__(
        self, desk: Desk, parent: QWidget | None = None, *, day: dt.date | None = None
    ) -> None:
        """``day``: the day the window shows; the range reaches either side of it."""
        super().__init__(parent, Qt.WindowType.Window)
        self.desk = desk
        # The UTC date is near enough to centre a two-month range when no day is given.
        self._day = day or desk.now().date()
        self.setObjectName("fees_view")
        self.setWindowTitle("Fees: late cancellations and no-shows")
        self.setAccessibleName("Fees")
        self._reads = LatestOnly(self, busy="Reading the fees…")
        self.printer = DocumentPrinter(desk, self)
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_filters())
        self.model = FeeModel(self)
        self.table = record_table(
            self, name="fees_table", label="Fees", model=self.model, stretch=Column.NOTE
        )
        layout.addWidget(self.table, 1)
        layout.addLayout(self._build_buttons())
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.first_edit.dateChanged.connect(self._on_filter_changed)
        self.last_edit.dateChanged.connect(self._on_filter_changed)
        self.status_filter.currentIndexChanged.connect(self._on_filter_changed)
        self._update_buttons()
        self.resize(1000, 520)

    def _build_filters(self) -> QHBoxLayout:
        row = QHBoxLayout()
        today = self._day
        reach = dt.timedelta(days=DEFAULT_REACH_DAYS)
        self.first_edit = DateField(self, value=today - reach)
        self.first_edit.setObjectName("fees_first")
        self.first_edit.setAccessibleName("Sessions from")
        self.last_edit = DateField(self, value=today + reach)
        self.last_edit.setObjectName("fees_last")
        self.last_edit.setAccessibleName("Sessions to")
        self.status_filter = QComboBox(self)
        self.status_filter.setObjectName("fees_status_filter")
        self.status_filter.setAccessibleName("Show fees")
        self.status_filter.addItem("Every status", None)
        for status in FEE_STATUSES:
            self.status_filter.addItem(FEE_STATUS_NAMES[status], status)
        row.addWidget(QLabel("Sessions from", self))
        row.addWidget(self.first_edit)
        row.addWidget(QLabel("to", self))
        row.addWidget(self.last_edit)
        row.addWidget(self.status_filter)
        row.addStretch(1)
        return row

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.summary = QLabel(self)
        self.summary.setObjectName("fees_summary")
        self.summary.setWordWrap(True)
        self.waive_button = QPushButton("&Waive…", self)
        self.waive_button.setObjectName("fees_waive")
        self.waive_button.setToolTip("Waive the chosen fee, with the reason")
        self.print_button = QPushButton("&Print…", self)
        self.print_button.setObjectName("fees_print")
        self.print_button.setToolTip("Preview and print the list as filtered")
        row.addWidget(self.summary, 1)
        row.addWidget(self.waive_button)
        row.addWidget(self.print_button)
        self.waive_button.clicked.connect(self._on_waive_button_clicked)
        self.print_button.clicked.connect(self._on_print_button_clicked)
        return row

    # -- reading ----------------------------------------------------------------------------

    def _filters(self) -> tuple[dt.date, dt.date, str | None]:
        status = self.status_filter.currentData()
        return (
            _date(self.first_edit.date()),
            _date(self.last_edit.date()),
            str(status) if status else None,
        )

    def set_range(self, first: dt.date, last: dt.date, status: str | None = None) -> None:
        """Show the fees of sessions from ``first`` to ``last`` (and one status, or all)."""
        for edit in (self.first_edit, self.last_edit, self.status_filter):
            edit.blockSignals(True)
        self.first_edit.setDate(_qdate(first))
        self.last_edit.setDate(_qdate(last))
        self.status_filter.setCurrentIndex(max(0, self.status_filter.findData(status)))
        for edit in (self.first_edit, self.last_edit, self.status_filter):
            edit.blockSignals(False)
        self.refresh()

    def refresh(self) -> None:
        first, last, status = self._filters()
        desk = self.desk
        self._reads.run(
            lambda: list_fees(desk.db, desk.actor, first, last, status=status, now=desk.now()),
            self._on_read,
            failed=self._on_refused,
        )

    def _on_read(self, fees: FeeList) -> None:
        self.model.set_rows(list(fees.rows))
        self.summary.setText(fees.summary)
        self._update_buttons()
        self.refreshed.emit()

    def _on_filter_changed(self, *_args: object) -> None:
        self.refresh()

    # -- the selection and the actions --------------------------------------------------------

    def selected(self) -> FeeRow | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        row = self.model.data(rows[0], ROW_ROLE)
        return row if isinstance(row, FeeRow) else None

    def _update_buttons(self, *_args: object) -> None:
        row = self.selected()
        allowed = may(self.desk.actor, "waive_fee")
        self.waive_button.setVisible(allowed)
        self.waive_button.setEnabled(allowed and row is not None and row.status == OWED)

    def ask_waive_reason(self, row: FeeRow) -> str:
        """Why the fee is waived ("" when the user gave up); tests replace this."""
        text, ok = QInputDialog.getText(
            self,
            "Waive the fee",
            f"Why is the {row.kind_name.lower()} fee of {row.amount_text} for "
            f"{row.patient_name} waived? (kept with the fee)",
        )
        return text.strip() if ok else ""

    def _on_waive_button_clicked(self) -> None:
        row = self.selected()
        if row is None:
            return
        reason = self.ask_waive_reason(row)
        if not reason:
            return
        desk = self.desk

        def done(_none: None) -> None:
            self.summary.setText(f"Waived: {row.patient_name}, {row.amount_text}.")
            self.changed.emit()
            self.refresh()

        run_service(
            self,
            lambda: waive_fee(desk.db, desk.actor, row.id, reason, now=desk.now()),
            done,
            failed=self._on_refused,
            writes=True,
        )

    def _on_refused(self, err: ServiceError) -> None:
        self.summary.setText(f"Not done: {err}")

    def _on_print_button_clicked(self) -> None:
        self.print_list(PREVIEW)

    def print_list(self, mode: str = PREVIEW, path: object = None) -> object:
        """Preview, print or save the list as filtered (``DocumentPrinter`` modes)."""
        first, last, status = self._filters()
        desk = self.desk
        return self.printer.run(
            lambda: fee_layout(
                fee_sheet(desk.db, desk.actor, first, last, status=status, now=desk.now())
            ),
            mode,
            path,  # type: ignore[arg-type]
            about=Disclosure("fees", f"the fees of {first:%m/%d/%Y}-{last:%m/%d/%Y}"),
        )
