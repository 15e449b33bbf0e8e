"""The week: seven day columns of one-line session blocks under an hour axis, painted by hand.

Painting is thin: ``week_layout.layout_week`` decides where everything goes (an appointment
book: each hour a row, a day's sessions of that hour stacked in it) and only what is in view is
drawn, so a week of fifteen busy rooms scrolls smoothly.  Colours come from the session types
and the palette (light or dark); today's column is tinted with the palette's highlight; each
day's header carries a load bar; one patient's sessions can be highlighted across the week.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import shiboken6
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QFrame,
    QMenu,
    QToolTip,
    QWidget,
)

from ketadesk.scheduling.dates import clock, clock_span
from ketadesk.scheduling.status_times import over_words, room_busy_words
from ketadesk.services.schedule.day_schedule import DayAppointment, DaySchedule
from ketadesk.services.schedule.week import WeekSchedule, week_with_moved
from ketadesk.ui.common.cancel_question import ask_cancel_reason
from ketadesk.ui.common.colors import mix
from ketadesk.ui.common.dates import short_date
from ketadesk.ui.common.qt_workarounds import keep_none_alive
from ketadesk.ui.timeline.day_layout import OVERRUN_STATUSES, Rect, Tick, wall_minute
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
from ketadesk.ui.timeline.week_layout import (
    BlockNames,
    DayColumn,
    WeekBlock,
    WeekDropTarget,
    WeekLayout,
    WeekMetrics,
    day_detail,
    grid_anchors,
    layout_week,
    week_alert,
    week_block_lines,
    week_drop_target,
    week_ghost_rect,
    week_mark_forms,
    week_step_target,
)

if TYPE_CHECKING:
    from typing_extensions import override

    from ketadesk.services.booking.move_check import MoveCheck, MoveVerdict
    from ketadesk.ui.common.desk import Desk  # its import reaches the store: not needed at start-up
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


STRIPE_WIDTH = 3
TEXT_PADDING = 3
STATUS_BAR = 4  # the status colour down the right edge of a block (checked in, in session...)
MIN_TEXT_WIDTH = 20  # narrower blocks show no text: colour, bar and tooltip say enough
NARROW_TEXT_WIDTH = 90  # a ghost narrower than this gives its start only
LINE_SPACING = 2  # pixels between two lines of a block
ELIDE_SLACK = 2  # elidedText cuts a line that fits by horizontalAdvance to the pixel
SMALL_SCALE = 0.85  # the blocks' and headers' small font, of the view's font
DIM_OTHERS = 0.6  # how far blocks of other patients fade while one patient is highlighted
PREPARED_WEEKS = 4  # weeks laid out and painted ahead (the ones either side, and a few more)
OVERRUN_TAIL = 12  # an overrun's hatched tail at a block's right end, past a dashed "planned end"
MARK_PADDING = 8  # around the words of a block's overrun mark ("+25 over")
MARK_SHARE = 0.45  # of a block's text width, at most, for its overrun mark


@dataclass(frozen=True, eq=False)
class _Prepared:
    """A week laid out (and painted) ahead: what it was worked out for, and the outcome."""

    week: WeekSchedule
    fit: tuple[int, int, bool, int]  # WeekView._fit
    layout: WeekLayout
    top: int  # the vertical scroll position it opens at
    look: tuple[int, str, bool, str | None]  # WeekView._look
    picture: QPixmap | None


class WeekView(DragMixin[WeekBlock, WeekDropTarget], QAbstractScrollArea):
    """Seven days of the clinic side by side, for some rooms or for one staff member.

    The day header stays at the top and the time axis at the left while the body scrolls.
    Hovering a block shows the session's details; clicking selects it (Tab and Shift+Tab go
    from block to block); double-clicking a day's header opens that day, double-clicking a
    block (or Enter on the selected one) opens the session; the context menu (right click, the
    Menu key or Shift+F10) changes its status.  Home/End choose the first and last day (and
    Alt+Left/Alt+Right when no block is selected); Enter with no block selected opens the day.

    With a desk (``set_desk``) a block can be dragged to another day and/or time, or moved with
    Alt+arrows (Left/Right a day, Up/Down a slot) then Enter.  The ghost snaps to the day's slot
    grid and is green where the session fits and red, with the reason, where it does not (asked
    of ``services.move_check`` on a snapshot of the week read when the move begins).  The
    session keeps its own room, also in a staff member's week.  Esc cancels; a drop on a
    refused place leaves the block where it was.  The view never writes: it asks its owner
    (the signals are those of ``DayView``, so the same wiring serves both).

    Signals:
        day_activated(object): a ``datetime.date`` whose day should open.
        appointment_activated(int): the id of a session to open.
        move_requested(int, object, object, object): appointment id, new start (aware datetime), its
            room id (unchanged; None: no room).  Emitted on a drop the check accepted;
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
        selection_changed(object): the selected appointment's id, or None.
        feedback(str): a line for the status bar while moving ("Fits: ..." / "Refused: ...")
            and when a patient is highlighted.
        highlight_changed(object): the chart number of the patient highlighted, or None.

    "Highlight this patient" (the block's context menu, or H on a selected block) outlines
    every session of that patient in the week, and in the weeks after until cleared, and fades
    the others; Esc or "Clear highlight" ends it.

    Attributes:
        metrics: the sizes the layout works with.
    """

    day_activated = Signal(object)
    appointment_activated = Signal(int)
    move_requested = Signal(int, object, object, object)
    override_move_requested = Signal(int, object, object, object, object)
    move_refused = Signal(str)
    status_requested = Signal(int, str, str, object)
    series_move_requested = Signal(int)
    session_move_requested = Signal(int)
    selection_changed = Signal(object)
    feedback = Signal(str)
    highlight_changed = Signal(object)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        now: Callable[[], dt.datetime] | None = None,
        metrics: WeekMetrics | None = None,
        desk: Desk | None = None,
    ) -> None:
        super().__init__(parent)
        keep_none_alive()  # painting makes thousands of calls: see qt_workarounds
        self.metrics = metrics or WeekMetrics()
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._week: WeekSchedule | None = None
        # The week as read, while a move being written is shown ahead of it (``show_moved``).
        self._as_read: WeekSchedule | None = None
        self._layout: WeekLayout | None = None
        # Weeks laid out ahead (``prepare``), by the identity of their schedule.
        self._prepared: dict[int, _Prepared] = {}
        self._show_cancelled = True
        self._current_day = 0  # the day Enter opens
        self._desk: Desk | None = None
        self._selected: int | None = None
        self._drag: Drag[WeekDropTarget] | None = None
        self._highlight: str | None = None  # a patient's chart number
        self._line_height: int | None = None  # ``line_height``, kept until the font changes
        self._grab_pixels = 0.0  # how far below a dragged block's top it was grabbed
        self._canvas = QWidget(self)
        self._canvas.setMouseTracking(True)
        self._canvas.setAutoFillBackground(False)
        self.setViewport(self._canvas)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustIgnored)
        self.setAccessibleName("Week view")
        self._minute_timer = QTimer(self)
        self._minute_timer.setInterval(60_000)
        self._minute_timer.timeout.connect(self._on_minute_timer_timeout)
        if desk is not None:
            self.set_desk(desk)

    # -- state ------------------------------------------------------------------------------

    def week(self) -> WeekSchedule | None:
        return self._week

    def set_week(self, week: WeekSchedule | None) -> None:
        """Show ``week``.  The same week again (a reload after a change here or at another
        workstation) keeps the scroll position, the selection and a move in progress (unless
        its session changed); another week starts afresh."""
        self._as_read = None  # what the database says now: moves shown ahead are answered
        self._show(week)

    def show_moved(self, appointment_id: int, start: dt.datetime, room_id: int | None) -> None:
        """Show a session at the place a move being written takes it to (a drop, an undo), at
        once, before the write answers: the week read again after it confirms it, and
        ``put_back`` takes it back if the write is refused."""
        week = self._week
        moved = week_with_moved(week, appointment_id, start, room_id) if week else None
        if moved is None:
            return
        if self._as_read is None:
            self._as_read = week
        self._show(moved)

    def put_back(self) -> None:
        """Show the week as read again: the move shown ahead (``show_moved``) was refused."""
        as_read, self._as_read = self._as_read, None
        if as_read is not None:
            self._show(as_read)

    def shows_moves_ahead(self) -> bool:
        """Whether a move being written is shown ahead of the week as read (for tests)."""
        return self._as_read is not None

    def _show(self, week: WeekSchedule | None) -> None:
        same = (
            week is not None
            and self._week is not None
            and week.first_day == self._week.first_day
            and week.staff_id == self._week.staff_id
            and week.room_ids == self._week.room_ids
        )
        h_value = self.horizontalScrollBar().value()
        v_value = self.verticalScrollBar().value()
        self._week = week
        if not same:
            today = self._today()
            days = [d.day for d in week.days] if week else []
            self._current_day = days.index(today) if today in days else 0
        self._relayout()
        if same:
            self.horizontalScrollBar().setValue(h_value)
            self.verticalScrollBar().setValue(v_value)
            self._keep_drag_if_unchanged()
        else:
            self._scroll_to_start()
            self._cancel_drag(quiet=True)
            if self._highlight is not None and week is not None:
                self.feedback.emit(self._highlight_text())  # how many in this week
        layout = self._layout
        if self._selected is not None and (
            not same or layout is None or layout.block_of(self._selected) is None
        ):
            self._select(None)
        if week is not None and self._today() in [d.day for d in week.days]:
            self._minute_timer.start()
        else:
            self._minute_timer.stop()
        self._update_accessible_description()

    def can_move(self) -> bool:
        """Whether blocks can be moved here: a desk to check with and a week to move in."""
        return self._desk is not None and self._week is not None and bool(self._week.days)

    def drag_target(self) -> WeekDropTarget | None:
        """Where the ghost is: a day's index and a wall-clock minute (None: nothing moves)."""
        drag = self._drag
        return drag.target if drag is not None and drag.started else None

    def slot_point(self, day: dt.date, start: dt.datetime) -> QPointF | None:
        """The viewport point of a day's column at a time of that day (where to drop a
        block's top)."""
        layout, week = self._layout, self._week
        if layout is None or week is None:
            return None
        index = next((i for i, c in enumerate(layout.days) if c.day == day), None)
        if index is None:
            return None
        column = layout.days[index]
        minute = wall_minute(start.astimezone(week.days[index].day_start.tzinfo), day)
        origin = self.body_origin()
        return QPointF(origin.x() + column.x + column.w / 2, origin.y() + layout.y_of(minute))

    def show_cancelled(self) -> bool:
        return self._show_cancelled

    def set_show_cancelled(self, show: bool) -> None:
        self._show_cancelled = show
        self._relayout()

    def canvas(self) -> QWidget:
        return self._canvas

    def week_layout(self) -> WeekLayout | None:
        """The current geometry (what is painted), for tests and hit-testing."""
        return self._layout

    def current_day(self) -> dt.date | None:
        """The day the keyboard has chosen (Enter opens it)."""
        if self._week is None or not self._week.days:
            return None
        return self._week.days[self._current_day].day

    def line_height(self) -> int:
        """One line of a block: the view's own font (not the small one: the week is read
        across a desk) and a little air.  Kept until the font changes: measuring it costs a few
        milliseconds, and every paint asks."""
        if self._line_height is None:
            self._line_height = QFontMetrics(self.font()).height() + LINE_SPACING
        return self._line_height

    # -- highlighting a patient -------------------------------------------------------------

    def _time_format(self) -> str:
        """The clinic's time format, as the week shown was read with it."""
        return self._week.time_format if self._week is not None else "12h"

    def block_text(self, appointment_id: int) -> list[str]:
        """The lines a session's block shows, as painted (for tests and accessibility)."""
        layout = self._layout
        block = layout.block_of(appointment_id) if layout is not None else None
        if block is None or layout is None:
            return []
        plain, bold = QFont(self.font()), QFont(self.font())
        bold.setBold(True)
        fonts = BlockFonts(QFontMetrics(plain), plain.key(), QFontMetrics(bold), bold.key())
        return [
            " ".join(p for p in line if p)
            for line in block_text(block, layout.block_lines, fonts, self._time_format())
        ]

    def highlighted_patient(self) -> str | None:
        """The chart number of the patient whose sessions are highlighted, or None."""
        return self._highlight

    def highlighted_ids(self) -> list[int]:
        """The sessions highlighted in the week shown, in day and time order."""
        layout, chart = self._layout, self._highlight
        if layout is None or chart is None:
            return []
        return [
            b.appointment.id for b in self._blocks_in_order() if b.appointment.chart_number == chart
        ]

    def highlight_patient(self, chart_number: str | None) -> None:
        """Mark every session of this patient (None: nobody) and say so in the status bar."""
        if chart_number == self._highlight:
            return
        self._highlight = chart_number
        self._canvas.update()
        self._update_accessible_description()
        self.highlight_changed.emit(chart_number)
        self.feedback.emit(self._highlight_text())

    def _highlight_text(self) -> str:
        if self._highlight is None or self._layout is None:
            return ""
        blocks = [b for b in self._layout.blocks if b.appointment.chart_number == self._highlight]
        if not blocks:
            return "No sessions of the highlighted patient this week · Esc clears"
        count = sum(1 for b in blocks if b.appointment.is_active)
        name = blocks[0].appointment.patient_name
        sessions = f"{count} session{'s' if count != 1 else ''}"
        return f"Highlighted: {name}, {sessions} this week · Esc clears"

    @override
    def context_menu(self, appointment: DayAppointment) -> QMenu:
        """The session's menu, and highlighting its patient across the week."""
        menu = super().context_menu(appointment)
        first = menu.actions()[0] if menu.actions() else None
        mark = QAction("Highlight this patient's sessions", menu)
        mark.setObjectName("highlight_patient")
        mark.setEnabled(self._highlight != appointment.chart_number)
        mark.triggered.connect(lambda: self.highlight_patient(appointment.chart_number))
        clear = QAction("Clear highlight", menu)
        clear.setObjectName("clear_highlight")
        clear.setVisible(self._highlight is not None)
        clear.triggered.connect(lambda: self.highlight_patient(None))
        if first is not None:
            menu.insertActions(first, [mark, clear])
            menu.insertSeparator(first)
        else:
            menu.addActions([mark, clear])
        return menu

    @override
    def _escape(self) -> None:
        """Esc: cancel a move, else clear the highlight, else let go of the selection."""
        if self._drag is None and self._highlight is not None:
            self.highlight_patient(None)
            return
        super()._escape()

    # -- geometry ---------------------------------------------------------------------------

    def _today(self) -> dt.date | None:
        if self._week is None or not self._week.days:
            return None
        return self._now().astimezone(self._week.days[0].day_start.tzinfo).date()

    def _relayout(self) -> None:
        week = self._week
        if week is None:
            self._layout = None
        else:
            prepared = self._prepared.get(id(week))
            if (
                prepared is not None
                and prepared.week is week
                and prepared.fit == self._fit(week)
                and not self._follows_the_clock(week)
            ):
                self._layout = prepared.layout
            else:
                self._layout = self._layout_of(week)
        self._update_scroll_bars()
        self._canvas.update()

    def _follows_the_clock(self, week: WeekSchedule) -> bool:
        """A week whose today holds a session that may run over as the clock moves: one in
        progress, or checked in and not started (``day_layout.OVERRUN_STATUSES``)."""
        today = self._today_of(week)
        return any(
            a.status in OVERRUN_STATUSES
            for d in week.days
            if d.day == today
            for a in d.appointments
        )

    def _on_minute_timer_timeout(self) -> None:
        week = self._week
        if week is not None and self._follows_the_clock(week):
            self._relayout()  # a session running over: its minutes grow with the clock
        else:
            self._canvas.update()

    def _today_of(self, week: WeekSchedule) -> dt.date | None:
        if not week.days:
            return None
        return self._now().astimezone(week.days[0].day_start.tzinfo).date()

    def _fit(self, week: WeekSchedule) -> tuple[int, int, bool, int]:
        """What a layout depends on besides the week (and today, if in it): the viewport's
        size, whether cancelled sessions show and the line height (the font)."""
        size = self._canvas.size()
        return size.width(), size.height(), self._show_cancelled, self.line_height()

    def _layout_of(self, week: WeekSchedule) -> WeekLayout:
        width, height, show_cancelled, line_height = self._fit(week)
        return layout_week(
            week,
            width=width,
            height=height,
            today=self._today_of(week),
            show_cancelled=show_cancelled,
            metrics=self.metrics._replace(line_height=line_height),
            now=self._now(),
        )

    def prepare(self, week: WeekSchedule) -> None:
        """Lay out and paint ``week`` (a week read ahead) now, while the user looks at this
        one, as it will look when opened: showing it later (``set_week`` with this very
        object) then puts that picture on screen.  The picture is used only while nothing
        differs from what it shows (size, scroll, selection, a move, the highlighted patient,
        the focus, the palette, the font); the week holding today (its "now" line moves) is
        laid out but painted when shown."""
        if not shiboken6.isValid(self._canvas):  # the window is closing: nothing to paint on
            return
        layout = self._layout_of(week)
        top = self._start_top(layout)
        today = self._today_of(week)
        days = [d.day for d in week.days]
        picture: QPixmap | None = None
        if days and today not in days:
            size, ratio = self._canvas.size(), self._canvas.devicePixelRatioF()
            picture = QPixmap(round(size.width() * ratio), round(size.height() * ratio))
            picture.setDevicePixelRatio(ratio)
            origin = QPointF(self.metrics.axis_width, self.metrics.header_height - top)
            painter = QPainter(picture)
            try:
                chosen = days[0] if self.hasFocus() else None
                _WeekPainter(
                    self, painter, layout, week=week, origin=origin, fresh=True, chosen=chosen
                ).paint()
            finally:
                painter.end()
        self._prepared[id(week)] = _Prepared(
            week, self._fit(week), layout, top, self._look(), picture
        )
        while len(self._prepared) > PREPARED_WEEKS:
            del self._prepared[next(iter(self._prepared))]

    def _look(self) -> tuple[int, str, bool, str | None]:
        """What a picture depends on besides the week, its layout and the scroll position:
        the palette, the font, the focus (the chosen day's header) and the highlight."""
        return self.palette().cacheKey(), self.font().key(), self.hasFocus(), self._highlight

    def _start_top(self, layout: WeekLayout) -> int:
        """Where the vertical scroll bar stands when a week opens (``_scroll_to_start``)."""
        first = min((b.rect.y for b in layout.blocks), default=0.0)
        wanted = round(max(0.0, first - 30 * layout.pixels_per_minute))
        body_h: int = self._canvas.size().height() - self.metrics.header_height
        return min(wanted, max(0, round(layout.height - body_h)))

    def shows_painted_ahead(self) -> bool:
        """Whether the next paint puts up the picture ``prepare`` painted (for tests)."""
        return self._picture() is not None

    def _picture(self) -> QPixmap | None:
        """The picture painted ahead of the week shown, if it shows exactly what a paint now
        would (None: paint)."""
        week = self._week
        prepared = self._prepared.get(id(week)) if week is not None else None
        if (
            prepared is None
            or prepared.picture is None
            or week is None
            or prepared.week is not week
            or prepared.layout is not self._layout
            or self._drag is not None
            or self._selected is not None
            or self._current_day != 0
            or self.horizontalScrollBar().value() != 0
            or self.verticalScrollBar().value() != prepared.top
            or prepared.fit != self._fit(week)
            or prepared.look != self._look()
            or self._today() in [d.day for d in week.days]
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
        h_bar.setSingleStep(round(layout.day_width / 2) if layout else 20)
        v_bar.setSingleStep(round(30 * layout.pixels_per_minute) if layout else 20)

    def _scroll_to_start(self) -> None:
        self.horizontalScrollBar().setValue(0)
        layout = self._layout
        if layout is None:
            return
        first = min((b.rect.y for b in layout.blocks), default=0.0)
        self.verticalScrollBar().setValue(round(max(0.0, first - 30 * layout.pixels_per_minute)))

    def header_day_at(self, viewport_pos: QPointF) -> dt.date | None:
        """The day whose header is at a viewport point, or None."""
        if self._layout is None:
            return None
        m = self.metrics
        if viewport_pos.y() >= m.header_height or viewport_pos.x() < m.axis_width:
            return None
        index = self._layout.day_at(viewport_pos.x() - self.body_origin().x())
        return self._layout.days[index].day if index is not None else None

    def block_center(self, appointment_id: int) -> QPointF | None:
        """Where a session's block is in the viewport (for tests and accessibility)."""
        if self._layout is None:
            return None
        origin = self.body_origin()
        for block in self._layout.blocks:
            if block.appointment.id == appointment_id:
                r = block.rect
                return QPointF(origin.x() + r.x + r.w / 2, origin.y() + r.y + min(r.h / 2, 8))
        return None

    def tooltip_of(self, appointment_id: int) -> str:
        """The tooltip a session's block shows ("" when it is not shown)."""
        block = self._layout.block_of(appointment_id) if self._layout else None
        return self._tooltip(block) if block is not None else ""

    def header_center(self, day: dt.date) -> QPointF | None:
        if self._layout is None:
            return None
        for column in self._layout.days:
            if column.day == day:
                return QPointF(
                    self.body_origin().x() + column.x + column.w / 2, self.metrics.header_height / 2
                )
        return None

    def _target_start(self, target: WeekDropTarget) -> dt.datetime:
        """The aware instant (UTC) of a target's wall-clock minute on its day."""
        week = self._week
        assert week is not None
        day = week.days[target.day]
        midnight = dt.datetime.combine(day.day, dt.time(), day.day_start.tzinfo)
        local = midnight + dt.timedelta(minutes=target.minute)  # wall-clock arithmetic
        return local.astimezone(dt.UTC)

    def _drag_room(self, drag: Drag[WeekDropTarget]) -> int | None:
        """The session's own room: it goes with the session to its new day.  In a staff
        member's week the block's column is the staff member, so the room is the one the
        check read (until then, unknown: None)."""
        checks = _checks(drag)
        if checks:
            return checks[0].placement.room_id
        week = self._week
        if week is not None and week.staff_id is None:
            return drag.appointment.room_id
        return None

    def _grid(self) -> tuple[int, tuple[int, ...]]:
        """The slot grid: slot minutes, and each day's anchor (its opening minute)."""
        week = self._week
        assert week is not None
        return week.days[0].slot_minutes, grid_anchors(week)

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
        if block is not None:
            self._current_day = block.day_index
        self._update_accessible_description()
        self._canvas.update()
        self.selection_changed.emit(appointment_id)

    def _blocks_in_order(self) -> list[WeekBlock]:
        layout = self._layout
        if layout is None:
            return []
        return sorted(layout.blocks, key=lambda b: (b.day_index, b.rect.y, b.rect.x))

    # -- moving: mouse and keyboard ---------------------------------------------------------------

    def _day_of(self, appointment: DayAppointment) -> DaySchedule | None:
        week = self._week
        if week is None:
            return None
        day = appointment.start.date()  # in the clinic's zone, as every time of the week
        return next((d for d in week.days if d.day == day), week.days[0] if week.days else None)

    def _drag_origin(self, block: WeekBlock) -> tuple[WeekDropTarget, dt.date] | None:
        week = self._week
        assert week is not None
        day = week.days[block.day_index].day
        return WeekDropTarget(block.day_index, wall_minute(block.appointment.start, day)), day

    def _check_loader(self, drag: Drag[WeekDropTarget]) -> Callable[[], object]:
        """A check's window runs from the session's own day to the day asked for, so two
        reads (to the week's first day and to its last) cover every day of the week."""
        desk, week = self._desk, self._week
        assert desk is not None
        assert week is not None
        db, appointment_id, now = desk.db, drag.appointment.id, desk.now()
        ends = (week.first_day, week.last_day)

        def load() -> object:
            from ketadesk.services.booking.move_check import prepare_move

            return tuple(prepare_move(db, appointment_id, day=end, now=now) for end in ends)

        return load

    def _verdict(self, drag: Drag[WeekDropTarget], target: WeekDropTarget) -> MoveVerdict:
        from ketadesk.services.booking.move_check import MoveVerdict

        start = self._target_start(target)
        check = next((c for c in _checks(drag) if c.covers(start)), None)
        if check is None:
            return MoveVerdict(reasons=("the move cannot be checked: outside the week read",))
        return check.verdict(start, self._drag_room(drag))

    def _where(self, drag: Drag[WeekDropTarget], target: WeekDropTarget) -> str | None:
        week = self._week
        if week is None:
            return None
        tz = week.days[target.day].day_start.tzinfo
        start = self._target_start(target).astimezone(tz)
        end = start + dt.timedelta(minutes=drag.duration)
        return f"{short_date(start)} {clock_span(start, end, week.time_format)}"

    @override
    def _begin(
        self, block: WeekBlock, press: QPointF, *, keyboard: bool
    ) -> Drag[WeekDropTarget] | None:
        # A block's top is where its hour's row puts it, not its start: the pointer keeps the
        # distance it was grabbed at from the ghost's top, in pixels, and the top is the start.
        self._grab_pixels = 0.0 if keyboard else press.y() - self.body_origin().y() - block.rect.y
        return super()._begin(block, press, keyboard=keyboard)

    def _target_at(self, drag: Drag[WeekDropTarget], x: float, y: float) -> WeekDropTarget | None:
        layout = self._layout
        assert layout is not None
        slot, anchors = self._grid()
        return week_drop_target(
            layout,
            x,
            y - self._grab_pixels,
            grab_minutes=0,
            duration=drag.duration,
            slot=slot,
            anchors=anchors,
        )

    def _step_target(self, drag: Drag[WeekDropTarget], slots: int, columns: int) -> WeekDropTarget:
        layout = self._layout
        assert layout is not None
        slot, anchors = self._grid()
        return week_step_target(
            layout,
            drag.target or drag.origin,
            slots=slots,
            days=columns,
            duration=drag.duration,
            slot=slot,
            anchors=anchors,
        )

    def _ghost_rect(self, target: WeekDropTarget, duration: int) -> Rect:
        assert self._layout is not None
        return week_ghost_rect(self._layout, target, duration, self.metrics)

    def _key_move(self, slots: int, days: int) -> bool:
        """Alt+arrows: move the selected block's ghost by a slot or a day; Enter drops.
        False when there is nothing to move (no block selected, or no desk)."""
        drag = self._drag
        if drag is None:
            block = self._selected_block()
            if block is None or not block.appointment.is_active:
                return False
            drag = self._begin_key_move(block)
            if drag is None:
                return False
        elif not drag.keyboard:
            return True  # the mouse is moving it
        self._step_ghost(drag, slots, days)
        return True

    def _update_accessible_description(self) -> None:
        week = self._week
        if week is None:
            self.setAccessibleDescription("")
            return
        chosen = self.current_day()
        day = week.days[self._current_day] if week.days else None
        chosen_text = (
            f"; chosen: {chosen:%A}, {chosen:%B} {chosen.day}: {day_detail(day, day.active_count)}"
            if chosen is not None and day is not None
            else ""
        )
        block = self._selected_block()
        selected_text = (
            f"; selected: {_accessible_text(block.appointment, week.time_format, block)}"
            if block
            else ""
        )
        highlight = self._highlight_text().removesuffix(" · Esc clears")
        highlight_text = f"; {highlight}" if highlight else ""
        self.setAccessibleDescription(
            f"{week.label}, week of {week.first_day:%A}, {week.first_day:%B} "
            f"{week.first_day.day}, {week.first_day.year}: {week.active_count} sessions"
            f"{chosen_text}{selected_text}"
            f"{highlight_text}"
        )

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
        kind = event.type()
        if kind == QEvent.Type.ToolTip:
            assert isinstance(event, QHelpEvent)
            if self._drag is not None and self._drag.started:
                return True  # the ghost says what it means itself
            pos = QPointF(event.pos())
            block = self.block_at(pos)
            day = self.header_day_at(pos)
            if block is not None:
                QToolTip.showText(event.globalPos(), self._tooltip(block), self._canvas)
            elif day is not None:
                QToolTip.showText(event.globalPos(), self._header_tooltip(day), self._canvas)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        if kind == QEvent.Type.MouseButtonDblClick:
            assert isinstance(event, QMouseEvent)
            if event.button() == Qt.MouseButton.LeftButton:
                self._on_double_click(event.position())
                return True
        return super().viewportEvent(event)

    @override
    def keyPressEvent(self, event: QKeyEvent) -> None:
        count = len(self._week.days) if self._week else 0
        key = event.key()
        alt = event.modifiers() & Qt.KeyboardModifier.AltModifier
        # Plain Left/Right belong to the window (previous/next week).  Alt+arrows move the
        # selected block (Left/Right a day, Up/Down a slot); with none selected, Alt+Left/Right
        # choose a day, as Home/End do.
        if alt and key in KEY_STEPS and (self._drag is not None or self._selected is not None):
            if not self._key_move(*KEY_STEPS[Qt.Key(key)]):
                self.feedback.emit(
                    "Sessions are moved with a desk open"
                    if self._desk is None
                    else "Cancelled and missed sessions stay where they were"
                )
            event.accept()
            return
        if key == Qt.Key.Key_Escape:
            self._escape()
            event.accept()
            return
        if key == Qt.Key.Key_H and not event.modifiers() and self._drag is None:
            block = self._selected_block()
            if block is not None:  # H: highlight the selected patient (again: clear)
                chart = block.appointment.chart_number
                self.highlight_patient(None if self._highlight == chart else chart)
                event.accept()
                return
        chosen: int | None = None
        if key == Qt.Key.Key_Home:
            chosen = 0
        elif key == Qt.Key.Key_End:
            chosen = count - 1
        elif key == Qt.Key.Key_Left and alt:
            chosen = self._current_day - 1
        elif key == Qt.Key.Key_Right and alt:
            chosen = self._current_day + 1
        if count and chosen is not None:
            self._current_day = max(0, min(count - 1, chosen))
            self._canvas.update()
            self._update_accessible_description()
        elif count and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if not self._drop_or_activate():
                day = self.current_day()
                if day is not None:
                    self.day_activated.emit(day)
        else:
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

    @override
    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            self._line_height = None
            self._canvas.update()

    @override
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self._canvas)
        try:
            if self._layout is None or self._week is None:
                painter.fillRect(self._canvas.rect(), self.palette().color(QPalette.ColorRole.Base))
            else:
                picture = self._picture()
                if picture is not None:  # painted ahead, while the user looked at another week
                    painter.drawPixmap(0, 0, picture)
                else:
                    _WeekPainter(self, painter, self._layout).paint()
        finally:
            painter.end()

    # -- slots ------------------------------------------------------------------------------

    def _on_double_click(self, pos: QPointF) -> None:
        block = self.block_at(pos)
        if block is not None:
            self._cancel_drag(quiet=True)
            self._select(block.appointment.id)
            self.appointment_activated.emit(block.appointment.id)
            return
        day = self.header_day_at(pos)
        if day is not None:
            self.day_activated.emit(day)

    def _header_tooltip(self, day: dt.date) -> str:
        column = (
            next((c for c in self._layout.days if c.day == day), None) if self._layout else None
        )
        lines = [f"{day:%A}, {day:%B} {day.day}: double-click to open the day"]
        if column is not None:
            lines.append(column.detail)
            if column.load is not None:
                lines.append(column.load.describe())
        return "<br>".join(html.escape(line) for line in lines)

    def _tooltip(self, block: WeekBlock) -> str:
        a = block.appointment
        kind = " · ".join(
            p for p in (a.session_type_name, a.series_label and f"session {a.series_label}") if p
        )
        where = a.room_name or "No room"
        lines = [
            f"<b>{html.escape(a.patient_name)}</b> · chart {html.escape(a.chart_number)}",
            html.escape(kind),
            html.escape(
                f"{short_date(a.start)} · {clock_span(a.start, a.end, self._time_format())}"
                f" · {where}"
            ),
            f"Status: {html.escape(a.status_label)}",
        ]
        if a.away:
            lines.insert(0, f"<b>⚠ {html.escape(a.away_words)}</b>")
        if a.closed_notice:
            lines.insert(0, f"<b>⚠ {html.escape(a.closed_words)}</b>")
        lines.extend(self._overrun_lines(block))
        return "<br>".join(lines)

    def _overrun_lines(self, block: WeekBlock) -> list[str]:
        """What a tooltip says of an overrun, as the day view's does: how long the session has
        run over its planned end, the session its room is booked for next; on that session,
        whose overrun still holds its room."""
        a, fmt = block.appointment, self._time_format()
        lines = []
        if block.overrun_minutes:
            lines.append(
                f"<b>Running over by {block.overrun_minutes} min "
                f"(planned end {html.escape(clock(a.end, fmt))})</b>"
            )
            for other in self._layout.blocks if self._layout is not None else ():
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
                    f"{block.busy_minutes} min past its planned end {clock(held.end, fmt)}"
                )
                + "</b>"
            )
        return lines


