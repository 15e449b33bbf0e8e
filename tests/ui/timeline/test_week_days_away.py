"""The week view, planning the week, shows the sessions that fall on their patient's days away
(a user trial: they looked like any other), as the day view does: an amber dashed outline and
corner tab (the session page's amber), "⚠ Patient away" where there is room, and a tooltip that
says the range and what to do.  And no two patients read the same on its blocks (the trial's
two "Allen J.").

Bayside's Tuesday (tests/ui/clinic_day.py): Ada Lovelace's IV at 09:00 in Room 1 and her
integration at 15:00 in Office A; Grace Hopper's Spravato at 11:00.  Ada then tells the desk
she travels Monday to Tuesday.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.services.common.context import SYSTEM
from ketadesk.services.patients.days_away import add_day_away
from ketadesk.services.schedule.day import day_schedule
from ketadesk.services.schedule.day_schedule import DaySchedule
from ketadesk.services.schedule.week import week_schedule
from ketadesk.store.models import Appointment, Patient, SessionType
from ketadesk.ui.shell.legend import legend_html
from ketadesk.ui.timeline.day_view import DayView
from ketadesk.ui.timeline.painter import AWAY_COLORS
from ketadesk.ui.timeline.week_view import WeekView
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY, WEDNESDAY
from tests.ui.conftest import NOW

from .test_closed_after_booking import session_at

AMBER = QColor(AWAY_COLORS[0])
MONDAY = TUESDAY - dt.timedelta(days=1)


@pytest.fixture
def away(clinic: SmallClinic) -> DaySchedule:
    add_day_away(clinic.db, SYSTEM, clinic.ids["Ada Lovelace"], MONDAY, TUESDAY, "travel", now=NOW)
    return day_schedule(clinic.db, TUESDAY)


def week_view(qtbot: QtBot, clinic: SmallClinic, width: int = 1300) -> WeekView:
    view = WeekView(now=lambda: NOW)
    qtbot.addWidget(view)
    view.resize(width, 900)
    view.set_week(week_schedule(clinic.db, MONDAY))
    view.show()
    qtbot.waitExposed(view)
    return view


def amber_pixels(view: DayView | WeekView, image: QImage, appointment_id: int) -> int:
    layout = view.day_layout() if isinstance(view, DayView) else view.week_layout()
    assert layout is not None
    block = layout.block_of(appointment_id)
    assert block is not None
    origin, ratio, r = view.body_origin(), image.devicePixelRatio(), block.rect
    x0, y0 = origin.x() + r.x, origin.y() + r.y - view.verticalScrollBar().value()
    count = 0
    for y in range(max(0, int(y0 * ratio)), min(image.height(), int((y0 + r.h) * ratio))):
        for x in range(max(0, int(x0 * ratio)), min(image.width(), int((x0 + r.w) * ratio))):
            count += image.pixelColor(x, y) == AMBER
    return count


def keep(image: QImage, name: str) -> None:
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if folder:
        assert image.save(str(Path(folder) / name))


def test_the_week_marks_the_sessions_on_the_days_away_and_says_what_to_do(
    qtbot: QtBot, clinic: SmallClinic, away: DaySchedule
) -> None:
    ada = session_at(away, "Lovelace, Ada", "09:00")
    ada_later = session_at(away, "Lovelace, Ada", "15:00")
    grace = session_at(away, "Hopper, Grace", "11:00")
    view = week_view(qtbot, clinic)
    told = view.tooltip_of(ada)
    assert "⚠ The patient is away Nov 23 – 24, 2026 (travel): this session is still booked." in (
        told
    )
    assert "Call the patient; Move… finds it another place, or cancel it." in told
    assert "The patient is away" in view.tooltip_of(ada_later)
    assert "away" not in view.tooltip_of(grace)
    # Where the block has room for its status line, it says so in words too.
    assert any("⚠ Patient away" in line for line in view.block_text(ada))
    assert not any("away" in line for line in view.block_text(grace))
    view.verticalScrollBar().setValue(0)
    image = view.viewport().grab().toImage()
    keep(image, "week-view-days-away.png")
    assert amber_pixels(view, image, ada) > 20  # the dashed outline and the tab
    assert amber_pixels(view, image, grace) == 0


def test_the_day_view_marks_them_the_same_way(
    qtbot: QtBot, clinic: SmallClinic, away: DaySchedule
) -> None:
    ada = session_at(away, "Lovelace, Ada", "09:00")
    grace = session_at(away, "Hopper, Grace", "11:00")
    view = DayView(now=lambda: NOW)
    qtbot.addWidget(view)
    view.resize(1100, 1200)
    view.set_schedule(away)
    view.show()
    qtbot.waitExposed(view)
    assert "⚠ The patient is away Nov 23 – 24, 2026 (travel)" in view.tooltip_of(ada)
    assert "away" not in view.tooltip_of(grace)
    view.verticalScrollBar().setValue(0)
    view.viewport().grab()  # (settle the layout)
    image = view.viewport().grab().toImage()
    keep(image, "day-view-days-away.png")
    assert amber_pixels(view, image, ada) > 40  # outline, tab and the "⚠ Away" badge
    assert amber_pixels(view, image, grace) == 0


# -- names -----------------------------------------------------------------------------------

ALLENS = (("DAY-3", "James"), ("DAY-4", "Jane"), ("DAY-5", "James"))


@pytest.fixture
def allens(clinic: SmallClinic) -> dict[str, int]:
    """Three patients named Allen on Wednesday, two of them James: their sessions by chart."""
    out: dict[str, int] = {}
    minutes = clinic.catalog.session_types["integration"].total_minutes
    with clinic.db.write() as s:
        type_id = s.scalar(select(SessionType.id).where(SessionType.code == "integration"))
        for i, (chart, first) in enumerate(ALLENS):
            patient = Patient(chart_number=chart, first_name=first, last_name="Allen")
            s.add(patient)
            s.flush()
            start = clinic.at(WEDNESDAY, f"{9 + 2 * i:02d}:00")
            appointment = Appointment(
                patient_id=patient.id,
                session_type_id=type_id,
                room_id=clinic.ids["Office A"],
                starts_at=start,
                ends_at=start + dt.timedelta(minutes=minutes),
                status="booked",
            )
            s.add(appointment)
            s.flush()
            out[chart] = appointment.id
    return out


def first_line(view: WeekView, appointment_id: int) -> str:
    return view.block_text(appointment_id)[0]


def test_patients_with_the_same_surname_and_initial_read_apart(
    qtbot: QtBot, clinic: SmallClinic, allens: dict[str, int]
) -> None:
    view = week_view(qtbot, clinic)
    lines = {chart: first_line(view, i) for chart, i in allens.items()}
    assert "Allen Jam. #3 INT" in lines["DAY-3"], lines
    assert "Allen Jan. INT" in lines["DAY-4"], lines
    assert "Allen Jam. #5 INT" in lines["DAY-5"], lines
    # Everyone else keeps the short form.
    ada = session_at(day_schedule(clinic.db, TUESDAY), "Lovelace, Ada", "09:00")
    assert "Lovelace A. IV" in first_line(view, ada)
    keep(view.viewport().grab().toImage(), "week-view-allens.png")


def test_narrow_blocks_keep_them_apart_too(
    qtbot: QtBot, clinic: SmallClinic, allens: dict[str, int]
) -> None:
    view = week_view(qtbot, clinic, width=760)
    lines = [first_line(view, i) for i in allens.values()]
    names = [line.split(" ", 1)[1] for line in lines]  # after the time
    assert len(set(names)) == 3, lines
    assert not any(name.startswith("Allen J. ") for name in names), lines
    keep(view.viewport().grab().toImage(), "week-view-allens-narrow.png")


def test_the_legend_says_what_the_amber_outline_means() -> None:
    assert "Amber dashed outline" in legend_html(None)
    assert "⚠ Patient away: booked on a day the patient told us they are away" in legend_html(None)
