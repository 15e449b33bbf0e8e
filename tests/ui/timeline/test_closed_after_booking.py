"""Sessions on a day that closed after they were booked (a user trial): the day and week views
mark the block (a red dashed outline, a red corner tab, "⚠ Reschedule" where there is room)
and its tooltip says "Clinic closed on this day: reschedule".

Bayside's Tuesday (tests/ui/clinic_day.py), the clinic closed from 12:00 for staff training:
Alan Turing's Spravato at 13:30 in Room 2 is stranded; Ada Lovelace's IV at 09:00 is not.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from ketadesk.services.schedule.day import day_schedule
from ketadesk.services.schedule.day_schedule import DaySchedule, with_moved
from ketadesk.services.schedule.week import week_schedule
from ketadesk.ui.timeline.day_view import DayView
from ketadesk.ui.timeline.painter import CLOSED_COLOR
from ketadesk.ui.timeline.week_view import WeekView
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY, close_tuesday
from tests.ui.conftest import NOW

NOTICE = "Clinic closed on this day: reschedule"


@pytest.fixture
def closed(clinic: SmallClinic) -> DaySchedule:
    close_tuesday(clinic, "12:00", "18:00", "staff training")
    return day_schedule(clinic.db, TUESDAY)


def session_at(schedule: DaySchedule, patient: str, hhmm: str) -> int:
    return next(
        a.id
        for a in schedule.appointments
        if a.patient_name == patient and f"{a.start:%H:%M}" == hhmm
    )


@pytest.fixture
def day(qtbot: QtBot, closed: DaySchedule) -> Iterator[DayView]:
    view = DayView(now=lambda: NOW)
    qtbot.addWidget(view)
    view.resize(1100, 1200)
    view.set_schedule(closed)
    view.show()
    qtbot.waitExposed(view)
    yield view
    view.hide()


def red_pixels(image: QImage, x0: int, y0: int, x1: int, y1: int) -> int:
    """How many pixels of the closure's red lie in the rectangle."""
    red = QColor(CLOSED_COLOR)
    count = 0
    for y in range(max(0, y0), min(image.height(), y1)):
        for x in range(max(0, x0), min(image.width(), x1)):
            if image.pixelColor(x, y) == red:
                count += 1
    return count


def block_pixels(view: DayView | WeekView, image: QImage, appointment_id: int) -> int:
    layout = view.day_layout() if isinstance(view, DayView) else view.week_layout()
    assert layout is not None
    block = layout.block_of(appointment_id)
    assert block is not None
    origin = view.body_origin()
    ratio = image.devicePixelRatio()
    r = block.rect
    x0, y0 = origin.x() + r.x, origin.y() + r.y - view.verticalScrollBar().value()
    return red_pixels(
        image, int(x0 * ratio), int(y0 * ratio), int((x0 + r.w) * ratio), int((y0 + r.h) * ratio)
    )


def keep(image: QImage, name: str) -> None:
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if folder:
        assert image.save(str(Path(folder) / name))


def test_the_day_view_marks_a_session_on_a_closed_stretch_and_says_why(
    day: DayView, closed: DaySchedule
) -> None:
    alan = session_at(closed, "Turing, Alan", "13:30")
    ada = session_at(closed, "Lovelace, Ada", "09:00")
    assert f"⚠ {NOTICE} (staff training)" in day.tooltip_of(alan)
    assert "reschedule" not in day.tooltip_of(ada)
    day.verticalScrollBar().setValue(0)
    day.viewport().grab()  # (settle the layout)
    image = day.viewport().grab().toImage()
    keep(image, "day-view-closed.png")
    assert block_pixels(day, image, ada) == 0
    day.verticalScrollBar().setValue(day.block_center(alan).y() - 200)  # type: ignore[union-attr]
    image = day.viewport().grab().toImage()
    keep(image, "day-view-closed-afternoon.png")
    assert block_pixels(day, image, alan) > 40  # the dashed outline, the tab, the badge


def test_the_week_view_marks_it_too(qtbot: QtBot, clinic: SmallClinic, closed: DaySchedule) -> None:
    view = WeekView(now=lambda: NOW)
    qtbot.addWidget(view)
    view.resize(1300, 900)
    view.set_week(week_schedule(clinic.db, TUESDAY))
    view.show()
    qtbot.waitExposed(view)
    alan = session_at(closed, "Turing, Alan", "13:30")
    ada = session_at(closed, "Lovelace, Ada", "09:00")
    assert f"⚠ {NOTICE} (staff training)" in view.tooltip_of(alan)
    assert "reschedule" not in view.tooltip_of(ada)
    # Where the block has room for its status line, it says so in words too.
    assert any("⚠ Reschedule" in line for line in view.block_text(alan))
    assert not any("Reschedule" in line for line in view.block_text(ada))
    image = view.viewport().grab().toImage()
    keep(image, "week-view-closed.png")
    assert block_pixels(view, image, alan) > 20
    assert block_pixels(view, image, ada) == 0


def test_a_session_moved_off_the_closed_stretch_loses_its_marker_at_once(
    closed: DaySchedule, clinic: SmallClinic
) -> None:
    """What a view shows the moment a flagged session is dropped elsewhere, before the day is
    read again (``with_moved``): no stale "reschedule" on its new place."""
    alan = session_at(closed, "Turing, Alan", "13:30")
    moved = with_moved(closed, alan, clinic.at(TUESDAY, "10:30"), clinic.ids["Room 3"])
    assert moved is not None
    shown = next(a for a in moved.appointments if a.id == alan)
    assert (f"{shown.start:%H:%M}", shown.closed_notice) == ("10:30", "")
