"""The consequences of a closure, before it is saved: each broken session, why, and its
proposed new place, with a choice per row (apply the proposal, or leave the session for the
desk to re-book by hand); the save button says what it will do ("Save and move 3 sessions")
and saves the closure and the chosen moves in one go (or nothing)."""

from __future__ import annotations

import datetime as dt
from html import escape

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.closure_repeats import repeat_words
from ketadesk.scheduling.dates import moved_words, short_date_time, span_words
from ketadesk.scheduling.words import counted
from ketadesk.services.common.context import ServiceError
from ketadesk.services.settings import consequences
from ketadesk.services.settings.availability import Unavailability
from ketadesk.services.settings.consequences import Applied, Consequences, Move
from ketadesk.ui.common.background import run_service
from ketadesk.ui.common.desk import Desk

COLUMNS = ("Patient", "Session", "When", "Why", "New place", "Choice")
#: The window's size when it opens (within the screen).
ROOMY_SIZE = (1320, 640)
#: The choice a row with a proposal offers, in the order of the list.
APPLY_CHOICE = "Apply the proposal"
LEAVE_CHOICE = "Leave for the desk"
CHOICE_COLUMN = COLUMNS.index("Choice")
#: The background of a session with no new place (it stays booked, flagged, until someone acts).
UNPLACED_COLOR = QColor("#fde2e1")
#: The background of a session under way when the window begins (told, not re-planned).
IN_USE_COLOR = QColor("#fff4d6")
SHIFTED_COLOR = QColor("#eef3fb")


def summary_text(preview: Consequences) -> str:
    """What the dialog says above the table: how many sessions break, and who gets a call."""
    count = len(preview.broken)
    in_use = _in_use_text(preview)
    if not count:
        return f"No booked session is affected.{in_use}"
    calls = len(preview.patients_to_call)
    if not calls:
        called = "Every session keeps its time, so no patient needs a call."
    else:
        who = "1 patient goes" if calls == 1 else f"{calls} patients go"
        called = f"{who} on the call list (a session that changes time or finds no new place)."
    pencilled = sum(1 for b in preview.broken if b.tentative)
    which = f" ({pencilled} pencilled in)" if pencilled else ""
    left = sum(1 for u in preview.unplaced if u.problem == consequences.LEFT_FOR_DESK)
    places = (
        f"{left} left for the desk to re-book by hand; the others get the new place shown."
        if left
        else "Each gets the new place shown."
    )
    return f"{counted(count, 'booked session')}{which} would be broken. {places} {called}{in_use}"


def _in_use_text(preview: Consequences) -> str:
    """The sessions under way when the window begins, said apart: they are not re-planned."""
    n = len(preview.in_use)
    if not n:
        return ""
    verb = "is" if n == 1 else "are"
    return (
        f" {counted(n, 'session')} in progress {verb} using it now and {verb} not re-planned:"
        " take it out of use once the patient is done."
    )


def apply_label(preview: Consequences) -> str:
    """The save button's words for these consequences (the rows left for the desk already
    taken out, ``Consequences.leaving``): how many sessions it moves, or that it moves none
    (the closure is saved all the same, so the button stays enabled)."""
    moves = len(preview.moves)
    if moves:
        return f"Save and move {counted(moves, 'session')}"
    if not preview.broken:
        return "Save"
    if len(preview.broken) == 1:
        return "Save, move nothing (left for the desk)"
    return f"Save, move none (all {len(preview.broken)} left for the desk)"


#: How many moved sessions the status line after saving names one by one.
NAMED_MOVES = 3


