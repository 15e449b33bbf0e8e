"""An appointment opened (double-click a block, Enter on a row): what it is, what happened to
it, and buttons for what can be done next.

The dialog decides nothing itself: it shows ``services.appointments.AppointmentDetail`` and
asks its owner (through signals) to change the status, open the monitoring record, take a
measure, print the session record or open the patient, so every change goes through the same
undoable path as the views' context menus.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.dates import clock_span
from ketadesk.scheduling.statuses import MOVABLE_STATUSES
from ketadesk.services.booking.appointment_changes import action_button_text
from ketadesk.services.booking.appointments import AppointmentDetail, appointment_detail
from ketadesk.services.booking.session_day import SessionDay, session_day
from ketadesk.services.common.context import Actor, Database, ServiceError, may, who_may
from ketadesk.services.common.phones import display_phone
from ketadesk.services.monitoring.measurements import instruments
from ketadesk.ui.common.background import LatestOnly, run_service
from ketadesk.ui.common.cancel_question import ask_cancel_reason
from ketadesk.ui.common.dates import short_date_time, us_long_date
from ketadesk.ui.common.desk import Desk

# The chair board's "late" red (light, dark palette): an urgent review reads the same everywhere.
_URGENT_COLORS = ("#c5221f", "#ff8a80")
# What the session's day holds against it (away, closed): the override amber of the drag.
_DAY_COLORS = ("#b06000", "#ffb74d")


def _read(
    db: Database, appointment_id: int, actor: Actor, now: dt.datetime
) -> tuple[AppointmentDetail, SessionDay]:
    """The appointment and what its day holds against it, in one call on a worker."""
    return (
        appointment_detail(db, appointment_id, actor, now=now),
        session_day(db, appointment_id, now=now),
    )


def history_lines(d: AppointmentDetail) -> list[str]:
    """What happened to the appointment, a line each, oldest first: "Nov 24 10:16 AM  ada
    moved Wed Dec 9 8:00 AM → 10:00 AM; Nurse: Kim Lee → Ana Ruiz: why" (a move says what
    it changed, not "move Booked → Booked")."""
    lines = []
    for h in d.history:
        why = f": {h.reason}" if h.reason else ""
        at = short_date_time(h.at, d.time_format, weekday=False)
        what = h.moved or f"{h.action.replace('_', ' ')} {h.change}"
        lines.append(f"{at}  {h.who}  {what}{why}")
    return lines or ["Booked; nothing has happened to it yet."]


def _is_dark(widget: QWidget) -> bool:
    return widget.palette().color(QPalette.ColorRole.Base).lightness() < 128


class AppointmentDialog(QDialog):
    """One appointment, with its next steps.

    Signals:
        status_requested(int appointment_id, str action, str reason, int version): the
            version is the appointment's as this dialog showed it when the button was pressed
            (the change is refused if someone changed it since)
        monitoring_requested(int appointment_id)
        measure_requested(int patient_id, str instrument, int appointment_id)
        patient_requested(int patient_id)
        print_record_requested(int appointment_id)
        move_requested(int appointment_id): Move… (a new day, time and room for it)
        series_move_requested(int appointment_id): Move rest of series…
        series_end_requested(int series_id): End series… (a prescriber stops the series)
        protocol_change_requested(int series_id): Change protocol… (the series ends and the
            new protocol is booked after it)
        loaded(): the appointment was read and is shown (again).
    """

    status_requested = Signal(int, str, str, int)
    monitoring_requested = Signal(int)
    measure_requested = Signal(int, str, int)
    patient_requested = Signal(int)
    print_record_requested = Signal(int)
    move_requested = Signal(int)
    series_move_requested = Signal(int)
    series_end_requested = Signal(int)
    protocol_change_requested = Signal(int)
    loaded = Signal()

    def __init__(
        self,
        desk: Desk,
        appointment_id: int,
        parent: QWidget | None = None,
        *,
        detail: AppointmentDetail | None = None,
        day: SessionDay | None = None,
    ) -> None:
        """``detail``, when given, is the appointment already read (``open_for``), with
        ``day``, what its day holds against it; otherwise both are read on a worker and shown
        when they arrive (``loaded``)."""
        super().__init__(parent)
        self._desk = desk
        self._id = appointment_id
        self._reads = LatestOnly(self, busy="Reading the appointment…")
        self.setObjectName("appointment_dialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._title = QLabel(self)
        self._title.setObjectName("appointment_title")
        font = self._title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self._title.setFont(font)
        self._title.setWordWrap(True)
        self._form = QFormLayout()
        self._history = QListWidget(self)
        self._history.setObjectName("appointment_history")
        self._history.setAccessibleName("What happened to this appointment")
        # A move with its reason is longer than the page is wide: each line wraps to the
        # page's width (a user trial scrolled sideways to read one), and says itself whole in
        # its tooltip.
        self._history.setWordWrap(True)
        self._history.setTextElideMode(Qt.TextElideMode.ElideNone)
        self._history.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._history.setResizeMode(QListView.ResizeMode.Adjust)
        self._history.setSpacing(2)
        self._history.setAlternatingRowColors(True)  # where one wrapped entry ends
        self._status_row = QHBoxLayout()
        self._tools_row = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self._title)
        layout.addLayout(self._form)
        layout.addWidget(QLabel("History", self))
        layout.addWidget(self._history, 1)
        layout.addLayout(self._status_row)
        layout.addLayout(self._tools_row)
        layout.addWidget(close)
        self.resize(560, 520)
        self._detail: AppointmentDetail | None = None
        self._day = day
        if detail is not None:
            self._show(detail)
        else:
            self._title.setText("Loading…")
            self.reload()

    @classmethod
    def open_for(
        cls,
        desk: Desk,
        appointment_id: int,
        parent: QWidget | None,
        then: Callable[[AppointmentDialog], None],
        *,
        failed: Callable[[ServiceError], None] | None = None,
    ) -> None:
        """Read the appointment on a worker, then make its dialog and hand it to ``then``
        (which shows it): the dialog opens with its data."""
        # The desk's clock: what opens now (a check-in on the session's day) is judged by it.
        db, actor, now = desk.db, desk.actor, desk.now()

        def opened(found: tuple[AppointmentDetail, SessionDay]) -> None:
            detail, day = found
            then(cls(desk, appointment_id, parent, detail=detail, day=day))

        run_service(
            parent,
            lambda: _read(db, appointment_id, actor, now),
            opened,
            failed=failed,
            busy="Opening the appointment…",
        )

    def detail(self) -> AppointmentDetail:
        assert self._detail is not None, "not loaded yet"
        return self._detail

    def is_loaded(self) -> bool:
        return self._detail is not None

    def reload(self) -> None:
        """Read the appointment again on a worker (after a change made here or elsewhere)."""
        db, appointment_id, actor = self._desk.db, self._id, self._desk.actor
        now = self._desk.now()
        self._reads.run(lambda: _read(db, appointment_id, actor, now), self._show_read)

    def _show_read(self, found: tuple[AppointmentDetail, SessionDay]) -> None:
        self._day = found[1]
        self._show(found[0])

    def _show(self, d: AppointmentDetail) -> None:
        self._detail = d
        series = f" {d.series_label}" if d.series_label else ""
        self._title.setText(f"{d.patient_name} — {d.session_type_name}{series}")
        fmt = d.time_format
        self.setWindowTitle(f"{d.patient_name}, {short_date_time(d.start, fmt)}")
        while self._form.rowCount():
            self._form.removeRow(0)
        when = f"{us_long_date(d.start.date())}, {clock_span(d.start, d.end, fmt)}"
        status = d.status_label + (" (late cancellation)" if d.late_cancel else "")
        rows = [
            ("When", when),
            ("Room", d.room or "none (telehealth)"),
            ("Status", status),
            ("Chart", d.chart_number),
            ("Phone", display_phone(d.phone or "") or "—"),
        ]
        if d.protocol_name:
            rows.append(("Series", f"{d.protocol_name}, session {d.series_label}"))
        if d.series_ended:
            rows.append(("Series ended", d.series_ended.removeprefix("Ended ")))
        others = [h for h in d.held if h.need != "room"]
        if others:
            rows.append(
                ("Also holds", ", ".join(f"{h.name} ({h.need.replace('_', ' ')})" for h in others))
            )
        if d.notes:
            rows.append(("Notes", d.notes))
        notices = self._day.notices if self._day is not None else ()
        if d.away and not notices:  # else "This day" below says it, with what to do
            rows.insert(1, ("Patient away", f"⚠ {d.away}"))
        if d.urgent_review:
            rows.insert(0, ("Urgent review", f"⚠ {d.urgent_review}"))
        if d.bp_alert:
            # Near the status: what makes the patient unsafe now, as the chair board says it.
            after = next(i for i, (label, _v) in enumerate(rows) if label == "Status") + 1
            rows.insert(after, ("Blood pressure", f"⚠ {d.bp_alert}"))
        if d.late_entries:
            # A clinical record shows late entries: each reading entered well after it was
            # taken, when and by whom (as the monitoring record and the paper say it).
            rows.append(("Late entries", "\n".join(d.late_entries)))
        if notices:
            # Near the status: a session on the patient's days away or a closed day stays
            # booked until someone moves it, and its page says so, with what to do.
            after = next(i for i, (label, _v) in enumerate(rows) if label == "Status") + 1
            rows.insert(after, ("This day", "⚠ " + " ".join(notices)))
        for label, value in rows:
            # Plain text, never escaped: an escaped value in an auto-format label showed its
            # entities ("patient&#x27;s choice"), and a value is never markup.
            text = QLabel(value, self)
            text.setTextFormat(Qt.TextFormat.PlainText)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            text.setWordWrap(True)
            text.setObjectName(f"field_{label.lower().replace(' ', '_')}")
            if label in ("Urgent review", "Blood pressure"):
                text.setStyleSheet(f"color: {_URGENT_COLORS[_is_dark(self)]}; font-weight: bold;")
            elif label == "Patient away":
                text.setStyleSheet("font-weight: bold;")
            elif label == "This day":
                text.setStyleSheet(f"color: {_DAY_COLORS[_is_dark(self)]}; font-weight: bold;")
            self._form.addRow(f"{label}:", text)
        self._history.clear()
        for line in history_lines(d):
            item = QListWidgetItem(line, self._history)
            item.setToolTip(line)
        self._build_buttons(d)
        self.loaded.emit()

    def _build_buttons(self, d: AppointmentDetail) -> None:
        for row in (self._status_row, self._tools_row):
            while row.count():
                item = row.takeAt(0)
                widget = item.widget() if item is not None else None
                if widget is not None:
                    widget.deleteLater()
        self.buttons = {}
        actor = self._desk.actor
        for action in d.offered_actions:
            if not may(actor, action):
                continue
            self._add_button(self._status_row, action, action_button_text(action), self._on_status)
            early = d.not_yet_reason(action)
            if early is not None:  # a check-in days ahead, a no-show before the start
                self.buttons[action].setEnabled(False)
                self.buttons[action].setToolTip(early)
        if d.status in MOVABLE_STATUSES:
            self._add_button(self._status_row, "move", "Move…", self._on_move)
            if d.series_label:
                self._add_button(
                    self._status_row, "move_series", "Move rest of series…", self._on_move_series
                )
            if not may(actor, "move"):
                for name in ("move", "move_series"):
                    if name in self.buttons:
                        self.buttons[name].setEnabled(False)
                        self.buttons[name].setToolTip(who_may("move"))
        if d.series_id is not None and not d.series_ended:
            self._add_button(self._status_row, "end_series", "End series…", self._on_end_series)
            if d.end_series_refusal:
                self.buttons["end_series"].setEnabled(False)
                self.buttons["end_series"].setToolTip(d.end_series_refusal)
            self._add_button(
                self._status_row, "change_protocol", "Change protocol…", self._on_change_protocol
            )
            if d.change_protocol_refusal:
                self.buttons["change_protocol"].setEnabled(False)
                self.buttons["change_protocol"].setToolTip(d.change_protocol_refusal)
        self._status_row.addStretch(1)
        if d.has_bp_checks or d.dosing:
            if may(actor, "record_monitoring"):
                self._add_button(
                    self._tools_row, "monitoring", "Monitoring record…", self._on_monitoring
                )
            if may(actor, "read_clinical"):
                self._add_button(
                    self._tools_row, "print_record", "Print session record…", self._on_print_record
                )
        if d.dosing and may(actor, "enter_measure"):
            self._add_button(self._tools_row, "phq9", "PHQ-9…", self._on_phq9)
            self._add_button(self._tools_row, "gad7", "GAD-7…", self._on_gad7)
            # Any further configured measure (the C-SSRS screener) gets its own button.
            for code, spec in instruments().items():
                if code not in ("phq9", "gad7"):
                    self._add_button(self._tools_row, code, f"{spec.name}…", self._on_measure)
        self._add_button(self._tools_row, "patient", "Patient record…", self._on_patient)
        self._tools_row.addStretch(1)

    def _add_button(self, row: QHBoxLayout, name: str, text: str, slot: object) -> None:
        button = QPushButton(text, self)
        button.setObjectName(f"action_{name}")
        button.setAutoDefault(False)
        button.clicked.connect(lambda _=False, n=name: slot(n))  # type: ignore[operator]
        row.addWidget(button)
        self.buttons[name] = button

    def _on_status(self, action: str) -> None:
        reason = ""
        # What the button was pressed on: a reload while the reason is asked does not make
        # the decision one taken on the newer picture.
        version = self.detail().version
        if action == "cancel":
            d = self.detail()
            asked = ask_cancel_reason(
                self, d.patient_name, d.session_type_name, d.start, d.time_format
            )
            if asked is None:
                return
            reason = asked
        self.status_requested.emit(self._id, action, reason.strip(), version)

    def _on_move(self, _name: str) -> None:
        self.move_requested.emit(self._id)

    def _on_move_series(self, _name: str) -> None:
        self.series_move_requested.emit(self._id)

    def _on_end_series(self, _name: str) -> None:
        series_id = self.detail().series_id
        if series_id is not None:
            self.series_end_requested.emit(series_id)

    def _on_change_protocol(self, _name: str) -> None:
        series_id = self.detail().series_id
        if series_id is not None:
            self.protocol_change_requested.emit(series_id)

    def _on_monitoring(self, _name: str) -> None:
        self.monitoring_requested.emit(self._id)

    def _on_print_record(self, _name: str) -> None:
        self.print_record_requested.emit(self._id)

    def _on_phq9(self, _name: str) -> None:
        self.measure_requested.emit(self.detail().patient_id, "phq9", self._id)

    def _on_gad7(self, _name: str) -> None:
        self.measure_requested.emit(self.detail().patient_id, "gad7", self._id)

    def _on_measure(self, code: str) -> None:
        self.measure_requested.emit(self.detail().patient_id, code, self._id)

    def _on_patient(self, _name: str) -> None:
        self.patient_requested.emit(self.detail().patient_id)
