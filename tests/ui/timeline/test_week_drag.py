"""Moving sessions to another day in the week view: dragging a block (live verdict, refusals
with the reason, Esc), the keyboard's way (Alt+arrows, Enter), the context menu, and a staff
member's week, on Bayside's staffed Tuesday (sessions booked with their holds)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.move_check import placement_of
from ketadesk.services.common.context import Actor
from ketadesk.services.schedule.week import week_schedule
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.timeline.undo import ScheduleEditor
from ketadesk.ui.timeline.week_view import WeekView
from tests.services.staffed_day import (
    BOOKED_ON,
    MONDAY,
    THANKSGIVING,
    TUESDAY,
    StaffedDay,
    build_staffed_day,
)
from tests.ui.timeline.drag_helpers import send_mouse

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
WEDNESDAY = dt.date(2026, 11, 25)
NOW = BOOKED_ON  # Friday before: the whole week is still to come
FLORENCE_ON_WEDNESDAY = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}


@pytest.fixture
def staffed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffedDay]:
    """The staffed Tuesday, and Florence Nightingale's IV infusion on Wednesday at 09:00 in
    Room 1 (where Ada Lovelace sits on Tuesday at the same time)."""
    folder = tmp_path_factory.mktemp("week_drag")
    built = build_staffed_day(f"sqlite:///{folder / 'clinic.sqlite'}")
    clinic = built.clinic
    request = BookingRequest(
        patient_id=clinic.ids["Florence Nightingale"],
        sessions=(clinic.session("iv_infusion", WEDNESDAY, "09:00", FLORENCE_ON_WEDNESDAY),),
    )
    (built.appointments["florence"],) = booking.book(
        clinic.db, FRONT_DESK, request, now=NOW
    ).appointment_ids
    yield built
    clinic.db.dispose()


@pytest.fixture
def view(qtbot: QtBot, staffed: StaffedDay) -> Iterator[WeekView]:
    widget = WeekView(desk=Desk(staffed.clinic.db, FRONT_DESK, now=lambda: NOW))
    qtbot.addWidget(widget)
    widget.resize(1300, 900)
    widget.set_week(week_schedule(staffed.clinic.db, MONDAY))
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.hide()


_mouse = send_mouse


def _target(view: WeekView, staffed: StaffedDay, day: dt.date, hhmm: str) -> QPoint:
    point = view.slot_point(day, staffed.clinic.at(day, hhmm))
    assert point is not None
    return point.toPoint()


def _grab_and_move(view: WeekView, qtbot: QtBot, appointment_id: int, to: QPoint) -> None:
    """Press near a block's top edge and drag it so that its top lands at ``to``."""
    layout = view.week_layout()
    assert layout is not None
    block = layout.block_of(appointment_id)
    assert block is not None
    origin = view.body_origin()
    press = QPoint(round(origin.x() + block.rect.x + 10), round(origin.y() + block.rect.y + 2))
    _mouse(view, QEvent.Type.MouseButtonPress, press)
    _mouse(view, QEvent.Type.MouseMove, press + QPoint(0, 12))  # past the drag distance
    _mouse(view, QEvent.Type.MouseMove, to + QPoint(0, 2))
    qtbot.waitUntil(lambda: (s := view.drag_state()) is not None and s.reasons is not None)


def _local(staffed: StaffedDay, when: dt.datetime) -> str:
    return staffed.clinic.calendar.local(when).strftime("%a %H:%M")


def _day_of_block(view: WeekView, appointment_id: int) -> dt.date:
    layout = view.week_layout()
    assert layout is not None
    block = layout.block_of(appointment_id)
    assert block is not None
    return layout.days[block.day_index].day


def test_a_drag_to_the_next_day_at_a_free_time_moves_the_session(
    view: WeekView, staffed: StaffedDay, qtbot: QtBot
) -> None:
    db = staffed.clinic.db
    editor = ScheduleEditor(view.desk())  # type: ignore[arg-type]
    view.move_requested.connect(editor.drop)
    editor.changed.connect(lambda: view.set_week(week_schedule(db, MONDAY)))
    ada = staffed.appointments["iv"]
    target = _target(view, staffed, WEDNESDAY, "13:00")
    _grab_and_move(view, qtbot, ada, target)

    state = view.drag_state()
    assert state is not None
    assert state.fits, state.reasons
    assert _local(staffed, state.start) == "Wed 13:00"
    assert state.room_id == staffed.id("Room 1")

    with qtbot.waitSignal(view.move_requested) as requested:
        _mouse(view, QEvent.Type.MouseButtonRelease, target + QPoint(0, 2), held=False)
    appointment_id, start, room, version = requested.args
    assert version == 1  # the version the view read: the move is refused if it changed
    assert start.tzinfo is not None
    assert (appointment_id, room, _local(staffed, start)) == (
        ada,
        staffed.id("Room 1"),
        "Wed 13:00",
    )
    qtbot.waitUntil(lambda: not editor.is_busy(), timeout=30_000)  # written on a worker
    # The editor wrote it; the reloaded week shows it on Wednesday, still selected.
    placed = placement_of(db, ada)
    assert (placed.room_id, _local(staffed, placed.start)) == (staffed.id("Room 1"), "Wed 13:00")
    assert _day_of_block(view, ada) == WEDNESDAY
    assert view.selected_id() == ada
    assert view.drag_state() is None


