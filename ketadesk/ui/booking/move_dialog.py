"""Move one session (the session's page, or a block's menu ▸ Move…): the next openings for it,
or a day, time and room typed in, each place judged by the drag's own check before Move.

The dialog decides nothing itself: the openings come from ``services.booking.session_day.
move_openings`` (the openings search every booking uses, off the patient's days away and other
sessions), a place's verdict from ``judge_move`` (the drag check: room, staff, equipment, the
patient's day and the clinic's rules, with who may go past a "warn" one), the reason for an
override from the shared override dialog, and the move is asked of the owner
(``move_requested``), who writes it through the undoable ``ScheduleEditor.move`` and answers
with ``moved`` or ``refused``: a refusal keeps the dialog open with what was chosen.

The dialog opens on the session's own day and time (its own place selected among the
openings, which offer its own time of day even off the slot grid).  The day and time are read
as they are typed (``DateField.read_while_typing``: Ctrl+A then "12/15" or "12/15/2026"), so the
verdict is always of the place the fields show and Move moves it there; text that is no date or
time says so in the verdict and greys Move; an opening arriving late never replaces a place the
user has typed or chosen.  "The patient knows (told
now)" says whether the move owes the patient a schedule-change call (the service decides,
``scheduling/move_calls``): ticked from the confirmation list, where the patient is on the
phone, unticked elsewhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

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
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.dates import clock_span
from ketadesk.services.booking.appointments import AppointmentDetail, appointment_detail
from ketadesk.services.booking.move_check import MoveVerdict
from ketadesk.services.booking.session_day import (
    MoveOpening,
    MoveOpenings,
    SessionDay,
    judge_move,
    move_openings,
    session_day,
)
from ketadesk.services.common.context import ServiceError, may, who_may
from ketadesk.ui.common import override_dialog
from ketadesk.ui.common.background import LatestOnly, run_service
from ketadesk.ui.common.date_fields import DateField, TimeField
from ketadesk.ui.common.dates import short_date, short_date_time
from ketadesk.ui.common.desk import Desk

#: What the shared override dialog says the reason is for.
OVERRIDE_STEP = "move this session"
#: How many days of openings are looked through from the day chosen.
OPENING_DAYS = 14
#: Colours of the verdict (light, dark palettes are close enough here): fits, needs an
#: override, refused.
_FITS, _WARN, _REFUSED = "#1e7e34", "#b06000", "#d93025"

OPENING_ROLE = Qt.ItemDataRole.UserRole


def opening_words(opening: MoveOpening, zone: ZoneInfo, time_format: str) -> str:
    """ "Tue Dec 8, 10:00–11:40 AM · Room 2"."""
    start, end = opening.start.astimezone(zone), opening.end.astimezone(zone)
    room = f" · {opening.room}" if opening.room else ""
    return f"{short_date(start.date())}, {clock_span(start, end, time_format)}{room}"


class MoveSessionDialog(QDialog):
    """One session's new place, chosen from its openings or typed in, judged before Move.

    Signals:
        move_requested(int appointment_id, object start, object room_id, object overrides,
            int version): Move pressed on a place that fits, or that needs an override the
            user gave a reason for (``overrides``: rule code -> reason); the owner writes it
            and answers ``moved()`` (closes) or ``refused(text)`` (stays open).
    """

    move_requested = Signal(int, object, object, object, int)

    def __init__(
        self,
        desk: Desk,
        appointment_id: int,
        parent: QWidget | None = None,
        *,
        detail: AppointmentDetail,
        day: SessionDay,
        told: bool = False,
    ) -> None:
        super().__init__(parent)
        self._desk = desk
        self._told = told
        #: Until the first openings arrive the session's own place is kept in the fields.
        self._first_listing = not day.notices
        self._id = appointment_id
        self._detail = detail
        self._zone = ZoneInfo(detail.timezone)
        self._fmt = detail.time_format
        self._verdict: MoveVerdict | None = None
        self._openings_read = LatestOnly(self, busy="Looking for openings…")
        self._checks = LatestOnly(self, busy="Checking the place…")
        self._rooms: tuple[tuple[int, str], ...] = ()
        self._writing = False
        #: The user changed the day, time or room (typed or picked): a listing arriving later
        #: does not choose an opening over it.
        self._place_touched = False
        #: The last refusal of a move from here, said until another place is chosen.
        self._refusal = ""
        self.setObjectName("move_session_dialog")
        self.setWindowTitle(f"Move — {detail.patient_name}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_intro(day))
        layout.addLayout(self._build_openings(day))
        layout.addWidget(self.openings, 1)
        layout.addLayout(self._build_place())
        layout.addWidget(self._build_told())
        layout.addWidget(self.verdict_label)
        layout.addWidget(self._build_buttons())
        self.resize(600, 560)
        self._connect()
        self.find_openings()

    # -- building ---------------------------------------------------------------------------

    def _build_intro(self, day: SessionDay) -> QLabel:
        d = self._detail
        room = f" in {d.room}" if d.room else ""
        lines = [
            f"{d.session_type_name} {d.series_label}".strip()
            + f" for {d.patient_name} is booked for {short_date_time(d.start, self._fmt)}{room}."
        ]
        lines.extend(n for n in day.notices if not n.startswith("Move…"))
        intro = QLabel("\n".join(lines), self)
        intro.setObjectName("move_intro")
        intro.setWordWrap(True)
        return intro

    def _build_openings(self, day: SessionDay) -> QHBoxLayout:
        self.from_edit = DateField(self, value=day.openings_from or day.move_from, weekday=True)
        self.from_edit.setObjectName("openings_from")
        self.from_edit.setAccessibleName("Openings from")
        self.find_button = QPushButton("Find openings", self)
        self.find_button.setObjectName("find_openings")
        self.find_button.setAutoDefault(False)
        self.openings = QListWidget(self)
        self.openings.setObjectName("move_openings")
        self.openings.setAccessibleName("Openings for this session")
        self.openings_note = QLabel(self)
        self.openings_note.setObjectName("openings_note")
        self.openings_note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Openings from:", self))
        row.addWidget(self.from_edit)
        row.addWidget(self.find_button)
        row.addWidget(self.openings_note, 1)
        return row

    def _build_place(self) -> QFormLayout:
        d = self._detail
        self.date_edit = DateField(self, value=d.start.date(), weekday=True)
        self.date_edit.setObjectName("move_date")
        self.date_edit.setAccessibleName("New day")
        self.date_edit.read_while_typing()
        self.time_edit = TimeField(self, value=d.start.time(), time_format=self._fmt)
        self.time_edit.setObjectName("move_time")
        self.time_edit.setAccessibleName("New time")
        self.time_edit.read_while_typing()
        self.room_box = QComboBox(self)
        self.room_box.setObjectName("move_room")
        self.room_box.setAccessibleName("New room")
        self.room_box.setEnabled(False)
        self.verdict_label = QLabel(self)
        self.verdict_label.setObjectName("move_verdict")
        self.verdict_label.setWordWrap(True)
        when = QHBoxLayout()
        when.addWidget(self.date_edit)
        when.addWidget(self.time_edit)
        form = QFormLayout()
        form.addRow("New day and time:", when)
        form.addRow("Room:", self.room_box)
        return form

    def _build_told(self) -> QCheckBox:
        self.told_check = QCheckBox("The patient &knows (told now)", self)
        self.told_check.setObjectName("move_patient_knows")
        self.told_check.setChecked(self._told)
        self.told_check.setToolTip(
            "Tick when the patient is on the phone or at the desk and hears the new time. "
            "Unticked, a move of a session still to come owes them a schedule-change call on "
            "the follow-up queue."
        )
        return self.told_check

    def _build_buttons(self) -> QDialogButtonBox:
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.move_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.move_button.setText("Move the session")
        self.move_button.setObjectName("move_session")
        self.move_button.setEnabled(False)
        return self.buttons

    def _connect(self) -> None:
        self.find_button.clicked.connect(self.find_openings)
        self.openings.currentItemChanged.connect(self._on_openings_current_item_changed)
        self.date_edit.dateChanged.connect(self._on_place_changed)
        self.time_edit.timeChanged.connect(self._on_place_changed)
        self.room_box.currentIndexChanged.connect(self._on_place_changed)
        self.date_edit.refused.connect(self._on_place_refused)
        self.time_edit.refused.connect(self._on_place_refused)
        self.from_edit.refused.connect(self._on_from_edit_refused)
        self.buttons.accepted.connect(self._on_move)
        self.buttons.rejected.connect(self.reject)

    @classmethod
    def open_for(
        cls,
        desk: Desk,
        appointment_id: int,
        parent: QWidget | None,
        then: Callable[[MoveSessionDialog], None],
        *,
        failed: Callable[[ServiceError], None] | None = None,
        told: bool = False,
    ) -> None:
        """Read the session and its day on a worker, then make the dialog for ``then``;
        ``told``: "The patient knows" ticked to begin with (the patient is on the phone)."""
        db, actor, now = desk.db, desk.actor, desk.now()

        def read() -> tuple[AppointmentDetail, SessionDay]:
            return (
                appointment_detail(db, appointment_id, actor, now=now),
                session_day(db, appointment_id, now=now),
            )

        def opened(found: tuple[AppointmentDetail, SessionDay]) -> None:
            detail, day = found
            then(cls(desk, appointment_id, parent, detail=detail, day=day, told=told))

        run_service(parent, read, opened, failed=failed, busy="Opening the move…")

    # -- what is chosen ---------------------------------------------------------------------

    def new_start(self) -> dt.datetime:
        """The place's start (aware, UTC), from the day and time fields in the clinic's zone."""
        day, time = self.date_edit.date(), self.time_edit.time()
        local = dt.datetime(
            day.year(), day.month(), day.day(), time.hour(), time.minute(), tzinfo=self._zone
        )
        return local.astimezone(dt.UTC)

    def new_room(self) -> int | None:
        room = self.room_box.currentData()
        return room if isinstance(room, int) else None

    def verdict(self) -> MoveVerdict | None:
        return self._verdict

    def patient_knows(self) -> bool:
        """The patient is told the new time now: the move owes no schedule-change call."""
        return self.told_check.isChecked()

    def _at_own_place(self) -> bool:
        d = self._detail
        return self.new_start() == d.start and (
            not self._rooms or self.room_box.currentText() == d.room
        )

    def choose(self, start: dt.datetime, room_id: int | None) -> None:
        """Put a place in the fields (an opening picked, or a test)."""
        local = start.astimezone(self._zone)
        for edit, value in (
            (self.date_edit, QDate(local.year, local.month, local.day)),
            (self.time_edit, QTime(local.hour, local.minute)),
        ):
            blocked = edit.blockSignals(True)
            if isinstance(value, QDate):
                edit.setDate(value)
            else:
                edit.setTime(value)
            edit.blockSignals(blocked)
        index = self.room_box.findData(room_id)
        if index >= 0:
            blocked = self.room_box.blockSignals(True)
            self.room_box.setCurrentIndex(index)
            self.room_box.blockSignals(blocked)
        self.check_place()

    # -- openings ---------------------------------------------------------------------------

    def find_openings(self) -> None:
        """Look for openings from the day chosen, on a worker; listed when they arrive."""
        self.from_edit.commit()
        q = self.from_edit.date()
        first = dt.date(q.year(), q.month(), q.day())
        db, appointment_id, now = self._desk.db, self._id, self._desk.now()
        self.openings_note.setText("Looking for openings…")
        self._openings_read.run(
            lambda: move_openings(db, appointment_id, first, days=OPENING_DAYS, now=now),
            self._show_openings,
            failed=self._on_openings_failed,
        )

    def _show_openings(self, found: MoveOpenings) -> None:
        if not self._rooms and found.rooms:
            self._rooms = found.rooms
            blocked = self.room_box.blockSignals(True)
            for rid, name in found.rooms:
                self.room_box.addItem(name, rid)
            index = self.room_box.findText(self._detail.room)
            self.room_box.setCurrentIndex(max(index, 0))
            self.room_box.setEnabled(True)
            self.room_box.blockSignals(blocked)
        self.openings.clear()
        for opening in found.openings:
            item = QListWidgetItem(opening_words(opening, self._zone, self._fmt))
            item.setData(OPENING_ROLE, opening)
            self.openings.addItem(item)
        n = len(found.openings)
        note = f"{n} opening{'s' if n != 1 else ''}" if n else "No openings"
        why = "; ".join(found.reasons[:2])
        self.openings_note.setText(f"{note}; {why}" if why else note)
        self.openings_note.setToolTip("\n".join(found.reasons))
        own = next((i for i, o in enumerate(found.openings) if o.start == self._detail.start), None)
        first, self._first_listing = self._first_listing, False
        if first:
            # Opened on the session's own day and time: its own place stays chosen.
            if own is not None:
                blocked = self.openings.blockSignals(True)
                self.openings.setCurrentRow(own)
                self.openings.blockSignals(blocked)
            self.check_place()
        elif n and not self._place_touched:
            self.openings.setCurrentRow(0)
        else:
            self.check_place()

    def _on_from_edit_refused(self, words: str) -> None:
        self.openings_note.setText(f"No openings looked for: {words}")

    def _on_openings_failed(self, err: ServiceError) -> None:
        self.openings_note.setText(f"No openings looked for: {err}")

    def _on_openings_current_item_changed(
        self, current: QListWidgetItem | None, _previous: QListWidgetItem | None
    ) -> None:
        if current is None:
            return
        opening = current.data(OPENING_ROLE)
        if isinstance(opening, MoveOpening):
            self.choose(opening.start, opening.room_id)

    # -- the place's verdict ----------------------------------------------------------------

    def _on_place_changed(self, *_args: object) -> None:
        self._refusal = ""
        self._place_touched = True
        self.check_place()

    def _on_place_refused(self, words: str) -> None:
        """Typed text that is no day or time, left or Entered: said where the verdict is
        (the field shows the place it still holds)."""
        self._place_touched = True
        self.check_place(problem=words)

    def _typed_problem(self) -> str:
        return self.date_edit.typed_problem() or self.time_edit.typed_problem()

    def check_place(self, *, problem: str = "") -> None:
        """Judge the place in the fields on a worker (the drag's own check); ``problem``:
        what was typed and is no day or time, said instead."""
        self._verdict = None
        self.move_button.setEnabled(False)
        self.move_button.setToolTip("")
        if problem:
            self._say(f"✕ {problem}.", _REFUSED)
            return
        start, room = self.new_start(), self.new_room()
        if start <= self._desk.now():
            self._say("✕ That time has passed: choose a later one.", _REFUSED)
            return
        db, appointment_id, now = self._desk.db, self._id, self._desk.now()
        self._say("Checking the place…", "")
        self._checks.run(
            lambda: judge_move(db, appointment_id, start, room, now=now),
            lambda verdict: self._show_verdict(start, room, verdict),
            failed=self._on_check_failed,
        )

    def _show_verdict(self, start: dt.datetime, room: int | None, verdict: MoveVerdict) -> None:
        if (start, room) != (self.new_start(), self.new_room()):
            return  # another place chosen meanwhile; its own check follows
        self._verdict = verdict
        if self._writing:
            return
        if self._at_own_place():
            self._say("This is where the session is booked: choose another day, time or room.", "")
            return
        role = self._desk.actor.role
        if verdict.fits:
            self._say("✓ Fits: nothing stands in the way.", _FITS)
            self.move_button.setEnabled(True)
        elif verdict.may_override(role):
            self._say(
                "⚠ Needs an override: "
                + "; ".join(verdict.reasons)
                + ". Move asks for your reason, recorded with the move.",
                _WARN,
            )
            self.move_button.setEnabled(True)
        elif verdict.needs_override:
            who = verdict.who_may_override()
            self._say(
                "✕ " + "; ".join(verdict.reasons) + f". Only {who} may move it here, with a "
                "reason: choose another place, or ask them.",
                _REFUSED,
            )
            self.move_button.setToolTip(f"Only {who} may move this session here")
        else:
            self._say("✕ " + "; ".join(verdict.reasons), _REFUSED)
            self.move_button.setToolTip("The session cannot go there")
        if not may(self._desk.actor, "move"):
            self.move_button.setEnabled(False)
            self.move_button.setToolTip(who_may("move"))

    def _on_check_failed(self, err: ServiceError) -> None:
        self._say(f"✕ The place was not checked: {err}", _REFUSED)

    def _say(self, text: str, color: str) -> None:
        if self._refusal:
            text, color = f"✕ Not moved: {self._refusal}\n{text}", _REFUSED
        self.verdict_label.setText(text)
        self.verdict_label.setStyleSheet(f"color: {color};" if color else "")

    # -- moving -----------------------------------------------------------------------------

    def _on_move(self) -> None:
        verdict = self._verdict
        if verdict is None or self._writing:
            return
        problem = self._typed_problem()
        if problem:
            self.check_place(problem=problem)
            return
        self._refusal = ""
        overrides: dict[str, str] = {}
        if not verdict.fits:
            if not verdict.may_override(self._desk.actor.role):
                return
            rules = [
                override_dialog.RefusedRule(f.rule, f.title, f.message) for f in verdict.overridable
            ]
            # Looked up on the module at each move: tests put their own answer there.
            reason = override_dialog.ask_override_reason(
                self, step=OVERRIDE_STEP, rules=rules, actor_name=self._desk.actor.username
            )
            if reason is None or not reason.strip():
                self._say("Not moved: an override needs a reason.", _WARN)
                return
            overrides = {f.rule: reason.strip() for f in verdict.overridable}
        self._writing = True
        self.move_button.setEnabled(False)
        self._say("Moving the session…", "")
        self.move_requested.emit(
            self._id, self.new_start(), self.new_room(), overrides, self._detail.version
        )

    def moved(self) -> None:
        """The owner wrote the move: the dialog's work is done."""
        self._writing = False
        self.accept()

    def refused(self, text: str) -> None:
        """The owner's write was refused: say why and keep what was chosen."""
        self._writing = False
        self._refusal = text
        self.check_place()