def applied_text(applied: Applied, calendar: ClinicCalendar) -> str:
    """The status line after saving: the counts, then each moved session (the first few)
    with where it went, as every move is said (``dates.moved_words``): "Lovelace, Ada moved
    from Wed Dec 16 10:00 AM to Thu Dec 17 10:00 AM, Monitor 2 instead of Monitor 1"; one
    that kept its time, "Hopper, Grace Wed Dec 16 2:00 PM: same time, Monitor 2 instead of
    Monitor 1"."""
    moved = counted(len(applied.moves), "session")
    calls = counted(len(applied.follow_up_ids), "patient")
    text = f"Saved. {moved[:1].upper()}{moved[1:]} moved, "
    text += f"{len(applied.unplaced) or 'none'} without a new place; "
    text += f"{calls} added to the call list."
    named = [_move_text(m, calendar) for m in applied.moves[:NAMED_MOVES]]
    if not named:
        return text
    more = len(applied.moves) - len(named)
    return f"{text} {'; '.join(named)}{f'; and {more} more' if more else ''}."


def _move_text(move: Move, calendar: ClinicCalendar) -> str:
    if move.same_time:
        return f"{move.patient_name} {_when(calendar, move.old.start)}: {move.change_text()}"
    fmt = calendar.settings.time_format
    moved = moved_words(calendar.local(move.old.start), calendar.local(move.new.start), fmt)
    swapped = f", {move.change_text()}" if move.change_text() else ""
    return f"{move.patient_name} moved {moved}{swapped}"


def _when(calendar: ClinicCalendar, t: dt.datetime) -> str:
    """A time in the dialog, in the app's own words: "Wed Dec 16 10:00 AM"."""
    return short_date_time(calendar.local(t), calendar.settings.time_format)


