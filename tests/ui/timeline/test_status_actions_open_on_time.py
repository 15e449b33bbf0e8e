"""Check in and No-show are offered greyed until the desk would accept them: a check-in on the
session's own day (``[clinic] check_in_days_ahead`` days earlier at most), a no-show once its
start has passed.  A user trial found both enabled on sessions days ahead, and the desk then
refused them.  (The appointment dialog's buttons: tests/ui/booking/test_appointment_dialog.py.)

Bayside's staffed Tuesday (tests/services/staffed_day.py), booked on the Friday before; Ada
Lovelace's IV infusion starts on Tuesday at 09:00.  Every clock is the desk's, set by the test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select, update

from ketadesk.services.booking import appointment_changes
from ketadesk.services.common.context import Actor, InvalidRequest
from ketadesk.services.schedule.week import week_schedule
from ketadesk.store.models import ClinicSetting
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.timeline.week_view import WeekView
from tests.services.staffed_day import BOOKED_ON, MONDAY, TUESDAY, StaffedDay, build_staffed_day

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
TIMED = ("check_in", "no_show")


@pytest.fixture
def staffed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffedDay]:
    folder = tmp_path_factory.mktemp("on_time")
    built = build_staffed_day(f"sqlite:///{folder / 'clinic.sqlite'}")
    yield built
    built.clinic.db.dispose()


@pytest.fixture
def view(qtbot: QtBot, staffed: StaffedDay) -> Iterator[WeekView]:
    widget = WeekView(desk=Desk(staffed.clinic.db, FRONT_DESK, now=lambda: BOOKED_ON))
    qtbot.addWidget(widget)
    widget.resize(1300, 900)
    widget.set_week(week_schedule(staffed.clinic.db, MONDAY))
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.hide()


def _menu_at(view: WeekView, staffed: StaffedDay, now: dt.datetime) -> dict[str, tuple[bool, str]]:
    """Ada's menu items with the desk's clock at ``now``: name -> (enabled, tooltip)."""
    view.set_desk(Desk(staffed.clinic.db, FRONT_DESK, now=lambda: now))
    layout = view.week_layout()
    assert layout is not None
    block = layout.block_of(staffed.appointments["iv"])
    assert block is not None
    menu = view.context_menu(block.appointment)
    try:
        return {a.objectName(): (a.isEnabled(), a.toolTip()) for a in menu.actions()}
    finally:
        menu.deleteLater()


def _desk_accepts(staffed: StaffedDay, action: str, now: dt.datetime) -> bool:
    """Whether the service takes ``action`` on Ada's session at ``now`` (taken back at once)."""
    ada = staffed.appointments["iv"]
    try:
        appointment_changes.change_status(staffed.clinic.db, FRONT_DESK, ada, action, now=now)
    except InvalidRequest:
        return False
    appointment_changes.undo_status(staffed.clinic.db, FRONT_DESK, ada, now=now)
    return True


def test_days_ahead_check_in_and_no_show_are_greyed_saying_when_they_open(
    view: WeekView, staffed: StaffedDay
) -> None:
    items = _menu_at(view, staffed, BOOKED_ON)  # the Friday before
    assert items["check_in"] == (
        False,
        "Check-in opens on the day of the session (Tue 11/24)",
    )
    enabled, why = items["no_show"]
    assert not enabled
    assert why.startswith("A no-show is marked once the session has started (Tue 11/24 at 09:00)")
    assert items["cancel"][0]  # a patient calling it off is a cancellation


def test_the_menu_offers_exactly_what_the_desk_accepts(view: WeekView, staffed: StaffedDay) -> None:
    at = staffed.clinic.at
    clocks = {
        "the Friday before": BOOKED_ON,
        "the evening before": at(TUESDAY - dt.timedelta(days=1), "23:30"),
        "its morning, before the start": at(TUESDAY, "08:40"),
        "twenty minutes after the start": at(TUESDAY, "09:20"),
    }
    offered = {
        (when, action): _menu_at(view, staffed, now)[action][0]
        for when, now in clocks.items()
        for action in TIMED
    }
    accepted = {
        (when, action): _desk_accepts(staffed, action, now)
        for when, now in clocks.items()
        for action in TIMED
    }
    assert offered == accepted
    # ...and the clocks cover both answers of both actions.
    assert offered[("its morning, before the start", "check_in")]
    assert not offered[("its morning, before the start", "no_show")]
    assert offered[("twenty minutes after the start", "no_show")]
    assert not offered[("the evening before", "check_in")]


def test_the_lead_days_are_the_clinics_setting(view: WeekView, staffed: StaffedDay) -> None:
    db = staffed.clinic.db
    with db.write() as s:
        stored = s.scalars(select(ClinicSetting.value).where(ClinicSetting.key == "clinic")).one()
        s.execute(
            update(ClinicSetting)
            .where(ClinicSetting.key == "clinic")
            .values(value={**stored, "check_in_days_ahead": 2})
        )
    view.set_week(week_schedule(db, MONDAY))
    at = staffed.clinic.at
    sunday = at(TUESDAY - dt.timedelta(days=2), "09:00")
    assert _menu_at(view, staffed, BOOKED_ON)["check_in"] == (
        False,
        "Check-in opens 2 days before the session (Sun 11/22)",
    )
    assert _menu_at(view, staffed, sunday)["check_in"][0]
    assert _desk_accepts(staffed, "check_in", sunday)
