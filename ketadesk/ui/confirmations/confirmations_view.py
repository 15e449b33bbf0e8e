"""The Confirmations view (Go ▸ Confirmations): a day's visits to confirm by phone, each with
its patient, phone, time, session type and call status; an outcome button per call, a
cancellation with its reason, Move… for a patient who asks for another time while on the phone
(the day view's own Move dialog, "The patient knows" ticked; the call kept as rescheduled), the
pre-visit checklist ticked for the selected visit, and a call sheet to print.

The list is read on a worker (``services/confirmations/calls.list_confirmations``); every write
goes through the confirmation services on the writer worker, then the list is read again.
"""

from __future__ import annotations

import datetime as dt
import enum
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, QModelIndex, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.confirmations import OUTCOME_NAMES, RESCHEDULED, RIDE_ITEM
from ketadesk.scheduling.dates import clock
from ketadesk.scheduling.statuses import MOVABLE_STATUSES
from ketadesk.services.common.context import InvalidFields, ServiceError, may, who_may
from ketadesk.services.common.phones import display_phone
from ketadesk.services.confirmations.calls import (
    ConfirmationList,
    ConfirmationRow,
    list_confirmations,
    record_call,
    set_checklist_item,
)
from ketadesk.services.printing.call_sheet import call_sheet, call_sheet_layout
from ketadesk.ui.common.background import LatestOnly, run_service
from ketadesk.ui.common.date_fields import DateField
from ketadesk.ui.common.dates import short_date
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.table_model import ROW_ROLE, RowTableModel, TableColumn
from ketadesk.ui.printing.print_dialogs import PREVIEW, Disclosure, DocumentPrinter

#: The outcome buttons, in the order of the row: (outcome, label, object name).
OUTCOME_BUTTONS = (
    ("confirmed", "&Confirmed", "confirm_confirmed"),
    ("left_message", "&Left a message", "confirm_left_message"),
    ("no_answer", "&No answer", "confirm_no_answer"),
)


class Column(enum.IntEnum):
    TIME = 0
    PATIENT = 1
    PHONE = 2
    SESSION = 3
    STATUS = 4
    LAST_CALL = 5
    CHECKLIST = 6


def _at(moment: dt.datetime, zone: _Zone) -> str:
    """ "12/07 9:30 AM": when a call was made, in the clinic's zone and time format."""
    local = moment.astimezone(zone.timezone)
    return f"{local:%m/%d} {clock(local, zone.time_format)}"


def _last_call(row: ConfirmationRow, zone: _Zone) -> str:
    if not row.attempts:
        return ""
    last = row.attempts[-1]
    tries = f" ({len(row.attempts)} calls)" if len(row.attempts) > 1 else ""
    note = f": {last.note}" if last.note else ""
    return f"{last.username} {_at(last.at, zone)}{tries}{note}"


def _checklist(row: ConfirmationRow) -> str:
    if not row.checklist:
        return "—"
    ticked = sum(1 for item in row.checklist if item.ticked)
    return f"{ticked} of {len(row.checklist)}"


class _Zone:
    """The clinic's time zone and time format, as the model's columns read them."""

    timezone = ZoneInfo("UTC")
    time_format = "12h"


def moved_note(row: ConfirmationRow) -> str:
    """What the desk is told of a visit a closure moved whose schedule-change call is still
    owed: what the call is to tell, and that this one call is that call ("" otherwise)."""
    change = row.schedule_change
    if change is None or not change.owed:
        return ""
    if change.no_new_time:
        return (
            f"Moved: {change.words}. Tell the new time on this call; the schedule-change call "
            "stays open on the follow-up queue for the session that still needs a new time."
        )
    return (
        f"Moved: {change.words}. Tell the new time on this call: Confirmed also records the "
        "schedule-change call on the follow-up queue as reached."
    )