def test_a_drag_onto_an_occupied_room_is_refused_and_the_block_goes_back(
    view: WeekView, staffed: StaffedDay, qtbot: QtBot
) -> None:
    moved: list[object] = []
    refused: list[str] = []
    view.move_requested.connect(lambda *args: moved.append(args))
    view.move_refused.connect(refused.append)
    ada = staffed.appointments["iv"]
    target = _target(view, staffed, WEDNESDAY, "09:00")
    _grab_and_move(view, qtbot, ada, target)

    state = view.drag_state()
    assert state is not None
    assert _local(staffed, state.start) == "Wed 09:00"
    assert state.reasons is not None
    assert state.reasons[0].startswith("Room 1 is taken by Nightingale, F. — ")

    _mouse(view, QEvent.Type.MouseButtonRelease, target + QPoint(0, 2), held=False)
    assert moved == []
    assert len(refused) == 1
    assert "Ada" in refused[0]
    assert "stays where it was: Room 1 is taken by Nightingale, F." in refused[0]
    assert view.drag_state() is None
    assert _day_of_block(view, ada) == TUESDAY
    placed = placement_of(staffed.clinic.db, ada)
    assert _local(staffed, placed.start) == "Tue 09:00"


def test_a_drag_onto_thanksgiving_says_the_clinic_is_closed(
    view: WeekView, staffed: StaffedDay, qtbot: QtBot
) -> None:
    refused: list[str] = []
    view.move_refused.connect(refused.append)
    ada = staffed.appointments["iv"]
    target = _target(view, staffed, THANKSGIVING, "10:00")
    _grab_and_move(view, qtbot, ada, target)
    state = view.drag_state()
    assert state is not None
    assert _local(staffed, state.start) == "Thu 10:00"
    assert state.reasons is not None
    assert any("Thanksgiving" in r for r in state.reasons), state.reasons
    _mouse(view, QEvent.Type.MouseButtonRelease, target + QPoint(0, 2), held=False)
    assert len(refused) == 1
    assert "Thanksgiving" in refused[0]
    assert _day_of_block(view, ada) == TUESDAY


def test_the_ghost_snaps_to_the_clinic_slot_grid(
    view: WeekView, staffed: StaffedDay, qtbot: QtBot
) -> None:
    slot = staffed.clinic.catalog.settings.slot_minutes
    layout = view.week_layout()
    assert layout is not None
    # A third of a slot past 14:00 (the week's hours are rows of their own heights).
    nudge = round(layout.y_of(14 * 60 + slot / 3) - layout.y_of(14 * 60))
    target = _target(view, staffed, WEDNESDAY, "14:00") + QPoint(0, nudge)
    _grab_and_move(view, qtbot, staffed.appointments["iv"], target)
    state = view.drag_state()
    assert state is not None
    assert _local(staffed, state.start) == "Wed 14:00"


def test_escape_cancels_a_drag(view: WeekView, staffed: StaffedDay, qtbot: QtBot) -> None:
    moved: list[object] = []
    view.move_requested.connect(lambda *args: moved.append(args))
    ada = staffed.appointments["iv"]
    target = _target(view, staffed, WEDNESDAY, "13:00")
    _grab_and_move(view, qtbot, ada, target)
    assert view.drag_state() is not None
    with qtbot.waitSignal(view.feedback, timeout=20_000) as said:
        QTest.keyClick(view, Qt.Key.Key_Escape)
    assert said.args == ["Move cancelled"]
    assert view.drag_state() is None
    _mouse(view, QEvent.Type.MouseButtonRelease, target, held=False)
    assert moved == []
    assert _local(staffed, placement_of(staffed.clinic.db, ada).start) == "Tue 09:00"


