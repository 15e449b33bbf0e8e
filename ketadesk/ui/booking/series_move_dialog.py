"""Move the rest of a series: pick the session's new start, see where every later session of
the series goes (the planner re-flows them to keep the protocol's spacing), then confirm.

The dialog only asks and shows; the move itself is made by the owner through the undoable
``ScheduleEditor.apply_series_move`` (``move_requested``), who answers ``moved()`` (the dialog
closes) or ``refused(text)`` (it stays open with what was typed).  The proposed start is the
day after the session, past the patient's days away (``services/booking/session_day``); a
spacing the protocol does not allow is offered only to a role that may override it, greyed
for anyone else with who may.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDateTime, Qt, QTimeZone, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.words import role_name
from ketadesk.services.booking.appointments import AppointmentDetail, appointment_detail
from ketadesk.services.booking.series_moves import (
    SPACING_OVERRIDE,
    SeriesMove,
    propose_series_move,
)
from ketadesk.services.booking.session_day import SessionDay, session_day
from ketadesk.services.common.context import ServiceError, may, who_may
from ketadesk.ui.common.background import LatestOnly, run_service
from ketadesk.ui.common.date_fields import DateTimeField
from ketadesk.ui.common.dates import short_date_time
from ketadesk.ui.common.desk import Desk


class SeriesMoveDialog(QDialog):
    """Where the rest of a series goes when one session moves; the plan is worked out on a
    worker (``show_plan``) and written by the owner once asked.

    Signals:
        move_requested(): "Move the sessions" pressed on a plan shown (``proposal``,
            ``reason``); the owner answers ``moved()`` or ``refused(text)``.
    """

    move_requested = Signal()

    def __init__(
        self,
        desk: Desk,
        appointment_id: int,
        parent: QWidget | None = None,
        *,
        detail: AppointmentDetail,
        day: SessionDay | None = None,
    ) -> None:
        """``detail`` is the session that moves, as read by ``open_for``, and ``day`` what
        its day holds (the first day proposed is past the patient's days away)."""
        super().__init__(parent)
        self._desk = desk
        self._id = appointment_id
        self._proposal: SeriesMove | None = None
        self._plans = LatestOnly(self, busy="Working out the new plan…")
        self._zone = ZoneInfo(detail.timezone)
        self._time_format = detail.time_format
        self.setObjectName("series_move_dialog")
        self.setWindowTitle(f"Move the rest of the series — {detail.patient_name}")
        intro = QLabel(
            f"{detail.session_type_name} {detail.series_label} is booked for "
            f"{short_date_time(detail.start, detail.time_format)}. Choose its new start; the "
            "later sessions of the series follow, keeping the protocol's spacing.",
            self,
        )
        intro.setWordWrap(True)
        self.start_edit = DateTimeField(self, time_format=detail.time_format)
        self.start_edit.setObjectName("new_start")
        self.start_edit.setAccessibleName("New start")
        zone = QTimeZone(detail.timezone.encode())
        self.start_edit.setTimeZone(zone)
        moved = detail.start + dt.timedelta(days=1)
        if day is not None:  # the day after, past the patient's days away
            moved = dt.datetime.combine(day.move_from, detail.start.timetz())
        self.start_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(moved.timestamp()), zone))
        self.plan_button = QPushButton("Show the new plan", self)
        self.plan_button.setObjectName("show_plan")
        self.plan_button.clicked.connect(self.show_plan)
        self.table = QTableWidget(0, 3, self)
        self.table.setObjectName("series_moves")
        self.table.setAccessibleName("Where each session goes")
        self.table.setHorizontalHeaderLabels(["Session", "New time", "Notes"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.message = QLabel(self)
        self.message.setObjectName("series_move_message")
        self.message.setWordWrap(True)
        # Room for a refusal's three lines: the table gives way, the words are not cut.
        self.message.setMinimumHeight(self.message.fontMetrics().lineSpacing() * 4)
        self.reason_edit = QLineEdit(self)
        self.reason_edit.setObjectName("reason")
        self.reason_edit.setAccessibleName("Reason for the move")
        self.reason_edit.setPlaceholderText("Why it moves (needed when the spacing is off)")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Move the sessions")
        ok.setEnabled(False)
        self.buttons.accepted.connect(self._on_accepted)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("New start:", self.start_edit)
        form.addRow("", self.plan_button)
        form.addRow("Reason:", self.reason_edit)
        # Whether the move owes the patient a schedule-change call (scheduling/move_calls).
        self.told_check = QCheckBox("The patient &knows (told now)", self)
        self.told_check.setObjectName("move_patient_knows")
        self.told_check.setToolTip(
            "Tick when the patient is on the phone or at the desk and hears the new times. "
            "Unticked, the move owes them one schedule-change call on the follow-up queue."
        )
        form.addRow("", self.told_check)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.start_edit.dateTimeChanged.connect(self._forget_plan)
        self.start_edit.refused.connect(self._on_start_edit_refused)
        self.resize(620, 460)

    @classmethod
    def open_for(
        cls,
        desk: Desk,
        appointment_id: int,
        parent: QWidget | None,
        then: Callable[[SeriesMoveDialog], None],
    ) -> None:
        """Read the session on a worker, then make the dialog and hand it to ``then``."""
        db, now = desk.db, desk.now()

        def read() -> tuple[AppointmentDetail, SessionDay]:
            return appointment_detail(db, appointment_id), session_day(db, appointment_id, now=now)

        def opened(found: tuple[AppointmentDetail, SessionDay]) -> None:
            detail, day = found
            then(cls(desk, appointment_id, parent, detail=detail, day=day))

        run_service(parent, read, opened)

    def new_start(self) -> dt.datetime:
        secs = self.start_edit.dateTime().toSecsSinceEpoch()
        return dt.datetime.fromtimestamp(secs, dt.UTC)

    def set_new_start(self, start: dt.datetime) -> None:
        self.start_edit.setDateTime(
            QDateTime.fromSecsSinceEpoch(int(start.timestamp()), self.start_edit.timeZone())
        )

    def proposal(self) -> SeriesMove | None:
        return self._proposal

    def reason(self) -> str:
        return self.reason_edit.text().strip()

    def patient_knows(self) -> bool:
        """The patient is told the new times now: the move owes no schedule-change call."""
        return self.told_check.isChecked()

    def show_plan(self) -> None:
        """Work out the plan for the start chosen, on a worker; shown when it arrives."""
        self._forget_plan()
        db, appointment_id, start, now = self._desk.db, self._id, self.new_start(), self._desk.now()

        def planned(proposal: SeriesMove) -> None:
            if self.new_start() == start:  # not another start chosen meanwhile
                self._show_proposal(proposal)

        def refused(err: ServiceError) -> None:
            self._say(str(err), error=True)

        self._say("Working out the new plan…")
        self._plans.run(
            lambda: propose_series_move(db, appointment_id, start, now=now),
            planned,
            failed=refused,
        )

    def _show_proposal(self, proposal: SeriesMove) -> None:
        self._proposal = proposal
        self.table.setRowCount(len(proposal.moves))
        for row, (_aid, planned) in enumerate(proposal.moves):
            local = planned.start.astimezone(self._zone)
            cells = [
                f"{planned.index}",
                short_date_time(local, self._time_format),
                "; ".join(planned.problems),
            ]
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
        problems = list(proposal.plan.problems)
        unplaced = [p for s in proposal.plan.sessions if not s.placed for p in s.problems]
        if unplaced:
            self._say("Not every session finds a place: " + "; ".join(unplaced), error=True)
            return
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if problems and not may(self._desk.actor, "override_gate"):
            # Not this role's override to give: greyed, saying who may, not refused later.
            who = who_may("override_gate", SPACING_OVERRIDE)
            self._say(
                "The spacing is off: " + "; ".join(problems) + f". {who}: choose another "
                "start, or ask one of them.",
                error=True,
            )
            ok.setEnabled(False)
            ok.setToolTip(who)
            self.reason_edit.setEnabled(False)
            self.reason_edit.setToolTip(who)
            return
        if problems:
            self._say(
                "The spacing is off: "
                + "; ".join(problems)
                + ". As a "
                + role_name(self._desk.actor.role)
                + " you may go ahead with a reason.",
                error=True,
            )
        else:
            n = len(proposal.moves)
            self._say(f"{n} session{'s' if n != 1 else ''} move; the spacing holds.")
        ok.setEnabled(True)

    def _on_start_edit_refused(self, words: str) -> None:
        """Typed text that is no day and time: said, and no plan shown for it."""
        self._forget_plan()
        self._say(words, error=True)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #d93025;" if error else "")

    def _forget_plan(self) -> None:
        self._proposal = None
        self.table.setRowCount(0)
        self.message.setText("")
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(False)
        ok.setToolTip("")
        self.reason_edit.setEnabled(True)
        self.reason_edit.setToolTip("")

    def _on_accepted(self) -> None:
        if self._proposal is None:
            return
        if self._proposal.plan.problems and not self.reason():
            self._say("Give a reason: the new spacing is outside the protocol.", error=True)
            self.reason_edit.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
        self._say("Moving the sessions…")
        self.move_requested.emit()

    def moved(self) -> None:
        """The owner wrote the move: done."""
        self.accept()

    def refused(self, text: str) -> None:
        """The owner's write was refused: say why, keep the start and reason typed."""
        self._say(f"Not moved: {text}", error=True)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(
            self._proposal is not None
        )
