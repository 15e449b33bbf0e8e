"""Moving a session's block by hand, shared by the day and the week views.

Both views move a block the same way: a press on it starts a drag (or Alt+arrows start a
keyboard move), the ghost snaps to a target their own geometry (``day_layout`` /
``week_layout``) works out, ``services.move_check`` read on a worker says whether the session
fits there, and a drop asks the view's owner to write it.  A place refused only by rules set
to "warn", for a signed-in role that may override them (the services say so:
``MoveVerdict``), shows amber ("needs an override"), and a drop there asks the clinician's
reason in the shared override dialog and asks the owner to write the move with it.  What
differs (where a target is, what its start and room are, how the check is read and asked) the
views supply through the hooks of ``DragMixin``; the state machine, the background read,
the feedback, the mouse, focus and context-menu handling, the context menu itself and the
ghost's colours live here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QContextMenuEvent, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QMenu, QToolTip, QWidget

from ketadesk.services.common.context import may, who_may
from ketadesk.services.schedule.day_schedule import DayAppointment, DaySchedule
from ketadesk.ui.common import override_dialog
from ketadesk.ui.common.background import BackgroundCall
from ketadesk.ui.timeline.day_layout import Rect, wall_minute

if TYPE_CHECKING:
    from PySide6.QtCore import Signal
    from typing_extensions import override

    from ketadesk.services.booking.move_check import MoveVerdict
    from ketadesk.ui.common.desk import Desk  # its import reaches the store: not needed at start-up

    _Base = QAbstractScrollArea
else:

    class _Base:
        """At run time the view's own Qt base follows the mixin."""

    _F = TypeVar("_F")

    def override(method: _F) -> _F:  # typing.override is Python 3.12+: see day_view
        return method


class _Block(Protocol):
    @property
    def appointment(self) -> DayAppointment: ...


TargetT = TypeVar("TargetT")
BlockT = TypeVar("BlockT", bound=_Block)

#: The ghost of a moved block: where it fits, where it is refused (light and dark palettes).
FITS_COLORS = ("#1e8e3e", "#5bd07a")
REFUSED_COLORS = ("#d93025", "#ff6b5e")
#: ...and where it needs an override the signed-in clinician may give (amber).
OVERRIDE_COLORS = ("#b06000", "#fbbc04")
#: What the override dialog says the clinician is about to do.
OVERRIDE_STEP = "move this session"
#: The context menu's status changes: (service action, menu text).
#: Alt+arrows: (slots, columns) a keyboard move steps by.
KEY_STEPS = {
    Qt.Key.Key_Up: (-1, 0),
    Qt.Key.Key_Down: (1, 0),
    Qt.Key.Key_Left: (0, -1),
    Qt.Key.Key_Right: (0, 1),
}


@dataclass(frozen=True)
class DragState:
    """A move in progress as the view shows it.

    Attributes:
        appointment_id: the session being moved.
        start: where its ghost starts (aware, UTC).
        room_id: the ghost's room (None: no room).
        reasons: why it cannot go there; empty: it fits; None: still being checked.
        keyboard: moved with Alt+arrows (Enter drops) rather than the mouse.
        needs_override: refused only by "warn" rules the signed-in role may override: a drop
            there asks the reason.
    """

    appointment_id: int
    start: dt.datetime
    room_id: int | None
    reasons: tuple[str, ...] | None
    keyboard: bool
    needs_override: bool = False

    @property
    def fits(self) -> bool:
        return self.reasons is not None and not self.reasons


@dataclass(eq=False)
class Drag(Generic[TargetT]):
    """A move in progress: the view's target type (a column and a minute, or a day and a
    minute) is ``TargetT``."""

    appointment: DayAppointment
    origin: TargetT  # where the block is
    press: QPointF  # viewport point of the press
    grab_minutes: float  # how far below the block's top it was grabbed
    duration: int  # minutes
    keyboard: bool = False
    started: bool = False  # past the drag distance (always, for the keyboard)
    target: TargetT | None = None
    verdict: list[str] | None = None  # None: not known yet
    #: The verdict at the target when the signed-in role may override it (else None).
    override: MoveVerdict | None = None
    check: object | None = None  # what the view's check loader read, once read
    error: str | None = None
    loading: BackgroundCall[tuple[Drag[TargetT], object]] | None = None


#: Move checks being read on workers (see DragMixin._prepare).
_RUNNING: set[BackgroundCall[Any]] = set()


