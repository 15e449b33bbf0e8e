"""Finding a patient as you type: a search field with its results list, and the Find patient
dialog (Ctrl+F) built on it.

The widgets hold no search rules: ``services.patients.search_patients`` decides what matches.
Typing is debounced and every search runs on a worker (``BackgroundCall``); an answer to text
that has since changed is dropped, so the list always shows what the field says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ketadesk.services.common.context import ServiceError, may
from ketadesk.services.common.phones import display_phone
from ketadesk.services.patients.search import PatientMatch, prepare_search, search_patients
from ketadesk.ui.common.background import BackgroundCall
from ketadesk.ui.common.dates import us_date
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.qt_workarounds import keep_none_alive
from ketadesk.ui.common.sizing import fixed_minimum
from ketadesk.ui.common.table_model import RowTableModel, TableColumn
from ketadesk.ui.patients.patient_form import PatientFormDialog

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


#: How long typing must pause before a search starts (keeps a fast typist's queue short).
DEBOUNCE_MS = 120
#: How many matches the list shows.
RESULT_LIMIT = 50

PICKER_MINIMUM = QSize(320, 200)
FIND_MINIMUM = QSize(420, 300)


def match_text(match: PatientMatch) -> str:
    """One result line: "Lovelace, Ada · chart BT-1 · born 12/10/1815 · 619-555-0100"."""
    parts = [match.display_name, f"chart {match.chart_number}"]
    if match.date_of_birth is not None:
        parts.append(f"born {us_date(match.date_of_birth)}")
    if match.phone:
        parts.append(display_phone(match.phone))
    if not match.active:
        parts.append("inactive")
    return " · ".join(parts)


def _match_tooltip(match: PatientMatch) -> str:
    return f"{match.display_name}, chart {match.chart_number}"


MATCH_COLUMNS: tuple[TableColumn[PatientMatch], ...] = (
    TableColumn("Patient", match_text, tooltip=_match_tooltip),
)


class PatientMatchModel(RowTableModel[PatientMatch]):
    """The matches of the last search, one row each; ``PATIENT_ID_ROLE`` gives a row's id."""

    PATIENT_ID_ROLE = Qt.ItemDataRole.UserRole + 1
    TEXT_ROLES = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(MATCH_COLUMNS, parent)

    @override
    def cell_data(self, row: PatientMatch, column: int, role: int) -> object:
        return row.id if role == self.PATIENT_ID_ROLE else None


