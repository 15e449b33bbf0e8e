"""The chair board: a card per treatment room, large enough to read across the nurses' station.

What each card says comes from ``services.chair_board`` (phase, minutes since dosing, next BP
check, discharge); this widget only lays it out, highlights what is late, and asks again every
minute.  The clock is the Desk's, so tests move time by handing it another one.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QKeyEvent, QMouseEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.dates import clock, clock_span
from ketadesk.scheduling.words import counted
from ketadesk.services.common.context import ServiceError
from ketadesk.services.monitoring.chair_board import ChairBoard, ChairCard, NextUp, chair_board
from ketadesk.services.monitoring.record_forms import check_after_dose_words, duration_words
from ketadesk.ui.common.background import LatestOnly
from ketadesk.ui.common.desk import Desk

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


REFRESH_MS = 60_000
CARD_MIN_WIDTH = 380
#: The board's colours, light and dark palette: red for trouble (late, unsafe, urgent), amber
#: for what is due now or still refused, green for a good state (ready to discharge).  The
#: legend (F1) shows them with ``BOARD_COLOR_WORDS``.
LATE_COLORS = ("#c5221f", "#ff8a80")  # light, dark palette
READY_COLORS = ("#137333", "#81c995")
DUE_COLORS = ("#b06000", "#fdd663")
BOARD_COLOR_WORDS = (
    (
        LATE_COLORS,
        "Red: late (a check overdue, still in the chair past discharge), a BP that makes the "
        "patient unsafe, or an urgent review; the card gets a red border",
    ),
    (DUE_COLORS, "Amber: a BP check due now; discharge time come, but the rules still refuse"),
    (READY_COLORS, "Green: ready to discharge"),
)
STAGE_LABELS = {
    "in_session": "In session",
    "waiting": "Waiting",
    "due": "Not arrived",
    "free": "Free",
}


def _hhmm(moment: dt.datetime | None, fmt: str) -> str:
    return "" if moment is None else clock(moment, fmt)


def _next_words(nxt: NextUp, fmt: str) -> str:
    if nxt.checked_in:
        return (
            f"Waiting: {nxt.patient_name} · {nxt.session_type_short} "
            f"(checked in, booked {_hhmm(nxt.start, fmt)})"
        )
    return f"Next: {_hhmm(nxt.start, fmt)} {nxt.patient_name} · {nxt.session_type_short}"


def _span(start: dt.datetime | None, end: dt.datetime | None, fmt: str) -> str:
    if start is None or end is None:
        return f"{_hhmm(start, fmt)}–{_hhmm(end, fmt)}"
    return clock_span(start, end, fmt)


def card_lines(card: ChairCard, fmt: str) -> dict[str, str]:
    """What a card says, line by line (empty lines are hidden): the words, decided here once,
    so the widget and its accessible text agree."""
    if card.is_free:
        nxt = card.next_up
        return {
            "patient": "Free",
            "next": _next_words(nxt, fmt) if nxt else "Nothing more booked today",
        }
    kind = " ".join(p for p in (card.session_type_short, card.series_label) if p)
    phase = card.phase
    until = f"until {_hhmm(card.phase_ends_at, fmt)}" if card.phase_ends_at is not None else ""
    if not card.clinical and card.stage == "in_session" and card.expected_end is not None:
        until = f"expected to end {_hhmm(card.expected_end, fmt)}"  # the desk's card: logistics
    dose = ""
    if card.minutes_since_dose is not None:
        dose = f"Dosed {card.minutes_since_dose} min ago ({_hhmm(card.dose_started_at, fmt)})"
    elif card.dose_started_at is not None:
        # A dose start later than the board's time (a clock set apart, a time mistyped at
        # another workstation): never "Dose started" at a time still to come (a user trial).
        dose = f"Dose start recorded as {_hhmm(card.dose_started_at, fmt)}, later than now"
    elif card.stage == "in_session" and card.dose_due_at is not None:
        # Started, and no dose start on the record: never shown as a dose given.
        started = f"Started {_hhmm(card.started_at, fmt)} · " if card.started_at is not None else ""
        dose = f"{started}dose not recorded (due {_hhmm(card.dose_due_at, fmt)})"
    bp = ""
    late = card.late
    if card.next_bp is not None:
        due = card.next_bp
        if due.late:
            bp = due.overdue_words(fmt)
        elif due.due_now:
            bp = f"{due.words} due now ({_hhmm(due.due_at, fmt)})"
        else:
            bp = f"{due.words} due {_hhmm(due.due_at, fmt)}"
        if card.bp_late:  # the service lists the overdue check first; this line says it
            bp, late = f"⚠ {bp}", late[1:]
    elif card.next_bp_after_dose is not None:
        label, minutes = card.next_bp_after_dose
        bp = check_after_dose_words(label, minutes)
    elif card.bp_recorded:
        bp = "BP checks all recorded"
    discharge = ""
    if card.discharge_allowed_at is not None:
        # The completion's verdict in words: the time, then what still refuses it, or ready.
        if card.discharge_ready:
            discharge = "Ready to discharge"
        elif card.discharge_not_yet:
            discharge = "Not yet: " + "; ".join(card.discharge_not_yet)
        else:
            discharge = f"Discharge {_hhmm(card.discharge_allowed_at, fmt)}"
    elif card.discharge_after_dose_minutes is not None:
        # No dose start recorded: no time to promise, only the rule.
        discharge = f"Discharge ≥ {duration_words(card.discharge_after_dose_minutes)} after dose"
    nxt = card.next_up
    return {
        "patient": card.patient_name,
        "urgent": f"⚠ {card.urgent_review}" if card.urgent_review else "",
        "alert": f"⚠ {card.bp_alert}" if card.bp_alert else "",
        "kind": f"{kind} · {card.session_type_name} · {_span(card.start, card.end, fmt)}",
        "phase": phase,
        "until": until,
        "dose": dose,
        "bp": bp,
        # The next timed scale reading, beside the next BP check (a missed one is in "late").
        "scale": card.next_scale,
        "discharge": discharge,
        "late": "\n".join(f"⚠ {line}" for line in late),
        "next": _next_words(nxt, fmt) if nxt else "",
    }


def board_status(board: ChairBoard) -> str:
    """The main window's status bar on the chair board: the chairs in use, the patients due a
    BP check (late ones said), who may be discharged, who has not arrived ("3 of 5 chairs in
    use · 2 due a BP check, 1 late · 1 ready for discharge")."""
    if not board.cards:
        return "No treatment rooms to show"
    parts = [f"{board.busy_count} of {counted(len(board.cards), 'chair')} in use"]
    due = [c.next_bp for c in board.cards if c.next_bp is not None and c.next_bp.due_now]
    if due:
        late = sum(1 for bp in due if bp.late)
        parts.append(f"{len(due)} due a BP check" + (f", {late} late" if late else ""))
    ready = sum(1 for c in board.cards if c.discharge_ready)
    if ready:
        parts.append(f"{ready} ready for discharge")
    if board.not_arrived_count:
        parts.append(f"{board.not_arrived_count} not arrived")
    return " · ".join(parts)


class ChairCardWidget(QFrame):
    """One room's card.  Double-click or Enter opens the session.

    Signals:
        activated(int): the id of the session on the card.
    """

    activated = Signal(int)
    LINES = (
        "patient",
        "urgent",
        "alert",
        "kind",
        "phase",
        "until",
        "dose",
        "bp",
        "scale",
        "discharge",
        "late",
        "next",
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chair_card")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.setMinimumWidth(CARD_MIN_WIDTH - 20)
        self._card: ChairCard | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 12)
        layout.setSpacing(3)
        top = QHBoxLayout()
        self.room_label = QLabel(self)
        self.room_label.setObjectName("room")
        self.stage_label = QLabel(self)
        self.stage_label.setObjectName("stage")
        self.stage_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        top.addWidget(self.room_label, 1)
        top.addWidget(self.stage_label)
        layout.addLayout(top)
        self.labels: dict[str, QLabel] = {}
        for name in self.LINES:
            label = QLabel(self)
            label.setObjectName(name)
            label.setWordWrap(True)
            layout.addWidget(label)
            self.labels[name] = label
        layout.addStretch(1)
        base = self.font().pointSizeF()
        self._fonts = {
            "room": _font(self.font(), base * 1.25, bold=True),
            "patient": _font(self.font(), base * 1.6, bold=True),
            "phase": _font(self.font(), base * 1.45, bold=True),
            "body": _font(self.font(), base * 1.15),
            "strong": _font(self.font(), base * 1.15, bold=True),
        }
        self.room_label.setFont(self._fonts["room"])
        self.stage_label.setFont(self._fonts["body"])
        for name, label in self.labels.items():
            label.setFont(self._fonts.get(name, self._fonts["body"]))
        self.labels["late"].setFont(self._fonts["strong"])
        self.labels["urgent"].setFont(self._fonts["strong"])
        self.labels["alert"].setFont(self._fonts["strong"])
        self.labels["alert"].setObjectName("bp_alert")
        self.labels["urgent"].setObjectName("urgent_review")
        self.labels["bp"].setFont(self._fonts["strong"])
        self.labels["scale"].setFont(self._fonts["strong"])
        self.labels["scale"].setObjectName("next_scale")

    def card(self) -> ChairCard | None:
        return self._card

    def set_card(self, card: ChairCard, time_format: str) -> None:
        self._card = card
        self.room_label.setText(card.room_name)
        self.stage_label.setText(STAGE_LABELS.get(card.stage, card.stage))
        lines = card_lines(card, time_format)
        for name, label in self.labels.items():
            text = lines.get(name, "")
            label.setText(text)
            label.setVisible(bool(text))
        self._colour(card)
        words = ". ".join(t for t in (card.room_name, *lines.values()) if t)
        self.setAccessibleName(f"Chair {card.room_name}")
        self.setAccessibleDescription(words)
        self.setToolTip(
            "Double-click or press Enter to open the session" if not card.is_free else ""
        )

    def _colour(self, card: ChairCard) -> None:
        palette = self.palette()
        parent = self.parentWidget()
        app_palette = parent.palette() if parent is not None else palette
        base = app_palette.color(QPalette.ColorRole.Base)
        text = app_palette.color(QPalette.ColorRole.Text)
        dark = base.lightness() < 128
        late, ready = QColor(LATE_COLORS[dark]), QColor(READY_COLORS[dark])
        due = QColor(DUE_COLORS[dark])
        muted = app_palette.color(QPalette.ColorRole.PlaceholderText)
        # A standing urgent review needs the prescriber as much as a late check needs the nurse.
        # A BP that makes the patient unsafe needs the nurse now, whatever is late or not.
        attention = card.needs_attention
        if attention:
            background = _mix(late, base, 0.10)
        elif card.is_free:
            background = _mix(text, base, 0.03)
        else:
            background = base
        palette.setColor(QPalette.ColorRole.Window, background)
        self.setPalette(palette)
        accent = QColor(card.color) if card.color else muted
        border = late if attention else (accent if not card.is_free else _mix(text, base, 0.2))
        width = 3 if attention else 2
        self.setStyleSheet(
            f"QFrame#chair_card {{ border: {width}px solid {border.name()}; border-radius: 6px;"
            f" background: {background.name()}; }}"
            f" QFrame#chair_card:focus {{ border-style: dashed; }}"
        )
        self._ink(self.labels["late"], late)
        self._ink(self.labels["urgent"], late)
        self._ink(self.labels["alert"], late)
        due_now = card.next_bp is not None and card.next_bp.due_now
        self._ink(self.labels["bp"], late if card.bp_late else (due if due_now else text))
        waits = due if card.discharge_not_yet else text  # the time came, the rules still refuse
        # Ready is a good state, green even when the patient stays past it: the "late" line
        # says that in red (a trial saw "Ready to discharge" in red and read it as trouble).
        self._ink(self.labels["discharge"], ready if card.discharge_ready else waits)
        self._ink(self.labels["patient"], muted if card.is_free else text)
        self._ink(self.stage_label, muted)
        self._ink(self.labels["next"], muted)
        self._ink(self.labels["kind"], muted)
        self._ink(self.labels["until"], muted)

    @staticmethod
    def _ink(label: QLabel, color: QColor) -> None:
        palette = label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, color)
        label.setPalette(palette)

    def _activate(self) -> None:
        # A free chair opens the session it waits for (a user trial found no way to check the
        # next patient in from the board): its page has Check in.
        card = self._card
        if card is None:
            return
        if card.appointment_id is not None:
            self.activated.emit(card.appointment_id)
        elif card.next_up is not None:
            self.activated.emit(card.next_up.appointment_id)

    @override
    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._activate()
        else:
            super().mouseDoubleClickEvent(event)

    @override
    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._activate()
        else:
            super().keyPressEvent(event)


