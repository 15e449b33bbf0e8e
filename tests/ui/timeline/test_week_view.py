"""The week view on screen: the staffed week of Bayside, opening a day and a session."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from ketadesk.services.schedule.week import week_schedule
from ketadesk.ui.timeline.week_view import WeekView
from tests.services.staffed_day import MONDAY, TUESDAY, StaffedDay, build_staffed_day


@pytest.fixture
def staffed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffedDay]:
    folder = tmp_path_factory.mktemp("week")
    built = build_staffed_day(f"sqlite:///{folder / 'clinic.sqlite'}")
    yield built
    built.clinic.db.dispose()


@pytest.fixture
def view(qtbot: QtBot, staffed: StaffedDay) -> WeekView:
    now = staffed.clinic.at(TUESDAY, "10:30")
    widget = WeekView(now=lambda: now)
    qtbot.addWidget(widget)
    widget.resize(1300, 800)
    widget.set_week(week_schedule(staffed.clinic.db, MONDAY))
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def point(p: object) -> QPoint:
    assert p is not None
    return p.toPoint()  # type: ignore[attr-defined,no-any-return]


def test_the_week_shows_every_session_in_its_day(view: WeekView, staffed: StaffedDay) -> None:
    layout = view.week_layout()
    assert layout is not None
    assert [c.title for c in layout.days] == [
        "Mon Nov 23",
        "Tue Nov 24",
        "Wed Nov 25",
        "Thu 26",  # Thanksgiving, and the weekend: closed, empty, narrow
        "Fri Nov 27",
        "Sat 28",
        "Sun 29",
    ]
    assert sorted(b.appointment.id for b in layout.blocks) == sorted(staffed.appointments.values())
    assert {b.day_index for b in layout.blocks} == {1}
    assert [c.is_today for c in layout.days] == [False, True, False, False, False, False, False]
    assert layout.days[3].detail == "Thanksgiving Day"
    assert "week of Monday, November 23, 2026: 4 sessions" in view.accessibleDescription()


def test_double_clicking_a_day_header_opens_that_day(view: WeekView, qtbot: QtBot) -> None:
    friday = dt.date(2026, 11, 27)
    with qtbot.waitSignal(view.day_activated) as blocker:
        QTest.mouseDClick(
            view.canvas(), Qt.MouseButton.LeftButton, pos=point(view.header_center(friday))
        )
    assert blocker.args == [friday]


def test_double_clicking_a_block_opens_the_session(
    view: WeekView, staffed: StaffedDay, qtbot: QtBot
) -> None:
    spravato = staffed.appointments["spravato"]
    with qtbot.waitSignal(view.appointment_activated) as blocker:
        QTest.mouseDClick(
            view.canvas(), Qt.MouseButton.LeftButton, pos=point(view.block_center(spravato))
        )
    assert blocker.args == [spravato]


def test_the_keyboard_chooses_and_opens_a_day(view: WeekView, qtbot: QtBot) -> None:
    view.setFocus()
    assert view.current_day() == TUESDAY  # today
    QTest.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert view.current_day() == dt.date(2026, 11, 25)
    assert "chosen: Wednesday, November 25: Nothing booked" in view.accessibleDescription()
    with qtbot.waitSignal(view.day_activated) as blocker:
        QTest.keyClick(view, Qt.Key.Key_Return)
    assert blocker.args == [dt.date(2026, 11, 25)]


def test_the_blocks_are_painted_in_their_session_colours(
    view: WeekView, staffed: StaffedDay
) -> None:
    image = view.grab().toImage()
    spravato = point(view.block_center(staffed.appointments["spravato"]))
    layout = view.week_layout()
    assert layout is not None
    block = layout.block_of(staffed.appointments["spravato"])
    assert block is not None
    # Right of the text, the block's fill: Spravato's purple mixed into the background.
    right = round(view.body_origin().x() + block.rect.right - 8)
    pixel = QColor(image.pixel(right, spravato.y()))
    assert pixel.blue() > pixel.green()
    assert pixel.red() > pixel.green()


def test_the_week_of_one_staff_member(view: WeekView, staffed: StaffedDay) -> None:
    view.set_week(week_schedule(staffed.clinic.db, MONDAY, staff_id=staffed.id("Sam Rivera")))
    layout = view.week_layout()
    assert layout is not None
    assert [b.appointment.session_type_short for b in layout.blocks] == ["KAP", "INT"]
    # One column: the blocks take the whole day's width.
    (kap, _integration) = layout.blocks
    assert kap.rect.w > layout.days[1].w * 0.9


def test_the_same_week_again_keeps_the_scroll_position(view: WeekView, staffed: StaffedDay) -> None:
    view.resize(900, 160)  # shorter than the hours with their sessions
    bar = view.verticalScrollBar()
    assert bar.maximum() > 0
    bar.setValue(bar.maximum() // 2)
    kept = bar.value()
    view.set_week(week_schedule(staffed.clinic.db, MONDAY))
    assert bar.value() == kept
    view.set_week(week_schedule(staffed.clinic.db, MONDAY + dt.timedelta(days=7)))
    assert bar.value() == 0  # a new week (nothing booked) opens at its top


def test_hiding_cancelled_sessions(view: WeekView) -> None:
    assert view.show_cancelled()
    view.set_show_cancelled(False)
    layout = view.week_layout()
    assert layout is not None
    assert len(layout.blocks) == 4  # none is cancelled
    view.set_week(None)
    assert view.week_layout() is None
    view.grab()  # an empty view paints


def test_home_and_end_choose_the_first_and_last_day(view: WeekView) -> None:
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_End)
    assert view.current_day() == dt.date(2026, 11, 29)
    QTest.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert view.current_day() == dt.date(2026, 11, 29)  # stays in the week
    QTest.keyClick(view, Qt.Key.Key_Home)
    assert view.current_day() == MONDAY
