"""The main window on a real clinic database: columns, blocks, moving between days, keys."""

from __future__ import annotations

import datetime as dt
from functools import partial

import pytest
from PySide6.QtCore import QDate, QPointF, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from ketadesk.services.schedule.day import day_schedule
from ketadesk.services.schedule.day_schedule import DaySchedule
from ketadesk.ui.shell.main_window import MainWindow
from ketadesk.ui.timeline.day_layout import day_message
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import SUNDAY, THANKSGIVING, TUESDAY, WEDNESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import open_desk_window, wait_for_day


@pytest.fixture
def window(qtbot: QtBot, clinic: SmallClinic) -> MainWindow:
    return open_desk_window(qtbot, clinic.db, TUESDAY, now=lambda: NOW)


def block_names(win: MainWindow) -> list[str]:
    layout = win.day_view.day_layout()
    assert layout is not None
    return sorted(b.appointment.patient_name for b in layout.blocks)


def test_window_opens_on_the_day_with_a_column_per_room_and_a_block_per_session(
    window: MainWindow,
) -> None:
    layout = window.day_view.day_layout()
    assert layout is not None
    assert window.day() == TUESDAY
    assert [c.room.name for c in layout.columns] == [
        "Room 1",
        "Room 2",
        "Room 3",
        "Room 4",
        "Office A",
        "No room",
    ]
    assert len(layout.blocks) == 7
    assert window.date_edit.date() == QDate(2026, 11, 24)
    heading = window.findChild(QLabel, "day_heading")
    assert heading is not None
    assert heading.text() == "Tuesday, November 24, 2026"
    assert window.summary() == "6 sessions · 1 cancelled · open 07:30–18:00"


def test_a_view_of_its_own_moment_is_not_headed_with_the_day_shown(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    """A user trial read a week ahead's date above the chair board's live chairs."""
    from ketadesk.services.common.context import Actor

    nurse = Actor(user_id=None, username="kim", role="nurse")
    win = open_desk_window(qtbot, clinic.db, WEDNESDAY, now=lambda: NOW, actor=nurse)
    heading = win.findChild(QLabel, "day_heading")
    assert heading is not None
    assert heading.text() == "Wednesday, November 25, 2026"
    win.set_view("chairs")
    assert heading.text() == "The chairs now"
    win.set_view("follow_ups")
    assert heading.text() == "Follow-ups, as of now"
    win.set_view("rooms")
    assert heading.text() == "Wednesday, November 25, 2026"


def test_blocks_carry_name_type_and_place_in_the_series(window: MainWindow) -> None:
    layout = window.day_view.day_layout()
    assert layout is not None
    by_room = {
        (c.room.name, b.appointment.start.strftime("%H:%M")): b.appointment
        for c in layout.columns
        for b in layout.blocks
        if b.appointment.room_id == c.room.id
    }
    ada = by_room[("Room 1", "09:00")]
    assert (ada.patient_name, ada.session_type_short, ada.series_label) == (
        "Lovelace, Ada",
        "IV",
        "3/6",
    )
    assert by_room[("Room 2", "13:00")].status == "cancelled"
    assert by_room[("No room", "16:00")].session_type_short == "REV"


def test_hiding_cancelled_sessions_drops_their_blocks(window: MainWindow) -> None:
    window.actions_by_name["show_cancelled"].trigger()
    assert "Johnson, Katherine" not in block_names(window)
    assert len(block_names(window)) == 6
    assert window.summary().endswith("cancelled sessions hidden")
    window.actions_by_name["show_cancelled"].trigger()
    assert "Johnson, Katherine" in block_names(window)


def test_next_previous_and_today_move_the_day(qtbot: QtBot, window: MainWindow) -> None:
    window.actions_by_name["next_day"].trigger()
    wait_for_day(qtbot, window)
    assert window.day() == WEDNESDAY
    assert block_names(window) == []
    assert window.date_edit.date() == QDate(2026, 11, 25)
    schedule = window.schedule()
    assert schedule is not None
    assert day_message(schedule, 0) == ("No sessions booked", "")
    window.actions_by_name["previous_day"].trigger()
    wait_for_day(qtbot, window)
    window.actions_by_name["previous_day"].trigger()
    wait_for_day(qtbot, window)
    assert window.day() == dt.date(2026, 11, 23)
    window.actions_by_name["today"].trigger()
    wait_for_day(qtbot, window)
    assert window.day() == TUESDAY  # NOW is Tuesday morning at the clinic
    assert len(block_names(window)) == 7


def test_keys_t_and_arrows_move_the_day(qtbot: QtBot, window: MainWindow) -> None:
    window.activateWindow()
    window.day_view.setFocus()
    QTest.keyClick(window.day_view, Qt.Key.Key_Right)
    wait_for_day(qtbot, window)
    assert window.day() == WEDNESDAY
    QTest.keyClick(window.day_view, Qt.Key.Key_Right)
    wait_for_day(qtbot, window)
    assert window.day() == THANKSGIVING
    QTest.keyClick(window.day_view, Qt.Key.Key_Left)
    wait_for_day(qtbot, window)
    assert window.day() == WEDNESDAY
    QTest.keyClick(window.day_view, Qt.Key.Key_T)
    wait_for_day(qtbot, window)
    assert window.day() == TUESDAY


def test_date_picker_goes_to_the_date(qtbot: QtBot, window: MainWindow) -> None:
    window.date_edit.setDate(QDate(2026, 11, 29))
    wait_for_day(qtbot, window)
    assert window.day() == SUNDAY
    assert block_names(window) == []


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (THANKSGIVING, "Clinic closed: Thanksgiving Day"),
        (SUNDAY, "Clinic closed on Sundays"),
    ],
)
def test_closed_day_shows_the_reason(
    qtbot: QtBot, window: MainWindow, day: dt.date, reason: str
) -> None:
    window.set_day(day)
    wait_for_day(qtbot, window)
    schedule = window.schedule()
    assert schedule is not None
    assert schedule.closed_reason == reason
    assert day_message(schedule, 0) == (reason, "No sessions on this day")
    assert reason in window.summary()
    assert window.day_view.grab().isNull() is False  # paints the message without trouble