class BlockFonts(NamedTuple):
    """The fonts a block's text is measured in: plain and bold, with their cache keys."""

    plain: QFontMetrics
    plain_key: str
    bold: QFontMetrics
    bold_key: str


def block_text(
    block: WeekBlock, max_lines: int, fonts: BlockFonts, time_format: str
) -> list[tuple[str, str]]:
    """What a block shows, line by line as (bold, plain) text, shortened to its width
    (``week_block_lines``) and elided only when even the shortest form does not fit; nothing
    on a block narrower than ``MIN_TEXT_WIDTH``."""
    r, a = block.rect, block.appointment
    right = STATUS_BAR if a.status in STATUS_COLORS else 0
    if block.overrun_minutes:
        right = OVERRUN_TAIL
    width = int(r.w - STRIPE_WIDTH - 2 * TEXT_PADDING - right)
    if width < MIN_TEXT_WIDTH:
        return []
    mark = overrun_mark(block, fonts, width, time_format)
    first_width = width - mark_width(mark, fonts.bold) if mark else width
    # Kept, like the painter's elided lines: a week repaints every block at each drag step,
    # and shortening a line measures it several times.
    key = (
        fonts.plain_key,
        fonts.bold_key,
        width,
        first_width,
        max_lines,
        a.id,
        a.start,
        a.patient_name,
        a.session_type_short,
        a.series_label,
        a.status,
        a.room_name,
        a.closed_notice,
        a.away,
        block.names,
        time_format,
        block.overrun_minutes,
        block.busy_minutes,
        block.busy_with.patient_name if block.busy_with is not None else "",
    )
    found = _BLOCK_TEXTS.get(key)
    if found is None:
        if len(_BLOCK_TEXTS) >= _BLOCK_TEXTS_MAX:
            _BLOCK_TEXTS.clear()
        found = _BLOCK_TEXTS[key] = _fitted_lines(
            a, block.names, width, max_lines, fonts, time_format, week_alert(block), first_width
        )
    return found


