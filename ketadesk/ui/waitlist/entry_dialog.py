"""The waitlist entry dialog: what a patient waits for (session type, weekdays, time of day,
rooms and staff, deadline), added or edited through ``services/waitlist/entries``.

``EntryDialog.open_for`` reads the choices (session types, rooms, staff, the clinic's today)
and the patient on a worker, then opens the dialog; Save writes on the writer worker, and a
refusal names the field beside the form, leaving it as typed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtCore import QDate, Qt, QTime, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.catalog import WEEKDAYS
from ketadesk.services.common.context import InvalidFields, ServiceError
from ketadesk.services.common.phones import display_phone
from ketadesk.services.patients.search import PatientMatch, patient_match
from ketadesk.services.waitlist.entries import (
    KIND_NAMES,
    EntryFields,
    WaitlistChoices,
    WaitlistRow,
    add_entry,
    edit_entry,
    waitlist_choices,
)
from ketadesk.ui.common.background import run_service
from ketadesk.ui.common.date_fields import DateField, TimeField
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.sizing import ContentHeight

#: What the time-of-day fields start at for a new entry (the desk changes them).
DEFAULT_FROM = QTime(9, 0)
DEFAULT_UNTIL = QTime(17, 0)


class EntryDialog(QDialog):
    """Add or edit one waitlist entry.

    Signals:
        saved(int): the entry's id, once written.

    Attributes:
        kind, session_type: combo boxes; weekdays: a check box per weekday ("mon".."sun");
        any_time, available_from, available_until; rooms, staff: checkable lists;
        has_deadline, deadline; notes; problems: the refusal, by field.
    """

    saved = Signal(int)

    def __init__(
        self,
        desk: Desk,
        choices: WaitlistChoices,
        patient: PatientMatch,
        row: WaitlistRow | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.desk = desk
        self.choices = choices
        self.patient = patient
        self.row = row
        self.setObjectName("waitlist_entry_dialog")
        self.setWindowTitle(
            f"Waitlist: {patient.display_name}" + (" (edit)" if row is not None else "")
        )
        layout = QVBoxLayout(self)
        who = QLabel(
            f"<b>{patient.display_name}</b> (chart {patient.chart_number}) "
            f"{display_phone(patient.phone)}"
        )
        layout.addWidget(who)
        form = QFormLayout()
        layout.addLayout(form)
        self._build_what(form)
        self._build_when(form)
        self._build_where(form)
        self.notes = QPlainTextEdit(self)
        self.notes.setObjectName("waitlist_notes")
        self.notes.setAccessibleName("Notes")
        self.notes.setFixedHeight(60)
        form.addRow("Notes", self.notes)
        self.problems = QLabel(self)
        self.problems.setObjectName("waitlist_problems")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color: #b00020;")
        layout.addWidget(self.problems)
        buttons = QDialogButtonBox(self)
        self.save_button = buttons.addButton("&Save", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.rejected.connect(self.reject)
        self.save_button.clicked.connect(self._on_save_button_clicked)
        layout.addWidget(buttons)
        if row is not None:
            self._show(row)
        ContentHeight(self)  # the refusals wrap, and the window grows to show all of them
        self.resize(520, 640)

    # -- building -----------------------------------------------------------------------------

    def _build_what(self, form: QFormLayout) -> None:
        self.kind = QComboBox(self)
        self.kind.setObjectName("waitlist_kind")
        self.kind.setAccessibleName("Waits for")
        for code, name in KIND_NAMES.items():
            self.kind.addItem(name, code)
        form.addRow("Waits for", self.kind)
        self.session_type = QComboBox(self)
        self.session_type.setObjectName("waitlist_session_type")
        self.session_type.setAccessibleName("Session type")
        for code, name in self.choices.session_types:
            self.session_type.addItem(name, code)
        form.addRow("Session type", self.session_type)

    def _build_when(self, form: QFormLayout) -> None:
        days = QWidget(self)
        row = QHBoxLayout(days)
        row.setContentsMargins(0, 0, 0, 0)
        self.weekdays: dict[str, QCheckBox] = {}
        for code in WEEKDAYS:
            box = QCheckBox(code.capitalize(), days)
            box.setObjectName(f"waitlist_day_{code}")
            self.weekdays[code] = box
            row.addWidget(box)
        form.addRow("Days (none: any)", days)
        times = QWidget(self)
        line = QHBoxLayout(times)
        line.setContentsMargins(0, 0, 0, 0)
        self.any_time = QCheckBox("Any time", times)
        self.any_time.setObjectName("waitlist_any_time")
        self.any_time.setChecked(True)
        self.available_from = TimeField(times, time_format=self.choices.time_format)
        self.available_from.setTime(DEFAULT_FROM)
        self.available_from.setObjectName("waitlist_from")
        self.available_from.setAccessibleName("Available from")
        self.available_until = TimeField(times, time_format=self.choices.time_format)
        self.available_until.setTime(DEFAULT_UNTIL)
        self.available_until.setObjectName("waitlist_until")
        self.available_until.setAccessibleName("Available until")
        line.addWidget(self.any_time)
        line.addWidget(QLabel("from", times))
        line.addWidget(self.available_from)
        line.addWidget(QLabel("until", times))
        line.addWidget(self.available_until)
        self.any_time.toggled.connect(self._on_any_time_toggled)
        self._on_any_time_toggled(True)
        form.addRow("Time of day", times)
        dead = QWidget(self)
        line = QHBoxLayout(dead)
        line.setContentsMargins(0, 0, 0, 0)
        self.has_deadline = QCheckBox("Until", dead)
        self.has_deadline.setObjectName("waitlist_has_deadline")
        self.deadline = DateField(dead)
        self.deadline.setObjectName("waitlist_deadline")
        self.deadline.setAccessibleName("Deadline")
        today = self.choices.today
        self.deadline.setDate(QDate(today.year, today.month, today.day).addDays(14))
        self.deadline.setEnabled(False)
        self.has_deadline.toggled.connect(self.deadline.setEnabled)
        line.addWidget(self.has_deadline)
        line.addWidget(self.deadline, 1)
        form.addRow("Deadline", dead)

    def _checkable(self, name: str, items: tuple[tuple[int, str], ...]) -> QListWidget:
        widget = QListWidget(self)
        widget.setObjectName(name)
        widget.setFixedHeight(90)
        for rid, label in items:
            item = QListWidgetItem(label, widget)
            item.setData(Qt.ItemDataRole.UserRole, rid)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
        return widget

    def _build_where(self, form: QFormLayout) -> None:
        self.rooms = self._checkable("waitlist_rooms", self.choices.rooms)
        self.rooms.setAccessibleName("Rooms wanted")
        form.addRow("Rooms (none: any)", self.rooms)
        self.staff = self._checkable("waitlist_staff", self.choices.staff)
        self.staff.setAccessibleName("Staff wanted")
        form.addRow("Staff (none: any)", self.staff)

    # -- reading and showing ----------------------------------------------------------------

    def _on_any_time_toggled(self, checked: bool) -> None:
        self.available_from.setEnabled(not checked)
        self.available_until.setEnabled(not checked)

    @staticmethod
    def _checked(widget: QListWidget) -> tuple[int, ...]:
        return tuple(
            int(widget.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(widget.count())
            if widget.item(i).checkState() == Qt.CheckState.Checked
        )

    @staticmethod
    def _check(widget: QListWidget, ids: tuple[int, ...]) -> None:
        for i in range(widget.count()):
            item = widget.item(i)
            wanted = item.data(Qt.ItemDataRole.UserRole) in ids
            item.setCheckState(Qt.CheckState.Checked if wanted else Qt.CheckState.Unchecked)

    def fields(self) -> EntryFields:
        """What the form says now."""
        any_time = self.any_time.isChecked()
        qdate = self.deadline.date()
        return EntryFields(
            patient_id=self.patient.id,
            session_type=str(self.session_type.currentData()),
            kind=str(self.kind.currentData()),
            weekdays=tuple(code for code, box in self.weekdays.items() if box.isChecked()),
            available_from=None if any_time else self.available_from.time().toPython(),  # type: ignore[arg-type]
            available_until=None if any_time else self.available_until.time().toPython(),  # type: ignore[arg-type]
            room_ids=self._checked(self.rooms),
            staff_ids=self._checked(self.staff),
            deadline=(
                dt.date(qdate.year(), qdate.month(), qdate.day())
                if self.has_deadline.isChecked()
                else None
            ),
            notes=self.notes.toPlainText(),
        )

    def _show(self, row: WaitlistRow) -> None:
        self.kind.setCurrentIndex(max(0, self.kind.findData(row.kind)))
        self.session_type.setCurrentIndex(max(0, self.session_type.findData(row.session_type)))
        for code, box in self.weekdays.items():
            box.setChecked(code in row.weekdays)
        timed = row.available_from is not None or row.available_until is not None
        self.any_time.setChecked(not timed)
        if row.available_from is not None:
            self.available_from.setTime(QTime(row.available_from.hour, row.available_from.minute))
        if row.available_until is not None:
            self.available_until.setTime(
                QTime(row.available_until.hour, row.available_until.minute)
            )
        self._check(self.rooms, row.room_ids)
        self._check(self.staff, row.staff_ids)
        if row.deadline is not None:
            self.has_deadline.setChecked(True)
            self.deadline.setDate(QDate(row.deadline.year, row.deadline.month, row.deadline.day))
        self.notes.setPlainText(row.notes)

    # -- saving -----------------------------------------------------------------------------

    def _on_save_button_clicked(self) -> None:
        fields = self.fields()
        desk, row = self.desk, self.row
        self.save_button.setEnabled(False)
        self.problems.setText("")

        def work() -> int:
            if row is None:
                return add_entry(desk.db, desk.actor, fields, now=desk.now())
            edit_entry(desk.db, desk.actor, row.id, fields, now=desk.now())
            return row.id

        run_service(self, work, self._on_saved, failed=self._on_refused, writes=True)

    def _on_saved(self, entry_id: int) -> None:
        self.saved.emit(entry_id)
        self.accept()

    def _on_refused(self, err: ServiceError) -> None:
        self.save_button.setEnabled(True)
        if isinstance(err, InvalidFields):
            self.problems.setText(
                "\n".join(
                    f"{name.replace('_', ' ').capitalize()}: {text}"
                    for name, text in err.errors.items()
                )
            )
        else:
            self.problems.setText(str(err))

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def open_for(
        cls,
        desk: Desk,
        patient_id: int,
        parent: QWidget | None,
        shown: Callable[[EntryDialog], None],
        row: WaitlistRow | None = None,
    ) -> None:
        """Read the choices and the patient on a worker, then build the dialog and hand it to
        ``shown`` (which opens it)."""
        db, now = desk.db, desk.now()

        def read() -> tuple[WaitlistChoices, PatientMatch]:
            return waitlist_choices(db, now=now), patient_match(db, patient_id)

        def done(result: tuple[WaitlistChoices, PatientMatch]) -> None:
            choices, patient = result
            shown(cls(desk, choices, patient, row, parent))

        run_service(parent, read, done, busy="Reading the waitlist's choices…")
