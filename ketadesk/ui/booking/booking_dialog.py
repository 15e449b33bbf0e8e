"""Booking a treatment series in one dialog: find or register the patient, choose a protocol
and preferences, see the plan, swap sessions, deal with gating, confirm.

The dialog decides nothing itself.  ``services.planning`` proposes the plan and the
alternatives for a session, ``services.booking.book`` writes it all or nothing and re-checks
everything (gating, overrides, resources) in its own transaction.  Planning, alternatives and
booking run on a worker with a busy indicator.  A booking that lost a race with another
workstation keeps the draft on screen, says what was taken, and offers to re-plan.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import (
    QDate,
    QModelIndex,
    QObject,
    QSize,
    Qt,
    QTime,
    Signal,
)
from PySide6.QtGui import QGuiApplication, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import WEEKDAYS
from ketadesk.scheduling.dates import clock_span
from ketadesk.scheduling.gating import GateResult
from ketadesk.scheduling.model import PlannedSession
from ketadesk.scheduling.planner import SeriesPlan
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest, BookingResult, GateRefused
from ketadesk.services.booking.plan_check import BookingConflict
from ketadesk.services.booking.planning import (
    BookingChoices,
    PlanWishes,
    SeriesProposal,
    booking_choices,
    propose_series,
    session_alternatives,
)
from ketadesk.services.booking.protocol_change import BookingDraft, lowered
from ketadesk.services.booking.rule_check import RuleRefused
from ketadesk.services.booking.single import SingleProposal, day_part_bounds, propose_single
from ketadesk.services.common.context import ServiceError
from ketadesk.services.common.errors import service_errors
from ketadesk.services.patients.days_away import DaysAway, list_days_away
from ketadesk.services.patients.search import PatientMatch, patient_match
from ketadesk.services.schedule.day import clinic_today
from ketadesk.ui.common.background import BackgroundCall, run_service
from ketadesk.ui.common.date_fields import DateField, TimeField
from ketadesk.ui.common.dates import short_date, short_date_time, us_date
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.gate_overrides import (
    GateOverrides,
    MayOverride,
    gates_blocker,
    may_override_for,
)
from ketadesk.ui.common.sizing import fixed_minimum
from ketadesk.ui.common.table_model import RowTableModel, TableColumn
from ketadesk.ui.patients.patient_form import error_color
from ketadesk.ui.patients.patient_search import PatientPicker

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


T = TypeVar("T")
DIALOG_MINIMUM = QSize(900, 560)
LEFT_WIDTH = 400  # the patient, wishes and gating column, at first
ALTERNATIVE_ROWS = 6  # the alternatives list grows to this many rows, then scrolls
# The protocol list's single appointments carry this before their session type's code; these
# session types come first among them (a new caller's first visit, the usual follow-up).
SINGLE_PREFIX = "single:"
SINGLE_FIRST = ("intake", "booster_review")


# --------------------------------------------------------------------------------------------
# What the table shows, worked out without widgets


@dataclass(frozen=True, slots=True)
class PlanRow:
    index: int
    date: str  # "Mon 30 Nov 2026"
    time: str  # "09:00–10:40"
    room: str
    monitor: str
    staff: str
    warnings: str
    placed: bool


def plan_rows(
    sessions: Sequence[PlannedSession],
    calendar: ClinicCalendar,
    names: Mapping[int, str],
    kinds: Mapping[int, str],
    notes: Mapping[int, str] | None = None,
) -> list[PlanRow]:
    """One row per proposed session: when, which room, monitor and staff, and what is wrong.
    ``notes`` adds a remark to a session (by index), e.g. what it was before a re-plan."""
    rows: list[PlanRow] = []
    for s in sorted(sessions, key=lambda s: s.index):
        held: dict[str, list[str]] = {"room": [], "equipment": [], "staff": []}
        for hold in s.holds:
            bucket = held.setdefault(kinds.get(hold.resource_id, ""), [])
            name = names.get(hold.resource_id, f"#{hold.resource_id}")
            if name not in bucket:
                bucket.append(name)
        start, end = calendar.local(s.start), calendar.local(s.end)
        warnings = list(s.problems)
        if notes and notes.get(s.index):
            warnings.append(notes[s.index])
        rows.append(
            PlanRow(
                index=s.index,
                date=short_date(start, year=True),
                time=clock_span(start, end, calendar.settings.time_format),
                room=", ".join(held["room"]),
                monitor=", ".join(held["equipment"]),
                staff=", ".join(held["staff"]),
                warnings="; ".join(warnings),
                placed=s.placed,
            )
        )
    return rows


def confirm_blocker(
    sessions: Sequence[PlannedSession],
    gates: Sequence[GateResult],
    overrides: Mapping[str, str],
    may_override: MayOverride,
) -> str:
    """Why the plan cannot be confirmed yet ("" when it can)."""
    if not sessions:
        return "Plan first."
    unplaced = [s.index for s in sessions if not s.placed]
    if unplaced:
        listed = ", ".join(str(i) for i in unplaced)
        return f"Session {listed} could not be placed: choose another time for it."
    return gates_blocker(gates, overrides, may_override)


def _when(calendar: ClinicCalendar, s: PlannedSession) -> str:
    start = calendar.local(s.start)
    return short_date_time(start, calendar.settings.time_format)


PLAN_COLUMNS: tuple[TableColumn[PlanRow], ...] = (
    TableColumn("#", lambda row: str(row.index), sort_key=lambda row: row.index),
    TableColumn("Date", lambda row: row.date),
    TableColumn("Time", lambda row: row.time),
    TableColumn("Room", lambda row: row.room),
    TableColumn("Monitor", lambda row: row.monitor),
    TableColumn("Staff", lambda row: row.staff),
    TableColumn("Warnings", lambda row: row.warnings),
)


class PlanTableModel(RowTableModel[PlanRow]):
    """The proposed sessions, one row each; ``SESSION_INDEX_ROLE`` gives a row's session
    number.  What is wrong shows in the error colour."""

    HEADERS = tuple(column.header for column in PLAN_COLUMNS)
    STAFF_COLUMN = HEADERS.index("Staff")
    WARNINGS_COLUMN = HEADERS.index("Warnings")
    SESSION_INDEX_ROLE = Qt.ItemDataRole.UserRole + 1
    TEXT_ROLES = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(PLAN_COLUMNS, parent)

    @override
    def cell_data(self, row: PlanRow, column: int, role: int) -> object:
        warned = row.warnings or not row.placed
        last = column == self.WARNINGS_COLUMN
        if role == Qt.ItemDataRole.ForegroundRole and warned and (last or not row.placed):
            return error_color(QGuiApplication.palette())
        if role == self.SESSION_INDEX_ROLE:
            return row.index
        return None


# --------------------------------------------------------------------------------------------
# The dialog


@dataclass(frozen=True)
class BookingSetup:
    """What the booking form offers: the clinic's choices, and today at the clinic."""

    choices: BookingChoices
    today: dt.date