def overrun_mark(block: WeekBlock, fonts: BlockFonts, width: int, time_format: str) -> str:
    """The mark a block running over (or whose room an overrun holds) carries at its right
    end, on its first line of ``width`` pixels: the longest form of ``week_mark_forms`` that
    leaves that line as it would read without a mark (the time, the patient as the week names
    them, the session type and place); else the shortest form, if it takes at most
    ``MARK_SHARE`` of the line; else "" (the tail, the status line and the tooltip still say
    it)."""
    forms = week_mark_forms(block)
    if not forms:
        return ""
    a = block.appointment
    whole = week_block_lines(a, 1, _fits_in(fonts, width), time_format, block.names)
    for form in forms:
        room = width - mark_width(form, fonts.bold)
        if week_block_lines(a, 1, _fits_in(fonts, room), time_format, block.names) == whole:
            return form
    shortest = forms[-1]
    return shortest if mark_width(shortest, fonts.bold) <= width * MARK_SHARE else ""


def _fits_in(fonts: BlockFonts, room: int) -> Callable[[str, str], bool]:
    """Whether a line (the time in bold, the rest plain) fits ``room`` pixels whole."""
    space = fonts.plain.horizontalAdvance(" ")

    def fits(time: str, rest: str) -> bool:
        used = fonts.bold.horizontalAdvance(time) + space + fonts.plain.horizontalAdvance(rest)
        return used <= room - ELIDE_SLACK

    return fits


