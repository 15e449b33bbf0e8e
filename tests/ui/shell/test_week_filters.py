"""The left panel's filters in the week view: its Columns and Session types lists are the
week's, and both narrow the week shown.  A user trial found both lists empty there: only the day
by room filled them, so a week opened on a quiet day (a Sunday) offered nothing to filter by.

The clinic day of tests/ui/clinic_day.py: a busy Tuesday (a telehealth review among its
sessions) in the week of Monday 23 November 2026; the window opens on that week's Sunday.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import Actor
from ketadesk.ui.shell.main_window import MainWindow
from ketadesk.ui.timeline.week_view import WeekView
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.clinic_day import SUNDAY, TUESDAY, TUESDAY_SESSIONS
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import open_desk_window, wait_for_day

FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")


@pytest.fixture
def window(qtbot: QtBot, clinic: SmallClinic) -> Iterator[MainWindow]:
    win = open_desk_window(qtbot, clinic.db, SUNDAY, now=lambda: NOW, actor=FRONT_DESK)
    yield win
    win.close()


def _week(qtbot: QtBot, win: MainWindow) -> WeekView:
    win.set_view("week")
    view = win.page("week")
    assert isinstance(view, WeekView)
    qtbot.waitUntil(lambda: view.week() is not None and not win.is_reading(), timeout=10_000)
    return view


def _entries(lst: QListWidget) -> dict[str, Qt.CheckState]:
    items = (lst.item(i) for i in range(lst.count()))
    return {item.text(): item.checkState() for item in items if item is not None}


def _shown_types(view: WeekView) -> set[str]:
    week = view.week()
    assert week is not None
    return {a.session_type_code for d in week.days for a in d.appointments}


def test_the_week_fills_the_lists_with_its_own_columns_and_session_types(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic
) -> None:
    view = _week(qtbot, window)
    panel = window.side_panel
    columns = _entries(panel.columns_list)
    # Every room and office, and the telehealth column of Tuesday's review (Sunday has none).
    assert {"Room 1", "Room 2", "Room 3", "Room 4", "Office A", "No room"} <= set(columns)
    names = {clinic.catalog.session_types[code].name for _p, code, *_ in TUESDAY_SESSIONS}
    assert set(_entries(panel.types_list)) == names
    assert set(columns.values()) == {Qt.CheckState.Checked}
    assert _shown_types(view) == {code for _p, code, *_ in TUESDAY_SESSIONS}
    window.grab().save(str(picture_folder() / "week-with-its-filters.png"))


def test_unticking_a_session_type_hides_it_in_the_week(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic
) -> None:
    view = _week(qtbot, window)
    lst = window.side_panel.types_list
    spravato = clinic.catalog.session_types["spravato"].name
    item = next(lst.item(i) for i in range(lst.count()) if lst.item(i).text() == spravato)
    item.setCheckState(Qt.CheckState.Unchecked)
    qtbot.waitUntil(lambda: "spravato" not in _shown_types(view))
    assert "iv_infusion" in _shown_types(view)
    # Unticking a room narrows the week to the others, and the list keeps every room.
    rooms = window.side_panel.columns_list
    room1 = next(rooms.item(i) for i in range(rooms.count()) if rooms.item(i).text() == "Room 1")
    room1.setCheckState(Qt.CheckState.Unchecked)
    room1_id = clinic.ids["Room 1"]
    qtbot.waitUntil(
        lambda: (
            (w := view.week()) is not None
            and all(a.room_id != room1_id for d in w.days for a in d.appointments)
        )
    )
    assert "Room 1" in _entries(rooms)
    assert "spravato" not in _shown_types(view)  # both filters at once
    # Back on the day by room, Tuesday shows the same filters.
    window.set_view("rooms")
    window.set_day(TUESDAY)
    wait_for_day(qtbot, window)
    schedule = window.day_view.schedule()
    assert schedule is not None
    assert {a.session_type_code for a in schedule.appointments} <= {
        code for _p, code, *_ in TUESDAY_SESSIONS if code != "spravato"
    }
    assert all(a.room_id != room1_id for a in schedule.appointments)


def test_a_column_the_day_did_not_have_is_shown_ticked_in_the_week(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic
) -> None:
    """Room 2 unticked on the Sunday (no telehealth column that day): the week's telehealth
    review is still shown, its column offered ticked."""
    rooms = window.side_panel.columns_list
    assert "No room" not in _entries(rooms)
    room2 = next(rooms.item(i) for i in range(rooms.count()) if rooms.item(i).text() == "Room 2")
    room2.setCheckState(Qt.CheckState.Unchecked)
    view = _week(qtbot, window)
    qtbot.waitUntil(
        lambda: (
            (w := view.week()) is not None
            and any(a.room_id is None for d in w.days for a in d.appointments)
        )
    )
    assert _entries(rooms)["No room"] == Qt.CheckState.Checked
    assert _entries(rooms)["Room 2"] == Qt.CheckState.Unchecked
    week = view.week()
    assert week is not None
    assert all(a.room_id != clinic.ids["Room 2"] for d in week.days for a in d.appointments)


def test_the_status_bar_gives_the_weeks_account_on_the_week_view(
    qtbot: QtBot, window: MainWindow
) -> None:
    """A user trial: the week view's status bar read the day's "0 sessions · Clinic closed on
    Sundays" under a busy week."""
    day_text = window.summary()
    assert day_text.startswith("0 sessions")  # the window opened on the Sunday
    _week(qtbot, window)
    text = window.summary()
    # Tuesday's sessions, one of them cancelled; Thanksgiving and the weekend closed.
    assert text.startswith(f"{len(TUESDAY_SESSIONS) - 1} sessions this week · 1 cancelled · ")
    assert text.endswith(" · closed Thu (Thanksgiving Day), Sat, Sun"), text
    window.set_view("rooms")
    assert window.summary() == day_text
