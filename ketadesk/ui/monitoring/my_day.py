"""My day: one clinician's sessions today, in order, with their part in each.

The staff member is chosen from a list (by default the signed-in user's own staff record); the
rows come from ``services.schedule.my_day``.  Double-click or Enter opens a session.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import (
    QModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QKeyEvent, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLayout,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.dates import clock, clock_span
from ketadesk.services.monitoring.chair_board import STAGE_PHASES, phase_at
from ketadesk.services.schedule.day import clinic_today
from ketadesk.services.schedule.staff import (
    MyDay,
    MyDaySession,
    StaffChoice,
    my_day,
    staff_members,
    staff_of_user,
)
from ketadesk.ui.common.background import LatestOnly, run_service
from ketadesk.ui.common.dates import us_long_date
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.table_model import RowTableModel, TableColumn

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


class Column(enum.IntEnum):
    TIME = 0
    PATIENT = 1
    SESSION = 2
    ROOM = 3
    STATUS = 4
    PHASE = 5
    NEEDED = 6


HEADERS = {
    Column.TIME: "Time",
    Column.PATIENT: "Patient",
    Column.SESSION: "Session",
    Column.ROOM: "Room",
    Column.STATUS: "Status",
    Column.PHASE: "Phase now",
    Column.NEEDED: "You are needed",
}
#: How often "phase now" moves on.
TICK_MS = 60_000
#: The appointment id of a row.
APPOINTMENT_ROLE = Qt.ItemDataRole.UserRole + 1


def phase_now(session: MyDaySession, now: dt.datetime, time_format: str) -> str:
    """The phase a session is in at ``now``, in the chair board's words: "Starts 10:00"
    before, "Not checked in" once due without the patient, "Waiting to start" once checked in,
    the phase by the plan while in progress ("Observation"), "Ended" after; cancelled and
    no-show sessions say so."""
    a = session.appointment
    if not a.is_active:
        return a.status_label
    if a.status == "completed":
        return "Completed"
    moment = now.astimezone(a.start.tzinfo)
    if a.status == "in_progress" and session.running_phases:
        # As the chair board says it: laid from the actual start; past the last phase, the
        # patient is still in it (in the chair).
        running = session.running_phases
        current = phase_at(running, moment)
        return (current or (running[-1] if moment >= running[-1].end else running[0])).name
    if a.status == "checked_in":
        return STAGE_PHASES["waiting"]
    if moment < a.start:
        return f"Starts {clock(a.start, time_format)}"
    if a.status == "booked":  # past its start and nobody checked them in: the board says so too
        return STAGE_PHASES["due"]
    for phase in a.phases:
        if phase.start <= moment < phase.end:
            return phase.name
    return "Ended"


def _time_text(s: MyDaySession, time_format: str) -> str:
    return clock_span(s.appointment.start, s.appointment.end, time_format)


def _session_text(s: MyDaySession) -> str:
    a = s.appointment
    return " ".join(p for p in (a.session_type_name, a.series_label) if p)


def _needed_text(s: MyDaySession, time_format: str) -> str:
    part = clock_span(s.needed_from, s.needed_until, time_format)
    return f"{part} · {s.needed_phases}" if s.needed_phases else part


def _session_tooltip(s: MyDaySession, time_format: str) -> str:
    a = s.appointment
    phases = "\n".join(f"{clock_span(p.start, p.end, time_format)}  {p.name}" for p in a.phases)
    return f"{a.patient_name} · chart {a.chart_number}\n{a.session_type_name}\n{phases}"


class MyDayModel(RowTableModel[MyDaySession]):
    """The rows of one staff member's day (read-only); ``APPOINTMENT_ROLE`` gives a row's
    appointment id."""

    def __init__(self, parent: QWidget | None = None) -> None:
        def column(
            key: Column, text: Callable[[MyDaySession], str], sort_key: Any = None
        ) -> TableColumn[MyDaySession]:
            return TableColumn(
                HEADERS[key],
                text,
                sort_key=sort_key,
                tooltip=lambda s: _session_tooltip(s, self._time_format),
            )

        columns = (
            column(
                Column.TIME,
                lambda s: _time_text(s, self._time_format),
                lambda s: s.appointment.start,
            ),
            column(Column.PATIENT, lambda s: s.appointment.patient_name),
            column(Column.SESSION, _session_text),
            column(Column.ROOM, lambda s: s.appointment.room_name or "No room"),
            column(Column.STATUS, lambda s: s.appointment.status_label),
            # The phase moves with the clock the model is given (set_now).
            column(Column.PHASE, lambda s: phase_now(s, self._now, self._time_format)),
            column(
                Column.NEEDED,
                lambda s: _needed_text(s, self._time_format),
                lambda s: s.needed_from,
            ),
        )
        super().__init__(columns, parent)
        self._now = dt.datetime.now(dt.UTC)
        self._time_format = "12h"

    def set_day(self, day: MyDay | None, now: dt.datetime) -> None:
        self._now = now
        if day is not None:
            self._time_format = day.time_format
        self.set_rows(day.sessions if day is not None else ())

    def set_now(self, now: dt.datetime) -> None:
        """Move the clock: only the "phase now" column changes (selection and scroll stay)."""
        self._now = now
        if self._rows:
            column = Column.PHASE
            self.dataChanged.emit(
                self.index(0, column),
                self.index(len(self._rows) - 1, column),
                [Qt.ItemDataRole.DisplayRole],
            )

    def session(self, row: int) -> MyDaySession:
        return self.row_at(row)

    @override
    def cell_data(self, row: MyDaySession, column: int, role: int) -> object:
        if role == APPOINTMENT_ROLE:
            return row.appointment.id
        if role == Qt.ItemDataRole.ForegroundRole and not row.appointment.is_active:
            return QPalette().color(QPalette.ColorRole.PlaceholderText)
        if role == Qt.ItemDataRole.ToolTipRole and row.urgent_review:
            return row.urgent_review
        if role == Qt.ItemDataRole.ForegroundRole and row.urgent_review:
            return QColor("#c5221f")
        return None


class _Table(QTableView):
    """The sessions table; Enter opens the current row, as a double-click does."""

    activated_row = Signal(int)

    @override
    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.activated_row.emit(self.currentIndex().row())
        else:
            super().keyPressEvent(event)


class MyDayView(QWidget):
    """A staff member's day: choose who, see their sessions in order.

    Signals:
        appointment_activated(int): a session to open (double-click or Enter on its row).
        refreshed(): the day was read again and shown.

    Attributes:
        staff_combo: who the day is for.
        table: the sessions.
        model: the table's model.
        timer: moves "phase now" on every minute (by the Desk's clock).
    """

    appointment_activated = Signal(int)
    refreshed = Signal()

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._desk = desk
        self._shown = False  # a day was read and shown (its summary is the status bar's)
        # Until the clinic's own today is read (on a worker), the day of the wall clock.
        self._day: dt.date = desk.now().date()
        self._day_chosen = False
        self._ready = False
        self._reads = LatestOnly(self, busy="Reading the day…")
        self._my_day: MyDay | None = None
        self.setAccessibleName("My day")
        self.staff_combo = QComboBox(self)
        self.staff_combo.setObjectName("staff_combo")
        self.staff_combo.setAccessibleName("Staff member")
        self.staff_combo.setMinimumContentsLength(24)
        who = QLabel("&Staff member:", self)
        who.setBuddy(self.staff_combo)
        self.heading = QLabel(self)
        self.heading.setObjectName("my_day_heading")
        font = self.heading.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.heading.setFont(font)
        self.summary = QLabel(self)
        self.summary.setObjectName("my_day_summary")
        # A prescriber's standing urgent reviews, above their sessions (hidden when none).
        self.urgent = QLabel(self)
        self.urgent.setObjectName("my_day_urgent_reviews")
        self.urgent.setWordWrap(True)
        self.urgent.setTextFormat(Qt.TextFormat.PlainText)
        self.urgent.setStyleSheet("color: #c5221f; font-weight: bold;")
        self.urgent.hide()
        self.model = MyDayModel(self)
        self.table = _Table(self)
        self.table.setObjectName("my_day_table")
        self.table.setAccessibleName("Sessions")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        top = QHBoxLayout()
        top.addWidget(who)
        top.addWidget(self.staff_combo)
        top.addSpacing(16)
        top.addWidget(self.heading)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.urgent)
        layout.addWidget(self.table, 1)
        self.summary.setText("Loading…")
        self._load_staff()
        self.staff_combo.currentIndexChanged.connect(self._on_staff_combo_current_index_changed)
        self.table.doubleClicked.connect(self._on_table_double_clicked)
        self.table.activated_row.connect(self._on_table_activated_row)
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._on_timer_timeout)
        self.timer.start()

    # -- public -----------------------------------------------------------------------------

    def day(self) -> dt.date:
        return self._day

    def set_day(self, day: dt.date) -> None:
        self._day = day
        self._day_chosen = True
        self.refresh()

    def is_reading(self) -> bool:
        """Whether the staff list or a day is still being read (on a worker)."""
        return not self._ready or self._reads.is_busy()

    def staff_id(self) -> int | None:
        value = self.staff_combo.currentData()
        return int(value) if value is not None else None

    def set_staff(self, staff_id: int) -> None:
        index = self.staff_combo.findData(staff_id)
        if index >= 0:
            self.staff_combo.setCurrentIndex(index)

    def my_day(self) -> MyDay | None:
        return self._my_day

    def refresh(self) -> None:
        """Read the day again on a worker (the staff list stays as it is)."""
        if not self._ready:
            return  # the staff list is on its way; the day is read once it is here
        staff_id = self.staff_id()
        db, day, now = self._desk.db, self._day, self._desk.now()
        self.heading.setText(us_long_date(day))
        self._reads.run(
            lambda: my_day(db, staff_id, day, now=now) if staff_id else None, self._show
        )

    def _show(self, day: MyDay | None) -> None:
        self._my_day = day
        self.model.set_day(day, self._desk.now())
        self.summary.setText(self._summary())
        reviews = day.urgent_reviews if day is not None else ()
        lines = [f"⚠ Urgent review: {r.text}" for r in reviews]
        fmt = day.time_format if day is not None else "12h"
        lines += [
            f"⚠ {s.appointment.patient_name} ({clock(s.appointment.start, fmt)}): {s.urgent_review}"
            for s in (day.sessions if day is not None and not reviews else ())
            if s.urgent_review
        ]
        self.urgent.setText("\n".join(lines))
        self.urgent.setVisible(bool(lines))
        self._shown = True
        self.refreshed.emit()

    # -- building ---------------------------------------------------------------------------

    def _load_staff(self) -> None:
        desk = self._desk

        def work() -> tuple[dt.date, tuple[StaffChoice, ...], int | None]:
            today = clinic_today(desk.db, now=desk.now())
            return today, staff_members(desk.db), staff_of_user(desk.db, desk.actor.user_id)

        run_service(self, work, self._fill_staff, busy="Reading the staff…")

    def _fill_staff(self, loaded: tuple[dt.date, tuple[StaffChoice, ...], int | None]) -> None:
        today, staff, own = loaded
        if not self._day_chosen:
            self._day = today
        self.staff_combo.blockSignals(True)  # one read once filled, not one per name
        for s in staff:
            self.staff_combo.addItem(f"{s.name} ({s.role_label})", s.id)
        if own is not None:
            self.set_staff(own)
        self.staff_combo.blockSignals(False)
        self._ready = True
        self.refresh()

    def status_summary(self) -> str:
        """My day's account for the main window's status bar: whose day, and the summary
        above the table ("Nurse Kim (nurse): 3 sessions · works 08:00–16:00")."""
        if not self._shown:
            return ""
        who = self.staff_combo.currentText()
        return f"{who}: {self._summary()}" if who else self._summary()

    def _summary(self) -> str:
        day = self._my_day
        if day is None:
            return "No staff yet: add staff in Settings"
        count = day.active_count
        parts = [f"{count} session{'s' if count != 1 else ''}"]
        if day.closed_reason:
            parts.append(day.closed_reason)
        if day.shifts:
            hours = ", ".join(clock_span(a, b, day.time_format) for a, b in day.shifts)
            parts.append(f"works {hours}")
        elif not day.time_off:
            parts.append("not on shift")
        for start, end, reason in day.time_off:
            parts.append(f"off {clock_span(start, end, day.time_format)}: {reason}")
        return " · ".join(parts)

    # -- slots ------------------------------------------------------------------------------

    def _on_staff_combo_current_index_changed(self, _index: int) -> None:
        self.refresh()

    def _on_timer_timeout(self) -> None:
        self.model.set_now(self._desk.now())

    def _on_table_double_clicked(self, index: QModelIndex) -> None:
        self._on_table_activated_row(index.row())

    def _on_table_activated_row(self, row: int) -> None:
        if 0 <= row < self.model.rowCount():
            self.appointment_activated.emit(self.model.session(row).appointment.id)
