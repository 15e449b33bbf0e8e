"""Moving a visit while the patient is on the phone, from the confirmation list, through the
widgets: Move… (Alt+M) on the selected visit opens the day view's own Move dialog on the
session's own day and time (an off-grid 9:07 kept, not rounded to the grid) with "The patient
knows (told now)" ticked; moved, the list shows the visit at its new time, the call kept as
rescheduled, and no schedule-change call is owed.  From the day view the same dialog opens
unticked, and a move there owes the call, which its undo takes back.

The clinic is tests/ui/clinic_day.py's, "now" its Tuesday 10:15 (tests/ui/conftest.py NOW); the
visit is booked on the next open day after it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.commands.run import open_day_window
from ketadesk.scheduling.move_calls import MOVED_BACK
from ketadesk.services.booking import booking
from ketadesk.services.common.context import Actor
from ketadesk.store.models import Appointment, FollowUp
from ketadesk.ui.booking.move_dialog import OPENING_ROLE, MoveSessionDialog
from ketadesk.ui.confirmations.confirmations_view import ConfirmationsView
from ketadesk.ui.shell.main_window import MainWindow
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import desk_controller_of, wait_for_day

FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")
PICTURES = Path("/tmp/moves")
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def _next_open_day(clinic: SmallClinic) -> dt.date:
    day = clinic.calendar.local_date(NOW) + dt.timedelta(days=1)
    while clinic.calendar.closed_reason(day) is not None:
        day += dt.timedelta(days=1)
    return day


def _book_off_grid(clinic: SmallClinic) -> int:
    """Ada's infusion at 9:07 on the next open day: off the 5-minute grid from 7:30."""
    planned = clinic.session(
        "iv_infusion",
        _next_open_day(clinic),
        "09:07",
        {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"},
    )
    result = booking.book(
        clinic.db,
        FRONT_DESK,
        booking.BookingRequest(patient_id=clinic.ids["Ada Lovelace"], sessions=(planned,)),
        now=NOW,
    )
    return result.appointment_ids[0]


@pytest.fixture
def window(qtbot: QtBot, clinic: SmallClinic) -> MainWindow:
    win = open_day_window(clinic.db, TUESDAY, now=lambda: NOW, actor=FRONT_DESK)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    wait_for_day(qtbot, win)
    return win


def _start(clinic: SmallClinic, appointment_id: int) -> dt.datetime:
    with clinic.db.read() as s:
        start = s.scalar(select(Appointment.starts_at).where(Appointment.id == appointment_id))
    assert start is not None
    return start


def _calls(clinic: SmallClinic) -> list[tuple[str, str]]:
    with clinic.db.read() as s:
        return [
            (row.status, row.outcome)
            for row in s.scalars(select(FollowUp).where(FollowUp.kind == "schedule_change"))
        ]


def _grab(widget: object, name: str) -> None:
    PICTURES.mkdir(parents=True, exist_ok=True)
    widget.grab().save(str(PICTURES / name))  # type: ignore[attr-defined]


def _other_opening(dialog: MoveSessionDialog, own: dt.datetime) -> int:
    """The row of the first opening that is not the session's own place."""
    for number in range(dialog.openings.count()):
        item = dialog.openings.item(number)
        assert item is not None
        if item.data(OPENING_ROLE).start != own:
            return number
    raise AssertionError("no other opening listed")


def test_move_from_the_confirmation_list_with_the_patient_on_the_phone(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic
) -> None:
    ada = _book_off_grid(clinic)
    booked_at = _start(clinic, ada)
    QTest.keyClick(window, Qt.Key.Key_9, Qt.KeyboardModifier.ControlModifier)
    view = window.page("confirmations")
    assert isinstance(view, ConfirmationsView)
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=10_000)
    view.table.selectRow(0)
    assert view.move_button.isEnabled()
    controller = desk_controller_of(window)
    with qtbot.waitSignal(controller.session_move_opened, timeout=10_000) as opened:
        QTest.keyClick(view, Qt.Key.Key_M, Qt.KeyboardModifier.AltModifier)
    dialog = opened.args[0]
    assert isinstance(dialog, MoveSessionDialog)
    # The patient is on the phone: told now, ticked.
    assert dialog.patient_knows()
    # Opened on the session's own day and time, 9:07, not the grid's nearest.
    assert dialog.new_start() == booked_at
    assert dialog.from_edit.date().toPython() == _next_open_day(clinic)
    qtbot.waitUntil(lambda: dialog.openings.count() > 0, timeout=10_000)
    starts = [
        dialog.openings.item(n).data(OPENING_ROLE).start for n in range(dialog.openings.count())
    ]
    assert booked_at in starts
    assert dialog.new_start() == booked_at  # still its own place once the openings are listed
    qtbot.waitUntil(lambda: dialog.verdict() is not None, timeout=10_000)
    assert "where the session is booked" in dialog.verdict_label.text()
    assert not dialog.move_button.isEnabled()
    _grab(dialog, "move_dialog_own_place.png")

    dialog.openings.setCurrentRow(_other_opening(dialog, booked_at))
    chosen = dialog.new_start()
    qtbot.waitUntil(lambda: dialog.move_button.isEnabled(), timeout=10_000)
    _grab(dialog, "move_dialog_from_the_list.png")
    with qtbot.waitSignal(view.refreshed, timeout=15_000):
        dialog.move_button.click()
    qtbot.waitUntil(lambda: "rescheduled" in view.status.text(), timeout=10_000)
    assert _start(clinic, ada) == chosen
    assert _calls(clinic) == []  # the patient knows: no schedule-change call
    if clinic.calendar.local_date(chosen) == _next_open_day(clinic):
        row = next(r for r in view.model.rows() if r.appointment_id == ada)
        assert row.start == chosen
        assert row.status == "rescheduled"
        assert row.status_name == "Rescheduled"
    _grab(view, "confirmations_after_move.png")
    # One step on the window's undo stack, as the day view's moves are.
    assert controller.editor.stack.undoText().startswith("Move ")