def test_alt_arrows_move_the_selected_block_by_days_and_slots(
    view: WeekView, staffed: StaffedDay, qtbot: QtBot
) -> None:
    ada = staffed.appointments["iv"]
    view.setFocus()
    view.select_appointment(ada)
    assert "selected: Lovelace, Ada" in view.accessibleDescription()
    QTest.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(
        lambda: (s := view.drag_state()) is not None and s.reasons is not None, timeout=20_000
    )
    state = view.drag_state()
    assert state is not None
    assert state.keyboard
    assert _local(staffed, state.start) == "Wed 09:00"
    assert state.reasons
    assert state.reasons[0].startswith("Room 1 is taken by Nightingale")
    # Down by slots until past Florence's infusion: 13:00 is 48 slots of 5 minutes later.
    slot = staffed.clinic.catalog.settings.slot_minutes
    for _ in range(4 * 60 // slot):
        QTest.keyClick(view, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    state = view.drag_state()
    assert state is not None
    assert _local(staffed, state.start) == "Wed 13:00"
    assert state.fits, state.reasons
    with qtbot.waitSignal(view.move_requested) as requested:
        QTest.keyClick(view, Qt.Key.Key_Return)
    appointment_id, start, room, version = requested.args
    assert version == 1  # the version the view read: the move is refused if it changed
    assert (appointment_id, room, _local(staffed, start)) == (
        ada,
        staffed.id("Room 1"),
        "Wed 13:00",
    )
    assert view.drag_state() is None


def test_without_a_selection_alt_arrows_still_choose_a_day(view: WeekView) -> None:
    view.setFocus()
    view.select_appointment(None)
    QTest.keyClick(view, Qt.Key.Key_Home)
    QTest.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert view.current_day() == TUESDAY
    assert view.drag_state() is None


def test_a_session_in_a_staff_member_s_week_keeps_its_room(
    view: WeekView, staffed: StaffedDay, qtbot: QtBot
) -> None:
    sam = staffed.id("Sam Rivera")
    view.set_week(week_schedule(staffed.clinic.db, MONDAY, staff_id=sam))
    kap = staffed.appointments["kap"]
    target = _target(view, staffed, WEDNESDAY, "13:00")
    _grab_and_move(view, qtbot, kap, target)
    state = view.drag_state()
    assert state is not None
    assert state.room_id == staffed.id("Room 3")  # the block's column is Sam, not a room
    assert state.fits, state.reasons
    with qtbot.waitSignal(view.move_requested) as requested:
        _mouse(view, QEvent.Type.MouseButtonRelease, target + QPoint(0, 2), held=False)
    assert requested.args[0] == kap
    assert requested.args[2] == staffed.id("Room 3")
    assert _local(staffed, requested.args[1]) == "Wed 13:00"


def test_without_a_desk_the_week_is_read_only(
    qtbot: QtBot, staffed: StaffedDay, view: WeekView
) -> None:
    view.set_desk(None)
    ada = staffed.appointments["iv"]
    layout = view.week_layout()
    assert layout is not None
    block = layout.block_of(ada)
    assert block is not None
    origin = view.body_origin()
    press = QPoint(round(origin.x() + block.rect.x + 10), round(origin.y() + block.rect.y + 2))
    _mouse(view, QEvent.Type.MouseButtonPress, press)
    _mouse(view, QEvent.Type.MouseMove, _target(view, staffed, WEDNESDAY, "13:00"))
    assert view.drag_state() is None
    assert view.selected_id() == ada  # still selectable
    with qtbot.waitSignal(view.feedback) as said:
        QTest.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert "desk" in said.args[0]
    assert view.drag_state() is None


def test_a_reload_of_the_same_week_keeps_the_selection(view: WeekView, staffed: StaffedDay) -> None:
    spravato = staffed.appointments["spravato"]
    view.select_appointment(spravato)
    view.set_week(week_schedule(staffed.clinic.db, MONDAY))
    assert view.selected_id() == spravato
    view.set_week(week_schedule(staffed.clinic.db, MONDAY + dt.timedelta(days=7)))
    assert view.selected_id() is None


def test_the_context_menu_asks_for_status_changes(
    view: WeekView, staffed: StaffedDay, qtbot: QtBot
) -> None:
    ada = staffed.appointments["iv"]
    layout = view.week_layout()
    assert layout is not None
    block = layout.block_of(ada)
    assert block is not None
    # On the Friday before, only what the desk would accept is offered.
    menu = view.context_menu(block.appointment)
    actions = {a.objectName(): a for a in menu.actions() if a.objectName()}
    assert not actions["check_in"].isEnabled()
    assert actions["check_in"].toolTip() == "Check-in opens on the day of the session (Tue 11/24)"
    assert not actions["no_show"].isEnabled()
    assert not actions["complete"].isEnabled()  # not started yet
    view.ask_cancel_reason = lambda _a: "Patient has no ride"  # type: ignore[method-assign,assignment]
    with qtbot.waitSignal(view.status_requested) as asked:
        actions["cancel"].trigger()
    assert asked.args == [ada, "cancel", "Patient has no ride", 1]
    with qtbot.waitSignal(view.appointment_activated) as opened:
        actions["open"].trigger()
    assert opened.args == [ada]
    menu.deleteLater()
    # Twenty minutes after its start, on its day: checked in, or marked a no-show.
    later = staffed.clinic.at(TUESDAY, "09:20")
    view.set_desk(Desk(staffed.clinic.db, FRONT_DESK, now=lambda: later))
    menu = view.context_menu(block.appointment)
    actions = {a.objectName(): a for a in menu.actions() if a.objectName()}
    assert actions["check_in"].isEnabled()
    with qtbot.waitSignal(view.status_requested) as asked:
        actions["no_show"].trigger()
    assert asked.args == [ada, "no_show", "", 1]
    menu.deleteLater()
