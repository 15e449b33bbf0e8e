"""Recall and dropout lists: patients to call so they book again, one click into booking.

At risk: a series with a no-show or late cancellation whose outreach call stands; each row says
what was missed and when the call is due, and its "Make-up…" button asks the main window for
the make-up offer of the earliest miss (ui/rebooking/rebook_panel.py).  Recall: an induction
ended and nothing is booked inside its booster window.  Dropout: a series session was missed
and nothing is booked since (``services.recall``).  Their rows have a "Book…" button that asks
the main window to open the booking dialog for that patient.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import (
    QModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QFont
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.words import counted
from ketadesk.services.common.phones import display_phone
from ketadesk.services.followups.recall import (
    AtRiskRow,
    RecallRow,
    at_risk_list,
    dropout_list,
    recall_list,
)
from ketadesk.ui.common.background import BackgroundCall
from ketadesk.ui.common.colors import is_dark
from ketadesk.ui.common.dates import short_date
from ketadesk.ui.common.table_model import ROW_ROLE, AnyIndex, RowTableModel, TableColumn
from ketadesk.ui.common.tables import record_table

if TYPE_CHECKING:
    from typing_extensions import override

    from ketadesk.ui.common.desk import Desk
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


class Column(enum.IntEnum):
    PATIENT = 0
    PHONE = 1
    WHY = 2
    SINCE = 3
    BOOK = 4


RECALL_COLUMNS: tuple[TableColumn[RecallRow], ...] = (
    TableColumn("Patient", lambda row: f"{row.patient_name} (chart {row.chart_number})"),
    TableColumn("Phone", lambda row: display_phone(row.phone)),
    TableColumn("Why", lambda row: row.why, tooltip=lambda row: row.why),
    TableColumn(
        "Since",
        lambda row: short_date(row.since, year=True),
        sort_key=lambda row: row.since,
    ),
    TableColumn("", lambda row: ""),  # the "Book…" button's cell
)


class AtRiskColumn(enum.IntEnum):
    PATIENT = 0
    PHONE = 1
    SERIES = 2
    MISSED = 3
    OUTREACH = 4
    MAKE_UP = 5


AT_RISK_COLUMNS: tuple[TableColumn[AtRiskRow], ...] = (
    TableColumn("Patient", lambda row: f"{row.patient_name} (chart {row.chart_number})"),
    TableColumn("Phone", lambda row: display_phone(row.phone)),
    TableColumn("Series", lambda row: row.protocol_name),
    TableColumn("Missed", lambda row: row.missed_text, tooltip=lambda row: "\n".join(row.missed)),
    TableColumn(
        "Outreach call",
        lambda row: row.outreach,
        sort_key=lambda row: row.deadline,
        tooltip=lambda row: f"Call {row.patient_name} to keep the series going: {row.outreach}",
    ),
    TableColumn("", lambda row: ""),  # the "Make-up…" button's cell
)
#: An overdue outreach call, as the follow-up queue shows an overdue item (light, dark).
_OVERDUE = {False: "#b3261e", True: "#f2b8b5"}


class AtRiskModel(RowTableModel[AtRiskRow]):
    """The series at risk; ``ROW_ROLE`` gives a row's AtRiskRow.  An overdue call is red and
    bold, as in the follow-up queue."""

    TEXT_ROLES = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(AT_RISK_COLUMNS, parent)
        self.dark = False

    @override
    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        inside = index.isValid() and 0 <= index.row() < self.rowCount()
        if role == Qt.ItemDataRole.AccessibleTextRole and index.column() == AtRiskColumn.MAKE_UP:
            return "Make-up…" if inside else None
        if inside and index.column() == AtRiskColumn.OUTREACH and self.rows()[index.row()].overdue:
            if role == Qt.ItemDataRole.ForegroundRole:
                return QColor(_OVERDUE[self.dark])
            if role == Qt.ItemDataRole.FontRole:
                font = QFont()
                font.setBold(True)
                return font
        return super().data(index, role)


class RecallModel(RowTableModel[RecallRow]):
    """One list of RecallRows; ``ROW_ROLE`` gives a row's RecallRow."""

    TEXT_ROLES = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(RECALL_COLUMNS, parent)

    @override
    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        # The button's cell is blank on screen but says what it does to a screen reader.
        if role == Qt.ItemDataRole.AccessibleTextRole and index.column() == Column.BOOK:
            return "Book…" if 0 <= index.row() < self.rowCount() else None
        return super().data(index, role)