def test_hovering_a_block_explains_it(window: MainWindow) -> None:
    layout = window.day_view.day_layout()
    assert layout is not None
    ada = next(b for b in layout.blocks if b.appointment.session_type_short == "IV")
    m = window.day_view.metrics
    bar = window.day_view.verticalScrollBar().value()
    point = QPointF(m.axis_width + ada.rect.x + 10, m.header_height + ada.rect.y + 10 - bar)
    found = window.day_view.block_at(point)
    assert found is not None
    assert found.appointment.id == ada.appointment.id
    tip = window.day_view._tooltip(found)
    assert "Lovelace, Ada" in tip
    assert "session 3/6" in tip
    assert "09:15–09:55  Infusion" in tip
    assert window.day_view.block_at(QPointF(5, 5)) is None  # the corner is not a block


def test_view_paints_light_and_dark_palettes(window: MainWindow) -> None:
    view = window.day_view
    light = view.grab().toImage()
    dark = QPalette()
    for role, color in (
        (QPalette.ColorRole.Window, "#202124"),
        (QPalette.ColorRole.WindowText, "#e8eaed"),
        (QPalette.ColorRole.Base, "#17181a"),
        (QPalette.ColorRole.Text, "#e8eaed"),
        (QPalette.ColorRole.PlaceholderText, "#9aa0a6"),
    ):
        dark.setColor(role, QColor(color))
    view.setPalette(dark)
    dark_image = view.grab().toImage()
    # An empty stretch of Room 3 at 08:00 takes the palette's base colour.
    spot = (view.metrics.axis_width + int(view.day_layout().column_width * 2.5), 120)  # type: ignore[union-attr]
    assert light.pixelColor(*spot).lightness() > 200
    assert dark_image.pixelColor(*spot).lightness() < 60


def test_window_handed_its_first_day_shows_it_and_reads_on_from_its_new_source(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    # Start-up reads the first day before the window exists, and opens the clinic after.
    def not_yet(day: dt.date) -> DaySchedule:
        raise AssertionError(f"read {day} before the clinic was open")

    first = day_schedule(clinic.db, TUESDAY)
    win = MainWindow(
        load_day=not_yet, today=lambda: TUESDAY, database_label="clinic", schedule=first
    )
    qtbot.addWidget(win)
    assert win.day() == TUESDAY
    assert win.schedule() is first
    assert win.windowTitle() == "KetaDesk Clinic — Tue Nov 24, 2026 — KetaDesk"
    win.set_day_source(partial(day_schedule, clinic.db), lambda: WEDNESDAY)
    assert win.day() == TUESDAY  # the day shown stays
    win.actions_by_name["next_day"].trigger()
    wait_for_day(qtbot, win)
    assert win.day() == WEDNESDAY
    win.actions_by_name["previous_day"].trigger()
    wait_for_day(qtbot, win)
    win.actions_by_name["today"].trigger()
    wait_for_day(qtbot, win)
    assert win.day() == WEDNESDAY