class ChairBoardView(QWidget):
    """The live chair board for a Desk: refreshes every minute, and on ``refresh()``.

    Signals:
        appointment_activated(int): a session to open (a card double-clicked or Enter).
        refreshed(): the board was read again.

    Attributes:
        cards: the card widgets, in the clinic's room order.
    """

    appointment_activated = Signal(int)
    refreshed = Signal()

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._desk = desk
        self._board: ChairBoard | None = None
        self.cards: list[ChairCardWidget] = []
        self.setAccessibleName("Chair board")
        self._summary = QLabel(self)
        self._summary.setObjectName("board_summary")
        self._summary.setFont(_font(self.font(), self.font().pointSizeF() * 1.2, bold=True))
        self._error = QLabel(self)
        self._error.setObjectName("board_error")
        self._error.setWordWrap(True)
        self._error.hide()
        self._grid_host = QWidget(self)
        self._grid = QGridLayout(self._grid_host)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(12)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self._grid_host)
        scroll.viewport().installEventFilter(self)
        self._scroll = scroll
        layout = QVBoxLayout(self)
        # As the main window does: a layout-driven minimum size is pushed to a top-level
        # window on every change, which the offscreen platform answers with a warning.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(self._summary)
        layout.addWidget(self._error)
        layout.addWidget(scroll, 1)
        self._columns = 0
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self._reads = LatestOnly(self, busy="")  # every minute: no busy cursor for that
        # The first read can take seconds on a busy clinic: say so rather than show nothing.
        self._summary.setText("Loading…")
        self.refresh()

    def board(self) -> ChairBoard | None:
        return self._board

    def status_summary(self) -> str:
        """The board's account for the main window's status bar ("" before the first read)."""
        return board_status(self._board) if self._board is not None else ""

    def timer(self) -> QTimer:
        """The minute timer (tests and the main window may stop it when the board is hidden)."""
        return self._timer

    def refresh(self) -> None:
        """Read the board again at the Desk's ``now``, on a worker (``refreshed`` once shown)."""
        db, actor, now = self._desk.db, self._desk.actor, self._desk.now()
        self._reads.run(
            lambda: chair_board(db, actor, now=now), self._show, failed=self._on_not_read
        )

    def is_reading(self) -> bool:
        return self._reads.is_busy()

    def _on_not_read(self, err: ServiceError) -> None:
        self._error.setText(f"The chair board could not be read: {err}")
        self._error.show()
        if self._board is None:  # nothing is loading any more: the error says why
            self._summary.setText("")

    def _show(self, board: ChairBoard) -> None:
        self._error.hide()
        self._board = board
        if len(self.cards) != len(board.cards):
            self._rebuild(len(board.cards))
        for widget, card in zip(self.cards, board.cards, strict=True):
            widget.set_card(card, board.time_format)
        # Lay the cards out again now, not on a later event: a line that wraps onto more
        # lines ("Not yet: …") makes its card taller before anyone sees it squeezed.
        for widget in self.cards:
            layout = widget.layout()
            if layout is not None:
                layout.activate()
        self._grid.activate()
        late = board.late_count
        parts = [
            clock(board.now, board.time_format),
            f"{board.busy_count} of {len(board.cards)} chairs in use",
        ]
        if board.not_arrived_count:
            parts.append(f"{board.not_arrived_count} not arrived")
        if late:
            parts.append(f"{late} need{'s' if late == 1 else ''} attention")
        self._summary.setText(" · ".join(parts))
        self.refreshed.emit()

    def card_for_room(self, room_name: str) -> ChairCardWidget | None:
        return next(
            (w for w in self.cards if (c := w.card()) is not None and c.room_name == room_name),
            None,
        )

    def _rebuild(self, count: int) -> None:
        for widget in self.cards:
            self._grid.removeWidget(widget)
            widget.deleteLater()
        self.cards = []
        for _ in range(count):
            widget = ChairCardWidget(self._grid_host)
            widget.activated.connect(self.appointment_activated)
            self.cards.append(widget)
        self._columns = 0
        self._place()

    def _place(self) -> None:
        width = self._scroll.viewport().width()
        columns = max(1, min(len(self.cards) or 1, width // CARD_MIN_WIDTH))
        if columns == self._columns:
            return
        self._columns = columns
        for widget in self.cards:
            self._grid.removeWidget(widget)
        for i, widget in enumerate(self.cards):
            self._grid.addWidget(widget, i // columns, i % columns)
        for column in range(self._grid.columnCount()):
            self._grid.setColumnStretch(column, 1 if column < columns else 0)
        rows = -(-len(self.cards) // columns)
        for row in range(self._grid.rowCount()):
            self._grid.setRowStretch(row, 0)
        self._grid.setRowStretch(rows, 1)  # cards keep their height; the space stays below

    @override
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and watched is self._scroll.viewport():
            assert isinstance(event, QResizeEvent)
            self._place()
        return False


def _font(font: QFont, size: float, *, bold: bool = False) -> QFont:
    out = QFont(font)
    out.setPointSizeF(size)
    out.setBold(bold)
    return out


def _mix(color: QColor, background: QColor, amount: float) -> QColor:
    keep = 1.0 - amount
    return QColor(
        round(color.red() * amount + background.red() * keep),
        round(color.green() * amount + background.green() * keep),
        round(color.blue() * amount + background.blue() * keep),
    )
