"""Moving sessions by hand in the day view: dragging a block (live verdict, refusals with the
reason, Esc), the keyboard's way (Alt+arrows, Enter), the context menu and double-click."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.move_check import placement_of
from ketadesk.services.common.context import Actor
from ketadesk.services.schedule.day import day_schedule
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.timeline.day_view import DayView
from ketadesk.ui.timeline.undo import ScheduleEditor
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY, ready_to_start
from tests.ui.conftest import NOW
from tests.ui.timeline.drag_helpers import send_mouse

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
MARY_AT_NOON = {"room": "Room 3", "monitor": "Monitor 3", "nurse": "Nurse Kim"}


@pytest.fixture
def mary(clinic: SmallClinic) -> int:
    """Mary Seacole's IV infusion, Tuesday 12:00-13:40 in Room 3 (booked with its holds)."""
    request = BookingRequest(
        patient_id=clinic.ids["Mary Seacole"],
        sessions=(clinic.session("iv_infusion", TUESDAY, "12:00", MARY_AT_NOON),),
    )
    return booking.book(clinic.db, FRONT_DESK, request, now=NOW).appointment_ids[0]


@pytest.fixture
def view(qtbot: QtBot, clinic: SmallClinic, mary: int) -> Iterator[DayView]:
    desk = Desk(clinic.db, FRONT_DESK, now=lambda: NOW)
    v = DayView(desk=desk)
    qtbot.addWidget(v)
    v.resize(1100, 1000)
    v.set_schedule(day_schedule(clinic.db, TUESDAY))
    v.show()
    qtbot.waitExposed(v)
    yield v
    v.hide()


_mouse = send_mouse


def _grab_and_move(view: DayView, qtbot: QtBot, appointment_id: int, to: QPoint) -> None:
    """Press on a block's top edge and drag it so its top lands at ``to``."""
    layout = view.day_layout()
    assert layout is not None
    block = layout.block_of(appointment_id)
    assert block is not None
    origin = view.body_origin()
    press = QPoint(round(origin.x() + block.rect.x + 20), round(origin.y() + block.rect.y + 2))
    _mouse(view, QEvent.Type.MouseButtonPress, press)
    _mouse(view, QEvent.Type.MouseMove, press + QPoint(0, 12))  # past the drag distance
    _mouse(view, QEvent.Type.MouseMove, to + QPoint(0, 2))
    qtbot.waitUntil(lambda: (s := view.drag_state()) is not None and s.reasons is not None)


def _local(clinic: SmallClinic, when: dt.datetime) -> str:
    return clinic.calendar.local(when).strftime("%H:%M")


def test_a_drag_onto_an_occupied_room_is_refused_with_the_reason(
    view: DayView, clinic: SmallClinic, mary: int, qtbot: QtBot
) -> None:
    room1 = clinic.ids["Room 1"]
    moved: list[object] = []
    refused: list[str] = []
    view.move_requested.connect(lambda *args: moved.append(args))
    view.move_refused.connect(refused.append)
    target = view.slot_point(room1, clinic.at(TUESDAY, "11:30"))
    assert target is not None
    _grab_and_move(view, qtbot, mary, target)

    state = view.drag_state()
    assert state is not None
    assert state.room_id == room1
    assert _local(clinic, state.start) == "11:30"
    assert state.reasons is not None
    assert state.reasons[0].startswith("Room 1 is taken by Hopper, G. — ")

    _mouse(view, QEvent.Type.MouseButtonRelease, target + QPoint(0, 2), held=False)
    assert moved == []
    assert len(refused) == 1
    assert "stays where it was: Room 1 is taken by Hopper, G." in refused[0]
    assert view.drag_state() is None
    # The block is back where it was, and so is the session.
    layout = view.day_layout()
    assert layout is not None
    block = layout.block_of(mary)
    assert block is not None
    assert layout.columns[layout.column_at(block.rect.x) or 0].room.id == clinic.ids["Room 3"]
    placed = placement_of(clinic.db, mary)
    assert (placed.room_id, _local(clinic, placed.start)) == (clinic.ids["Room 3"], "12:00")


def test_a_drag_onto_a_closed_room_says_it_is_closed(
    view: DayView, clinic: SmallClinic, mary: int, qtbot: QtBot
) -> None:
    target = view.slot_point(clinic.ids["Room 4"], clinic.at(TUESDAY, "13:00"))
    assert target is not None
    _grab_and_move(view, qtbot, mary, target)
    state = view.drag_state()
    assert state is not None
    assert state.reasons == ("Room 4 closed: Recliner repair",)


