"""The day by room: a column per room, a block per session, phases shaded, painted by hand.

Painting is thin: ``day_layout.layout_day`` decides where everything goes, this widget turns the
result into pixels, and only what is in view is drawn, so fifteen rooms over twelve hours
scroll smoothly.  Colours come from the session types and the palette (light or dark).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import shiboken6
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QFrame,
    QToolTip,
    QWidget,
)

from ketadesk.scheduling.confirmations import ARRIVAL_NAMES, ARRIVED, NOT_STARTED, arrival_state
from ketadesk.scheduling.dates import clock, clock_span
from ketadesk.scheduling.status_times import (
    minutes_not_started,
    not_started_forms,
    not_started_words,
    over_forms,
    over_words,
    room_busy_forms,
)
from ketadesk.services.schedule.day_schedule import (
    AWAY_BADGE_SHORT,
    DayAppointment,
    DaySchedule,
    with_moved,
)
from ketadesk.ui.common.cancel_question import ask_cancel_reason
from ketadesk.ui.common.colors import mix
from ketadesk.ui.common.qt_workarounds import keep_none_alive
from ketadesk.ui.timeline.day_layout import (
    OVERRUN_STATUSES,
    BlockBox,
    ColumnBox,
    DayLayout,
    DropTarget,
    Metrics,
    Rect,
    Tick,
    block_lines,
    day_message,
    drop_target,
    ghost_rect,
    layout_day,
    overrun_badge_rect,
    step_target,
    text_bottom,
    wall_minute,
)
from ketadesk.ui.timeline.drag import (
    KEY_STEPS,
    Drag,
    DragMixin,
    DragState,
    ghost_color,
    ghost_verdict,
    paint_ghost_frame,
)
from ketadesk.ui.timeline.painter import (
    ARRIVAL_COLORS,
    AWAY_COLORS,
    CLOSED_COLOR,
    HOLLOW_DOTS,
    LEFT_MIDDLE,
    OVERRUN_COLORS,
    SHADE_STRENGTH,
    STATUS_COLORS,
    TimelinePainter,
    draw_line,
    elided,
    qrectf,
    shade,
)

if TYPE_CHECKING:
    from typing_extensions import override

    from ketadesk.services.booking.move_check import MoveVerdict
    from ketadesk.ui.common.desk import Desk  # its import reaches the store: not needed at start-up
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


STRIPE_WIDTH = 4
TEXT_PADDING = 4
#: How many days laid out ahead are kept (the days either side of the one shown, and spares).
PREPARED_DAYS = 4
MIN_TEXT_WIDTH = 30  # below this a block shows no text at all, rather than "..."
BADGE_MIN_WIDTH = 150  # narrower blocks say the status in words on their second line


@dataclass(frozen=True, eq=False)
class _Prepared:
    """A day laid out (and painted) ahead: what it was worked out for, and the outcome."""

    schedule: DaySchedule
    fit: tuple[int, int, bool]  # DayView._fit
    layout: DayLayout
    top: int  # the vertical scroll position it opens at
    look: tuple[int, str]  # DayView._look
    picture: QPixmap | None


class DayView(DragMixin[BlockBox, DropTarget], QAbstractScrollArea):
    """The clinic's day by room.

    The room header stays at the top and the time axis at the left while the body scrolls.
    Hovering a block shows the session's details; clicking selects it (Tab and Shift+Tab go
    from block to block), double-click or Enter opens it, the context menu (right click, the
    Menu key or Shift+F10) changes its status.

    A block can be moved by dragging it to another time and/or room, or with Alt+arrows (one
    slot, one room) then Enter; the ghost snaps to the clinic's slot grid and is green where the
    session fits and red, with the reason, where it does not (asked of
    ``services.move_check`` on the snapshot read when the drag begins).  Esc cancels; a drop on
    a refused place leaves the block where it was.  The view never writes: it asks its owner.
    Moving needs a desk (``set_desk``) and a day by room.

    Signals:
        move_requested(int, object, object, object): appointment id, new start (aware datetime), new
            room id (None: no room).  Emitted on a drop the check accepted;
            last, the appointment's version as the view read it (``DayAppointment.version``).
        override_move_requested(int, object, object, object, object): the same, with the
            overrides (rule code -> the clinician's reason) before the version, for a drop
            refused only by "warn" rules.
        move_refused(str): a drop (or keyboard move) was refused: why, in the desk's words.
        status_requested(int, str, str, object): appointment id, action ("check_in",
            "start", "complete", "no_show", "cancel"), reason (a cancellation's; else empty),
            the appointment's version as the view read it.
        series_move_requested(int): "Move rest of series..." on this appointment.
        session_move_requested(int): "Move..." on this appointment (the move dialog).
        appointment_activated(int): open this appointment (double-click, Enter, menu).
        selection_changed(object): the selected appointment's id, or None.
        feedback(str): a line for the status bar while moving ("Fits: ..." / "Refused: ...").
        painted(): a paint of the view ended (what can wait for the picture waits for it).

    Attributes:
        metrics: the sizes the layout works with.
    """

    move_requested = Signal(int, object, object, object)
    override_move_requested = Signal(int, object, object, object, object)
    move_refused = Signal(str)
    status_requested = Signal(int, str, str, object)
    series_move_requested = Signal(int)
    session_move_requested = Signal(int)
    appointment_activated = Signal(int)
    selection_changed = Signal(object)
    feedback = Signal(str)
    painted = Signal()

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        now: Callable[[], dt.datetime] | None = None,
        metrics: Metrics | None = None,
        desk: Desk | None = None,
    ) -> None:
        super().__init__(parent)
        keep_none_alive()  # painting makes thousands of calls: see qt_workarounds
        self.metrics = metrics or Metrics()
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._schedule: DaySchedule | None = None
        # The day as read, while a move being written is shown ahead of it (``show_moved``).
        self._as_read: DaySchedule | None = None
        self._layout: DayLayout | None = None
        # Days laid out ahead (``prepare``), by the identity of their schedule.
        self._prepared: dict[int, _Prepared] = {}
        self._show_cancelled = True
        self._desk: Desk | None = None
        self._selected: int | None = None
        self._drag: Drag[DropTarget] | None = None
        # The viewport is made here and kept: asking Qt for it (viewport()) makes PySide work out
        # its Python type, which builds every QWidget subclass it knows (40 ms at start-up).
        self._canvas = QWidget(self)
        self._canvas.setMouseTracking(True)
        self._canvas.setAutoFillBackground(False)
        self._canvas.setAccessibleName("Day schedule")
        self.setViewport(self._canvas)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustIgnored)
        self.setAccessibleName("Day by room")
        # The "now" line moves; repaint once a minute while it can be on screen.
        self._minute_timer = QTimer(self)
        self._minute_timer.setInterval(60_000)
        self._minute_timer.timeout.connect(self._on_minute_timer_timeout)
        if desk is not None:
            self.set_desk(desk)

    # -- state ------------------------------------------------------------------------------

    def schedule(self) -> DaySchedule | None:
        return self._schedule

    def set_schedule(self, schedule: DaySchedule | None, *, keep_place: bool | None = None) -> None:
        """Show ``schedule``.  A new copy of the day shown (a reload after a change here or at
        another workstation) keeps the scroll position, the selection and a drag in progress
        (unless its session changed); another day starts at its first session.
        ``keep_place=False`` starts the day shown afresh as well."""
        self._as_read = None  # what the database says now: moves shown ahead are answered
        self._show(schedule, keep_place=keep_place)

    def show_moved(self, appointment_id: int, start: dt.datetime, room_id: int | None) -> None:
        """Show a session at the place a move being written takes it to (a drop, an undo), at
        once, before the write answers: the day read again after it confirms it, and
        ``put_back`` takes it back if the write is refused.  A session not on the day shown
        (or leaving it) waits for the day read again."""
        schedule = self._schedule
        moved = with_moved(schedule, appointment_id, start, room_id) if schedule else None
        if moved is None:
            return
        if self._as_read is None:
            self._as_read = schedule
        self._show(moved, keep_place=True)

    def put_back(self) -> None:
        """Show the day as read again: the move shown ahead (``show_moved``) was refused."""
        as_read, self._as_read = self._as_read, None
        if as_read is not None:
            self._show(as_read, keep_place=True)

    def shows_moves_ahead(self) -> bool:
        """Whether a move being written is shown ahead of the day as read (for tests)."""
        return self._as_read is not None

    def _show(self, schedule: DaySchedule | None, *, keep_place: bool | None) -> None:
        same_day = (
            schedule is not None
            and self._schedule is not None
            and schedule.day == self._schedule.day
            and keep_place is not False
        )
        if same_day and schedule == self._schedule:
            return  # a reload that found nothing new: nothing to lay out or paint again
        h_value = self.horizontalScrollBar().value()
        v_value = self.verticalScrollBar().value()
        self._schedule = schedule
        self._relayout()
        if same_day:
            self.horizontalScrollBar().setValue(h_value)
            self.verticalScrollBar().setValue(v_value)
            self._keep_drag_if_unchanged()
        else:
            self._scroll_to_start()
            self._cancel_drag(quiet=True)
        ids = {a.id for a in schedule.appointments} if schedule is not None else set()
        if self._selected is not None and (not same_day or self._selected not in ids):
            self._select(None)
        if schedule is not None and schedule.day == self._local_now(schedule).date():
            self._minute_timer.start()
        else:
            self._minute_timer.stop()

    def show_cancelled(self) -> bool:
        return self._show_cancelled

    def set_show_cancelled(self, show: bool) -> None:
        self._show_cancelled = show
        self._relayout()

    def canvas(self) -> QWidget:
        """The viewport, where the day is painted."""
        return self._canvas

    def day_layout(self) -> DayLayout | None:
        """The current geometry (what is painted), for tests and hit-testing."""
        return self._layout

    def can_move(self) -> bool:
        """Whether blocks can be moved here: a desk to check with, and columns that are rooms."""
        return (
            self._desk is not None
            and self._schedule is not None
            and self._schedule.grouping == "room"
        )

    # -- geometry ---------------------------------------------------------------------------

    def _relayout(self) -> None:
        schedule = self._schedule
        if schedule is None:
            self._layout = None
        else:
            prepared = self._prepared.get(id(schedule))
            if (
                prepared is not None
                and prepared.schedule is schedule
                and prepared.fit == self._fit()
            ):
                self._layout = prepared.layout
            else:
                self._layout = self._layout_of(schedule)
        self._update_scroll_bars()
        self._canvas.update()

    def _fit(self) -> tuple[int, int, bool]:
        """What a layout depends on besides the day (and the clock, for a session running
        over): the viewport's size and whether cancelled sessions show."""
        size = self._canvas.size()
        return size.width(), size.height(), self._show_cancelled

    def _layout_of(self, schedule: DaySchedule) -> DayLayout:
        width, height, show_cancelled = self._fit()
        return layout_day(
            schedule,
            width=width,
            height=height,
            show_cancelled=show_cancelled,
            metrics=self.metrics,
            now=self._now(),
        )

    def prepare(self, schedule: DaySchedule) -> None:
        """Lay out and paint ``schedule`` (a day read ahead) now, while the user looks at this
        one, as it will look when opened: showing it later (``set_schedule`` with this very
        object) then puts that picture on screen.  The picture is used only while nothing
        differs from what it shows (size, scroll, selection, a drag, the palette, the font);
        today (its "now" line moves) and a day with a session running over (it follows the
        clock) are laid out but painted when shown."""
        if not shiboken6.isValid(self._canvas):  # the window is closing: nothing to paint on
            return
        if self._follows_the_clock(schedule):
            return
        layout = self._layout_of(schedule)
        top = self._start_top(layout)
        picture: QPixmap | None = None
        if schedule.day != self._local_now(schedule).date():
            size, ratio = self._canvas.size(), self._canvas.devicePixelRatioF()
            picture = QPixmap(round(size.width() * ratio), round(size.height() * ratio))
            picture.setDevicePixelRatio(ratio)
            origin = QPointF(self.metrics.axis_width, self.metrics.header_height - top)
            painter = QPainter(picture)
            try:
                _DayPainter(self, painter, layout, schedule, origin=origin, fresh=True).paint()
            finally:
                painter.end()
        self._prepared[id(schedule)] = _Prepared(
            schedule, self._fit(), layout, top, self._look(), picture
        )
        while len(self._prepared) > PREPARED_DAYS:
            del self._prepared[next(iter(self._prepared))]

    def _look(self) -> tuple[int, str]:
        """What a picture depends on besides the day, its layout and the scroll position."""
        return self.palette().cacheKey(), self.font().key()

    def _start_top(self, layout: DayLayout) -> int:
        """Where the vertical scroll bar stands when a day opens (``_scroll_to_start``)."""
        first = min((b.rect.y for b in layout.blocks), default=0.0)
        wanted = round(max(0.0, first - 30 * layout.pixels_per_minute))
        body_h: int = self._canvas.size().height() - self.metrics.header_height
        return min(wanted, max(0, round(layout.height - body_h)))

    def shows_painted_ahead(self) -> bool:
        """Whether the next paint puts up the picture ``prepare`` painted (for tests)."""
        return self._picture() is not None

    def _picture(self) -> QPixmap | None:
        """The picture painted ahead of the day shown, if it shows exactly what a paint now
        would (None: paint)."""
        schedule = self._schedule
        prepared = self._prepared.get(id(schedule)) if schedule is not None else None
        if (
            prepared is None
            or prepared.picture is None
            or schedule is None
            or prepared.schedule is not schedule
            or prepared.layout is not self._layout
            or self._drag is not None
            or self._selected is not None
            or self.horizontalScrollBar().value() != 0
            or self.verticalScrollBar().value() != prepared.top
            or prepared.fit != self._fit()
            or prepared.look != self._look()
            or schedule.day == self._local_now(schedule).date()
        ):
            return None
        return prepared.picture

    def _update_scroll_bars(self) -> None:
        m, size, layout = self.metrics, self._canvas.size(), self._layout
        body_w = size.width() - m.axis_width
        body_h = size.height() - m.header_height
        h_bar, v_bar = self.horizontalScrollBar(), self.verticalScrollBar()
        h_bar.setRange(0, max(0, round(layout.width - body_w)) if layout else 0)
        v_bar.setRange(0, max(0, round(layout.height - body_h)) if layout else 0)
        h_bar.setPageStep(max(1, body_w))
        v_bar.setPageStep(max(1, body_h))
        h_bar.setSingleStep(round(layout.column_width / 4) if layout else 20)
        v_bar.setSingleStep(round(15 * layout.pixels_per_minute) if layout else 20)

    def _scroll_to_start(self) -> None:
        """Open a day at its first session (or opening time), not at midnight."""
        self.horizontalScrollBar().setValue(0)
        layout = self._layout
        if layout is None:
            return
        first = min((b.rect.y for b in layout.blocks), default=0.0)
        self.verticalScrollBar().setValue(round(max(0.0, first - 30 * layout.pixels_per_minute)))

    def block_center(self, appointment_id: int) -> QPoint | None:
        """Where a session's block shows, in viewport coordinates (None: not shown)."""
        layout = self._layout
        block = layout.block_of(appointment_id) if layout else None
        if block is None:
            return None
        origin = self.body_origin()
        r = block.rect
        return QPoint(round(origin.x() + r.x + r.w / 2), round(origin.y() + r.y + r.h / 2))

    def tooltip_of(self, appointment_id: int) -> str:
        """The tooltip a session's block shows ("" when it is not shown)."""
        layout = self._layout
        block = layout.block_of(appointment_id) if layout else None
        return self._tooltip(block) if block is not None else ""

    def slot_point(self, room_id: int | None, start: dt.datetime) -> QPoint | None:
        """The viewport point of a room's column at a time (where to drop a block's top)."""
        layout, schedule = self._layout, self._schedule
        if layout is None or schedule is None:
            return None
        column = layout.column_of(room_id)
        if column is None:
            return None
        c = layout.columns[column]
        minute = wall_minute(start.astimezone(schedule.day_start.tzinfo), schedule.day)
        origin = self.body_origin()
        return QPoint(round(origin.x() + c.x + c.w / 2), round(origin.y() + layout.y_of(minute)))

    def arrival_of(self, a: DayAppointment, schedule: DaySchedule) -> str | None:
        """What ``a``'s block says of the patient's arrival now: late or a no-show candidate
        (scheduling/confirmations.arrival_state, the grace periods of ``schedule``); None
        otherwise (an arrived patient's status badge already says so)."""
        state = arrival_state(
            a.status,
            a.start,
            self._now(),
            schedule.late_grace_minutes,
            schedule.no_show_minutes,
            end=a.end,
            not_started_minutes=schedule.not_started_minutes,
        )
        return None if state == ARRIVED else state

    def _follows_the_clock(self, schedule: DaySchedule) -> bool:
        """A day with a session that may run over as the clock moves: one in progress, or,
        today, one checked in and not started (``OVERRUN_STATUSES``)."""
        today = schedule.day == self._local_now(schedule).date()
        return any(
            a.status == "in_progress" or (today and a.status in OVERRUN_STATUSES)
            for a in schedule.appointments
        )

    def _local_now(self, schedule: DaySchedule) -> dt.datetime:
        return self._now().astimezone(schedule.day_start.tzinfo)

    def _start_of(self, minute: int) -> dt.datetime:
        """The aware instant of a wall-clock minute of the day shown."""
        schedule = self._schedule
        assert schedule is not None
        midnight = dt.datetime.combine(schedule.day, dt.time(), schedule.day_start.tzinfo)
        local = midnight + dt.timedelta(minutes=minute)  # wall-clock arithmetic in the zone
        return local.astimezone(dt.UTC)

    def _room_of(self, target: DropTarget) -> int | None:
        assert self._layout is not None
        return self._layout.columns[target.column].room.id

    def _grid(self) -> tuple[int, int]:
        """The slot grid: (slot minutes, the minute it is laid from: the opening time)."""
        schedule = self._schedule
        assert schedule is not None
        anchor = wall_minute(schedule.opens, schedule.day) if schedule.opens else 0
        return schedule.slot_minutes, anchor

    # -- selection ----------------------------------------------------------------------------

    def _select(self, appointment_id: int | None, *, scroll: bool = False) -> None:
        layout = self._layout
        block = layout.block_of(appointment_id) if layout and appointment_id is not None else None
        if appointment_id is not None and block is None:
            appointment_id = None
        if scroll and block is not None:
            self._ensure_visible(block.rect)
        if appointment_id == self._selected:
            return
        self._selected = appointment_id
        self.setAccessibleDescription(
            _accessible_text(block.appointment, self._time_format(), block)
            if block is not None
            else ""
        )
        self._canvas.update()
        self.selection_changed.emit(appointment_id)

    def _blocks_in_order(self) -> list[BlockBox]:
        layout = self._layout
        if layout is None:
            return []
        return sorted(layout.blocks, key=lambda b: (b.rect.y, b.rect.x))

    # -- moving: mouse and keyboard ---------------------------------------------------------------

    def _day_of(self, appointment: DayAppointment) -> DaySchedule | None:
        return self._schedule

    def _drag_origin(self, block: BlockBox) -> tuple[DropTarget, dt.date] | None:
        layout, schedule = self._layout, self._schedule
        assert layout is not None
        assert schedule is not None
        a = block.appointment
        column = layout.column_of(a.room_id)
        if column is None:
            return None
        return DropTarget(column, wall_minute(a.start, schedule.day)), schedule.day

    def _check_loader(self, drag: Drag[DropTarget]) -> Callable[[], object]:
        desk, schedule = self._desk, self._schedule
        assert desk is not None
        assert schedule is not None
        db, appointment_id, day, now = desk.db, drag.appointment.id, schedule.day, desk.now()

        def load() -> object:
            from ketadesk.services.booking.move_check import prepare_move

            return prepare_move(db, appointment_id, day=day, now=now)

        return load

    def _target_start(self, target: DropTarget) -> dt.datetime:
        return self._start_of(target.minute)

    def _drag_room(self, drag: Drag[DropTarget]) -> int | None:
        assert drag.target is not None
        return self._room_of(drag.target)

    def _verdict(self, drag: Drag[DropTarget], target: DropTarget) -> MoveVerdict:
        check = drag.check
        assert hasattr(check, "verdict")
        verdict: MoveVerdict = check.verdict(self._start_of(target.minute), self._room_of(target))
        return verdict

    def _where(self, drag: Drag[DropTarget], target: DropTarget) -> str:
        layout, schedule = self._layout, self._schedule
        assert layout is not None
        assert schedule is not None
        start = self._start_of(target.minute).astimezone(schedule.day_start.tzinfo)
        end = start + dt.timedelta(minutes=drag.duration)
        span = clock_span(start, end, schedule.time_format)
        return f"{layout.columns[target.column].room.name} {span}"

    def _target_at(self, drag: Drag[DropTarget], x: float, y: float) -> DropTarget | None:
        layout = self._layout
        assert layout is not None
        slot, anchor = self._grid()
        return drop_target(
            layout,
            x,
            y,
            grab_minutes=drag.grab_minutes,
            duration=drag.duration,
            slot=slot,
            anchor=anchor,
        )

    def _step_target(self, drag: Drag[DropTarget], slots: int, columns: int) -> DropTarget:
        layout = self._layout
        assert layout is not None
        slot, anchor = self._grid()
        return step_target(
            layout,
            drag.target or drag.origin,
            slots=slots,
            columns=columns,
            duration=drag.duration,
            slot=slot,
            anchor=anchor,
        )

    def _ghost_rect(self, target: DropTarget, duration: int) -> Rect:
        assert self._layout is not None
        return ghost_rect(self._layout, target, duration, self.metrics)

    def _key_move(self, slots: int, columns: int) -> None:
        """Alt+arrows: move the selected block's ghost by a slot or a room; Enter drops."""
        drag = self._drag
        if drag is None:
            block = self._selected_block()
            if block is None:
                return
            drag = self._begin_key_move(block)
            if drag is None:
                self.feedback.emit("Sessions are moved in the day by room")
                return
        self._step_ghost(drag, slots, columns)

    # -- Qt overrides ------------------------------------------------------------------------

    @override
    def sizeHint(self) -> QSize:
        return QSize(960, 640)

    @override
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._relayout()

    @override
    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self._canvas.update()

    @override
    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            assert isinstance(event, QHelpEvent)
            if self._drag is not None and self._drag.started:
                return True  # the drag says what it means itself
            block = self.block_at(QPointF(event.pos()))
            if block is None:
                QToolTip.hideText()
                event.ignore()
            else:
                QToolTip.showText(event.globalPos(), self._tooltip(block), self._canvas)
            return True
        return super().viewportEvent(event)

    @override
    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        block = self.block_at(event.position())
        if event.button() == Qt.MouseButton.LeftButton and block is not None:
            self._cancel_drag(quiet=True)
            self._select(block.appointment.id)
            self.appointment_activated.emit(block.appointment.id)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    @override
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers()
        alt = mods & Qt.KeyboardModifier.AltModifier
        if alt and key in KEY_STEPS:
            self._key_move(*KEY_STEPS[Qt.Key(key)])
            event.accept()
            return
        if key == Qt.Key.Key_Escape:
            self._escape()
            event.accept()
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._drop_or_activate()
            event.accept()
            return
        super().keyPressEvent(event)

    def ask_cancel_reason(self, appointment: DayAppointment) -> str | None:
        """Why the session is cancelled (None: the user thought better of it).  Tests
        replace this; the service refuses an empty reason."""
        return ask_cancel_reason(
            self,
            appointment.patient_name,
            appointment.session_type_name,
            appointment.start,
            self._time_format(),
        )

    def _on_minute_timer_timeout(self) -> None:
        schedule = self._schedule
        if schedule is not None and self._follows_the_clock(schedule):
            self._relayout()  # a session running over grows with the clock
        else:
            self._canvas.update()

    @override
    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            self._canvas.update()

    @override
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self._canvas)
        try:
            if self._layout is None or self._schedule is None:
                painter.fillRect(self._canvas.rect(), self.palette().color(QPalette.ColorRole.Base))
            else:
                picture = self._picture()
                if picture is not None:  # painted ahead, while the user looked at another day
                    painter.drawPixmap(0, 0, picture)
                else:
                    _DayPainter(self, painter, self._layout, self._schedule).paint()
        finally:
            painter.end()
        self.painted.emit()

    def _time_format(self) -> str:
        """The clinic's time format, as the day shown was read with it."""
        return self._schedule.time_format if self._schedule is not None else "12h"

    def _tooltip(self, block: BlockBox) -> str:
        import html  # tooltips come long after start-up

        a = block.appointment
        fmt = self._time_format()
        room = next(
            (
                c.room.name
                for c in (self._layout.columns if self._layout else ())
                if c.room.id == a.room_id
            ),
            "",
        )
        lines = [
            f"<b>{html.escape(a.patient_name)}</b> · chart {html.escape(a.chart_number)}",
            html.escape(
                " · ".join(
                    p
                    for p in (a.session_type_name, a.series_label and f"session {a.series_label}")
                    if p
                )
            ),
            html.escape(clock_span(a.start, a.end, fmt) + (f" · {room}" if room else "")),
            f"Status: {html.escape(a.status_label)}",
        ]
        if a.away:
            lines.insert(0, f"<b>⚠ {html.escape(a.away_words)}</b>")
        if a.closed_notice:
            lines.insert(0, f"<b>⚠ {html.escape(a.closed_words)}</b>")
        planned_end = f"planned end {clock(a.end, fmt)}"
        if self._schedule is not None and self.arrival_of(a, self._schedule) == NOT_STARTED:
            waited = minutes_not_started(a.start, self._now())
            past = f"; {block.overrun_minutes} min past its {planned_end}" * bool(
                block.overrun_minutes
            )
            lines.append(
                f"<b>Checked in, not started: {waited} min after its start "
                f"(due {clock(a.start, fmt)}){past}</b>"
            )
        elif block.overrun_minutes:
            lines.append(f"<b>Running over by {block.overrun_minutes} min ({planned_end})</b>")
        if block.tail is not None and self._layout is not None:
            for other in self._layout.blocks:
                if other.busy_with is not None and other.busy_with.id == a.id:
                    b = other.appointment
                    lines.append(
                        html.escape(
                            f"⚠ The room is booked next for {b.patient_name} at "
                            f"{clock(b.start, fmt)}"
                        )
                    )
        if block.busy_with is not None:
            held = block.busy_with
            lines.append(
                "<b>"
                + html.escape(
                    f"⚠ Room still in use: {held.patient_name}'s {held.session_type_name} is "
                    f"{block.busy_minutes} min past its planned end "
                    f"{clock(held.end, fmt)}"
                )
                + "</b>"
            )
        if len(a.phases) > 1:
            lines.append("")
            lines.extend(
                html.escape(f"{clock_span(p.start, p.end, fmt)}  {p.name}") for p in a.phases
            )
        return "<br>".join(lines)


def _accessible_text(a: DayAppointment, time_format: str, block: BlockBox | None = None) -> str:
    span = clock_span(a.start, a.end, time_format)
    parts = [a.patient_name, a.session_type_name, a.series_label, span]
    closed = f", {a.closed_words}" if a.closed_notice else ""
    away = f", {a.away_words}" if a.away else ""
    late = ""
    if block is not None and block.overrun_minutes:
        late += f", {over_words(block.overrun_minutes)} its planned end"
    if block is not None and block.busy_with is not None:
        late += f", {room_busy_forms(block.busy_with.patient_name, block.busy_minutes)[0]}"
    return ", ".join(p for p in parts if p) + f", {a.status_label}{closed}{away}{late}"


class _DayPainter(TimelinePainter[ColumnBox, BlockBox]):
    """One paint of a DayView: a column per room, blocks with their phases and badges."""

    m: Metrics

    def __init__(
        self,
        view: DayView,
        painter: QPainter,
        layout: DayLayout,
        schedule: DaySchedule,
        *,
        origin: QPointF | None = None,
        fresh: bool = False,
    ) -> None:
        super().__init__(view, painter, view.metrics, small_scale=0.9, origin=origin, fresh=fresh)
        self.view = view
        self.layout = layout
        self.schedule = schedule

    # -- body -------------------------------------------------------------------------------

    def _paint_body(self) -> None:
        p, layout = self.p, self.layout
        for band in layout.bands:
            r = _qrect(band.rect)
            p.fillRect(r, self.closed_fill)
            if band.kind == "closure":
                p.fillRect(r, QBrush(self.grid, Qt.BrushStyle.BDiagPattern))
                if band.reason and band.rect.h >= 16:
                    p.setFont(self.small)
                    p.setPen(self.muted)
                    p.drawText(
                        r.adjusted(6, 2, -6, -2),
                        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                        band.reason,
                    )
        self._paint_grid(layout.width, layout.height, (c.x for c in layout.columns[1:]))
        self._paint_blocks(layout.blocks_in(self.visible))
        self._paint_day_now_line()
        if self.drag is not None:
            self._paint_ghost(self.drag)

    def _paint_over_body(self) -> None:
        self._paint_message()

    def _paint_block(self, block: BlockBox) -> None:
        p, a = self.p, block.appointment
        rect = qrectf(block.rect)
        path = QPainterPath()
        path.addRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 3, 3)
        color = self._block_color(a)
        p.save()
        p.setClipPath(path)
        if a.is_active:
            p.fillRect(rect, shade(color, self.base, SHADE_STRENGTH["observation"]))
            for phase in block.phases:
                strength = SHADE_STRENGTH.get(phase.phase.shade, 0.36)
                p.fillRect(qrectf(phase.rect), shade(color, self.base, strength))
            if a.status == "tentative":
                self._paint_pencilled_in(rect, color)
            p.fillRect(QRectF(rect.x(), rect.y(), STRIPE_WIDTH, rect.height()), color)
            border = self._active_border(color)
            text_color = self.text
        else:
            border, text_color = self._paint_struck_out(rect)
            p.fillRect(
                QRectF(rect.x(), rect.y(), STRIPE_WIDTH, rect.height()),
                shade(color, self.base, 0.45),
            )
        p.restore()
        p.setPen(self._outline_pen(border, a.is_active, a.status == "tentative"))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)
        if block.clipped_before or block.clipped_after:
            self._paint_clip_marks(block, border)
        if block.overrun_minutes and (block.overrun_from is not None or block.tail is not None):
            self._paint_overrun(block, path)
        self._paint_day_mark(a, rect)
        self._paint_block_text(block, text_color)

    def _overrun_badge_height(self) -> int:
        return self.small_bold_fm.height() + 2

    def _paint_overrun(self, block: BlockBox, outline: QPainterPath) -> None:
        """A session still in progress (or checked in and never started) past its planned end:
        the part after it hatched red, a line at the planned end, and how long it has run over
        ("+25 min over").  The part after is the block's own tail when nothing else is booked
        there, else a narrow bar beside the next session (``BlockBox.tail``); the badge sits
        in the tail when it has room, else in the block just above its planned end, never
        over another block."""
        p, r = self.p, block.rect
        red = QColor(OVERRUN_COLORS[self.dark])
        tail = block.tail
        p.save()
        if tail is not None:
            bar = qrectf(tail)
            p.fillRect(bar, mix(red, self.base, 0.35))
            p.fillRect(bar, QBrush(mix(red, self.base, 0.8), Qt.BrushStyle.FDiagPattern))
            p.setPen(QPen(red, 1))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(bar.adjusted(0.5, 0, -0.5, -0.5))
            if block.overrun_from is not None:
                p.setPen(QPen(red, 2, Qt.PenStyle.DashLine))
                p.drawLine(QPointF(r.x, r.bottom - 1), QPointF(r.right, r.bottom - 1))
        elif block.overrun_from is not None:
            top = block.overrun_from
            over = QRectF(r.x, top, r.w, r.bottom - top)
            p.setClipPath(outline)
            p.fillRect(over, mix(red, self.base, 0.18))
            p.fillRect(over, QBrush(mix(red, self.base, 0.55), Qt.BrushStyle.FDiagPattern))
            p.setPen(QPen(red, 2, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(r.x, top), QPointF(r.right, top))
        p.restore()
        fm = self.small_bold_fm
        room = r.w - 2 * TEXT_PADDING - STRIPE_WIDTH
        minutes = block.overrun_minutes
        label = next(
            (text for text in over_forms(minutes) if fm.horizontalAdvance(text) + 10 <= room),
            "",
        )
        if not label:  # a sliver: the hatching and the tooltip say it
            return
        w = fm.horizontalAdvance(label) + 10
        badge = qrectf(overrun_badge_rect(block, w, self._overrun_badge_height(), TEXT_PADDING))
        self._paint_label(badge, label, red, QColor("#ffffff"))

    def _paint_selection(self, block: BlockBox) -> None:
        self._paint_ring(qrectf(block.rect), 4)

    def _paint_ghost(self, drag: DragState) -> None:
        """Where the dragged block would go: green where it fits, red where it is refused,
        grey while that is being worked out; its time and room, or why not."""
        layout, schedule, m = self.layout, self.schedule, self.m
        column = layout.column_of(drag.room_id)
        if column is None:
            return
        a = next((x for x in schedule.appointments if x.id == drag.appointment_id), None)
        if a is None:
            return
        tz = schedule.day_start.tzinfo
        start = drag.start.astimezone(tz)
        minute = wall_minute(start, schedule.day)
        duration = max(1, wall_minute(a.end, schedule.day) - wall_minute(a.start, schedule.day))
        rect = qrectf(ghost_rect(layout, DropTarget(column, minute), duration, m))
        color = ghost_color(drag.reasons, self.dark, self.muted, needs_override=drag.needs_override)
        p = self.p
        fill = mix(color, self.base, 0.2)
        paint_ghost_frame(p, rect, color, fill, stripe=STRIPE_WIDTH, radius=4)
        end = start + dt.timedelta(minutes=duration)
        verdict = ghost_verdict(
            drag.reasons,
            f"✓ Fits in {layout.columns[column].room.name}",
            needs_override=drag.needs_override,
        )
        lines = [
            (clock_span(start, end, schedule.time_format), self.bold, self.bold_fm),
            (verdict, self.small, self.small_fm),
        ]
        x = rect.x() + STRIPE_WIDTH + TEXT_PADDING + 1
        width = rect.width() - STRIPE_WIDTH - 2 * TEXT_PADDING - 2
        y = rect.y() + 3
        if width >= MIN_TEXT_WIDTH:
            for text, font, fm in lines:
                if y + fm.height() > rect.bottom():
                    break
                p.setFont(font)
                p.setPen(self.text)
                if text is verdict and drag.reasons:
                    # A refusal wraps over the lines the ghost has room for.
                    box = QRectF(x, y, width, rect.bottom() - y - 2)
                    p.setPen(color if not self.dark else self.text)
                    p.drawText(box, Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignTop, text)
                    break
                p.drawText(
                    QRectF(x, y, width, fm.height()),
                    LEFT_MIDDLE,
                    fm.elidedText(text, Qt.TextElideMode.ElideRight, int(width)),
                )
                y += fm.height()
        p.restore()

    def _paint_clip_marks(self, block: BlockBox, color: QColor) -> None:
        """A small arrow where a block runs past the range shown."""
        p, r = self.p, block.rect
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        cx = r.right - 10
        if block.clipped_before:
            p.drawPolygon(
                [QPointF(cx - 5, r.y + 7), QPointF(cx + 5, r.y + 7), QPointF(cx, r.y + 2)]
            )
        if block.clipped_after:
            b = r.bottom
            p.drawPolygon([QPointF(cx - 5, b - 7), QPointF(cx + 5, b - 7), QPointF(cx, b - 2)])

    def _paint_block_text(self, block: BlockBox, color: QColor) -> None:
        a, r = block.appointment, block.rect
        left = r.x + STRIPE_WIDTH + TEXT_PADDING
        width = int(r.w - STRIPE_WIDTH - 2 * TEXT_PADDING)
        bold_fm, small_fm = self.bold_fm, self.small_fm
        # As many lines as fit: the name in bold, the rest smaller; above the overrun's badge
        # when it sits in the block.
        available = text_bottom(block, self._overrun_badge_height()) - r.y - 3
        heights = [bold_fm.height()] + [small_fm.height()] * 4
        max_lines = 0
        for h in heights:
            if available < h:
                break
            available -= h
            max_lines += 1
        arrival = self._arrival(a)
        wide = width >= BADGE_MIN_WIDTH and max_lines >= 2
        badge = (
            (self._closed_badge(a) or self._arrival_badge(arrival, a) or self._badge(a.status))
            if wide
            else None
        )
        if badge is not None and arrival == NOT_STARTED and badge[0] != ARRIVAL_NAMES[arrival]:
            # "Not started +292 min" beside the name only while the whole name still shows;
            # else the dot, and the words on the status line below it.
            need = bold_fm.horizontalAdvance(a.patient_name) + 4
            if need + self.small_bold_fm.horizontalAdvance(badge[0]) + 10 > width:
                badge = None
        p = self.p
        dot = (
            ARRIVAL_COLORS.get(arrival or "", STATUS_COLORS.get(a.status))
            if badge is None
            else None
        )
        if dot is not None:  # narrow blocks: a coloured dot says "here" / "in the chair" / "missed"
            width -= 10
            centre = QPointF(r.right - 8, r.y + 2 + bold_fm.height() / 2)
            if badge is None and arrival in HOLLOW_DOTS:  # not marked, only not here yet
                p.setPen(QPen(QColor(dot), 2))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawEllipse(centre, 3, 3)
            else:
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(QColor(dot))
                p.drawEllipse(centre, 4, 4)
        # The line under the name says what is wrong: the room still held by an earlier
        # session (in the overrun's red), else a patient waiting past the start (in the
        # mark's colour) when no badge says it.
        waiting = arrival == NOT_STARTED and badge is None
        alert_color = (
            QColor(OVERRUN_COLORS[self.dark])
            if block.busy_with is not None
            else QColor(ARRIVAL_COLORS[NOT_STARTED])
            if waiting
            else None
        )
        alert = ""
        room = width + (10 if dot is not None else 0)  # (its line is below the dot)
        if block.busy_with is not None:
            alert = self._fitting(
                room_busy_forms(block.busy_with.patient_name, block.busy_minutes), room
            )
        lines = block_lines(
            a,
            max(max_lines, 1),
            self.schedule.time_format,
            with_status=badge is None,
            fits=lambda text: small_fm.horizontalAdvance(text) <= width,
            status_words=self._not_started_words(a) if waiting and alert else "",
            alert=alert
            or (self._fitting(not_started_forms(self._waited(a)), room) if waiting else ""),
        )
        if width < MIN_TEXT_WIDTH:  # a sliver: its colour, hatching and tooltip say enough
            return
        y = r.y + 2
        for i, line in enumerate(lines):
            font, key, fm = (
                (self.bold, self.bold_key, bold_fm)
                if i == 0
                else (self.small, self.small_key, small_fm)
            )
            line_width = width + (10 if dot is not None and i > 0 else 0)
            if i == 0 and badge is not None:
                line_width -= self._paint_badge(badge, r.right - TEXT_PADDING, y, fm.height()) + 4
            # The room still held by an earlier session: said in the overrun's red.
            p.setPen(alert_color if i == 1 and alert_color is not None else color)
            draw_line(p, font, key, fm, left, y, elided(fm, key, line, line_width))
            y += fm.height()

    def _arrival(self, a: DayAppointment) -> str | None:
        return self.view.arrival_of(a, self.schedule)

    def _closed_badge(self, a: DayAppointment) -> tuple[str, QColor, QColor] | None:
        """A session on a day (or in a room) closed since it was booked: "Reschedule"; one on
        the patient's days away: "Away", in the session page's amber (short: the badge sits
        beside the patient's name)."""
        if a.closed_notice:
            return ("⚠ Reschedule", QColor(CLOSED_COLOR), QColor("#ffffff"))
        if a.away:
            return (AWAY_BADGE_SHORT, QColor(AWAY_COLORS[0]), QColor("#ffffff"))
        return None

    def _waited(self, a: DayAppointment) -> int:
        """Minutes since the planned start of a patient checked in and not started."""
        return minutes_not_started(a.start, self.view._now())

    def _not_started_words(self, a: DayAppointment) -> str:
        """``Not started +35 min``, counted from the planned start (scheduling/status_times)."""
        return not_started_words(self._waited(a))

    def _fitting(self, forms: Sequence[str], width: int) -> str:
        """The first of ``forms`` (longest first) a small line of ``width`` shows whole; else
        the last, to be elided."""
        fm, key = self.small_fm, self.small_key
        return next((f for f in forms if elided(fm, key, f, width) == f), forms[-1])

    def _arrival_badge(
        self, arrival: str | None, a: DayAppointment
    ) -> tuple[str, QColor, QColor] | None:
        if arrival is None:
            return None
        words = self._not_started_words(a) if arrival == NOT_STARTED else ARRIVAL_NAMES[arrival]
        return (words, QColor(ARRIVAL_COLORS[arrival]), QColor("#ffffff"))

    def _badge(self, status: str) -> tuple[str, QColor, QColor] | None:
        """Label, fill and text colour of a status badge; none for a plain booking."""
        light_text, dark_text = QColor("#ffffff"), QColor("#1f1f1f")
        neutral = mix(self.text, self.base, 0.16)
        return {
            "checked_in": ("Checked in", QColor(STATUS_COLORS["checked_in"]), dark_text),
            "in_progress": ("In session", QColor(STATUS_COLORS["in_progress"]), light_text),
            "completed": ("✓ Done", neutral, self.text),
            "no_show": ("No-show", QColor(STATUS_COLORS["no_show"]), light_text),
            "cancelled": ("Cancelled", neutral, self.text),
            "tentative": ("Pencilled in", neutral, self.text),
            "released": ("Released", neutral, self.text),
        }.get(status)

    def _paint_badge(
        self, badge: tuple[str, QColor, QColor], right: float, y: float, h: float
    ) -> int:
        """Draw a badge right-aligned at ``right``; returns its width."""
        text, fill, ink = badge
        fm = self.small_bold_fm
        w = fm.horizontalAdvance(text) + 10
        self._paint_label(QRectF(right - w, y + 1, w, h - 2), text, fill, ink)
        return w

    def _paint_label(self, rect: QRectF, text: str, fill: QColor, ink: QColor) -> None:
        """A badge's rounded fill and its word(s), centred (body coordinates)."""
        p = self.p
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(fill)
        p.drawRoundedRect(rect, 3, 3)
        p.setPen(ink)
        p.setFont(self.small_bold)
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_day_now_line(self) -> None:
        layout, schedule = self.layout, self.schedule
        now = self.view._local_now(schedule)
        if now.date() != schedule.day:
            return
        minute = now.hour * 60 + now.minute + now.second / 60
        if not layout.range.first <= minute <= layout.range.last:
            return
        self._paint_now_line(round(layout.y_of(minute)), 0, layout.width)

    def _paint_message(self) -> None:
        """Closed days say why; an empty day says so."""
        schedule, layout = self.schedule, self.layout
        message = day_message(schedule, len(layout.blocks))
        if message is None:
            return
        title, detail = message
        p, m = self.p, self.m
        area = QRectF(
            m.axis_width,
            m.header_height,
            self.size.width() - m.axis_width,
            self.size.height() - m.header_height,
        )
        title_font = QFont(self.bold)
        title_font.setPointSizeF(self.font.pointSizeF() * 1.6)
        tf, df = QFontMetrics(title_font), QFontMetrics(self.font)
        w = max(tf.horizontalAdvance(title), df.horizontalAdvance(detail)) + 48
        h = tf.height() + (df.height() + 6 if detail else 0) + 28
        box = QRectF(area.center().x() - w / 2, area.y() + min(120, area.height() / 3), w, h)
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(QPen(self.grid, 1))
        p.setBrush(self.window)
        p.drawRoundedRect(box, 8, 8)
        p.setPen(self.window_text)
        p.setFont(title_font)
        p.drawText(
            QRectF(box.x(), box.y() + 14, w, tf.height()), Qt.AlignmentFlag.AlignCenter, title
        )
        if detail:
            p.setFont(self.font)
            p.setPen(self.muted)
            p.drawText(
                QRectF(box.x(), box.y() + 20 + tf.height(), w, df.height()),
                Qt.AlignmentFlag.AlignCenter,
                detail,
            )
        p.restore()

    # -- header, axis, corner ----------------------------------------------------------------

    def _header_columns(self) -> Sequence[ColumnBox]:
        return self.layout.columns

    def _header_lines(self, column: ColumnBox) -> tuple[str, str]:
        kind = column.room.kind_label
        if not column.room.active:
            kind += " · out of use"
        return column.room.name, kind

    def _ticks(self) -> Sequence[Tick]:
        return self.layout.ticks

    def _body_height(self) -> float:
        return self.layout.height

    def _zone(self) -> str | None:
        return self.schedule.day_start.tzname() or ""


def _qrect(r: Rect) -> QRect:
    return QRect(round(r.x), round(r.y), round(r.w), round(r.h))
