"""Arrivals at a glance on the day view: a booked patient not checked in is late after the
grace period and a no-show candidate after the longer one; a checked-in one shows as arrived
(its status badge).  The clinic day is tests/ui/clinic_day.py's Tuesday; "now" is moved
relative to each session's start, never a literal date."""

from __future__ import annotations

import datetime as dt

from pytestqt.qtbot import QtBot

from ketadesk.scheduling.confirmations import LATE, NO_SHOW_CANDIDATE
from ketadesk.services.common.context import Actor
from ketadesk.ui.timeline.day_view import DayView
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import wait_for_day

FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")


def test_late_and_no_show_candidates_on_the_day_view(qtbot: QtBot, clinic: SmallClinic) -> None:
    from ketadesk.commands.run import open_day_window

    clock = [NOW]
    win = open_day_window(clinic.db, TUESDAY, now=lambda: clock[0], actor=FRONT_DESK)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    wait_for_day(qtbot, win)
    view = win.day_view
    assert isinstance(view, DayView)
    layout = view.day_layout()
    assert layout is not None
    schedule = view.schedule()
    assert schedule is not None
    by_name = {
        (b.appointment.patient_name, b.appointment.session_type_code): b.appointment
        for b in layout.blocks
    }
    ada_iv = by_name[("Lovelace, Ada", "iv_infusion")]  # booked, never checked in
    grace_spr = by_name[("Hopper, Grace", "spravato")]  # checked in
    grace, no_show = schedule.late_grace_minutes, schedule.no_show_minutes
    clock[0] = ada_iv.start + dt.timedelta(minutes=grace - 1)
    assert view.arrival_of(ada_iv, schedule) is None
    clock[0] = ada_iv.start + dt.timedelta(minutes=grace)
    assert view.arrival_of(ada_iv, schedule) == LATE
    clock[0] = ada_iv.start + dt.timedelta(minutes=no_show)
    assert view.arrival_of(ada_iv, schedule) == NO_SHOW_CANDIDATE
    assert view.arrival_of(grace_spr, schedule) is None  # "Checked in" says it
    view.grab()  # the painter draws the badge without error