def read_setup(desk: Desk) -> BookingSetup:
    """Read what the booking form offers (on a worker: ``BookingDialog.open_for``)."""
    return BookingSetup(booking_choices(desk.db), clinic_today(desk.db, now=desk.now()))


class BookingDialog(QDialog):
    """Book a series (or a single session) for a patient.

    Signals:
        booked(list[int] appointment_ids, dt.date first_day): the booking is in the database.
        busy_changed(bool): planning or booking started (True) or ended (False).
        settled(): a plan, alternatives or booking answer has been shown (tests wait for it).
    """

    booked = Signal(list, object)
    busy_changed = Signal(bool)
    settled = Signal()

    def __init__(
        self,
        desk: Desk,
        patient_id: int | None = None,
        parent: QWidget | None = None,
        *,
        setup: BookingSetup,
    ) -> None:
        """``setup`` is what the form offers, read by ``read_setup`` (``open_for``)."""
        super().__init__(parent)
        self._desk = desk
        self._choices: BookingChoices = setup.choices
        self._today = setup.today
        self._may_override = may_override_for(desk.actor)
        self._calls: list[BackgroundCall[Any]] = []
        self.patient_id: int | None = None
        self._patient_label = ""
        self._chart = ""
        self._proposal: SeriesProposal | None = None
        self._sessions: list[PlannedSession] = []
        self._notes: dict[int, str] = {}
        self._alternatives: list[PlannedSession] = []
        #: A change of protocol this booking completes (``start_change``), else None.
        self.change: BookingDraft | None = None
        self.change_banner: QLabel | None = None
        self.setObjectName("booking_dialog")
        self.setWindowTitle("New booking")
        self.setAccessibleName("New booking")

        # Patient: a search (with New patient…) until one is chosen, then their name.
        self.picker = PatientPicker(desk, self)
        self.picker.results.setMaximumHeight(140)
        self.chosen_patient = QWidget(self)
        self.patient_name = QLabel(self.chosen_patient)
        self.patient_name.setObjectName("booking_patient")
        self.patient_name.setAccessibleName("Patient")
        self.change_patient = QPushButton("C&hange patient…", self.chosen_patient)
        self.change_patient.setAccessibleName("Choose another patient")
        row = QHBoxLayout(self.chosen_patient)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.patient_name, 1)
        row.addWidget(self.change_patient)
        self.chosen_patient.setVisible(False)
        # The patient's days away still to come, where the desk books (the plan skips them).
        self.patient_away = QLabel(self)
        self.patient_away.setObjectName("booking_patient_away")
        self.patient_away.setWordWrap(True)
        self.patient_away.setVisible(False)

        # What to book and how the patient would like it.
        self.protocol = QComboBox(self)
        self.protocol.setObjectName("booking_protocol")
        self.protocol.setAccessibleName("Protocol")
        for code, name in self._choices.protocols:
            self.protocol.addItem(name, code)
        self._add_single_kinds()
        self.start = DateField(self)
        self.start.setObjectName("booking_start")
        self.start.setAccessibleName("First day")
        first = self._today + dt.timedelta(days=1)
        self.start.setMinimumDate(QDate(self._today.year, self._today.month, self._today.day))
        self.start.setDate(QDate(first.year, first.month, first.day))
        self.weekday_boxes: dict[str, QCheckBox] = {}
        weekdays = QHBoxLayout()
        weekdays.setSpacing(6)
        for code in WEEKDAYS:
            box = QCheckBox(code.capitalize(), self)
            box.setObjectName(f"weekday_{code}")
            box.setAccessibleName(f"Prefer {code.capitalize()}")
            weekdays.addWidget(box)
            self.weekday_boxes[code] = box
        weekdays.addStretch(1)
        self.weekday_hint = QLabel(self)
        self.use_time = QCheckBox("Start at", self)
        self.use_time.setAccessibleName("Prefer a start time")
        self.time = TimeField(
            self, value=dt.time(9, 0), time_format=self._choices.catalog.settings.time_format
        )
        self.time.setObjectName("booking_time")
        self.time.setAccessibleName("Preferred start time")
        self.time.setEnabled(False)
        time_row = QHBoxLayout()
        time_row.addWidget(self.use_time)
        time_row.addWidget(self.time)
        time_row.addStretch(1)
        self.room = QComboBox(self)
        self.room.setObjectName("booking_room")
        self.room.setAccessibleName("Preferred room")
        self.room.addItem("Any room", "")
        for name in self._choices.rooms:
            self.room.addItem(name, name)
        self.plan_button = QPushButton("&Plan", self)
        self.plan_button.setObjectName("plan_button")
        self.plan_button.setAccessibleName("Plan the series")
        self.plan_button.setToolTip("Propose every session of the series (Ctrl+Enter)")
        self.progress = QProgressBar(self)
        self.progress.setObjectName("booking_busy")
        self.progress.setAccessibleName("Working")
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        plan_row = QHBoxLayout()
        plan_row.addWidget(self.plan_button)
        plan_row.addWidget(self.progress)
        plan_row.addStretch(1)

        wishes = QGroupBox("What and when", self)
        form = QFormLayout(wishes)
        form.addRow("&Protocol:", self.protocol)
        form.addRow("&First day:", self.start)
        form.addRow("Weekdays:", weekdays)
        form.addRow("", self.weekday_hint)
        form.addRow("Time:", time_row)
        form.addRow("&Room:", self.room)
        self._build_single_rows(form)
        form.addRow("", plan_row)
        self.gating = QGroupBox("Gating", self)
        self.gating.setObjectName("gating_box")
        self._gates = GateOverrides(self.gating, self._may_override, self._update_confirm)
        patient_box = QGroupBox("Patient", self)
        patient_layout = QVBoxLayout(patient_box)
        patient_layout.addWidget(self.picker)
        patient_layout.addWidget(self.chosen_patient)
        patient_layout.addWidget(self.patient_away)
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(patient_box)
        left_layout.addWidget(wishes)
        left_layout.addWidget(self.gating)
        left_layout.addStretch(1)

        # The plan, its alternatives, gating.
        self.model = PlanTableModel(self)
        self.table = QTableView(self)
        self.table.setObjectName("plan_table")
        self.table.setAccessibleName("Proposed sessions")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # Staff takes what is left (elided when warnings need the room; the tooltip has it all).
        header.setSectionResizeMode(PlanTableModel.STAFF_COLUMN, QHeaderView.ResizeMode.Stretch)
        self.plan_notes = QLabel(self)
        self.plan_notes.setObjectName("plan_notes")
        self.plan_notes.setWordWrap(True)
        self.plan_notes.setAccessibleName("Notes on the plan")
        self.other_times = QPushButton("&Other times…", self)
        self.other_times.setObjectName("other_times_button")
        self.other_times.setAccessibleName("Other times for the selected session")
        self.other_times.setEnabled(False)
        self.alternatives = QListWidget(self)
        self.alternatives.setObjectName("alternatives")
        self.alternatives.setAccessibleName("Other times for the session")
        self.alternatives.setVisible(False)
        self.alternatives_heading = QLabel(self)
        self.alternatives_heading.setObjectName("alternatives_heading")
        self.alternatives_heading.setVisible(False)
        self.use_alternative = QPushButton("&Use this time", self)
        self.use_alternative.setObjectName("use_alternative_button")
        self.use_alternative.setAccessibleName("Use the chosen time")
        self.use_alternative.setVisible(False)
        swap_row = QHBoxLayout()
        swap_row.addWidget(self.other_times)
        swap_row.addWidget(self.use_alternative)
        swap_row.addStretch(1)

        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(QLabel("<b>Proposed sessions</b>", self))
        right_layout.addWidget(self.table, 3)
        right_layout.addWidget(self.plan_notes)
        right_layout.addLayout(swap_row)
        right_layout.addWidget(self.alternatives_heading)
        right_layout.addWidget(self.alternatives)

        splitter = QSplitter(self)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 5)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([LEFT_WIDTH, DIALOG_MINIMUM.width() * 2])

        # What went wrong, and what to do next.
        self.message = QLabel(self)
        self.message.setObjectName("booking_message")
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Booking message")
        self.message.setVisible(False)
        self.replan = QPushButton("Re-&plan with what is free now", self)
        self.replan.setObjectName("replan_button")
        self.replan.setAccessibleName("Re-plan with what is free now")
        self.replan.setVisible(False)
        message_row = QHBoxLayout()
        message_row.addWidget(self.message, 1)
        message_row.addWidget(self.replan)
        self.blocker = QLabel(self)
        self.blocker.setObjectName("confirm_blocker")
        self.blocker.setWordWrap(True)
        self.buttons = QDialogButtonBox(self)
        self.confirm = self.buttons.addButton(
            "&Confirm booking", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.confirm.setObjectName("confirm_button")
        self.confirm.setAccessibleName("Confirm the booking")
        self.confirm.setEnabled(False)
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAccessibleName("Cancel")
        bottom = QHBoxLayout()
        bottom.addWidget(self.blocker, 1)
        bottom.addWidget(self.buttons)

        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(message_row)
        layout.addLayout(bottom)
        self.resize(1180, 720)

        plan_shortcut = QShortcut(QKeySequence("Ctrl+Return"), self)
        plan_shortcut.activated.connect(self.plan)
        self.start.refused.connect(self._on_date_or_time_refused)
        self.time.refused.connect(self._on_date_or_time_refused)
        self.picker.patient_chosen.connect(self._on_picker_patient_chosen)
        self.change_patient.clicked.connect(self._on_change_patient_clicked)
        self.protocol.currentIndexChanged.connect(self._on_protocol_changed)
        self.when.currentIndexChanged.connect(self._on_protocol_changed)
        self.tentative.toggled.connect(self._update_confirm)
        self.use_time.toggled.connect(self.time.setEnabled)
        self.plan_button.clicked.connect(self.plan)
        self.replan.clicked.connect(self.plan)
        self.table.selectionModel().currentRowChanged.connect(self._on_table_row_changed)
        self.other_times.clicked.connect(self.find_alternatives)
        self.table.activated.connect(self._on_table_activated)
        self.alternatives.itemActivated.connect(self._on_alternative_activated)
        self.use_alternative.clicked.connect(self._on_use_alternative_clicked)
        self.confirm.clicked.connect(self.confirm_booking)
        cancel.clicked.connect(self.reject)

        self._on_protocol_changed()
        if patient_id is not None:
            self.set_patient(patient_id)
        else:
            self.picker.setFocus()
        self._update_confirm()
        fixed_minimum(self, DIALOG_MINIMUM)
        # Enter must never book by accident (nor re-plan over the user's swaps): no default.
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)
            button.setDefault(False)

    # -- the patient ---------------------------------------------------------------------------

    @classmethod
    def open_for(
        cls,
        desk: Desk,
        patient_id: int | None,
        parent: QWidget | None,
        then: Callable[[BookingDialog], None],
    ) -> None:
        """Read what the form offers on a worker, then make the dialog and hand it to ``then``
        (which opens it)."""

        def opened(setup: BookingSetup) -> None:
            then(cls(desk, patient_id, parent, setup=setup))

        run_service(parent, lambda: read_setup(desk), opened, busy="Opening the booking…")

    def set_patient(self, patient_id: int) -> None:
        """Book for this patient (read on a worker, then shown)."""
        db = self._desk.db

        def not_found(_err: BaseException) -> bool:
            self._show_message(f"No patient #{patient_id}.", error=True)
            return True

        now = self._desk.now()
        self._run(
            lambda: (patient_match(db, patient_id), list_days_away(db, patient_id, now=now)),
            self._show_patient_and_away,
            not_found,
        )

    def _show_patient_and_away(self, found: tuple[PatientMatch, DaysAway]) -> None:
        match, away = found
        self._show_patient(match)
        self._show_away(away)
        if self.change is not None and self._proposal is None:
            self.plan()  # a change of protocol shows its plan at once

    # -- a change of protocol ------------------------------------------------------------------

    def start_change(self, draft: BookingDraft) -> None:
        """Book the new protocol of a change (``services/booking/protocol_change.py``): the
        patient fixed, the protocol, first day, weekdays, time and room filled in from the old
        series, the plan made as soon as the patient is read, and the booking linked to the
        old series.  Said above the form: the old series has ended already."""
        self.change = draft
        self.setWindowTitle(f"Change protocol — book {draft.protocol_name}")
        self.change_patient.setEnabled(False)
        self.change_patient.setToolTip("A change of protocol books for the same patient")
        index = self.protocol.findData(draft.protocol)
        if index >= 0:
            self.protocol.setCurrentIndex(index)
        start = max(draft.start, self._today)
        self.start.setDate(QDate(start.year, start.month, start.day))
        for code, box in self.weekday_boxes.items():
            box.setChecked(code in draft.weekdays)
        if draft.time is not None:
            self.use_time.setChecked(True)
            self.time.setTime(QTime(draft.time.hour, draft.time.minute))
        room = self.room.findData(draft.room or "")
        self.room.setCurrentIndex(max(0, room))
        n = draft.cancelled
        banner = QLabel(
            f"<b>Changing protocol:</b> {html.escape(draft.old_protocol_name)}, "
            f"{html.escape(lowered(draft.ended_words))} ({n} session{'s' if n != 1 else ''} "
            f"cancelled). Book {html.escape(draft.protocol_name)} below: the weekdays, time "
            "and room are the old series'. Cancel leaves the old series ended and offers to "
            "take the end back.",
            self,
        )
        banner.setObjectName("booking_change_banner")
        banner.setWordWrap(True)
        layout = self.layout()
        if isinstance(layout, QVBoxLayout):
            layout.insertWidget(0, banner)
        self.change_banner = banner

    def _show_away(self, away: DaysAway | None) -> None:
        """The patient's upcoming days away under their name ("" when none)."""
        upcoming = away.upcoming if away is not None else ()
        text = "; ".join(r.words for r in upcoming)
        self.patient_away.setText(f"<b>Away:</b> {html.escape(text)}" if text else "")
        self.patient_away.setAccessibleName(f"Patient away: {text}" if text else "")
        self.patient_away.setVisible(bool(text))

    def _show_patient(self, match: PatientMatch) -> None:
        patient_id = match.id
        self.patient_id = patient_id
        self._chart = match.chart_number
        self._patient_label = match.display_name
        born = f", born {us_date(match.date_of_birth)}" if match.date_of_birth else ""
        self.patient_name.setText(f"<b>{match.display_name}</b> · chart {match.chart_number}{born}")
        self.picker.setVisible(False)
        self.chosen_patient.setVisible(True)
        self._clear_plan()
        self.protocol.setFocus()

    def _on_picker_patient_chosen(self, patient_id: int) -> None:
        self.set_patient(patient_id)

    def _on_change_patient_clicked(self) -> None:
        self.patient_id = None
        self._show_away(None)
        self.chosen_patient.setVisible(False)
        self.picker.setVisible(True)
        self._clear_plan()
        self.picker.setFocus()

    def _on_protocol_changed(self) -> None:
        code = self.protocol.currentData()
        spec = self._choices.catalog.protocols.get(code) if code else None
        days = ", ".join(d.capitalize() for d in spec.default_weekdays) if spec else ""
        hint = f"With none ticked: the protocol's days ({days})." if days else ""
        single = self.single_type() is not None
        exact = single and self.when.currentData() == "exact"
        if single:
            hint = "" if exact else "With none ticked: any day the clinic opens."
        self.weekday_hint.setText(hint)
        self.when.setEnabled(single)
        self.day_part.setEnabled(single and not exact)
        for box in self.weekday_boxes.values():
            box.setEnabled(not exact)
        if exact:
            self.use_time.setChecked(True)
        self.plan_button.setAccessibleName("Find the time" if single else "Plan the series")
        self._clear_plan()

    # -- single appointments and tentative holds -----------------------------------------------

    def _add_single_kinds(self) -> None:
        """After the series, one appointment of each session type (intake first)."""
        types = self._choices.catalog.session_types
        first = [c for c in SINGLE_FIRST if c in types]
        codes = first + [c for c in types if c not in first]
        self.protocol.insertSeparator(self.protocol.count())
        for code in codes:
            self.protocol.addItem(f"One appointment: {types[code].name}", SINGLE_PREFIX + code)

    def _build_single_rows(self, form: QFormLayout) -> None:
        """When a single appointment: exactly then, or the next available (morning or
        afternoon); and, for a series or a single, whether it is only pencilled in."""
        self.when = QComboBox(self)
        self.when.setObjectName("booking_when")
        self.when.setAccessibleName("When")
        self.when.addItem("Next available", "next")
        self.when.addItem("Exactly on the first day, at the start time", "exact")
        self.day_part = QComboBox(self)
        self.day_part.setObjectName("booking_day_part")
        self.day_part.setAccessibleName("Time of day")
        for label, part in (
            ("Any time", "any"),
            ("Morning", "morning"),
            ("Afternoon", "afternoon"),
        ):
            self.day_part.addItem(label, part)
        hours = self._choices.catalog.settings.tentative_hold_hours
        self.tentative = QCheckBox(
            f"&Pencil in (tentative, held {hours} h or until the first session)", self
        )
        self.tentative.setObjectName("booking_tentative")
        self.tentative.setAccessibleName("Pencil in as a tentative hold")
        self.tentative.setToolTip(
            "For a patient whose screening or consent is pending: holds the time until the "
            f"deadline ({hours} h from now, or the first session's start if sooner); confirm it "
            "once the gates pass, or it is released."
        )
        form.insertRow(1, "W&hen:", self.when)
        form.addRow("Time of &day:", self.day_part)
        form.addRow("", self.tentative)

    def single_type(self) -> str | None:
        """The session type of a single appointment being booked (None: a series)."""
        code = self.protocol.currentData()
        if isinstance(code, str) and code.startswith(SINGLE_PREFIX):
            return code[len(SINGLE_PREFIX) :]
        return None

    def _plan_single(self, code: str) -> None:
        db, chart, today = self._desk.db, self._chart, self._today
        qdate, qtime = self.start.date(), self.time.time()
        day = dt.date(qdate.year(), qdate.month(), qdate.day())
        exact = self.when.currentData() == "exact"
        at = dt.datetime.combine(day, dt.time(qtime.hour(), qtime.minute())) if exact else None
        earliest, latest = day_part_bounds(str(self.day_part.currentData()))
        wishes = self.wishes()
        wishes = PlanWishes(
            weekdays=() if exact else wishes.weekdays,
            time=None if exact else wishes.time,  # next available: the preferred start
            earliest=earliest,
            latest=latest,
            room=wishes.room,
        )
        now = self._desk.now()
        self._show_message("")
        self._run(
            lambda: propose_single(
                db,
                chart=chart,
                session_type=code,
                at=at,
                first=None if exact else day,
                today=today,
                wishes=wishes,
                now=now,
            ),
            self._on_single_planned,
        )

    def _on_single_planned(self, proposal: SingleProposal) -> None:
        sessions = (proposal.session,) if proposal.session is not None else ()
        series_like = SeriesProposal(
            patient_id=proposal.patient_id,
            patient_name=proposal.patient_name,
            protocol="",
            plan=SeriesPlan(protocol="", sessions=sessions, problems=proposal.problems),
            gates=proposal.gates,
            resource_names=proposal.resource_names,
            calendar=proposal.calendar,
        )
        self._on_planned(series_like, [])
        if proposal.session is None:
            self._show_message(
                f"No time for {proposal.session_type_name}: " + "; ".join(proposal.problems),
                error=True,
            )

    # -- planning ------------------------------------------------------------------------------

    def wishes(self) -> PlanWishes:
        qtime = self.time.time()
        return PlanWishes(
            weekdays=tuple(code for code, box in self.weekday_boxes.items() if box.isChecked()),
            time=dt.time(qtime.hour(), qtime.minute()) if self.use_time.isChecked() else None,
            room=self.room.currentData() or None,
        )

    def plan(self) -> None:
        if self.patient_id is None:
            self._show_message("Choose or register the patient first.", error=True)
            self.picker.setFocus()
            return
        if self._calls:
            return
        single = self.single_type()
        if single is not None:
            self._plan_single(single)
            return
        db, chart, code = self._desk.db, self._chart, str(self.protocol.currentData())
        qdate = self.start.date()
        start = dt.date(qdate.year(), qdate.month(), qdate.day())
        wishes, today = self.wishes(), self._today
        previous = list(self._sessions) if self.replan.isVisible() else []
        self._show_message("")
        self._run(
            lambda: propose_series(
                db, chart=chart, protocol=code, start=start, wishes=wishes, today=today
            ),
            lambda proposal: self._on_planned(proposal, previous),
        )

    def _on_planned(self, proposal: SeriesProposal, previous: list[PlannedSession]) -> None:
        self._proposal = proposal
        self._sessions = list(proposal.sessions)
        self._notes = {}
        calendar = proposal.calendar
        before = {s.index: s for s in previous}
        for s in self._sessions:
            old = before.get(s.index)
            if old is not None and (old.start, old.holds) != (s.start, s.holds):
                self._notes[s.index] = f"changed (was {_when(calendar, old)})"
        self._show_rows()
        notes = list(proposal.plan.notes) + list(proposal.plan.problems)
        self.plan_notes.setText("\n".join(notes))
        self.plan_notes.setVisible(bool(notes))
        self._show_gates(proposal.gates)
        if self._sessions:
            self.table.selectRow(0)
        if previous:
            self._show_message(
                "Re-planned with what is free now; sessions that changed say what they were."
            )
        self.replan.setVisible(False)
        self._update_confirm()

    def _show_rows(self) -> None:
        if self._proposal is None:
            self.model.set_rows([])
            return
        self.model.set_rows(
            plan_rows(
                self._sessions,
                self._proposal.calendar,
                self._proposal.resource_names,
                self._choices.resource_kinds,
                self._notes,
            )
        )

    def _clear_plan(self) -> None:
        self._proposal = None
        self._sessions = []
        self._notes = {}
        self.model.set_rows([])
        self.plan_notes.setVisible(False)
        self._show_alternatives([])
        self._show_gates(())
        self.replan.setVisible(False)
        self._update_confirm()

    # -- alternatives --------------------------------------------------------------------------

    def selected_index(self) -> int | None:
        row = self.table.currentIndex().row()
        rows = self.model.rows()
        return rows[row].index if 0 <= row < len(rows) else None

    def _on_table_row_changed(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        self.other_times.setEnabled(self.selected_index() is not None and not self._calls)
        self._show_alternatives([])

    def _on_table_activated(self, _index: QModelIndex) -> None:
        self.find_alternatives()  # Enter (or a double-click) on a session: its other times

    def find_alternatives(self) -> None:
        index = self.selected_index()
        if index is None or self._proposal is None or self.patient_id is None or self._calls:
            return
        if not self._proposal.protocol:  # one appointment: "next available" is the way
            self._show_message("For one appointment, change the day or time and find again.")
            return
        db, pid, code = self._desk.db, self.patient_id, self._proposal.protocol
        sessions, wishes, today = tuple(self._sessions), self.wishes(), self._today
        self._run(
            lambda: session_alternatives(
                db,
                patient_id=pid,
                protocol=code,
                sessions=sessions,
                index=index,
                wishes=wishes,
                today=today,
            ),
            self._on_alternatives_found,
        )

    def _on_alternatives_found(self, found: list[PlannedSession]) -> None:
        self._show_alternatives(found)
        if not found:
            self._show_message(
                "No other time keeps the protocol's spacing within a week of this session.",
                error=True,
            )

    def _show_alternatives(self, found: list[PlannedSession]) -> None:
        self._alternatives = list(found)
        self.alternatives.clear()
        if self._proposal is not None:
            calendar, names = self._proposal.calendar, self._proposal.resource_names
            for row in plan_rows(found, calendar, names, self._choices.resource_kinds):
                text = f"{row.date}  {row.time}  {row.room}  {row.monitor}  {row.staff}"
                item = QListWidgetItem(text.strip(), self.alternatives)
                item.setData(Qt.ItemDataRole.AccessibleTextRole, text.strip())
        shown = bool(found)
        if shown:
            rows = min(len(found), ALTERNATIVE_ROWS)
            frame = 2 * self.alternatives.frameWidth()
            self.alternatives.setFixedHeight(rows * self.alternatives.sizeHintForRow(0) + frame)
            index = found[0].index
            self.alternatives_heading.setText(f"Other times for session {index}:")
        self.alternatives_heading.setVisible(shown)
        self.alternatives.setVisible(shown)
        self.use_alternative.setVisible(shown)
        if shown:
            self.alternatives.setCurrentRow(0)
            self.alternatives.setFocus()

    def swap(self, alternative: PlannedSession) -> None:
        """Put ``alternative`` in its session's place in the draft."""
        self._sessions = [
            alternative if s.index == alternative.index else s for s in self._sessions
        ]
        if self._proposal is not None:
            old = self._proposal.plan.session(alternative.index)
            if old is not None and old.start != alternative.start:
                self._notes[alternative.index] = f"moved from {_when(self._proposal.calendar, old)}"
        self._show_rows()
        self._show_alternatives([])
        for row, plan_row in enumerate(self.model.rows()):
            if plan_row.index == alternative.index:
                self.table.selectRow(row)
        self.table.setFocus()
        self._update_confirm()

    def _on_alternative_activated(self, item: QListWidgetItem) -> None:
        row = self.alternatives.row(item)
        if 0 <= row < len(self._alternatives):
            self.swap(self._alternatives[row])

    def _on_use_alternative_clicked(self) -> None:
        row = self.alternatives.currentRow()
        if 0 <= row < len(self._alternatives):
            self.swap(self._alternatives[row])

    # -- gating --------------------------------------------------------------------------------

    def _show_gates(
        self, gates: Sequence[GateResult], *, kept: Mapping[str, str] | None = None
    ) -> None:
        self._gates.show(gates, kept=kept)

    def overrides(self) -> dict[str, str]:
        return self._gates.overrides()

    def gate_row(self, rule: str) -> tuple[QCheckBox, QLineEdit] | None:
        """The override box and reason field of a gating rule (None if it is not shown)."""
        return self._gates.gate_row(rule)

    # -- confirming ----------------------------------------------------------------------------

    def _update_confirm(self) -> None:
        gates = self._proposal.gates if self._proposal is not None else ()
        if self.tentative.isChecked():
            gates = ()  # a tentative hold is judged by the gates when it is confirmed
        problem = confirm_blocker(self._sessions, gates, self.overrides(), self._may_override)
        if self._proposal is None and self.patient_id is None:
            problem = "Choose or register the patient, then plan."
        self.confirm.setEnabled(not problem and not self._calls)
        self.blocker.setText(problem)

    def confirm_booking(self) -> None:
        if self._proposal is None or self.patient_id is None or self._calls:
            return
        if not self.confirm.isEnabled():
            return
        desk, proposal = self._desk, self._proposal
        request = BookingRequest(
            patient_id=self.patient_id,
            sessions=tuple(self._sessions),
            protocol=proposal.protocol or None,  # "" for a single appointment
            preferences=self._preferences_record() if proposal.protocol else {},
            overrides=self.overrides(),
            tentative=self.tentative.isChecked(),
            previous_series_id=(
                self.change.previous_series_id
                if self.change is not None and proposal.protocol
                else None
            ),
        )
        self._run(
            lambda: booking.book(desk.db, desk.actor, request, now=desk.now()),
            self._on_booked_ok,
            on_error=self._on_book_failed,
        )

    def _preferences_record(self) -> dict[str, Any]:
        wishes = self.wishes()
        return {
            "weekdays": list(wishes.weekdays),
            "time": wishes.time.strftime("%H:%M") if wishes.time else None,  # stored, not shown
            "room": wishes.room,
        }

    def _on_booked_ok(self, result: BookingResult) -> None:
        first = min(self._sessions, key=lambda s: s.start)
        assert self._proposal is not None
        first_day = self._proposal.calendar.local_date(first.start)
        self.booked.emit(list(result.appointment_ids), first_day)
        self.accept()

    def _on_book_failed(self, err: BaseException) -> bool:
        if isinstance(err, BookingConflict):
            reasons = "\n".join(f"• {r}" for r in err.reasons)
            self._show_message(
                "Not booked: another workstation took part of this plan a moment ago. "
                f"Your draft is kept below.\n{reasons}",
                error=True,
            )
            self.replan.setVisible(True)
            self.replan.setFocus()
            return True
        if isinstance(err, GateRefused):
            self._show_gates(err.results)
            self._show_message(f"Not booked: {err}", error=True)
            return True
        if isinstance(err, RuleRefused):
            # A protocol rule broken since the plan was made (another course booked meanwhile):
            # shown with the gating rows, overridable like them, the reasons typed kept.
            named = {f.rule for f in err.findings}
            self._show_gates(
                [
                    *(r for r in self._gates.results() if r.rule not in named),
                    *(f.as_gate() for f in err.findings),
                ],
                kept=self.overrides(),
            )
            self._show_message(f"Not booked: {err}", error=True)
            return True
        return False

    # -- running work off the GUI thread --------------------------------------------------------

    def _run(
        self,
        work: Callable[[], T],
        done: Callable[[T], None],
        on_error: Callable[[BaseException], bool] | None = None,
    ) -> None:
        def guarded() -> T:
            with service_errors():  # a database failure is said in words; the draft stays
                return work()

        call: BackgroundCall[T] = BackgroundCall(guarded, self)

        def succeeded(result: object) -> None:
            self._finish(call)
            done(result)  # type: ignore[arg-type]
            self.settled.emit()

        def failed(err: object) -> None:
            self._finish(call)
            assert isinstance(err, BaseException)
            if on_error is None or not on_error(err):
                text = str(err) if isinstance(err, ServiceError) else f"something failed: {err!r}"
                self._show_message(f"Not done: {text}", error=True)
            self.settled.emit()

        call.succeeded.connect(succeeded)
        call.failed.connect(failed)
        self._calls.append(call)
        self._set_busy(True)
        call.start()

    def _finish(self, call: BackgroundCall[Any]) -> None:
        if call in self._calls:
            self._calls.remove(call)
        call.deleteLater()
        self._set_busy(bool(self._calls))

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.plan_button.setEnabled(not busy)
        self.replan.setEnabled(not busy)
        self.other_times.setEnabled(not busy and self.selected_index() is not None)
        self._update_confirm()
        self.busy_changed.emit(busy)

    def is_busy(self) -> bool:
        return bool(self._calls)

    def _on_date_or_time_refused(self, words: str) -> None:
        """The first day or the time typed as no date or time: said where messages are."""
        self._show_message(words, error=True)

    def _show_message(self, text: str, *, error: bool = False) -> None:
        palette = self.message.palette()
        color = (
            error_color(self.palette())
            if error
            else self.palette().color(QPalette.ColorRole.WindowText)
        )
        palette.setColor(QPalette.ColorRole.WindowText, color)
        self.message.setPalette(palette)
        self.message.setText(text)
        self.message.setVisible(bool(text))

    @override
    def done(self, result: int) -> None:
        for call in list(self._calls):
            call.wait()
        self.picker.wait_idle()
        super().done(result)