def mark_width(mark: str, bold: QFontMetrics) -> int:
    """The room a block's mark takes from its first line, the gap before it included."""
    return bold.horizontalAdvance(mark) + MARK_PADDING + TEXT_PADDING


_BLOCK_TEXTS: dict[tuple[object, ...], list[tuple[str, str]]] = {}
_BLOCK_TEXTS_MAX = 20_000


def _fitted_lines(
    a: DayAppointment,
    names: BlockNames | None,
    width: int,
    max_lines: int,
    fonts: BlockFonts,
    time_format: str,
    alert: Sequence[str] = (),
    first_width: int | None = None,
) -> list[tuple[str, str]]:
    """The block's lines fitted to ``width``, the first to ``first_width`` (less: the overrun's
    mark stands at its right end)."""
    space = fonts.plain.horizontalAdvance(" ")
    lines = week_block_lines(a, max_lines, _fits_in(fonts, width), time_format, names, alert)
    first = width if first_width is None else first_width
    if first != width and lines:
        lines[:1] = week_block_lines(a, 1, _fits_in(fonts, first), time_format, names)
    shown: list[tuple[str, str]] = []
    for i, (bold, plain) in enumerate(lines):
        left = first if i == 0 else width
        if bold:
            bold = elided(fonts.bold, fonts.bold_key, bold, left)
            left -= fonts.bold.horizontalAdvance(bold) + space
        plain = elided(fonts.plain, fonts.plain_key, plain, left) if plain and left > 0 else ""
        shown.append((bold, plain))
    return shown