_Lists = tuple[list[AtRiskRow], list[RecallRow], list[RecallRow]]


class RecallListsView(QWidget):
    """The at-risk, recall and dropout lists; an at-risk row with a "Make-up…" button, the
    others with a "Book…" button.

    Signals:
        book_requested(int): open the booking dialog for this patient.
        make_up_requested(int): offer the make-up of this missed series appointment.
        patient_requested(int): open this patient's record (a row activated).
        refreshed(): the lists were read again.

    Attributes:
        at_risk_model: the AtRiskModel shown; recall_model, dropout_model: the RecallModels.
        at_risk_table, recall_table, dropout_table: their QTableViews.
    """

    book_requested = Signal(int)
    make_up_requested = Signal(int)
    patient_requested = Signal(int)
    refreshed = Signal()

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.desk = desk
        self._call: BackgroundCall[_Lists] | None = None
        self._shown = False  # the lists were read once (their counts are the status bar's)
        self.setObjectName("recall_lists")
        self.setAccessibleName("Recall and dropout lists")
        self.at_risk_model = AtRiskModel(self)
        self.at_risk_model.dark = is_dark(self.palette())
        self.at_risk_table = self._table("at_risk_table", "Series at risk: a session missed")
        self.at_risk_table.setModel(self.at_risk_model)
        self._size_at_risk_columns()
        self.recall_model = RecallModel(self)
        self.dropout_model = RecallModel(self)
        self.recall_table = self._table("recall_table", "Induction over, nothing booked")
        self.dropout_table = self._table("dropout_table", "Missed a session, nothing booked since")
        for table, model in (
            (self.recall_table, self.recall_model),
            (self.dropout_table, self.dropout_model),
        ):
            table.setModel(model)
            self._size_columns(table)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("recall_tabs")
        self.tabs.addTab(self.at_risk_table, "At risk")
        self.tabs.addTab(self.recall_table, "Recall")
        self.tabs.addTab(self.dropout_table, "Dropped out")
        self.status = QLabel(self)
        self.status.setObjectName("recall_status")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        hint = QLabel(
            "Patients to call so they book again: a series at risk after a no-show or a late "
            "cancellation (offer the make-up), an induction ended with nothing booked in its "
            "booster window, or a series session was missed with nothing booked since.",
            self,
        )
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)
        refresh = QAction("Refresh", self)
        refresh.setToolTip("Read the lists again (F5 in the main window)")
        refresh.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        refresh.triggered.connect(self.refresh)
        self.addAction(refresh)
        for table in (self.at_risk_table, self.recall_table, self.dropout_table):
            table.activated.connect(self._on_table_activated)

    def _table(self, name: str, accessible: str) -> QTableView:
        table = record_table(self, name=name, label=accessible)
        table.setWordWrap(False)
        return table

    def _size_columns(self, table: QTableView) -> None:
        # After setModel: a new model gives the header new sections, with default modes.
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(Column.WHY, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(Column.BOOK, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(Column.BOOK, QPushButton("Book…").sizeHint().width() + 8)

    def _size_at_risk_columns(self) -> None:
        header = self.at_risk_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(AtRiskColumn.MISSED, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(AtRiskColumn.MAKE_UP, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(AtRiskColumn.MAKE_UP, QPushButton("Make-up…").sizeHint().width() + 8)

    # -- reading ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the lists again on a worker thread; ``refreshed`` says when they are shown."""
        if self._call is not None:
            return
        db, now = self.desk.db, self.desk.now()
        call: BackgroundCall[_Lists] = BackgroundCall(
            lambda: (
                at_risk_list(db, now=now),
                recall_list(db, now=now),
                dropout_list(db, now=now),
            ),
            self,
        )
        call.succeeded.connect(self._on_call_succeeded)
        call.failed.connect(self._on_call_failed)
        self._call = call
        self.setCursor(Qt.CursorShape.BusyCursor)
        call.start()

    def show_lists(
        self, recall: list[RecallRow], dropout: list[RecallRow], at_risk: list[AtRiskRow]
    ) -> None:
        self.at_risk_model.set_rows(at_risk)
        for number, risk in enumerate(at_risk):
            button = QPushButton("Make-up…", self.at_risk_table)
            button.setObjectName(f"make_up_{risk.make_up_for}")
            button.setAccessibleName(f"Offer {risk.patient_name} a make-up")
            button.setToolTip(
                f"Offer {risk.patient_name} a make-up for {risk.missed[0]}, keeping the "
                "series' spacing"
            )
            button.clicked.connect(
                lambda _checked=False, aid=risk.make_up_for: self.make_up_requested.emit(aid)
            )
            self.at_risk_table.setIndexWidget(
                self.at_risk_model.index(number, AtRiskColumn.MAKE_UP), button
            )
        for table, model, rows in (
            (self.recall_table, self.recall_model, recall),
            (self.dropout_table, self.dropout_model, dropout),
        ):
            model.set_rows(rows)
            for number, row in enumerate(rows):
                button = QPushButton("Book…", table)
                button.setObjectName(f"book_{row.patient_id}")
                button.setAccessibleName(f"Book {row.patient_name}")
                button.setToolTip(f"Open the booking dialog for {row.patient_name}")
                button.clicked.connect(
                    lambda _checked=False, pid=row.patient_id: self.book_requested.emit(pid)
                )
                table.setIndexWidget(model.index(number, Column.BOOK), button)
        self.tabs.setTabText(0, f"At risk ({len(at_risk)})")
        self.tabs.setTabText(1, f"Recall ({len(recall)})")
        self.tabs.setTabText(2, f"Dropped out ({len(dropout)})")
        self._shown = True

    def status_summary(self) -> str:
        """The lists' account for the main window's status bar ("" before the first read)."""
        if not self._shown:
            return ""
        return (
            f"Recall: {counted(self.at_risk_model.rowCount(), 'series', 'series')} at risk · "
            f"{counted(self.recall_model.rowCount(), 'patient')} to recall for a booster · "
            f"{counted(self.dropout_model.rowCount(), 'patient')} dropped out"
        )

    def book_button(self, table: QTableView, row: int) -> QPushButton:
        widget = table.indexWidget(table.model().index(row, Column.BOOK))
        assert isinstance(widget, QPushButton)
        return widget

    def make_up_button(self, row: int) -> QPushButton:
        widget = self.at_risk_table.indexWidget(self.at_risk_model.index(row, AtRiskColumn.MAKE_UP))
        assert isinstance(widget, QPushButton)
        return widget

    def _finish_call(self) -> None:
        if self._call is not None:
            self._call.deleteLater()
        self._call = None
        self.unsetCursor()

    def _on_call_succeeded(self, result: object) -> None:
        self._finish_call()
        assert isinstance(result, tuple)
        at_risk, recall, dropout = result
        self.status.setText("")
        self.show_lists(recall, dropout, at_risk)
        self.refreshed.emit()

    def _on_call_failed(self, error: object) -> None:
        self._finish_call()
        self.status.setText(f"The lists could not be read: {error}")

    def _on_table_activated(self, index: QModelIndex) -> None:
        model = index.model()
        row = model.data(index, ROW_ROLE) if model is not None else None
        if isinstance(row, RecallRow | AtRiskRow):
            self.patient_requested.emit(row.patient_id)
