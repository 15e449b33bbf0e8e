"""Moving a session by hand in the main window, signed in, on a copy of the five-year 15-room
demo clinic: the verdict while dragging ("can I drop here", the ghost green or red with the
reason) and the drop and its undo repainted.  Not part of ``make test``; ``make bench`` runs it.

Hover: a block is pressed and dragged (the move's check read once on a worker as the drag
begins, as in use); each sample is one mouse move onto another slot or room, from the event to
the end of the frame that painted the ghost with its verdict (``timeline_bench.PaintWatch``).
Drop: the release on a place that fits, to the frame that shows the block there (the window
shows a move at once, before the writer worker answers); undo: Ctrl+Z, to the frame that shows
it back.  How long the write then takes to be confirmed (written on the writer worker, the day
read again and painted) is reported too.  No collection is forced between samples.  Targets
(issue 16): the hover verdict <= 16 ms, a drop or an undo repainted <= 50 ms (medians).  The
undo comes ``PACE_MS`` after the drop was confirmed, the next drag as long after the undo.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from functools import partial
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from ketadesk.ui.timeline.day_view import DayView
from ketadesk.ui.timeline.drag import DragState
from tests.benchmarks.test_desk_bench import TODAY, _demo
from tests.benchmarks.timeline_bench import Figures, PaintWatch, machine, signed_in_window, table

DAY = TODAY + dt.timedelta(days=8)  # a Tuesday with sessions booked, not yet started
HOVERS = 120
MOVES = 100  # each a drop and an undo
WARM_UP = 3
HOVER_MS = 16.0
DROP_MS = 50.0
#: Between a drop confirmed and its undo, and between an undo and the next drag, the event loop
#: runs this long: a quick user (as the day-switch bench's pace).
PACE_MS = 100


def _mouse(view: DayView, kind: QEvent.Type, pos: QPoint, held: bool = True) -> None:
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
    buttons = Qt.MouseButton.LeftButton if held else Qt.MouseButton.NoButton
    canvas = view.canvas()
    event = QMouseEvent(
        kind,
        QPointF(pos),
        QPointF(canvas.mapToGlobal(pos)),
        button,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(canvas, event)


def _press(qtbot: QtBot, view: DayView, appointment_id: int) -> QPoint:
    """Press on a block's top and drag it past the drag distance; wait for the move's check."""
    layout = view.day_layout()
    assert layout is not None
    block = layout.block_of(appointment_id)
    assert block is not None
    origin = view.body_origin()
    press = QPoint(round(origin.x() + block.rect.x + 20), round(origin.y() + block.rect.y + 2))
    _mouse(view, QEvent.Type.MouseButtonPress, press)
    _mouse(view, QEvent.Type.MouseMove, press + QPoint(0, 12))
    qtbot.waitUntil(lambda: (s := view.drag_state()) is not None and s.reasons is not None)
    return press


def _places(view: DayView, start: dt.datetime, *, columns: int = 6, slots: int = 4) -> list[QPoint]:
    """Points over slots and rooms around ``start``: where the ghost goes, in turn."""
    layout, schedule = view.day_layout(), view.schedule()
    assert layout is not None
    assert schedule is not None
    points: list[QPoint] = []
    for column in layout.columns[:columns]:
        for step in range(-slots, slots + 1):
            at = start + dt.timedelta(minutes=step * schedule.slot_minutes)
            point = view.slot_point(column.room.id, at)
            if point is not None:
                points.append(point + QPoint(0, 2))
    return points


@pytest.mark.slow
def test_dragging_judges_each_place_within_one_frame(qtbot: QtBot, tmp_path: Path) -> None:
    copy = tmp_path / "clinic.sqlite"
    shutil.copy(_demo(260), copy)
    window, db = signed_in_window(copy, DAY)
    try:
        qtbot.addWidget(window)
        window.resize(1400, 900)
        window.show()
        qtbot.waitExposed(window)
        qtbot.waitUntil(lambda: not window.is_reading())
        view = window.day_view
        watch = PaintWatch(view, view.canvas())
        schedule = view.schedule()
        assert schedule is not None
        movable = [
            a for a in schedule.appointments if a.status == "booked" and a.room_id is not None
        ]
        assert movable, f"nothing to move on {DAY}"
        moved = movable[len(movable) // 2]
        view.select_appointment(moved.id)
        _press(qtbot, view, moved.id)
        places = _places(view, moved.start)
        hovers: list[float] = []
        verdicts = {"fits": 0, "refused": 0}
        for n in range(HOVERS + WARM_UP):
            point = places[n % len(places)]
            before = view.drag_state()
            t0 = time.perf_counter()
            _mouse(view, QEvent.Type.MouseMove, point)
            after = view.drag_state()
            assert after is not None
            assert after != before, "the ghost did not move"
            ended = watch.wait_for(partial(_ghost_is, view, after))
            if n >= WARM_UP:
                hovers.append((ended - t0) * 1000)
                verdicts["fits" if after.fits else "refused"] += 1
        # A place the session fits, for the drops.
        target: QPoint | None = None
        # A busy day: its rooms may be full around the session; look further afield.
        for point in _places(view, moved.start, columns=len(layout_columns(view)), slots=48):
            _mouse(view, QEvent.Type.MouseMove, point)
            s = view.drag_state()
            if s is not None and s.fits and (s.start, s.room_id) != (moved.start, moved.room_id):
                target = point
                break
        assert target is not None, "no place the session fits"
        landing = view.drag_state()
        assert landing is not None
        editor = window.desk_controller().editor  # type: ignore[union-attr]

        def settled() -> bool:
            """The write answered, the day read again: Undo has the move to take back."""
            return not (editor.is_busy() or window.is_reading() or view.shows_moves_ahead())

        _mouse(view, QEvent.Type.MouseButtonRelease, target, held=False)
        qtbot.waitUntil(settled)
        # Ctrl+Z's action, triggered as the shortcut does: the waitlist's offer of the place
        # freed comes up in a window of its own, which the offscreen platform makes active.
        undo_action = window.actions_by_name["undo"]
        undo_action.trigger()
        qtbot.waitUntil(lambda: _at(view, moved.id) == moved.start)
        qtbot.waitUntil(settled)

        drops: list[float] = []
        undos: list[float] = []
        confirmed: list[float] = []

        for n in range(MOVES + WARM_UP):
            _press(qtbot, view, moved.id)
            _mouse(view, QEvent.Type.MouseMove, target)
            state = view.drag_state()
            assert state is not None
            assert state.fits
            t0 = time.perf_counter()
            _mouse(view, QEvent.Type.MouseButtonRelease, target, held=False)
            ended = watch.wait_for(lambda: _at(view, moved.id) == landing.start)
            qtbot.waitUntil(settled, timeout=10_000)
            if n >= WARM_UP:
                drops.append((ended - t0) * 1000)
                confirmed.append((time.perf_counter() - t0) * 1000)
            qtbot.wait(PACE_MS)
            t0 = time.perf_counter()
            undo_action.trigger()
            ended = watch.wait_for(lambda: _at(view, moved.id) == moved.start)
            if n >= WARM_UP:
                undos.append((ended - t0) * 1000)
            qtbot.waitUntil(settled, timeout=10_000)
            qtbot.wait(PACE_MS)
    finally:
        db.dispose()

    hover, drop, undo = Figures(tuple(hovers)), Figures(tuple(drops)), Figures(tuple(undos))
    print()
    print(
        f"KetaDesk drag and drop, signed in, offscreen 1400x900, 5-year 15-room clinic, "
        f"{DAY:%a %-d %b %Y} ({len(schedule.appointments)} sessions): {machine()}"
    )
    table(
        [
            (
                f"drag hover verdict ({verdicts['fits']} fit, {verdicts['refused']} refused)",
                hover,
                f"median <= {HOVER_MS:.0f} ms",
            ),
            ("drop repainted", drop, f"median <= {DROP_MS:.0f} ms"),
            ("undo repainted", undo, f"median <= {DROP_MS:.0f} ms"),
            (
                "drop written and confirmed (write, day read again)",
                Figures(tuple(confirmed)),
                "(reported)",
            ),
        ]
    )
    assert hover.median <= HOVER_MS, f"median hover verdict {hover.median:.1f} ms"
    assert drop.median <= DROP_MS, f"median drop {drop.median:.1f} ms"
    assert undo.median <= DROP_MS, f"median undo {undo.median:.1f} ms"


def _ghost_is(view: DayView, state: DragState) -> bool:
    return view.drag_state() == state


def layout_columns(view: DayView) -> tuple[object, ...]:
    layout = view.day_layout()
    assert layout is not None
    return tuple(layout.columns)


def _at(view: DayView, appointment_id: int) -> dt.datetime | None:
    """Where a session's block is painted from (None: not shown)."""
    layout = view.day_layout()
    block = layout.block_of(appointment_id) if layout else None
    return block.appointment.start if block is not None else None