def _checks(drag: Drag[WeekDropTarget]) -> tuple[MoveCheck, ...]:
    """The checks read for a move: from its own day back to the week's first day, and on
    to its last (none until read)."""
    checks = drag.check
    return checks if isinstance(checks, tuple) else ()


def _accessible_text(a: DayAppointment, time_format: str, block: WeekBlock | None = None) -> str:
    parts = [
        a.patient_name,
        a.session_type_name,
        a.series_label,
        f"{a.start:%A}, {a.start:%B} {a.start.day} {clock_span(a.start, a.end, time_format)}",
        a.room_name,
    ]
    closed = f", {a.closed_words}" if a.closed_notice else ""
    away = f", {a.away_words}" if a.away else ""
    late = ""
    if block is not None and block.overrun_minutes:
        late = f", {over_words(block.overrun_minutes)} its planned end"
    elif block is not None and block.busy_with is not None:
        late = f", {room_busy_words(block.busy_with.patient_name, block.busy_minutes)}"
    return ", ".join(p for p in parts if p) + f", {a.status_label}{closed}{away}{late}"


class _WeekPainter(TimelinePainter[DayColumn, WeekBlock]):
    """One paint of a WeekView: seven day columns, today tinted, compact blocks."""

    m: WeekMetrics

    def __init__(
        self,
        view: WeekView,
        painter: QPainter,
        layout: WeekLayout,
        *,
        week: WeekSchedule | None = None,
        origin: QPointF | None = None,
        fresh: bool = False,
        chosen: dt.date | None = None,
    ) -> None:
        """``week``, ``origin``, ``fresh`` and ``chosen`` paint a week other than the one
        shown (``WeekView.prepare``): that week, scrolled to ``origin``, nothing selected or
        moving, ``chosen`` the day whose header is marked."""
        super().__init__(
            view, painter, view.metrics, small_scale=SMALL_SCALE, origin=origin, fresh=fresh
        )
        self.view = view
        self.layout = layout
        if fresh:
            self.week = week
            self.target = None
            self.chosen = chosen
        else:
            self.week = view.week()
            self.target = view.drag_target()
            self.chosen = view.current_day() if view.hasFocus() else None
        self.today_fill = mix(self.highlight, self.base, 0.07)
        self.font_fm = QFontMetrics(self.font)
        self.font_key = self.font.key()
        self.highlight_chart = view.highlighted_patient()
        self.dim = QColor(self.base)
        self.dim.setAlphaF(DIM_OTHERS)
        self.m = view.metrics._replace(line_height=view.line_height())

    # -- body -------------------------------------------------------------------------------

    def _paint_body(self) -> None:
        p, layout = self.p, self.layout
        for column in layout.days:
            if column.is_today:
                p.fillRect(QRectF(column.x, 0, column.w, layout.height), self.today_fill)
        for band in layout.bands:
            r = qrectf(band.rect)
            p.fillRect(r, self.closed_fill)
            if band.kind == "closure":
                p.fillRect(r, QBrush(self.grid, Qt.BrushStyle.BDiagPattern))
            if band.reason and band.rect.h >= 16:
                p.setFont(self.small)
                p.setPen(self.muted)
                p.drawText(
                    r.adjusted(4, 2, -4, -2),
                    Qt.AlignmentFlag.AlignLeft
                    | Qt.AlignmentFlag.AlignTop
                    | Qt.TextFlag.TextWordWrap,
                    band.reason,
                )
        self._paint_grid(layout.width, layout.height, (c.x for c in layout.days[1:]))
        self._paint_blocks(layout.blocks_in(self.visible))
        self._paint_week_now_line()
        if self.drag is not None and self.target is not None:
            self._paint_ghost(self.drag, self.target)

    def _paint_block(self, block: WeekBlock) -> None:
        p, a = self.p, block.appointment
        r = block.rect
        rect = qrectf(r)
        color = self._block_color(a)
        if a.is_active:
            p.fillRect(rect, shade(color, self.base, SHADE_STRENGTH["observation"]))
            if a.status == "tentative":
                self._paint_pencilled_in(rect, color)
            p.fillRect(QRectF(r.x, r.y, min(STRIPE_WIDTH, r.w), r.h), color)
            border = self._active_border(color)
            ink = self.text
        else:
            border, ink = self._paint_struck_out(rect)
        p.setPen(self._outline_pen(border, a.is_active, a.status == "tentative"))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(rect.adjusted(0.5, 0.5, -0.5, -0.5))
        status = STATUS_COLORS.get(a.status)
        if block.overrun_minutes:  # the tail says it: in the chair, and past the planned end
            self._paint_overrun_tail(block)
        elif status is not None:  # a bar down the right edge: it costs a one-line block no line
            p.fillRect(QRectF(r.right - STATUS_BAR, r.y, STATUS_BAR, r.h), QColor(status))
        self._paint_day_mark(a, rect)
        self._paint_block_text(block, ink)
        self._paint_overrun_mark(block)
        if self.highlight_chart is not None:
            if a.chart_number == self.highlight_chart:
                p.setPen(QPen(self.text, 2))
                p.drawRect(rect.adjusted(1, 1, -1, -1))
            else:
                p.fillRect(rect, self.dim)

    def _paint_overrun_tail(self, block: WeekBlock) -> None:
        """A session running past its planned end, in the week's compact form: the block's
        right end hatched red past a dashed line, as the day view's tail past the planned end
        (the week's blocks are lines in an appointment book, not lengths of time)."""
        p, r = self.p, block.rect
        red = QColor(OVERRUN_COLORS[self.dark])
        tail = QRectF(r.right - OVERRUN_TAIL, r.y, OVERRUN_TAIL, r.h)
        p.fillRect(tail, mix(red, self.base, 0.35))
        p.fillRect(tail, QBrush(mix(red, self.base, 0.8), Qt.BrushStyle.FDiagPattern))
        p.setPen(QPen(red, 2, Qt.PenStyle.DashLine))
        p.drawLine(QPointF(tail.x(), r.y + 1), QPointF(tail.x(), r.bottom - 1))

    def _paint_overrun_mark(self, block: WeekBlock) -> None:
        """The overrun's minutes ("+25 over"), or that an overrun holds the room ("⚠ Busy"),
        in red at the block's right end on its first line, as ``block_text`` left room for."""
        r = block.rect
        right = OVERRUN_TAIL if block.overrun_minutes else 0
        if not right and block.appointment.status in STATUS_COLORS:
            right = STATUS_BAR
        width = int(r.w - STRIPE_WIDTH - 2 * TEXT_PADDING - right)
        if width < MIN_TEXT_WIDTH:
            return
        fm = self.bold_fm
        fonts = BlockFonts(self.font_fm, self.font_key, fm, self.bold_key)
        fmt = self.week.time_format if self.week is not None else "12h"
        mark = overrun_mark(block, fonts, width, fmt)
        if not mark:
            return
        w = fm.horizontalAdvance(mark) + MARK_PADDING
        line_h = self.m.line_height if self.m.line_height else fm.height()
        h = min(r.h, line_h) - 2
        box = QRectF(r.right - right - TEXT_PADDING - w, r.y + 1, w, h)
        p = self.p
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(OVERRUN_COLORS[self.dark]))
        p.drawRoundedRect(box, 3, 3)
        p.setPen(QColor("#ffffff"))
        p.setFont(self.bold)
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, mark)

    def _paint_block_text(self, block: WeekBlock, ink: QColor) -> None:
        """The time in bold, then the patient and the session type; a taller block's room and
        status below, muted."""
        p, r, fm, bold_fm = self.p, block.rect, self.font_fm, self.bold_fm
        fonts = BlockFonts(fm, self.font_key, bold_fm, self.bold_key)
        fmt = self.week.time_format if self.week is not None else "12h"
        lines = block_text(block, self.layout.block_lines, fonts, fmt)
        line_h = self.m.line_height if self.m.line_height else fm.height()
        x0 = r.x + STRIPE_WIDTH + TEXT_PADDING
        y = r.y + (min(r.h, line_h) - fm.height()) / 2
        space = fm.horizontalAdvance(" ")
        for i, (bold, plain) in enumerate(lines):
            if y + fm.height() > r.bottom + 1:
                break
            x = x0
            p.setPen(ink if i == 0 else mix(ink, self.base, 0.75))
            if bold:
                draw_line(p, self.bold, self.bold_key, bold_fm, x, y, bold)
                x += bold_fm.horizontalAdvance(bold) + space
            if plain:
                draw_line(p, self.font, self.font_key, fm, x, y, plain)
            y += line_h

    def _paint_selection(self, block: WeekBlock) -> None:
        self._paint_ring(qrectf(block.rect), 3)

    def _paint_ghost(self, drag: DragState, target: WeekDropTarget) -> None:
        """Where the dragged block would go: green where it fits, red where it is refused,
        grey while that is being worked out; its day and time, or why not."""
        layout, week = self.layout, self.week
        block = layout.block_of(drag.appointment_id)
        if week is None or block is None:
            return
        a = block.appointment
        day = week.days[block.day_index].day
        duration = max(1, wall_minute(a.end, day) - wall_minute(a.start, day))
        rect = qrectf(week_ghost_rect(layout, target, duration, self.m))
        color = ghost_color(drag.reasons, self.dark, self.muted, needs_override=drag.needs_override)
        p = self.p
        fill = mix(color, self.base, 0.2)
        paint_ghost_frame(p, rect, color, fill, stripe=STRIPE_WIDTH + 1, radius=3)
        start = drag.start.astimezone(week.days[target.day].day_start.tzinfo)
        end = start + dt.timedelta(minutes=duration)
        verdict = ghost_verdict(
            drag.reasons,
            "✓ Fits" + (f" in {a.room_name}" if a.room_name else ""),
            needs_override=drag.needs_override,
        )
        x = rect.x() + STRIPE_WIDTH + TEXT_PADDING + 2
        width = rect.width() - STRIPE_WIDTH - 2 * TEXT_PADDING - 3
        y = rect.y() + 3
        fm = self.small_fm
        fmt = week.time_format
        when = (  # a closed day's narrow column: the start says it
            f"{start:%a} {clock_span(start, end, fmt)}"
            if width >= NARROW_TEXT_WIDTH
            else f"{start:%a} {clock(start, fmt)}"
        )
        if width >= MIN_TEXT_WIDTH and y + fm.height() <= rect.bottom():
            p.setFont(self.small_bold)
            p.setPen(self.text)
            p.drawText(
                QRectF(x, y, width, fm.height()),
                LEFT_MIDDLE,
                fm.elidedText(when, Qt.TextElideMode.ElideRight, int(width)),
            )
            y += fm.height()
            if y + fm.height() <= rect.bottom():
                # A refusal wraps over the lines the ghost has room for.
                p.setFont(self.small)
                p.setPen(color if drag.reasons and not self.dark else self.text)
                p.drawText(
                    QRectF(x, y, width, rect.bottom() - y - 2),
                    Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignTop,
                    verdict,
                )
        p.restore()

    def _paint_week_now_line(self) -> None:
        layout, week = self.layout, self.week
        today = next((c for c in layout.days if c.is_today), None)
        if today is None or week is None:
            return
        now = self.view._now().astimezone(week.days[0].day_start.tzinfo)
        minute = now.hour * 60 + now.minute + now.second / 60
        if not layout.range.first <= minute <= layout.range.last:
            return
        index = layout.days.index(today)
        self._paint_now_line(round(layout.now_y(index, minute)), today.x, today.x + today.w)

    # -- header, axis, corner ----------------------------------------------------------------

    def _header_columns(self) -> Sequence[DayColumn]:
        return self.layout.days

    def _header_lines(self, column: DayColumn) -> tuple[str, str]:
        return column.title, column.detail

    def _paint_header_marks(self, index: int, column: DayColumn) -> None:
        p, m = self.p, self.m
        self._paint_load_bar(column)
        if column.is_today:
            p.fillRect(
                QRectF(column.x, 0, column.w, m.header_height),
                mix(self.highlight, self.window, 0.18),
            )
            p.fillRect(QRectF(column.x, m.header_height - 3, column.w, 3), self.highlight)
        if self.drag is not None and self.target is not None and self.target.day == index:
            # The day the ghost is on, marked where the eye looks for days (it may be
            # scrolled out of sight below).
            mark = ghost_color(
                self.drag.reasons, self.dark, self.muted, needs_override=self.drag.needs_override
            )
            p.fillRect(QRectF(column.x, m.header_height - 4, column.w, 4), mark)
        if column.day == self.chosen:
            p.setPen(QPen(self.highlight, 1, Qt.PenStyle.DotLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(QRectF(column.x + 2, 2, column.w - 4, m.header_height - 6))

    def _paint_load_bar(self, column: DayColumn) -> None:
        """How full the day is: the booked share of its chair time, across the header's foot."""
        load = column.load
        if load is None or not load.capacity_minutes:
            return
        p, m = self.p, self.m
        bar = QRectF(
            column.x + 6, m.header_height - m.load_bar_height - 5, column.w - 12, m.load_bar_height
        )
        p.fillRect(bar, mix(self.window_text, self.window, 0.12))
        filled = QRectF(bar.x(), bar.y(), bar.width() * min(1.0, load.fraction), bar.height())
        p.fillRect(filled, mix(self.highlight, self.window, 0.85))

    def _ticks(self) -> Sequence[Tick]:
        return self.layout.ticks

    def _body_height(self) -> float:
        return self.layout.height

    def _zone(self) -> str | None:
        week = self.week
        if week is None or not week.days:
            return None
        return week.days[0].day_start.tzname() or ""