class ConsequencesDialog(QDialog):
    """Shows what ``preview`` found; ``applied`` holds the outcome once saved."""

    def __init__(self, desk: Desk, preview: Consequences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.desk = desk
        self.preview = preview
        self.applied: Applied | None = None
        #: Per broken session with a proposal: its row's choice.
        self.choices: dict[int, QComboBox] = {}
        #: The table rows of each proposal (the broken session's and its series' shifts).
        self._rows_of: dict[int, list[int]] = {}
        self.setWindowTitle("Before you save: the sessions this changes")
        layout = QVBoxLayout(self)
        u = preview.unavailability
        headline = QLabel(f"<b>{preview.what}</b>, {self._span(u)}: {escape(u.reason)}")
        layout.addWidget(headline)
        self.summary = QLabel(summary_text(preview))
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        # A refusal names the rule and the fact: its row grows to show it whole.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # The new place takes the room left (a long reason wraps), the choice stays in view.
        header.setSectionResizeMode(COLUMNS.index("New place"), QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)
        layout.addWidget(self.table)
        self._fill()
        if preview.unplaced or self.choices:
            note = QLabel(
                "Sessions with no new place, or left for the desk, are not moved or cancelled: "
                "they stay booked and flagged, and their patients are on the call list to agree "
                "another time."
            )
            note.setWordWrap(True)
            layout.addWidget(note)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020")
        self.error.hide()
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(self)
        self.apply_button = self.buttons.addButton(
            apply_label(preview), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._apply)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        # Roomy: a user trial's first look, at 1040x420, showed 3 1/2 of 7 rows, each new place
        # wrapped on five lines.  Never more than most of the screen.
        width, height = ROOMY_SIZE
        screen = self.screen()
        if screen is not None and screen.availableGeometry().width() > 0:
            width = min(width, screen.availableGeometry().width() * 9 // 10)
            height = min(height, screen.availableGeometry().height() * 8 // 10)
        self.resize(width, height)

    def _when(self, t: dt.datetime) -> str:
        return _when(self.preview.calendar, t)

    def _span(self, u: Unavailability) -> str:
        """ "Mon Dec 7 – Wed Dec 9, all day" (not "to Thu Dec 10 12:00 AM"), or its times; a
        repeating one's days and hours, "Every day Dec 21 – Dec 31, 1:00 PM – 5:00 PM"."""
        calendar = self.preview.calendar
        local, fmt = calendar.local, calendar.settings.time_format
        if u.repeat.repeats:
            return repeat_words(local(u.starts_at), local(u.ends_at), u.repeat, fmt)
        return span_words(local(u.starts_at), local(u.ends_at), fmt)

    def _fill(self) -> None:
        p = self.preview
        # (cells, colour, the broken session whose proposal the row shows, has a choice)
        rows: list[tuple[tuple[str, ...], QColor | None, int | None, bool]] = []
        for b in p.broken:
            move = p.move_of(b.appointment_id)
            unplaced = next((u for u in p.unplaced if u.session is b), None)
            if move is not None:
                where = self._when(move.new.start)
                if move.change_text():  # the time kept or not, what it swaps
                    where += f" ({move.change_text()})"
            else:
                where = f"No new place: {unplaced.problem if unplaced else 'none found'}"
            kind = f"{b.session_type} (pencilled in)" if b.tentative else b.session_type
            cause = p.cause_of(move) if move is not None else None
            rows.append(
                (
                    (b.patient_name, kind, self._when(b.starts_at), b.why, where),
                    None if move is not None else UNPLACED_COLOR,
                    cause,
                    move is not None and cause == b.appointment_id,
                )
            )
        for b in p.in_use:
            rows.append(
                (
                    (
                        b.patient_name,
                        b.session_type,
                        self._when(b.starts_at),
                        b.why,
                        "Not re-planned: under way",
                    ),
                    IN_USE_COLOR,
                    None,
                    False,
                )
            )
        for m in p.moves:
            if m.broken:
                continue
            rows.append(
                (
                    (
                        m.patient_name,
                        m.session_type,
                        self._when(m.old.start),
                        "keeps the series' spacing",
                        self._when(m.new.start),
                    ),
                    SHIFTED_COLOR,
                    p.cause_of(m),
                    False,
                )
            )
        self.table.setRowCount(len(rows))
        for r, (cells, color, cause, choice) in enumerate(rows):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if color is not None:
                    item.setBackground(color)
                self.table.setItem(r, c, item)
            if cause is not None:
                self._rows_of.setdefault(cause, []).append(r)
            if choice and cause is not None:
                box = QComboBox(self.table)
                box.addItems([APPLY_CHOICE, LEAVE_CHOICE])
                box.setToolTip(
                    "Apply the proposed new place, or leave the session where it is for the "
                    "desk to re-book by hand (it stays flagged as needing a new place)"
                )
                box.currentIndexChanged.connect(lambda _i, c=cause: self._chosen(c))
                self.choices[cause] = box
                self.table.setCellWidget(r, CHOICE_COLUMN, box)
            elif cause is not None:
                with_ = p.move_of(cause)
                follows = QTableWidgetItem(
                    f"with {self._when(with_.old.start)}"
                    if with_ is not None
                    else "with its series"
                )
                follows.setToolTip("applied or left with the broken session whose proposal it is")
                follows.setBackground(SHIFTED_COLOR)
                self.table.setItem(r, CHOICE_COLUMN, follows)

    def left_for_desk(self) -> set[int]:
        """The broken sessions whose proposal the administrator chose not to apply."""
        return {a for a, box in self.choices.items() if box.currentText() == LEAVE_CHOICE}

    def _chosen(self, cause: int) -> None:
        """A row's choice changed: its proposal's new places are struck through when left."""
        left = cause in self.left_for_desk()
        for r in self._rows_of.get(cause, []):
            item = self.table.item(r, COLUMNS.index("New place"))
            if item is None:
                continue
            font = item.font()
            font.setStrikeOut(left)
            item.setFont(font)
        chosen = self.preview.leaving(self.left_for_desk())
        self.summary.setText(summary_text(chosen))
        self.apply_button.setText(apply_label(chosen))

    def _apply(self) -> None:
        self.apply_button.setEnabled(False)
        self.error.hide()
        desk, preview = self.desk, self.preview.leaving(self.left_for_desk())

        def work() -> Applied:
            return consequences.apply(desk.db, desk.actor, preview, now=desk.now())

        run_service(
            self,
            work,
            self._applied,
            failed=self._failed,
            busy="Saving the closure and moving sessions…",
            writes=True,
        )

    def _applied(self, applied: Applied) -> None:
        self.applied = applied
        self.accept()

    def _failed(self, err: ServiceError) -> None:
        self.apply_button.setEnabled(True)
        self.error.setText(f"Nothing was changed: {err}")
        self.error.show()