def test_a_move_from_the_day_view_owes_the_call_and_its_undo_takes_it_back(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic
) -> None:
    ada = _book_off_grid(clinic)
    booked_at = _start(clinic, ada)
    controller = desk_controller_of(window)
    with qtbot.waitSignal(controller.session_move_opened, timeout=10_000) as opened:
        controller.move_session(ada)
    dialog = opened.args[0]
    assert isinstance(dialog, MoveSessionDialog)
    assert not dialog.patient_knows()  # nobody on the phone here
    qtbot.waitUntil(lambda: dialog.openings.count() > 1, timeout=10_000)
    dialog.openings.setCurrentRow(_other_opening(dialog, booked_at))
    qtbot.waitUntil(lambda: dialog.move_button.isEnabled(), timeout=10_000)
    with qtbot.waitSignal(dialog.finished, timeout=10_000):
        dialog.move_button.click()
    qtbot.waitUntil(lambda: len(_calls(clinic)) == 1, timeout=10_000)
    ((status, words),) = _calls(clinic)
    assert status == "open"
    assert words.startswith("Moved without the patient.")
    # The undo puts it back where the patient knows it: the call goes with it.
    controller.editor.stack.undo()
    qtbot.waitUntil(lambda: _start(clinic, ada) == booked_at, timeout=10_000)
    qtbot.waitUntil(lambda: _calls(clinic) == [("cancelled", MOVED_BACK)], timeout=10_000)


def test_a_drag_on_the_day_view_owes_the_call(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic
) -> None:
    """A block dropped on a new time: no dialog, nobody told, so the call is owed."""
    ada = _book_off_grid(clinic)
    with clinic.db.read() as s:
        row = s.get(Appointment, ada)
        assert row is not None
        room, version, start = row.room_id, row.version, row.starts_at
    controller = desk_controller_of(window)
    controller.editor.drop(ada, start + dt.timedelta(minutes=30), room, version)
    qtbot.waitUntil(lambda: len(_calls(clinic)) == 1, timeout=10_000)
    ((status, words),) = _calls(clinic)
    assert status == "open"
    assert "moved from" in words
