"""The Move dialog's day field takes Ctrl+A then a typed date, with real key presses (a user
trial re-staffing a session: select all, a new date typed, and "nothing changed").

The day and time are read as they are typed, so the verdict is of the place the fields show and
one click on Move moves the session there; "12/15" (the year nearest the day shown) and
"12/15/2026" both read; text that is no date says so where the verdict is and greys Move."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from ketadesk.services.booking.session_day import MoveOpening
from ketadesk.ui.booking.booking_dialog import BookingDialog
from ketadesk.ui.booking.move_dialog import OPENING_ROLE, MoveSessionDialog
from tests.clinic_fixtures import SmallClinic
from tests.ui.booking.test_booking_dialog import _dialog as _booking_dialog
from tests.ui.booking.test_move_session import FRONT_DESK, _adas, _start_of, _window
from tests.ui.shell.desk_helpers import desk_controller_of

PICTURES = Path("/tmp/history")


def _open(qtbot: QtBot, clinic: SmallClinic) -> tuple[int, dt.datetime, MoveSessionDialog]:
    session, start = _adas(clinic, "integration")
    window = _window(qtbot, clinic, FRONT_DESK)
    controller = desk_controller_of(window)
    with qtbot.waitSignal(controller.session_move_opened, timeout=10_000) as moving:
        controller.move_session(session)
    dialog = moving.args[0]
    assert isinstance(dialog, MoveSessionDialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(lambda: dialog.openings.count() > 0, timeout=10_000)
    qtbot.waitUntil(lambda: dialog.verdict() is not None, timeout=10_000)
    return session, start, dialog


def _another_day(dialog: MoveSessionDialog, clinic: SmallClinic, start: dt.datetime) -> MoveOpening:
    """An opening in the session's own room on another day of the same year, at the session's
    own time when there is one."""
    own = clinic.calendar.local(start)
    found = []
    for row in range(dialog.openings.count()):
        item = dialog.openings.item(row)
        assert item is not None
        opening = item.data(OPENING_ROLE)
        assert isinstance(opening, MoveOpening)
        local = clinic.calendar.local(opening.start)
        if local.date() != own.date() and local.year == own.year and opening.room_id is not None:
            found.append(opening)
    assert found, "the session should have openings on other days"
    same_room = [o for o in found if o.room == dialog.room_box.currentText()]
    return (same_room or found)[0]


def _type_over(qtbot: QtBot, field: object, text: str) -> None:
    """A click in the field, Ctrl+A, then ``text`` key by key, as a user does."""
    line = field.lineEdit()  # type: ignore[attr-defined]
    qtbot.mouseClick(line, Qt.MouseButton.LeftButton, pos=line.rect().center())  # type: ignore[no-untyped-call]
    qtbot.wait(10)
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # type: ignore[no-untyped-call]
    qtbot.keyClicks(field, text)  # type: ignore[no-untyped-call]


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen
@pytest.mark.parametrize("with_year", [False, True])
def test_select_all_then_a_typed_date_moves_the_session_there(
    qtbot: QtBot, clinic: SmallClinic, with_year: bool
) -> None:
    session, start, dialog = _open(qtbot, clinic)
    opening = _another_day(dialog, clinic, start)
    local = clinic.calendar.local(opening.start)
    index = dialog.room_box.findData(opening.room_id)
    dialog.room_box.setCurrentIndex(index)
    typed = f"{local.month}/{local.day}" + (f"/{local.year}" if with_year else "")
    _type_over(qtbot, dialog.date_edit, typed)
    # Read as typed: the text stays as typed, the verdict is of the typed day.
    assert dialog.date_edit.lineEdit().text() == typed
    assert clinic.calendar.local(dialog.new_start()).date() == local.date()
    _type_over(qtbot, dialog.time_edit, local.strftime("%H:%M"))
    assert dialog.new_start() == opening.start
    qtbot.waitUntil(lambda: dialog.move_button.isEnabled(), timeout=10_000)
    assert dialog.verdict_label.text().startswith("✓ Fits"), dialog.verdict_label.text()
    PICTURES.mkdir(parents=True, exist_ok=True)
    dialog.grab().save(str(PICTURES / f"move_typed_date_{'year' if with_year else 'no_year'}.png"))
    # One click on Move (leaving the field on the way) moves it to the day typed.
    with qtbot.waitSignal(dialog.finished, timeout=10_000):
        qtbot.mouseClick(dialog.move_button, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    assert _start_of(clinic, session) == opening.start


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen
def test_a_typed_date_that_is_no_date_says_so_and_moves_nothing(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    session, start, dialog = _open(qtbot, clinic)
    shown = dialog.date_edit.date()
    _type_over(qtbot, dialog.date_edit, "13/45")
    qtbot.keyClick(dialog.date_edit, Qt.Key.Key_Return)  # type: ignore[no-untyped-call]
    said = dialog.verdict_label.text()
    assert "“13/45” is not a date: type it month first, as 12/15 or 12/15/2026" in said
    assert not dialog.move_button.isEnabled()
    assert dialog.date_edit.date() == shown  # nothing lost: the day it held
    PICTURES.mkdir(parents=True, exist_ok=True)
    dialog.grab().save(str(PICTURES / "move_bad_date.png"))
    dialog.reject()
    assert _start_of(clinic, session) == start


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen
def test_the_booking_dialogs_first_day_says_a_bad_date_too(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    """The booking dialogs' date fields are the same field: a bad date is said in the dialog,
    the day before kept."""
    shown: list[BookingDialog] = []
    dialog = _booking_dialog(qtbot, clinic, shown, patient_id=clinic.ids["Ada Lovelace"])
    before = dialog.start.date()
    qtbot.keyClick(dialog.start, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # type: ignore[no-untyped-call]
    qtbot.keyClicks(dialog.start, "2/30")  # type: ignore[no-untyped-call]
    qtbot.keyClick(dialog.start, Qt.Key.Key_Return)  # type: ignore[no-untyped-call]
    assert (
        dialog.message.text() == "“2/30” is not a date: type it month first, as 12/15 or 12/15/2026"
    )
    assert dialog.start.date() == before
    dialog.done(0)
