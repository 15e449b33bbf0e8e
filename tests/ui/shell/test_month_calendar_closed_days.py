"""The month calendar beside the schedule marks the days the clinic is closed, with why (a
user trial: Christmas Day looked like any other day there)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate
from PySide6.QtGui import QColor, QFont
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import Actor
from ketadesk.services.schedule.month import ClosedDay
from ketadesk.ui.shell.side_panel import SidePanel
from ketadesk.ui.timeline.painter import CLOSED_COLOR
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import open_desk_window


def test_closed_days_are_bold_red_with_the_reason_and_unmarked_when_reopened(
    qtbot: QtBot,
) -> None:
    panel = SidePanel()
    qtbot.addWidget(panel)
    panel.calendar.setCurrentPage(2030, 12)
    assert panel.shown_month() == (dt.date(2030, 12, 1), dt.date(2030, 12, 31))
    christmas, snow = dt.date(2030, 12, 25), dt.date(2030, 12, 10)
    panel.set_closed_days([ClosedDay(snow, "Snow closure"), ClosedDay(christmas, "Christmas Day")])
    fmt = panel.calendar.dateTextFormat(QDate(2030, 12, 25))
    assert fmt.toolTip() == "Clinic closed: Christmas Day"
    assert fmt.foreground().color() == QColor(CLOSED_COLOR)
    assert fmt.fontWeight() == QFont.Weight.Bold
    assert panel.closed_days == {snow: "Snow closure", christmas: "Christmas Day"}
    # The snow day reopened: read again, it is an ordinary day once more.
    panel.set_closed_days([ClosedDay(christmas, "Christmas Day")])
    assert panel.calendar.dateTextFormat(QDate(2030, 12, 10)).toolTip() == ""
    assert panel.calendar.dateTextFormat(QDate(2030, 12, 25)).toolTip() != ""


def test_the_desk_window_marks_the_month_it_shows_and_the_next_as_it_pages(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    """The clinic day (Tuesday 24 November 2026): Thanksgiving that Thursday is marked once
    the window is up; paging to December reads Christmas Day."""
    window = open_desk_window(
        qtbot, clinic.db, TUESDAY, now=lambda: NOW, actor=Actor(None, "maria", "front_desk")
    )
    panel = window.side_panel
    thanksgiving = dt.date(2026, 11, 26)
    qtbot.waitUntil(lambda: thanksgiving in panel.closed_days)
    assert panel.closed_days[thanksgiving] == "Thanksgiving Day"
    panel.calendar.setCurrentPage(2026, 12)
    qtbot.waitUntil(lambda: dt.date(2026, 12, 25) in panel.closed_days)
    assert thanksgiving not in panel.closed_days
