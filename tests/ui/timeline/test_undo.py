"""Hand edits are undoable, and the database stays consistent through every undo and redo:
move then undo, no-show then undo, redo, a series move and back, and an undo refused because
the old place was taken meanwhile (the command stays on the stack, the user is told)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from pytestqt.qtbot import QtBot

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.move_check import placement_of
from ketadesk.services.booking.planning import PlanWishes, propose_series
from ketadesk.services.clinic.integrity import check_integrity
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.timeline.undo import ScheduleEditor
from tests.clinic_fixtures import RESOURCES, SmallClinic, build_small_clinic

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tuesday 1 Dec 2026, 08:00 in San Diego
WED = dt.date(2026, 12, 2)
IV_A = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}
IV_C = {"room": "Room 1", "monitor": "Monitor 2", "nurse": "Nurse Kim"}
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


#: Wednesday 07:30 in San Diego: the sessions' own day, when a check-in or start is taken.
ON_WED = dt.datetime(2026, 12, 2, 15, 30, tzinfo=dt.UTC)
#: The editor's clock: NOW, until a test moves it on to the sessions' day.
clock = [NOW]


@pytest.fixture
def editor(clinic: SmallClinic, qtbot: QtBot) -> ScheduleEditor:
    clock[0] = NOW
    return ScheduleEditor(Desk(clinic.db, FRONT_DESK, now=lambda: clock[0]))


def _book(clinic: SmallClinic, who: str, hhmm: str, where: dict[str, str]) -> int:
    request = BookingRequest(
        patient_id=clinic.ids[who], sessions=(clinic.session("iv_infusion", WED, hhmm, where),)
    )
    return booking.book(clinic.db, FRONT_DESK, request, now=NOW).appointment_ids[0]


def _where(clinic: SmallClinic, appointment_id: int) -> tuple[str, str, str]:
    placed = placement_of(clinic.db, appointment_id)
    names = {clinic.ids[name]: name for name, *_ in RESOURCES}
    room = names[placed.room_id] if placed.room_id else ""
    monitor = names.get(placed.session.resource_for("monitor") or 0, "")
    return room, clinic.calendar.local(placed.start).strftime("%H:%M"), monitor


def made(qtbot: QtBot, editor: ScheduleEditor, request: Callable[[], None]) -> bool:
    """Ask ``editor`` for an edit, undo or redo, and wait for it to be written (or refused)."""
    refused: list[str] = []
    editor.refused.connect(refused.append)
    try:
        request()
        # Generous: a series move on PostgreSQL took over 10 s on a loaded 2-core machine.
        qtbot.waitUntil(lambda: not editor.is_busy(), timeout=30_000)
    finally:
        editor.refused.disconnect(refused.append)
    return not refused


def _consistent(clinic: SmallClinic) -> None:
    report = check_integrity(clinic.db)
    assert report.clean, [str(p) for p in report.problems]


def _status(clinic: SmallClinic, appointment_id: int) -> str:
    return placement_of(clinic.db, appointment_id).status


def test_move_then_undo_then_redo(
    clinic: SmallClinic, editor: ScheduleEditor, qtbot: QtBot
) -> None:
    ada = _book(clinic, "Ada Lovelace", "08:00", IV_A)
    changed: list[bool] = []
    editor.changed.connect(lambda: changed.append(True))

    assert made(
        qtbot, editor, lambda: editor.move(ada, clinic.at(WED, "10:00"), clinic.ids["Room 3"])
    )
    assert _where(clinic, ada) == ("Room 3", "10:00", "Monitor 1")
    _consistent(clinic)
    assert editor.stack.undoText() == "Move Lovelace, Ada"

    assert made(qtbot, editor, lambda: editor.undo())
    assert _where(clinic, ada) == ("Room 1", "08:00", "Monitor 1")
    _consistent(clinic)

    assert made(qtbot, editor, lambda: editor.redo())
    assert _where(clinic, ada) == ("Room 3", "10:00", "Monitor 1")
    _consistent(clinic)
    assert len(changed) == 3


def test_no_show_then_undo_then_redo(
    clinic: SmallClinic, editor: ScheduleEditor, qtbot: QtBot
) -> None:
    ada = _book(clinic, "Ada Lovelace", "08:00", IV_A)
    clock[0] = clinic.at(WED, "08:30")  # a no-show: once the session has begun without her
    assert made(qtbot, editor, lambda: editor.set_status(ada, "no_show"))
    assert _status(clinic, ada) == "no_show"
    assert placement_of(clinic.db, ada).session.holds == ()  # the room is free again
    _consistent(clinic)

    assert made(qtbot, editor, lambda: editor.undo())
    assert _status(clinic, ada) == "booked"
    assert _where(clinic, ada) == ("Room 1", "08:00", "Monitor 1")
    _consistent(clinic)

    assert made(qtbot, editor, lambda: editor.redo())
    assert _status(clinic, ada) == "no_show"
    _consistent(clinic)
    assert made(qtbot, editor, lambda: editor.undo())
    assert _status(clinic, ada) == "booked"
    _consistent(clinic)


def test_undo_is_refused_when_the_old_place_was_taken_meanwhile(
    clinic: SmallClinic, editor: ScheduleEditor, qtbot: QtBot
) -> None:
    ada = _book(clinic, "Ada Lovelace", "08:00", IV_A)
    assert made(
        qtbot, editor, lambda: editor.move(ada, clinic.at(WED, "10:00"), clinic.ids["Room 3"])
    )
    # Another workstation books Room 1 at 08:00 for Mary Seacole.
    _book(clinic, "Mary Seacole", "08:00", IV_C)

    with qtbot.waitSignal(editor.refused) as told:
        assert not made(qtbot, editor, lambda: editor.undo())
    assert "Cannot undo “Move Lovelace, Ada”" in told.args[0]
    assert "Room 1" in told.args[0]
    # Nothing changed, and the move is still there to undo once the room is free.
    assert _where(clinic, ada) == ("Room 3", "10:00", "Monitor 1")
    assert editor.stack.canUndo()
    assert editor.stack.index() == 1
    _consistent(clinic)


def test_a_refused_undo_through_the_stack_puts_its_index_back(
    clinic: SmallClinic, editor: ScheduleEditor, qtbot: QtBot
) -> None:
    ada = _book(clinic, "Ada Lovelace", "08:00", IV_A)
    assert made(
        qtbot, editor, lambda: editor.move(ada, clinic.at(WED, "10:00"), clinic.ids["Room 3"])
    )
    _book(clinic, "Mary Seacole", "08:00", IV_C)
    with qtbot.waitSignal(editor.refused):
        editor.stack.undo()  # e.g. from a QUndoView: not through the editor
    qtbot.waitUntil(lambda: editor.stack.index() == 1)
    assert _where(clinic, ada) == ("Room 3", "10:00", "Monitor 1")
    # And the redo that put the index back did not move anything again.
    assert editor.stack.canUndo()
    assert not editor.stack.canRedo()
    _consistent(clinic)


def test_an_edit_the_service_refuses_is_not_on_the_stack(
    clinic: SmallClinic, editor: ScheduleEditor, qtbot: QtBot
) -> None:
    ada = _book(clinic, "Ada Lovelace", "08:00", IV_A)
    _book(clinic, "Mary Seacole", "10:00", {**IV_C, "room": "Room 2"})
    with qtbot.waitSignal(editor.refused) as told:
        assert not made(
            qtbot, editor, lambda: editor.move(ada, clinic.at(WED, "10:30"), clinic.ids["Room 2"])
        )
    assert "Room 2 is taken by Seacole, M." in told.args[0]
    with qtbot.waitSignal(editor.refused) as told:
        assert not made(
            qtbot, editor, lambda: editor.set_status(ada, "cancel")
        )  # a cancellation needs a reason
    assert "needs a reason" in told.args[0]
    assert editor.stack.count() == 0
    assert made(qtbot, editor, lambda: editor.set_status(ada, "cancelled", "no ride"))
    assert editor.stack.undoText() == "Cancel Lovelace, Ada"


def test_a_series_move_is_one_undo_step(
    clinic: SmallClinic, editor: ScheduleEditor, qtbot: QtBot
) -> None:
    proposal = propose_series(
        clinic.db,
        chart="BT-1",
        protocol="iv_induction",
        start=WED,
        wishes=PlanWishes(weekdays=("mon", "wed", "fri"), time=dt.time(10)),
        today=NOW.date(),
    )
    assert proposal.plan.complete
    ids = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=proposal.patient_id, sessions=proposal.sessions, protocol="iv_induction"
        ),
        now=NOW,
    ).appointment_ids
    before = {a: placement_of(clinic.db, a).start for a in ids}
    second = ids[1]
    later = clinic.at(clinic.calendar.local_date(before[second]) + dt.timedelta(days=3), "10:00")

    assert made(qtbot, editor, lambda: editor.move_series(second, later))
    moved = {a for a in ids if placement_of(clinic.db, a).start != before[a]}
    assert second in moved
    assert len(moved) >= 2  # the rest followed
    assert editor.stack.count() == 1
    _consistent(clinic)

    assert made(qtbot, editor, lambda: editor.undo())
    assert {a: placement_of(clinic.db, a).start for a in ids} == before
    _consistent(clinic)

    assert made(qtbot, editor, lambda: editor.redo())
    assert {a for a in ids if placement_of(clinic.db, a).start != before[a]} == moved
    _consistent(clinic)


def test_undo_and_redo_actions_follow_the_stack(
    clinic: SmallClinic, editor: ScheduleEditor, qtbot: QtBot
) -> None:
    from PySide6.QtWidgets import QWidget

    host = QWidget()
    qtbot.addWidget(host)
    undo, redo = editor.undo_action(host), editor.redo_action(host)
    assert [s.toString() for s in undo.shortcuts()] == ["Ctrl+Z"]
    assert [s.toString() for s in redo.shortcuts()] == ["Ctrl+Shift+Z", "Ctrl+Y"]
    assert not undo.isEnabled()
    ada = _book(clinic, "Ada Lovelace", "08:00", IV_A)
    clock[0] = ON_WED  # checked in on the session's own day
    assert made(qtbot, editor, lambda: editor.set_status(ada, "check_in"))
    assert undo.isEnabled()
    assert undo.text() == "Undo Check in Lovelace, Ada"
    undo.trigger()
    qtbot.waitUntil(lambda: not editor.is_busy(), timeout=30_000)
    assert _status(clinic, ada) == "booked"
    assert redo.isEnabled()
    assert redo.text() == "Redo Check in Lovelace, Ada"
    _consistent(clinic)


def test_undo_leaves_alone_what_another_workstation_changed_since(
    clinic: SmallClinic, editor: ScheduleEditor, qtbot: QtBot
) -> None:
    from ketadesk.services.booking.move_check import plan_move

    ada = _book(clinic, "Ada Lovelace", "08:00", IV_A)
    assert made(
        qtbot, editor, lambda: editor.move(ada, clinic.at(WED, "10:00"), clinic.ids["Room 3"])
    )
    # Someone else moves it on to Room 4 at 13:00.
    elsewhere = plan_move(clinic.db, ada, clinic.at(WED, "13:00"), clinic.ids["Room 4"], now=NOW)
    appointment_changes.move(clinic.db, FRONT_DESK, ada, elsewhere, now=NOW)
    with qtbot.waitSignal(editor.refused) as told:
        assert not made(qtbot, editor, lambda: editor.undo())
    assert "was moved" in told.args[0]
    assert "nothing was done" in told.args[0]
    assert _where(clinic, ada)[:2] == ("Room 4", "13:00")

    nurse = Actor(user_id=None, username="kim", role="nurse")
    clock[0] = ON_WED  # checked in and started on the session's own day
    assert made(qtbot, editor, lambda: editor.set_status(ada, "check_in"))
    appointment_changes.change_status(clinic.db, nurse, ada, "start", now=ON_WED)
    with qtbot.waitSignal(editor.refused) as told:
        assert not made(
            qtbot, editor, lambda: editor.undo()
        )  # would otherwise take back the nurse's "start"
    assert "was started" in told.args[0]
    assert "nothing was done" in told.args[0]
    assert _status(clinic, ada) == "in_progress"
    _consistent(clinic)