def _forget(call: BackgroundCall[Any], _result: object) -> None:
    _RUNNING.discard(call)


def take_outcome(drag: Drag[Any], outcome: object) -> None:
    """Keep what the worker read (or why it could not) on the drag, once."""
    drag.loading = None
    if drag.check is not None or drag.error is not None:
        return
    if isinstance(outcome, Exception):
        drag.error = f"the move cannot be checked: {outcome}"
    else:
        drag.check = outcome


class DragMixin(_Base, Generic[BlockT, TargetT]):
    """Selecting and moving blocks, for a view (a ``QAbstractScrollArea``): listed before its
    Qt base, so that its mouse, focus and context-menu overrides are the ones Qt calls.

    The view keeps ``_drag``, ``_layout`` (with ``block_at``, ``block_of`` and ``minute_at``),
    ``_canvas``, ``_desk``, ``_selected``, ``_now`` and ``metrics`` (``axis_width``,
    ``header_height``), has the signals of ``DayView`` and supplies the hooks below (they
    raise here).
    """

    if TYPE_CHECKING:
        move_requested = Signal(int, object, object, object)
        override_move_requested = Signal(int, object, object, object, object)
        move_refused = Signal(str)
        status_requested = Signal(int, str, str, object)
        series_move_requested = Signal(int)
        session_move_requested = Signal(int)
        appointment_activated = Signal(int)
        feedback = Signal(str)
        _drag: Drag[TargetT] | None
        _layout: Any
        _canvas: QWidget
        _desk: Desk | None
        _selected: int | None
        _now: Callable[[], dt.datetime]
        metrics: Any

    def is_dragging(self) -> bool:
        """Whether a block is being moved (by the mouse or the keyboard) now."""
        return self._drag is not None

    # -- hooks ------------------------------------------------------------------------------

    def can_move(self) -> bool:
        raise NotImplementedError

    def _select(self, appointment_id: int | None, *, scroll: bool = False) -> None:
        raise NotImplementedError

    def _selected_block(self) -> BlockT | None:
        layout = self._layout
        if layout is None or self._selected is None:
            return None
        block: BlockT | None = layout.block_of(self._selected)
        return block

    def _blocks_in_order(self) -> list[BlockT]:
        raise NotImplementedError

    def _day_of(self, appointment: DayAppointment) -> DaySchedule | None:
        """The day (as read) a session shown is on: its clinic's settings, for the menu."""
        raise NotImplementedError

    def _drag_origin(self, block: BlockT) -> tuple[TargetT, dt.date] | None:
        """Where a block is as a target, and the day its minutes count from."""
        raise NotImplementedError

    def _check_loader(self, drag: Drag[TargetT]) -> Callable[[], object]:
        """What to read on a worker for the checks (arguments taken now, on this thread)."""
        raise NotImplementedError

    def _target_start(self, target: TargetT) -> dt.datetime:
        """The aware instant (UTC) a target starts at."""
        raise NotImplementedError

    def _drag_room(self, drag: Drag[TargetT]) -> int | None:
        """The room the session goes to (the drag's target)."""
        raise NotImplementedError

    def _verdict(self, drag: Drag[TargetT], target: TargetT) -> MoveVerdict:
        """Whether the session fits at a target, or why not, asked of the check."""
        raise NotImplementedError

    def _where(self, drag: Drag[TargetT], target: TargetT) -> str | None:
        """A target in words, for the status line (None: nothing to say)."""
        raise NotImplementedError

    def _target_at(self, drag: Drag[TargetT], x: float, y: float) -> TargetT | None:
        """The target under a body point."""
        raise NotImplementedError

    def _step_target(self, drag: Drag[TargetT], slots: int, columns: int) -> TargetT:
        """The target a keyboard step leads to."""
        raise NotImplementedError

    def _ghost_rect(self, target: TargetT, duration: int) -> Rect:
        raise NotImplementedError

    def block_center(self, appointment_id: int) -> Any:
        raise NotImplementedError

    def ask_cancel_reason(self, appointment: DayAppointment) -> str | None:
        raise NotImplementedError

    # -- where things are -------------------------------------------------------------------

    def body_origin(self) -> QPointF:
        """Where body (0, 0) is in viewport coordinates."""
        return QPointF(
            self.metrics.axis_width - self.horizontalScrollBar().value(),
            self.metrics.header_height - self.verticalScrollBar().value(),
        )

    def block_at(self, viewport_pos: QPointF) -> BlockT | None:
        if self._layout is None:
            return None
        m = self.metrics
        if viewport_pos.x() < m.axis_width or viewport_pos.y() < m.header_height:
            return None
        origin = self.body_origin()
        block: BlockT | None = self._layout.block_at(
            viewport_pos.x() - origin.x(), viewport_pos.y() - origin.y()
        )
        return block

    def _ensure_visible(self, rect: Rect) -> None:
        """Scroll so that a body rectangle is in view (as much of it as fits)."""
        m, size = self.metrics, self._canvas.size()
        body_w = size.width() - m.axis_width
        body_h = size.height() - m.header_height
        h_bar, v_bar = self.horizontalScrollBar(), self.verticalScrollBar()
        if rect.x < h_bar.value():
            h_bar.setValue(round(rect.x))
        elif rect.right > h_bar.value() + body_w:
            h_bar.setValue(round(min(rect.x, rect.right - body_w)))
        if rect.y < v_bar.value():
            v_bar.setValue(round(rect.y))
        elif rect.bottom > v_bar.value() + body_h:
            v_bar.setValue(round(min(rect.y, rect.bottom - body_h)))

    # -- state ------------------------------------------------------------------------------

    def set_desk(self, desk: Desk | None) -> None:
        """The open clinic, who acts and the clock: what checking a move needs.  Without a
        desk blocks can be selected but not moved."""
        self._desk = desk
        if desk is not None:
            self._now = desk.now

    def desk(self) -> Desk | None:
        return self._desk

    def selected_id(self) -> int | None:
        """The selected appointment's id (None: nothing selected)."""
        return self._selected

    def select_appointment(self, appointment_id: int | None) -> None:
        """Select a session shown (None: none) and scroll it into view."""
        self._select(appointment_id, scroll=True)

    def drag_state(self) -> DragState | None:
        """The move in progress (mouse or keyboard), as painted; None when nothing moves.
        ``room_id`` is the view's ``_drag_room`` (in the week: the session's own room, known
        once the check's snapshot is read)."""
        drag = self._drag
        if drag is None or not drag.started or drag.target is None:
            return None
        return DragState(
            appointment_id=drag.appointment.id,
            start=self._target_start(drag.target),
            room_id=self._drag_room(drag),
            reasons=None if drag.verdict is None else tuple(drag.verdict),
            keyboard=drag.keyboard,
            needs_override=drag.override is not None,
        )

    # -- the move ---------------------------------------------------------------------------

    def _begin(self, block: BlockT, press: QPointF, *, keyboard: bool) -> Drag[TargetT] | None:
        layout = self._layout
        if layout is None or not self.can_move():
            return None
        found = self._drag_origin(block)
        if found is None:
            return None
        origin, day = found
        a = block.appointment
        start = wall_minute(a.start, day)
        grab = 0.0
        if not keyboard:
            grab = layout.minute_at(press.y() - self.body_origin().y()) - start
        drag = Drag(
            appointment=a,
            origin=origin,
            press=press,
            grab_minutes=grab,
            duration=max(1, wall_minute(a.end, day) - start),
            keyboard=keyboard,
        )
        self._drag = drag
        self._prepare(drag)
        return drag

    def _prepare(self, drag: Drag[TargetT]) -> None:
        """Read what the checks need, on a worker: the pointer keeps moving meanwhile."""
        load = self._check_loader(drag)

        def work() -> tuple[Drag[TargetT], object]:
            try:
                return drag, load()
            except Exception as err:  # said on the ghost: the move cannot be checked
                return drag, err

        # Parentless and kept alive until it reports, so a view closed meanwhile leaves no
        # worker signalling a deleted object; the bound slot goes with the view.
        call: BackgroundCall[tuple[Drag[TargetT], object]] = BackgroundCall(work)
        _RUNNING.add(call)
        call.succeeded.connect(self._on_prepare_succeeded)
        call.succeeded.connect(partial(_forget, call))
        drag.loading = call
        call.start()

    def _on_prepare_succeeded(self, result: tuple[Drag[TargetT], object]) -> None:
        drag, outcome = result
        take_outcome(drag, outcome)
        if drag is self._drag:
            self._judge(drag)

    def _wait_for_check(self, drag: Drag[TargetT]) -> None:
        """At a drop before the check's snapshot arrived: wait for it (a short read)."""
        call = drag.loading
        if call is not None and drag.check is None and drag.error is None:
            result = call.wait()
            take_outcome(drag, result[1] if result else RuntimeError("no answer"))

    def _set_target(self, drag: Drag[TargetT], target: TargetT) -> None:
        if target == drag.target:
            return
        drag.target = target
        drag.verdict = None
        drag.override = None
        self._judge(drag)

    def _judge(self, drag: Drag[TargetT]) -> None:
        """The verdict on the current target: asked of the check (cached per place)."""
        target = drag.target
        if target is None or not drag.started:
            return
        drag.override = None
        if target == drag.origin:
            drag.verdict = []
        elif drag.error is not None:
            drag.verdict = [drag.error]
        elif drag.check is not None:
            verdict = self._verdict(drag, target)
            drag.verdict = list(verdict.reasons)
            desk = self._desk
            if desk is not None and verdict.may_override(desk.actor.role):
                drag.override = verdict
        self._canvas.update()
        # The status line says what the ghost means (the ghost shows it too: its colour, and
        # the reason written in it).
        self.feedback.emit(self._feedback_text(drag))

    def _feedback_text(self, drag: Drag[TargetT]) -> str:
        target = drag.target
        where = self._where(drag, target) if target is not None else None
        if where is None:
            return ""
        if drag.verdict is None:
            return f"Checking {where}…"
        if target == drag.origin:
            return f"{drag.appointment.patient_name}: where it is now ({where})"
        if drag.verdict and drag.override is not None:
            drop = "Press Enter" if drag.keyboard else "Drop"
            return f"Needs an override: {where}: {'; '.join(drag.verdict)}. {drop} to give a reason"
        if drag.verdict:
            return f"Refused: {where}: {'; '.join(drag.verdict)}"
        return f"Fits: {drag.appointment.patient_name} to {where}"

    def _drop(self) -> None:
        """End a move: ask the owner to write it if it fits, else put the block back."""
        drag = self._drag
        if drag is None:
            return
        self._drag = None
        self._canvas.unsetCursor()
        self._canvas.update()
        target = drag.target
        if not drag.started or target is None or target == drag.origin:
            if drag.started:
                self.feedback.emit("")
            return
        self._wait_for_check(drag)
        drag.verdict = None
        self._drag = drag  # judged as if still moving, then let go
        self._judge(drag)
        self._drag = None
        self._canvas.update()
        QToolTip.hideText()
        verdict: list[str] = drag.verdict or []
        if verdict and drag.override is not None:
            self._drop_with_override(drag, target, drag.override)
            return
        if verdict:
            text = f"{drag.appointment.patient_name} stays where it was: {'; '.join(verdict)}"
            self.feedback.emit(text)
            self.move_refused.emit(text)
            return
        self.feedback.emit("")
        self.move_requested.emit(
            drag.appointment.id,
            self._target_start(target),
            self._drag_room(drag),
            drag.appointment.version,
        )

    def _drop_with_override(
        self, drag: Drag[TargetT], target: TargetT, verdict: MoveVerdict
    ) -> None:
        """A drop refused only by rules the signed-in clinician may override: their reason is
        asked (the shared dialog); with it the owner is asked to move the session with the
        override, without it the session stays where it was."""
        desk = self._desk
        assert desk is not None
        rules = [
            override_dialog.RefusedRule(f.rule, f.title, f.message) for f in verdict.overridable
        ]
        # Looked up on the module at each drop: tests put their own answer there.
        reason = override_dialog.ask_override_reason(
            self, step=OVERRIDE_STEP, rules=rules, actor_name=desk.actor.username
        )
        name = drag.appointment.patient_name
        if reason is None or not reason.strip():
            self.feedback.emit(f"Move cancelled: {name} stays where it was")
            return
        self.feedback.emit("")
        self.override_move_requested.emit(
            drag.appointment.id,
            self._target_start(target),
            self._drag_room(drag),
            {f.rule: reason.strip() for f in verdict.overridable},
            drag.appointment.version,
        )

    def _cancel_drag(self, *, quiet: bool = False) -> None:
        drag, self._drag = self._drag, None
        if drag is None:
            return
        self._canvas.unsetCursor()
        QToolTip.hideText()
        self._canvas.update()
        if drag.started and not quiet:
            self.feedback.emit("Move cancelled")

    def _keep_drag_if_unchanged(self) -> None:
        drag, layout = self._drag, self._layout
        if drag is None:
            return
        block = layout.block_of(drag.appointment.id) if layout else None
        if block is None or block.appointment != drag.appointment:
            self._cancel_drag(quiet=True)
            self.feedback.emit("The session changed meanwhile; move cancelled")

    def _begin_key_move(self, block: BlockT) -> Drag[TargetT] | None:
        """A keyboard move of a block, its ghost where the block is (None: it cannot move)."""
        drag = self._begin(block, QPointF(), keyboard=True)
        if drag is not None:
            drag.started = True
            drag.target = drag.origin
        return drag

    def _step_ghost(self, drag: Drag[TargetT], slots: int, columns: int) -> None:
        """Alt+arrows: move the ghost by a slot or a column, and keep it in view."""
        target = self._step_target(drag, slots, columns)
        self._set_target(drag, target)
        self._ensure_visible(self._ghost_rect(target, drag.duration))

    # -- mouse, keys, focus, menu -----------------------------------------------------------

    @override
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            if self._drag is not None and self._drag.started:
                self._cancel_drag()  # another button while dragging: let it go
            super().mousePressEvent(event)
            return
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if self._drag is not None:
            self._cancel_drag(quiet=True)
        pos = event.position()
        block = self.block_at(pos)
        self._select(block.appointment.id if block is not None else None)
        if block is not None and block.appointment.is_active:
            self._begin(block, pos, keyboard=False)
        event.accept()

    @override
    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        drag = self._drag
        if drag is None or drag.keyboard or not event.buttons() & Qt.MouseButton.LeftButton:
            super().mouseMoveEvent(event)
            return
        pos = event.position()
        if not drag.started:
            if (pos - drag.press).manhattanLength() < QApplication.startDragDistance():
                return
            drag.started = True
            self._canvas.setCursor(Qt.CursorShape.ClosedHandCursor)
        origin = self.body_origin()
        target = self._target_at(drag, pos.x() - origin.x(), pos.y() - origin.y())
        if target is not None:
            self._set_target(drag, target)
        event.accept()

    @override
    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        drag = self._drag
        if event.button() == Qt.MouseButton.LeftButton and drag is not None and not drag.keyboard:
            self._drop()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def _escape(self) -> None:
        """Esc: cancel the move, else let go of the selection."""
        if self._drag is not None:
            self._cancel_drag()
        else:
            self._select(None)

    def _drop_or_activate(self) -> bool:
        """Enter: drop a keyboard move, else open the selected session (False: neither)."""
        if self._drag is not None and self._drag.keyboard:
            self._drop()
        elif self._selected is not None:
            self.appointment_activated.emit(self._selected)
        else:
            return False
        return True

    @override
    def focusNextPrevChild(self, next: bool) -> bool:
        """Tab and Shift+Tab go from block to block, then on to the next widget."""
        if self._drag is not None:
            return True
        ids = [b.appointment.id for b in self._blocks_in_order()]
        if not ids:
            return super().focusNextPrevChild(next)
        if self._selected in ids:
            i = ids.index(self._selected) + (1 if next else -1)
        else:
            i = 0 if next else len(ids) - 1
        if not 0 <= i < len(ids):
            self._select(None)
            return super().focusNextPrevChild(next)
        self._select(ids[i], scroll=True)
        return True

    @override
    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        if self._drag is not None and self._drag.started:
            return
        if event.reason() == QContextMenuEvent.Reason.Mouse:
            block = self.block_at(QPointF(event.pos()))
            if block is not None:
                self._select(block.appointment.id)
            at = event.globalPos()
        else:
            block = self._selected_block()
            center = self.block_center(block.appointment.id) if block is not None else None
            at = (
                self._canvas.mapToGlobal(QPointF(center).toPoint())
                if center is not None
                else event.globalPos()
            )
        if block is None:
            return
        menu = self.context_menu(block.appointment)
        menu.exec(at)
        menu.deleteLater()

    def context_menu(self, appointment: DayAppointment) -> QMenu:
        """The menu of what can be done with a session, enabled by its status."""
        # Not needed at start-up: the booking service is imported on the first menu.
        from ketadesk.scheduling.statuses import (
            CONFIRM_TENTATIVE,
            MOVABLE_STATUSES,
            TRANSITIONS,
        )
        from ketadesk.services.booking.appointment_changes import ACTION_NAMES, action_button_text

        menu = QMenu(self)
        menu.setAccessibleName(f"Session of {appointment.patient_name}")
        menu.setToolTipsVisible(True)
        desk = self._desk
        day = self._day_of(appointment)
        for action in ACTION_NAMES:
            item = menu.addAction(action_button_text(action))
            item.setObjectName(action)
            sources, _target = TRANSITIONS[action]
            allowed = desk is None or may(desk.actor, action)
            # Too early (a check-in days ahead, a no-show before the start): the services'
            # own rule, with the clinic's settings as read with the day.
            early = day.too_early(action, appointment, self._now()) if day is not None else None
            item.setEnabled(appointment.status in sources and allowed and early is None)
            if not allowed:
                # Not the signed-in role's to do: shown greyed, saying who may.
                item.setToolTip(who_may(action))
            elif early is not None and appointment.status in sources:
                item.setToolTip(early)
                item.setStatusTip(early)
            item.triggered.connect(partial(self._on_status_action_triggered, appointment, action))
        confirm = menu.addAction("Confirm pencilled-in booking")
        confirm.setObjectName(CONFIRM_TENTATIVE)
        confirm.setVisible(appointment.status == "tentative")
        confirm.setEnabled(appointment.status == "tentative")
        confirm.triggered.connect(
            partial(
                self.status_requested.emit,
                appointment.id,
                CONFIRM_TENTATIVE,
                "",
                appointment.version,
            )
        )
        menu.addSeparator()
        movable = appointment.status in MOVABLE_STATUSES
        may_move = desk is None or may(desk.actor, "move")
        single = menu.addAction("Move…")
        single.setObjectName("move_session")
        single.setEnabled(movable and may_move)
        if not may_move:
            single.setToolTip(who_may("move"))
        else:
            single.setToolTip("Choose a new day, time and room for this session")
        single.triggered.connect(partial(self.session_move_requested.emit, appointment.id))
        series = menu.addAction("Move rest of series…")
        series.setObjectName("move_series")
        series.setEnabled(appointment.series_index is not None and appointment.is_active)
        series.triggered.connect(partial(self.series_move_requested.emit, appointment.id))
        menu.addSeparator()
        open_item = menu.addAction("Open")
        open_item.setObjectName("open")
        open_item.triggered.connect(partial(self.appointment_activated.emit, appointment.id))
        return menu

    def _on_status_action_triggered(self, appointment: DayAppointment, action: str) -> None:
        reason = ""
        if action == "cancel":
            asked = self.ask_cancel_reason(appointment)
            if asked is None:
                return
            reason = asked
        self.status_requested.emit(appointment.id, action, reason, appointment.version)