def test_a_drag_to_a_free_slot_moves_the_session(
    view: DayView, clinic: SmallClinic, mary: int, qtbot: QtBot
) -> None:
    editor = ScheduleEditor(view.desk())  # type: ignore[arg-type]
    editor.attach(view)
    editor.changed.connect(lambda: view.set_schedule(day_schedule(clinic.db, TUESDAY)))
    room2 = clinic.ids["Room 2"]
    target = view.slot_point(room2, clinic.at(TUESDAY, "10:30"))
    assert target is not None
    _grab_and_move(view, qtbot, mary, target)
    state = view.drag_state()
    assert state is not None
    assert state.fits
    assert (state.room_id, _local(clinic, state.start)) == (room2, "10:30")

    with qtbot.waitSignal(view.move_requested) as requested:
        _mouse(view, QEvent.Type.MouseButtonRelease, target + QPoint(0, 2), held=False)
    appointment_id, start, room, version = requested.args
    assert version == 1  # the version the view read: the move is refused if it changed
    assert (appointment_id, room, _local(clinic, start)) == (mary, room2, "10:30")
    qtbot.waitUntil(lambda: not editor.is_busy(), timeout=30_000)  # written on a worker
    placed = placement_of(clinic.db, mary)
    assert (placed.room_id, _local(clinic, placed.start)) == (room2, "10:30")
    assert editor.stack.count() == 1
    # The view shows it there, still selected.
    layout = view.day_layout()
    assert layout is not None
    block = layout.block_of(mary)
    assert block is not None
    assert view.selected_id() == mary


def test_the_ghost_snaps_to_the_clinic_slot_grid(
    view: DayView, clinic: SmallClinic, mary: int, qtbot: QtBot
) -> None:
    slot = clinic.catalog.settings.slot_minutes
    target = view.slot_point(clinic.ids["Room 3"], clinic.at(TUESDAY, "14:00"))
    assert target is not None
    layout = view.day_layout()
    assert layout is not None
    # A pointer a third of a slot past 14:00 lands on 14:00.
    nudge = round(layout.pixels_per_minute * slot / 3)
    _grab_and_move(view, qtbot, mary, target + QPoint(0, nudge))
    state = view.drag_state()
    assert state is not None
    assert _local(clinic, state.start) == "14:00"


def test_escape_cancels_a_drag(view: DayView, clinic: SmallClinic, mary: int, qtbot: QtBot) -> None:
    moved: list[object] = []
    view.move_requested.connect(lambda *args: moved.append(args))
    target = view.slot_point(clinic.ids["Room 2"], clinic.at(TUESDAY, "10:30"))
    assert target is not None
    _grab_and_move(view, qtbot, mary, target)
    assert view.drag_state() is not None
    with qtbot.waitSignal(view.feedback, timeout=20_000) as said:
        QTest.keyClick(view, Qt.Key.Key_Escape)
    assert said.args == ["Move cancelled"]
    assert view.drag_state() is None
    _mouse(view, QEvent.Type.MouseButtonRelease, target, held=False)
    assert moved == []
    placed = placement_of(clinic.db, mary)
    assert _local(clinic, placed.start) == "12:00"


def test_alt_arrows_move_the_selected_block_and_enter_drops_it(
    view: DayView, clinic: SmallClinic, mary: int, qtbot: QtBot
) -> None:
    view.setFocus()
    view.select_appointment(mary)
    slot = clinic.catalog.settings.slot_minutes
    steps = 30 // slot
    for _ in range(steps):
        QTest.keyClick(view, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    QTest.keyClick(view, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: (s := view.drag_state()) is not None and s.reasons is not None)
    state = view.drag_state()
    assert state is not None
    assert state.keyboard
    assert (state.room_id, _local(clinic, state.start)) == (clinic.ids["Room 2"], "12:30")
    # Room 2 has Turing's Spravato from 13:30: refused, and said why.
    assert state.reasons is not None
    assert state.reasons[0].startswith("Room 2 is taken by Turing, A. — ")
    QTest.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: (s := view.drag_state()) is not None and s.fits)
    with qtbot.waitSignal(view.move_requested) as requested:
        QTest.keyClick(view, Qt.Key.Key_Return)
    appointment_id, start, room, version = requested.args
    assert version == 1  # the version the view read: the move is refused if it changed
    assert (appointment_id, room, _local(clinic, start)) == (mary, clinic.ids["Room 3"], "12:30")


def test_tab_selects_blocks_in_time_order(view: DayView, clinic: SmallClinic) -> None:
    view.setFocus()
    chosen: list[object] = []
    view.selection_changed.connect(chosen.append)
    QTest.keyClick(view, Qt.Key.Key_Tab)
    QTest.keyClick(view, Qt.Key.Key_Tab)
    schedule = view.schedule()
    assert schedule is not None
    names = {a.id: a.patient_name for a in schedule.appointments}
    assert [names[i] for i in chosen if isinstance(i, int)] == ["Turing, Alan", "Lovelace, Ada"]