class PatientPicker(QWidget):
    """A search field over a results list: type a name, chart number, phone or date of birth;
    arrows move through the results, Enter (or a double-click) chooses one.

    Signals:
        patient_chosen(int): the id of the chosen patient (also of one just registered).
        searched(str): a search for this text has been shown (tests wait for it).
    """

    patient_chosen = Signal(int)
    searched = Signal(str)

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        keep_none_alive()
        self._desk = desk
        self._calls: list[BackgroundCall[list[PatientMatch]]] = []
        self._wanted = ""  # the text the newest search was started for
        self._choose_when_shown = False  # Enter came before the answer
        self._shown = ""  # the text whose matches the list shows
        self.field = QLineEdit(self)
        self.field.setObjectName("patient_search_field")
        self.field.setPlaceholderText("Name, chart number, phone or date of birth (MM/DD/YYYY)")
        self.field.setAccessibleName("Find patient")
        self.field.setClearButtonEnabled(True)
        self.field.installEventFilter(self)
        self.model = PatientMatchModel(self)
        self.results = QListView(self)
        self.results.setObjectName("patient_results")
        self.results.setAccessibleName("Matching patients")
        self.results.setModel(self.model)
        self.results.setUniformItemSizes(True)
        self.results.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self.status = QLabel(self)
        self.status.setObjectName("patient_search_status")
        self.status.setAccessibleName("Search status")
        # Its text changes with every search: it must not change the window's minimum size.
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.new_button = QPushButton("&New patient…", self)
        self.new_button.setObjectName("new_patient_button")
        self.new_button.setAccessibleName("Register a new patient")
        self.new_button.setVisible(may(desk.actor, "register_patient"))
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)

        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.new_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.field)
        layout.addWidget(self.results, 1)
        layout.addLayout(bottom)
        self.setFocusProxy(self.field)

        self.field.textChanged.connect(self._on_field_text_changed)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.results.activated.connect(self._on_results_activated)
        self.new_button.clicked.connect(self._on_new_button_clicked)
        self._show_status("")
        # Build the search index now, off the GUI thread, so the first keystroke is quick.
        warm: BackgroundCall[None] = BackgroundCall(lambda: prepare_search(desk.db), self)
        warm.start()
        self._warm = warm
        fixed_minimum(self, PICKER_MINIMUM)

    # -- public --------------------------------------------------------------------------------

    def search_now(self, text: str) -> None:
        """Set the field's text and search at once (no debounce)."""
        self.field.setText(text)
        self._timer.stop()
        self._start_search()

    def current_patient(self) -> int | None:
        match = self.model.row_or_none(self.results.currentIndex().row())
        return match.id if match else None

    def choose_current(self) -> bool:
        pid = self.current_patient()
        if pid is None:
            return False
        self.patient_chosen.emit(pid)
        return True

    def wait_idle(self) -> None:
        """Wait for searches in flight (for shutting down and tests)."""
        self._warm.wait()
        for call in list(self._calls):
            call.wait()

    # -- searching -----------------------------------------------------------------------------

    def _on_field_text_changed(self, _text: str) -> None:
        self._choose_when_shown = False
        self._timer.start()

    def _on_timer_timeout(self) -> None:
        self._start_search()

    def _start_search(self) -> None:
        text = self.field.text().strip()
        self._wanted = text
        if not text:
            self.model.set_rows([])
            self._shown = text
            self._show_status("")
            self.searched.emit(text)
            return
        db = self._desk.db
        call: BackgroundCall[list[PatientMatch]] = BackgroundCall(
            lambda: search_patients(db, text, limit=RESULT_LIMIT), self
        )
        call.succeeded.connect(lambda found, c=call, t=text: self._on_search_done(c, t, found))
        call.failed.connect(lambda err, c=call, t=text: self._on_search_failed(c, t, err))
        self._calls.append(call)
        self._show_status("Searching…")
        call.start()

    def _forget(self, call: BackgroundCall[list[PatientMatch]]) -> None:
        if call in self._calls:
            self._calls.remove(call)
        call.deleteLater()

    def _on_search_done(
        self, call: BackgroundCall[list[PatientMatch]], text: str, found: object
    ) -> None:
        self._forget(call)
        if text != self._wanted:
            return  # the field has moved on; a newer search is coming
        matches = found if isinstance(found, list) else []
        self.model.set_rows(matches)
        self._shown = text
        if matches:
            self.results.setCurrentIndex(self.model.index(0, 0))
        self._show_status(self._describe(len(matches)))
        self.searched.emit(text)
        if self._choose_when_shown:
            self._choose_when_shown = False
            self.choose_current()

    def _on_search_failed(
        self, call: BackgroundCall[list[PatientMatch]], text: str, err: object
    ) -> None:
        self._forget(call)
        if text != self._wanted:
            return
        self.model.set_rows([])
        self._shown = text
        reason = str(err) if isinstance(err, ServiceError) else f"the search failed: {err}"
        self._show_status(reason)
        self.searched.emit(text)

    def _describe(self, count: int) -> str:
        if count == 0:
            return "No patient matches."
        if count >= RESULT_LIMIT:
            return f"The first {count} matches: type more to narrow them."
        return "1 match." if count == 1 else f"{count} matches."

    def _show_status(self, text: str) -> None:
        self.status.setText(text or "Type to search.")
        self.status.setAccessibleDescription(self.status.text())

    # -- choosing -----------------------------------------------------------------------------

    def _on_results_activated(self, index: QModelIndex) -> None:
        match = self.model.row_or_none(index.row())
        if match is not None:
            self.patient_chosen.emit(match.id)

    def _on_new_button_clicked(self) -> None:
        # The search's words name the new patient only when they found nobody: a user trial
        # left "Delgado" (a patient found) in the field, typed "Becker" into Last name after
        # it and registered "DelgadoBecker".
        hint = self.field.text() if self.model.rowCount() == 0 else ""
        pid = PatientFormDialog.register(self._desk, self, name_hint=hint)
        if pid is not None:
            self.patient_chosen.emit(pid)

    @override
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # The field keeps the focus; arrows and Enter work the list from there.
        if watched is self.field and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            rows = self.model.rowCount()
            row = self.results.currentIndex().row()
            step = {
                Qt.Key.Key_Down: 1,
                Qt.Key.Key_Up: -1,
                Qt.Key.Key_PageDown: 10,
                Qt.Key.Key_PageUp: -10,
            }.get(Qt.Key(key))
            if step is not None and rows:
                new = min(max(row + step if row >= 0 else 0, 0), rows - 1)
                self.results.setCurrentIndex(self.model.index(new, 0))
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                if self._timer.isActive():
                    self._timer.stop()
                    self._start_search()
                if self._shown != self._wanted:
                    self._choose_when_shown = True  # Enter before the answer: choose on it
                else:
                    self.choose_current()
                return True
        return super().eventFilter(watched, event)


class FindPatientDialog(QDialog):
    """Find patient (Ctrl+F): search, then Enter or Open to choose.

    Signals:
        patient_chosen(int): the chosen patient's id (the dialog closes, accepted).
    """

    patient_chosen = Signal(int)

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("find_patient_dialog")
        self.setWindowTitle("Find patient")
        self.setAccessibleName("Find patient")
        self.chosen_id: int | None = None
        self.picker = PatientPicker(desk, self)
        buttons = QDialogButtonBox(self)
        self._open = buttons.addButton("&Open", QDialogButtonBox.ButtonRole.AcceptRole)
        self._open.setAccessibleName("Open the chosen patient")
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAccessibleName("Cancel")
        layout = QVBoxLayout(self)
        layout.addWidget(self.picker, 1)
        layout.addWidget(buttons)
        self.resize(560, 420)
        self.picker.setFocus()
        QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self, self.picker.setFocus)

        self.picker.patient_chosen.connect(self._on_picker_patient_chosen)
        self._open.clicked.connect(self._on_open_clicked)
        cancel.clicked.connect(self.reject)
        fixed_minimum(self, FIND_MINIMUM)

    @classmethod
    def choose(cls, desk: Desk, parent: QWidget | None = None) -> int | None:
        """Ask for a patient (modal); their id, or None when cancelled."""
        dialog = cls(desk, parent)
        try:
            return dialog.chosen_id if dialog.exec() == QDialog.DialogCode.Accepted else None
        finally:
            dialog.picker.wait_idle()
            dialog.deleteLater()

    def _on_open_clicked(self) -> None:
        self.picker.choose_current()

    def _on_picker_patient_chosen(self, patient_id: int) -> None:
        self.chosen_id = patient_id
        self.patient_chosen.emit(patient_id)
        self.accept()

    @override
    def done(self, result: int) -> None:
        self.picker.wait_idle()
        super().done(result)