class ConfirmationModel(RowTableModel[ConfirmationRow]):
    """The list's rows; ``ROW_ROLE`` gives a row's ConfirmationRow.  Times are shown in the
    clinic's zone (``timezone``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        # The columns read the zone from a holder of their own, not from the model: a lambda
        # holding the model would be a reference cycle, left to the garbage collector.
        zone = self._zone = _Zone()
        columns: tuple[TableColumn[ConfirmationRow], ...] = (
            TableColumn(
                "Time",
                lambda r: clock(r.start.astimezone(zone.timezone), zone.time_format),
                sort_key=lambda r: r.start.timestamp(),
            ),
            TableColumn("Patient", lambda r: r.patient_name),
            TableColumn("Phone", lambda r: display_phone(r.phone or "") or "no phone recorded"),
            TableColumn("Session", lambda r: r.session_type_name),
            TableColumn(
                "Call",
                lambda r: r.status_name,
                # A visit a closure moved: what its schedule-change call is to tell.
                tooltip=lambda r: r.schedule_change.words if r.schedule_change else "",
            ),
            TableColumn(
                "Last call",
                lambda r: _last_call(r, zone),
                tooltip=lambda r: "\n".join(
                    f"{_at(a.at, zone)} {a.username}: {a.outcome_name} {a.note}" for a in r.attempts
                ),
            ),
            TableColumn(
                "Checklist",
                _checklist,
                tooltip=lambda r: "\n".join(
                    ("☑ " if i.ticked else "☐ ") + i.name for i in r.checklist
                ),
            ),
        )
        super().__init__(columns, parent)

    @property
    def timezone(self) -> ZoneInfo:
        return self._zone.timezone

    @property
    def time_format(self) -> str:
        return self._zone.time_format

    def set_timezone(self, zone: ZoneInfo, time_format: str = "12h") -> None:
        self._zone.timezone = zone
        self._zone.time_format = time_format


class ConfirmationsView(QWidget):
    """The confirmation list with its actions.

    Signals:
        refreshed(): the list was read and shown.
        patient_requested(int): open this patient's record (a row activated).
        changed(): a call or a tick was written here (the window reloads what it shows).
        visit_cancelled(int): a visit was cancelled here (a series may offer a make-up).
        move_requested(int): Move… on the selected visit: the owner opens the Move dialog
            (the patient on the phone) and, once moved, calls ``rescheduled``.

    Attributes:
        day_edit: the day the list is for; model, table: the list; note, reason: what the
        next call keeps; outcome_buttons (outcome -> button), move_button, cancel_button,
        print_button;
        checklist_box with checks (item key -> QCheckBox), ride_phone, ride_pickup;
        summary ("3 to call" / "All done"), status.
    """

    refreshed = Signal()
    patient_requested = Signal(int)
    changed = Signal()
    visit_cancelled = Signal(int)
    move_requested = Signal(int)

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.desk = desk
        self.setObjectName("confirmations_view")
        self.setAccessibleName("Confirmations")
        self._reads = LatestOnly(self, busy="Reading the confirmation list…")
        self._day: dt.date | None = None
        self.listed: ConfirmationList | None = None
        self.checks: dict[str, QCheckBox] = {}
        #: The visit just moved from here (id, patient), said once the list is read again.
        self._rescheduled: tuple[int, str] | None = None
        # The ride's phone and pickup the service refused, by visit: shown again, not lost.
        self._refused_ride: tuple[int, str, str] | None = None
        self.printer = DocumentPrinter(desk, self)
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_heading())
        self.model = ConfirmationModel(self)
        self.table = QTableView(self)
        self.table.setObjectName("confirmations_table")
        self.table.setAccessibleName("Visits to confirm")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(Column.LAST_CALL, QHeaderView.ResizeMode.Stretch)
        body = QHBoxLayout()
        body.addWidget(self.table, 1)
        body.addWidget(self._build_checklist())
        layout.addLayout(body, 1)
        self.moved_note = QLabel(self)
        self.moved_note.setObjectName("confirmations_moved")
        self.moved_note.setWordWrap(True)
        self.moved_note.hide()
        layout.addWidget(self.moved_note)
        layout.addLayout(self._build_call_row())
        self.status = QLabel(self)
        self.status.setObjectName("confirmations_status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.day_edit.dateChanged.connect(self._on_day_edit_date_changed)
        self.table.activated.connect(self._on_table_activated)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self._on_selection_changed()

    # -- building ----------------------------------------------------------------------------

    def _build_heading(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.day_edit = DateField(self, weekday=True)
        self.day_edit.setObjectName("confirmations_day")
        self.day_edit.setAccessibleName("Visits on")
        self.summary = QLabel(self)
        self.summary.setObjectName("confirmations_summary")
        font = self.summary.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.summary.setFont(font)
        self.print_button = QPushButton("&Print call sheet…", self)
        self.print_button.setObjectName("confirmations_print")
        self.print_button.clicked.connect(self._on_print_button_clicked)
        row.addWidget(QLabel("Visits on", self))
        row.addWidget(self.day_edit)
        row.addSpacing(16)
        row.addWidget(self.summary, 1)
        row.addWidget(self.print_button)
        return row

    def _build_call_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.note = QLineEdit(self)
        self.note.setObjectName("confirmations_note")
        self.note.setPlaceholderText("Note for this call (optional)")
        self.note.setAccessibleName("Call note")
        self.reason = QLineEdit(self)
        self.reason.setObjectName("confirmations_reason")
        self.reason.setPlaceholderText("Reason, to cancel")
        self.reason.setAccessibleName("Cancellation reason")
        row.addWidget(self.note, 2)
        self.outcome_buttons: dict[str, QPushButton] = {}
        for outcome, label, name in OUTCOME_BUTTONS:
            button = QPushButton(label, self)
            button.setObjectName(name)
            button.clicked.connect(lambda _checked=False, o=outcome: self.record(o))
            self.outcome_buttons[outcome] = button
            row.addWidget(button)
        self.move_button = QPushButton("&Move…", self)
        self.move_button.setObjectName("confirm_move")
        self.move_button.clicked.connect(self._on_move_button_clicked)
        row.addWidget(self.move_button)
        row.addWidget(self.reason, 1)
        self.cancel_button = QPushButton("Cancel the &visit", self)
        self.cancel_button.setObjectName("confirm_cancelled")
        self.cancel_button.setToolTip("Cancel through the normal cancellation, with the reason")
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        row.addWidget(self.cancel_button)
        return row

    def _build_checklist(self) -> QGroupBox:
        self.checklist_box = QGroupBox("Pre-visit checklist", self)
        self.checklist_box.setObjectName("confirmations_checklist")
        self.checklist_box.setMinimumWidth(300)
        box = QVBoxLayout(self.checklist_box)
        self._checks_layout = QVBoxLayout()
        box.addLayout(self._checks_layout)
        form = QFormLayout()
        self.ride_phone = QLineEdit(self.checklist_box)
        self.ride_phone.setObjectName("confirmations_ride_phone")
        self.ride_phone.setPlaceholderText("(619) 555-0100")
        self.ride_pickup = QLineEdit(self.checklist_box)
        self.ride_pickup.setObjectName("confirmations_ride_pickup")
        self.ride_pickup.setPlaceholderText("2:30 pm")
        self.ride_pickup.setToolTip(
            "The pickup time as you hear it: 2:30 pm, 2:30p, 230pm or 14:30"
        )
        form.addRow("Ride's phone", self.ride_phone)
        form.addRow("Pickup at", self.ride_pickup)
        box.addLayout(form)
        self.checklist_hint = QLabel(self.checklist_box)
        self.checklist_hint.setWordWrap(True)
        box.addWidget(self.checklist_hint)
        box.addStretch(1)
        return self.checklist_box

    # -- reading ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the list of the day shown (the clinic's default day the first time)."""
        db, now, day = self.desk.db, self.desk.now(), self._day
        self._reads.run(
            lambda: list_confirmations(db, day, now=now),
            self._on_read,
            failed=self._on_read_failed,
        )

    def _on_read(self, listed: ConfirmationList) -> None:
        self.listed = listed
        self._day = listed.day
        self.day_edit.blockSignals(True)
        self.day_edit.setDate(QDate(listed.day.year, listed.day.month, listed.day.day))
        self.day_edit.blockSignals(False)
        self.model.set_timezone(ZoneInfo(listed.timezone), listed.time_format)
        selected = self.selected()
        self.model.set_rows(listed.rows)
        if selected is not None:
            for number, row in enumerate(listed.rows):
                if row.appointment_id == selected.appointment_id:
                    self.table.selectRow(number)
        if not listed.rows:
            self.summary.setText("No visits to confirm on this day.")
        elif listed.all_done:
            self.summary.setText(f"All done: every one of {len(listed.rows)} visits was called.")
        else:
            self.summary.setText(f"{listed.left_to_call} of {len(listed.rows)} to call.")
        self._say_rescheduled(listed)
        self._on_selection_changed()
        self.refreshed.emit()

    def _say_rescheduled(self, listed: ConfirmationList) -> None:
        """After a Move… from here: the visit selected at its new time, or where it went."""
        if self._rescheduled is None:
            return
        appointment_id, name = self._rescheduled
        self._rescheduled = None
        for number, row in enumerate(listed.rows):
            if row.appointment_id == appointment_id:
                self.table.selectRow(number)
                said = row.attempts[-1].note if row.attempts else ""
                self.status.setText(f"{name}: rescheduled. {said}.")
                return
        self.status.setText(
            f"{name}: rescheduled to another day; the call is kept on that day's list."
        )

    def status_summary(self) -> str:
        """The list's account for the main window's status bar: the visits of its day and
        how many are left to call ("Confirmations for Tue Dec 8: 3 of 10 to call")."""
        listed = self.listed
        if listed is None:
            return ""
        day = f"Confirmations for {short_date(listed.day)}"
        if not listed.rows:
            return f"{day}: no visits to confirm"
        if listed.all_done:
            return f"{day}: all {len(listed.rows)} called"
        return f"{day}: {listed.left_to_call} of {len(listed.rows)} to call"

    def _on_read_failed(self, err: ServiceError) -> None:
        self.status.setText(f"The confirmation list could not be read: {err}")

    def _on_day_edit_date_changed(self, date: QDate) -> None:
        self._day = dt.date(date.year(), date.month(), date.day())
        self.refresh()

    # -- the selection ------------------------------------------------------------------------

    def selected(self) -> ConfirmationRow | None:
        model = self.table.selectionModel()
        rows = model.selectedRows() if model else []
        if not rows:
            return None
        row = self.model.data(rows[0], ROW_ROLE)
        return row if isinstance(row, ConfirmationRow) else None

    def _on_selection_changed(self, *_args: object) -> None:
        row = self.selected()
        allowed = may(self.desk.actor, "confirm_visits")
        open_row = row is not None and row.appointment_status != "cancelled"
        for button in self.outcome_buttons.values():
            button.setEnabled(allowed and open_row)
        self.cancel_button.setEnabled(allowed and open_row)
        movable = open_row and row is not None and row.appointment_status in MOVABLE_STATUSES
        self.move_button.setEnabled(allowed and movable and may(self.desk.actor, "move"))
        self.move_button.setToolTip(
            who_may("move")
            if not may(self.desk.actor, "move")
            else "The patient asks for another time: move the visit now, with them on the "
            "phone (the call is kept as rescheduled)"
        )
        self._show_checklist(row, allowed and open_row)
        note = moved_note(row) if row is not None else ""
        self.moved_note.setText(note)
        self.moved_note.setVisible(bool(note))

    def _show_checklist(self, row: ConfirmationRow | None, editable: bool) -> None:
        for check in self.checks.values():
            self._checks_layout.removeWidget(check)
            check.deleteLater()
        self.checks = {}
        items = row.checklist if row is not None else ()
        for item in items:
            check = QCheckBox(item.name, self.checklist_box)
            check.setObjectName(f"check_{item.key}")
            check.setChecked(item.ticked)
            check.setEnabled(editable)
            check.toggled.connect(lambda on, key=item.key: self.tick(key, on))
            self._checks_layout.addWidget(check)
            self.checks[item.key] = check
        has_ride = any(item.key == RIDE_ITEM for item in items)
        self.ride_phone.setEnabled(editable and has_ride)
        self.ride_pickup.setEnabled(editable and has_ride)
        self.ride_phone.setText(row.ride_phone if row is not None else "")
        # Prefilled with the planned end of observation (DOMAIN.md: pickup = the planned end
        # of observation), as the call sheet prints it; none for a type without a ride.
        planned = row.pickup_planned if row is not None and has_ride else None
        self.ride_pickup.setText(
            (
                row.ride_pickup
                or clock(planned.astimezone(self.model.timezone), self.model.time_format)
            )
            if row is not None and planned is not None
            else (row.ride_pickup if row is not None and has_ride else "")
        )
        if not has_ride:
            self.ride_phone.setText("")
        kept = self._refused_ride
        if row is not None and kept is not None and kept[0] == row.appointment_id:
            # What the desk typed and the service refused stays to be put right, not lost.
            self.ride_phone.setText(kept[1])
            self.ride_pickup.setText(kept[2])
        else:
            self._refused_ride = None
        if row is None:
            self.checklist_hint.setText("Choose a visit to tick its checklist.")
        elif not items:
            self.checklist_hint.setText(f"A {row.session_type_name} has no checklist.")
        elif has_ride:
            self.checklist_hint.setText(
                f"Driver on file: {row.driver or 'none'}. The ride's phone and pickup time are "
                "kept when the ride is ticked."
            )
        else:
            self.checklist_hint.setText("")

    def _on_table_activated(self, index: QModelIndex) -> None:
        row = self.model.data(index, ROW_ROLE)
        if isinstance(row, ConfirmationRow):
            self.patient_requested.emit(row.patient_id)

    # -- the writes ---------------------------------------------------------------------------

    def record(self, outcome: str) -> None:
        """Keep a call with ``outcome`` for the selected visit (the note and, to cancel, the
        reason typed below the list), then move to the next visit not yet called."""
        row = self.selected()
        if row is None:
            return
        desk, note, reason = self.desk, self.note.text(), self.reason.text()

        def done(_none: None) -> None:
            if outcome == "cancelled":
                self.visit_cancelled.emit(row.appointment_id)
            self.status.setText(f"{row.patient_name}: {OUTCOME_NAMES[outcome].lower()}.")
            self.note.clear()
            self.reason.clear()
            self.changed.emit()
            self._select_next_after(row.appointment_id)
            self.refresh()

        run_service(
            self,
            lambda: record_call(
                desk.db,
                desk.actor,
                row.appointment_id,
                outcome,
                note=note,
                reason=reason,
                now=desk.now(),
            ),
            done,
            failed=self._on_refused,
            writes=True,
        )

    def _select_next_after(self, appointment_id: int) -> None:
        rows = self.model.rows()
        ids = [r.appointment_id for r in rows]
        start = ids.index(appointment_id) + 1 if appointment_id in ids else 0
        for number in [*range(start, len(rows)), *range(start)]:
            if rows[number].to_call and rows[number].appointment_id != appointment_id:
                self.table.selectRow(number)
                return

    def _on_cancel_button_clicked(self) -> None:
        self.record("cancelled")

    def _on_move_button_clicked(self) -> None:
        row = self.selected()
        if row is not None:
            self.move_requested.emit(row.appointment_id)

    def rescheduled(self, appointment_id: int) -> None:
        """The visit was moved with the patient on the phone: keep the call as rescheduled
        (the new time in its note) and read the list again, the visit kept selected."""
        row = next((r for r in self.model.rows() if r.appointment_id == appointment_id), None)
        desk, note = self.desk, self.note.text()
        name = row.patient_name if row is not None else "The patient"

        def done(_none: None) -> None:
            self._rescheduled = (appointment_id, name)
            self.note.clear()
            self.changed.emit()
            self.refresh()

        run_service(
            self,
            lambda: record_call(
                desk.db, desk.actor, appointment_id, RESCHEDULED, note=note, now=desk.now()
            ),
            done,
            failed=self._on_refused,
            writes=True,
        )

    def tick(self, item: str, ticked: bool) -> None:
        """Tick or untick ``item`` of the selected visit's checklist (the ride keeps its phone
        and pickup time as typed)."""
        row = self.selected()
        if row is None:
            return
        desk = self.desk
        ride = item == RIDE_ITEM
        phone = self.ride_phone.text() if ride else None
        pickup = self.ride_pickup.text() if ride else None
        self._refused_ride = None  # (set again if this one is refused too)

        def done(_none: None) -> None:
            name = next((i.name for i in row.checklist if i.key == item), item)
            self.status.setText(
                f"{row.patient_name}: {name.lower()} {'ticked' if ticked else 'unticked'}."
            )
            self.changed.emit()
            self.refresh()

        run_service(
            self,
            lambda: set_checklist_item(
                desk.db,
                desk.actor,
                row.appointment_id,
                item,
                ticked,
                ride_phone=phone,
                ride_pickup=pickup,
                now=desk.now(),
            ),
            done,
            failed=self._on_tick_refused,
            writes=True,
        )

    def _on_tick_refused(self, err: ServiceError) -> None:
        self._on_refused(err)
        row = self.selected()
        if row is not None and isinstance(err, InvalidFields):
            typed = (self.ride_phone.text(), self.ride_pickup.text())
            self._refused_ride = (row.appointment_id, *typed)
        self.refresh()  # the box goes back to what is stored; the refused text stays

    def _on_refused(self, err: ServiceError) -> None:
        if isinstance(err, InvalidFields):
            names = {"reason": "Reason", "ride_phone": "Ride's phone", "ride_pickup": "Pickup at"}
            text = "; ".join(f"{names.get(k, k.capitalize())}: {m}" for k, m in err.errors.items())
            self.status.setText(f"Not saved. {text}")
        else:
            self.status.setText(f"Not done: {err}")

    # -- printing -----------------------------------------------------------------------------

    def _on_print_button_clicked(self) -> None:
        self.print_sheet(PREVIEW)

    def print_sheet(self, mode: str = PREVIEW, path: object = None) -> object:
        """Preview, print or save the call sheet of the day shown (``DocumentPrinter``)."""
        db, now, day = self.desk.db, self.desk.now(), self._day
        return self.printer.run(
            lambda: call_sheet_layout(call_sheet(db, day, now=now)),
            mode,
            path,  # type: ignore[arg-type]
            about=Disclosure("confirmations", "the confirmation call sheet"),
        )
