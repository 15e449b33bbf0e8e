"""The weeks either side of the week shown are read ahead and painted ahead in the window, so
"next week" puts up a picture; a change forgets them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import Actor
from ketadesk.ui.shell.main_window import MainWindow
from ketadesk.ui.timeline.week_view import WeekView
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY, build_clinic_day
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import open_desk_window

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
LATER = NOW + dt.timedelta(days=28)  # the weeks walked hold no "today" (painted when shown)


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_clinic_day(db_url)
    yield c
    c.db.dispose()


def _week_window(qtbot: QtBot, clinic: SmallClinic, day: dt.date) -> tuple[MainWindow, WeekView]:
    window = open_desk_window(
        qtbot, clinic.db, day, now=lambda: LATER, actor=FRONT_DESK, size=(1200, 800)
    )
    window.set_view("week")
    view = window.page("week")
    assert isinstance(view, WeekView)
    qtbot.waitUntil(lambda: view.week() is not None)
    return window, view


def test_next_week_puts_up_the_picture_painted_ahead(qtbot: QtBot, clinic: SmallClinic) -> None:
    window, view = _week_window(qtbot, clinic, TUESDAY - dt.timedelta(days=7))
    following = TUESDAY - dt.timedelta(days=TUESDAY.weekday())
    # Read ahead on a worker once the week painted, then painted ahead as it lands.
    qtbot.waitUntil(lambda: _prepared(view, following), timeout=10_000)
    window.set_day(window.day() + dt.timedelta(days=7))
    week = view.week()
    assert week is not None
    assert week.first_day == following
    assert view.shows_painted_ahead()
    assert any(d.appointments for d in week.days)


def test_a_change_forgets_the_weeks_painted_ahead(qtbot: QtBot, clinic: SmallClinic) -> None:
    from tests.ui.shell.desk_helpers import desk_controller_of

    window, view = _week_window(qtbot, clinic, TUESDAY - dt.timedelta(days=7))
    following = TUESDAY - dt.timedelta(days=TUESDAY.weekday())
    qtbot.waitUntil(lambda: _prepared(view, following), timeout=10_000)
    desk_controller_of(window).editor.changed.emit()  # a write here: read it all again
    window.set_day(window.day() + dt.timedelta(days=7))
    qtbot.waitUntil(lambda: (w := view.week()) is not None and w.first_day == following)
    assert not view.shows_painted_ahead()  # read afresh, painted when shown


def _prepared(view: WeekView, monday: dt.date) -> bool:
    return any(p.week.first_day == monday for p in view._prepared.values())