# -- the ghost ----------------------------------------------------------------------------------


def ghost_color(
    reasons: tuple[str, ...] | None, dark: bool, muted: QColor, *, needs_override: bool = False
) -> QColor:
    """Green where it fits, red where it is refused, amber where it needs an override the
    signed-in clinician may give, ``muted`` while that is worked out."""
    if reasons is None:
        return muted
    if reasons and needs_override:
        return QColor(OVERRIDE_COLORS[dark])
    return QColor((REFUSED_COLORS if reasons else FITS_COLORS)[dark])


def ghost_verdict(
    reasons: tuple[str, ...] | None, fits: str, *, needs_override: bool = False
) -> str:
    """The ghost's word on the place: still checking, why not, or ``fits``."""
    if reasons is None:
        return "Checking…"
    if reasons and needs_override:
        return "⚠ Needs an override: " + "; ".join(reasons)
    if reasons:
        return "✕ " + "; ".join(reasons)
    return fits


def paint_blocks(
    p: QPainter,
    blocks: Iterable[BlockT],
    drag: DragState | None,
    selected: int | None,
    paint_block: Callable[[BlockT], None],
    paint_selection: Callable[[BlockT], None],
) -> None:
    """Paint blocks, the one being moved faded where it is until the drop, the selected one
    ringed."""
    for block in blocks:
        moving = drag is not None and drag.appointment_id == block.appointment.id
        if moving:
            p.setOpacity(0.45)  # the block stays put, faded, until the drop
        paint_block(block)
        if moving:
            p.setOpacity(1.0)
        if block.appointment.id == selected:
            paint_selection(block)


def paint_ghost_frame(
    p: QPainter, rect: QRectF, color: QColor, fill: QColor, *, stripe: float, radius: float
) -> None:
    """The ghost's outline and stripe; the painter is saved (the caller restores it)."""
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    # Opaque, so its words read cleanly over a block it lands on.
    p.setBrush(fill)
    p.setPen(QPen(color, 2, Qt.PenStyle.DashLine))
    p.drawRoundedRect(rect.adjusted(1, 1, -1, -1), radius, radius)
    p.fillRect(QRectF(rect.x() + 1, rect.y() + 1, stripe, rect.height() - 2), color)
