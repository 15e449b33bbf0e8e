"""The consequences dialog lets the administrator choose per row: apply the proposal, or leave
the session for the desk to re-book by hand (the trial's nurse-off case)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTableWidgetItem
from pytestqt.qtbot import QtBot

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM
from ketadesk.services.settings.availability import LocalRequest
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.settings.availability_page import AvailabilityPage
from ketadesk.ui.settings.consequences_dialog import (
    APPLY_CHOICE,
    CHOICE_COLUMN,
    COLUMNS,
    LEAVE_CHOICE,
)
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic
from tests.services.settings.test_consequences_patient import _the_trial

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def booked(sqlite_url: str) -> Iterator[BookedClinic]:
    b = booked_clinic(sqlite_url, whole_weeks=3)
    yield b
    b.clinic.db.dispose()


def test_a_row_left_for_the_desk_is_not_moved_and_the_others_are(
    qtbot: QtBot, booked: BookedClinic
) -> None:
    b = booked
    s = b.series
    _the_trial(b)
    desk = Desk(b.clinic.db, SYSTEM, now=lambda: b.now)
    page = AvailabilityPage(desk)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.loaded is not None)
    # The only nurse is off the first Friday to the second Monday: Ada's Friday session (moved
    # there by hand) and Monday session break, and so does Mary's single infusion on Monday.
    friday, monday = b.day_of(s[2]), b.day_of(s[3])
    mary = booking.book(
        b.clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=b.clinic.ids["Mary Seacole"],
            sessions=(
                b.clinic.session(
                    "iv_infusion",
                    monday,
                    "14:00",
                    {"room": "Room 4", "monitor": "Monitor 4", "nurse": "Nurse Kim"},
                ),
            ),
        ),
        now=b.now,
    ).appointment_ids[0]
    nurse = b.clinic.ids["Nurse Kim"]
    page.preview_closure(LocalRequest("time_off", friday, 0, monday, 24 * 60, "jury duty", nurse))
    qtbot.waitUntil(lambda: page.dialog is not None and page.dialog.isVisible())
    dialog = page.dialog
    assert dialog is not None
    preview = dialog.preview
    assert {x.appointment_id for x in preview.broken} == {s[2], s[3], mary}
    assert not preview.unplaced
    # One choice per proposal: Ada's Friday one (re-placing her Monday too) and Mary's.
    assert set(dialog.choices) == {s[2], mary}
    header = dialog.table.horizontalHeaderItem(CHOICE_COLUMN)
    assert header is not None
    assert header.text() == "Choice"
    # The button says what it will do, and follows the choices.
    assert dialog.apply_button.text() == "Save and move 3 sessions"
    # The desk re-books Ada (moved by hand at her request) itself; Mary's proposal applies.
    dialog.choices[s[2]].setCurrentText(LEAVE_CHOICE)
    assert "2 left for the desk to re-book by hand" in dialog.summary.text()
    assert dialog.apply_button.text() == "Save and move 1 session"
    # Every row left: the closure is still saved, and the button says nothing moves.
    dialog.choices[mary].setCurrentText(LEAVE_CHOICE)
    assert dialog.apply_button.text() == "Save, move none (all 3 left for the desk)"
    assert dialog.apply_button.isEnabled()
    dialog.choices[mary].setCurrentText(APPLY_CHOICE)
    assert dialog.apply_button.text() == "Save and move 1 session"

    def cell(r: int, column: str) -> QTableWidgetItem:
        item = dialog.table.item(r, COLUMNS.index(column))
        assert item is not None
        return item

    rows = range(dialog.table.rowCount())
    ada_rows = [r for r in rows if cell(r, "Patient").text() == "Lovelace, Ada"]
    assert len(ada_rows) == 2
    for r in ada_rows:
        assert cell(r, "New place").font().strikeOut()
    mary_row = next(r for r in rows if cell(r, "Patient").text() == "Seacole, Mary")
    assert not cell(mary_row, "New place").font().strikeOut()
    qtbot.wait(50)  # the summary label re-lays out for its longer text
    shot = Path("/tmp/reflow")
    if shot.is_dir() or os.environ.get("KETADESK_SCREENSHOTS"):
        shot.mkdir(exist_ok=True)
        dialog.grab().save(str(shot / "consequences_choice.png"))
    before = b.starts([*s, mary])
    mary_move = preview.move_of(mary)
    assert mary_move is not None
    QTest.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.last_applied is not None)
    after = b.starts([*s, mary])
    assert after[s[2]] == before[s[2]]  # left for the desk
    assert after[s[3]] == before[s[3]]
    assert after[mary] == mary_move.new.start
    assert "1 session moved, 2 without a new place" in page.status.text()
