"""A drag or a keyboard move in the week view that breaks a protocol rule is refused, and the
ghost, the status line and the refusal name the rule and the fact (two Spravato doses a day
apart: "Too close [min_gap]")."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.move_check import placement_of
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.schedule.week import week_schedule
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.timeline.week_view import WeekView
from tests.clinic_fixtures import SmallClinic, build_small_clinic
from tests.ui.timeline.drag_helpers import send_mouse

# The clock is injected: the Friday before the week the series is booked in.
MONDAY = dt.date(2026, 12, 7)
NOW = dt.datetime(2026, 12, 4, 17, 0, tzinfo=dt.UTC)
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
SPRAVATO = {
    "room": "Room 2",
    "monitor": "Monitor 2",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "screenshots" / "drag-refused.png"


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[tuple[SmallClinic, list[int]]]:
    """Ada Lovelace's Spravato induction begun: Monday and Thursday at 10:00."""
    c = build_small_clinic(f"sqlite:///{tmp_path / 'clinic.sqlite'}")
    sessions = tuple(
        c.session("spravato", MONDAY + dt.timedelta(days=d), "10:00", SPRAVATO, index=n + 1)
        for n, d in enumerate((0, 3))
    )
    ids = booking.book(
        c.db,
        SYSTEM,
        BookingRequest(
            patient_id=c.ids["Ada Lovelace"], sessions=sessions, protocol="spravato_trd"
        ),
        now=NOW,
    ).appointment_ids
    yield c, list(ids)
    c.db.dispose()


@pytest.fixture
def view(qtbot: QtBot, clinic: tuple[SmallClinic, list[int]]) -> Iterator[WeekView]:
    widget = WeekView(desk=Desk(clinic[0].db, FRONT_DESK, now=lambda: NOW))
    qtbot.addWidget(widget)
    widget.resize(1300, 700)
    widget.set_week(week_schedule(clinic[0].db, MONDAY))
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.hide()


_mouse = send_mouse


def test_a_drag_a_day_after_the_last_dose_is_refused_naming_the_rule(
    view: WeekView, clinic: tuple[SmallClinic, list[int]], qtbot: QtBot
) -> None:
    c, (_first, second) = clinic
    moved: list[object] = []
    refused: list[str] = []
    view.move_requested.connect(lambda *args: moved.append(args))
    view.move_refused.connect(refused.append)
    feedback: list[str] = []
    view.feedback.connect(feedback.append)
    tuesday = MONDAY + dt.timedelta(days=1)
    point = view.slot_point(tuesday, c.at(tuesday, "10:00"))
    assert point is not None
    target = point.toPoint()
    layout = view.week_layout()
    assert layout is not None
    block = layout.block_of(second)
    assert block is not None
    origin = view.body_origin()
    press = QPoint(round(origin.x() + block.rect.x + 10), round(origin.y() + block.rect.y + 2))
    _mouse(view, QEvent.Type.MouseButtonPress, press)
    _mouse(view, QEvent.Type.MouseMove, press + QPoint(0, 12))
    _mouse(view, QEvent.Type.MouseMove, target + QPoint(0, 2))
    qtbot.waitUntil(lambda: (s := view.drag_state()) is not None and s.reasons is not None)

    state = view.drag_state()
    assert state is not None
    assert state.reasons
    assert state.reasons[0].startswith("Too close [min_gap]: session 1/2")
    assert "1 day apart" in state.reasons[0]
    assert any("Refused:" in f and "[min_gap]" in f for f in feedback)
    shot = Path(os.environ.get("KETADESK_SCREENSHOTS", "/tmp")) / "drag-refused.png"
    view.grab().save(str(shot))
    if os.environ.get("KETADESK_SCREENSHOTS"):
        shutil.copyfile(shot, SCREENSHOT)

    _mouse(view, QEvent.Type.MouseButtonRelease, target + QPoint(0, 2), held=False)
    assert moved == []
    assert len(refused) == 1
    assert "stays where it was: Too close [min_gap]" in refused[0]
    assert c.calendar.local_date(placement_of(c.db, second).start) == MONDAY + dt.timedelta(3)


def test_a_keyboard_move_a_day_after_the_last_dose_is_refused_naming_the_rule(
    view: WeekView, clinic: tuple[SmallClinic, list[int]], qtbot: QtBot
) -> None:
    c, (_first, second) = clinic
    refused: list[str] = []
    view.move_refused.connect(refused.append)
    view.setFocus()
    view.select_appointment(second)
    QTest.keyClick(view, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)  # Wednesday: fits
    qtbot.waitUntil(lambda: (s := view.drag_state()) is not None and s.reasons is not None)
    state = view.drag_state()
    assert state is not None
    assert state.fits, state.reasons
    QTest.keyClick(view, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)  # Tuesday
    qtbot.waitUntil(lambda: (s := view.drag_state()) is not None and s.reasons is not None)
    state = view.drag_state()
    assert state is not None
    assert state.reasons
    assert state.reasons[0].startswith("Too close [min_gap]")
    QTest.keyClick(view, Qt.Key.Key_Return)
    assert len(refused) == 1
    assert "[min_gap]" in refused[0]
    assert c.calendar.local_date(placement_of(c.db, second).start) == MONDAY + dt.timedelta(3)