def test_context_menu_offers_what_the_status_allows(
    view: DayView, clinic: SmallClinic, mary: int, qtbot: QtBot
) -> None:
    schedule = view.schedule()
    assert schedule is not None
    appointment = next(a for a in schedule.appointments if a.id == mary)
    menu = view.context_menu(appointment)
    actions = {a.objectName(): a for a in menu.actions() if a.objectName()}
    assert [n for n, a in actions.items() if a.isEnabled()] == [
        "check_in",
        "cancel",
        "move_session",
        "open",
    ]
    # The front desk may not start a session: greyed, saying who may (not a refusal later).
    assert not actions["start"].isEnabled()
    assert actions["start"].toolTip() == (
        "Only an administrator, nurse, prescriber or therapist may start a session"
    )
    # At 10:15 her noon session has not started: a no-show waits for its start.
    assert not actions["no_show"].isEnabled()
    assert (
        actions["no_show"]
        .toolTip()
        .startswith("A no-show is marked once the session has started (Tue 11/24 at 12:00)")
    )
    assert menu.toolTipsVisible()
    menu.deleteLater()
    after_noon = NOW + dt.timedelta(hours=2)
    view.set_desk(Desk(clinic.db, FRONT_DESK, now=lambda: after_noon))
    menu = view.context_menu(appointment)
    actions = {a.objectName(): a for a in menu.actions() if a.objectName()}
    with qtbot.waitSignal(view.status_requested) as requested:
        actions["no_show"].trigger()
    assert requested.args == [mary, "no_show", "", 1]
    view.ask_cancel_reason = lambda _a: "no ride"  # type: ignore[method-assign, assignment]
    with qtbot.waitSignal(view.status_requested) as requested:
        actions["cancel"].trigger()
    assert requested.args == [mary, "cancel", "no ride", 1]
    with qtbot.waitSignal(view.appointment_activated) as opened:
        actions["open"].trigger()
    assert opened.args == [mary]


def test_double_click_opens_the_appointment(view: DayView, mary: int, qtbot: QtBot) -> None:
    center = view.block_center(mary)
    assert center is not None
    with qtbot.waitSignal(view.appointment_activated) as opened:
        QTest.mouseDClick(view.canvas(), Qt.MouseButton.LeftButton, pos=center)
    assert opened.args == [mary]


def test_an_in_progress_session_past_its_end_shows_an_overrun(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    nurse = Actor(user_id=None, username="kim", role="nurse")
    # Grace Hopper's Spravato (11:00-13:30) is checked in; start it; at 13:50 it runs over.
    schedule = day_schedule(clinic.db, TUESDAY)
    grace = next(
        a for a in schedule.appointments if a.patient_name == "Hopper, Grace" and a.room_id
    )
    ready_to_start(clinic, "Grace Hopper")
    appointment_changes.change_status(clinic.db, nurse, grace.id, "start", now=NOW)
    late = clinic.at(TUESDAY, "13:50")
    v = DayView(now=lambda: late)
    qtbot.addWidget(v)
    v.resize(1100, 1000)
    v.set_schedule(day_schedule(clinic.db, TUESDAY))
    layout = v.day_layout()
    assert layout is not None
    block = layout.block_of(grace.id)
    assert block is not None
    assert block.overrun_minutes == 20
    assert block.overrun_from is not None
    assert block.rect.bottom == pytest.approx(round(layout.y_of(13 * 60 + 50)), abs=1)
    assert block.overrun_from == pytest.approx(round(layout.y_of(13 * 60 + 30)), abs=1)
    v.show()
    qtbot.waitExposed(v)


# ---------------------------------------------------------------------------------------------
# The geometry of a drag, as plain functions


def test_snap_lays_the_grid_from_the_opening_time() -> None:
    from ketadesk.ui.timeline.day_layout import snap_minute

    assert snap_minute(602, 5) == 600
    assert snap_minute(603, 5) == 605
    assert snap_minute(452, 15, anchor=7 * 60 + 30) == 450  # 07:30 + 15-minute slots
    assert snap_minute(458, 15, anchor=7 * 60 + 30) == 465


def test_drop_targets_stay_in_the_columns_and_the_hours_shown(view: DayView) -> None:
    from ketadesk.ui.timeline.day_layout import DropTarget, drop_target, grid_bounds, step_target

    layout = view.day_layout()
    assert layout is not None
    lo, hi = grid_bounds(layout.range, 100, 5, 0)
    assert (lo, hi) == (layout.range.first, layout.range.last - 100)
    far_left = drop_target(layout, -50, -500, grab_minutes=0, duration=100, slot=5, anchor=0)
    assert far_left == DropTarget(0, lo)
    far = drop_target(layout, 1e6, 1e6, grab_minutes=0, duration=100, slot=5, anchor=0)
    assert far == DropTarget(len(layout.columns) - 1, hi)
    moved = step_target(
        layout, DropTarget(1, 600), slots=-2, columns=1, duration=100, slot=5, anchor=0
    )
    assert moved == DropTarget(2, 590)
    assert step_target(layout, far, slots=3, columns=4, duration=100, slot=5, anchor=0) == far
