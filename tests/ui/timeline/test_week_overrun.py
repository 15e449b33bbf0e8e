"""The week shows an overrun in its own compact form (the day view learned to show one; the week
said only "In session"): the block of a session running past its planned end ends in a hatched
red tail with the minutes over marked beside it ("+25 over"), the next session in its room is
marked "⚠ Room busy", and both tooltips say how long, by the day view's rules
(``day_layout.runs_over``, ``status_times.minutes_over``); a day other than today shows none.

The clinic day is tests/ui/clinic_day.py's Tuesday: Grace Hopper's Spravato in Room 1, started,
and Mary Seacole's IV infusion booked in Room 1 from the minute Grace's session is planned to
end.  "Now" is moved relative to the sessions' own times (the injected clock), never a date.
"""

from __future__ import annotations

import datetime as dt
import html

from pytestqt.qtbot import QtBot

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import Actor
from ketadesk.services.schedule.day import day_schedule
from ketadesk.services.schedule.day_schedule import DayAppointment
from ketadesk.services.schedule.week import week_schedule
from ketadesk.ui.timeline.week_layout import WeekBlock
from ketadesk.ui.timeline.week_view import WeekView
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.clinic_day import TUESDAY, ready_to_start
from tests.ui.conftest import NOW

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")
MONDAY = TUESDAY - dt.timedelta(days=1)


def _back_to_back(clinic: SmallClinic) -> tuple[DayAppointment, int]:
    """Grace's Spravato started; Mary Seacole's IV infusion booked in Room 1 from its planned
    end."""
    schedule = day_schedule(clinic.db, TUESDAY)
    grace = next(
        a for a in schedule.appointments if a.patient_name == "Hopper, Grace" and a.room_id
    )
    ready_to_start(clinic, "Grace Hopper")
    appointment_changes.change_status(clinic.db, NURSE, grace.id, "start", now=NOW)
    after = clinic.calendar.local(grace.end).strftime("%H:%M")
    request = BookingRequest(
        patient_id=clinic.ids["Mary Seacole"],
        sessions=(
            clinic.session(
                "iv_infusion",
                TUESDAY,
                after,
                {"room": "Room 1", "monitor": "Monitor 3", "nurse": "Nurse Kim"},
            ),
        ),
    )
    mary = booking.book(clinic.db, FRONT_DESK, request, now=NOW).appointment_ids[0]
    return grace, mary


def _view(qtbot: QtBot, clinic: SmallClinic, now: dt.datetime) -> WeekView:
    view = WeekView(now=lambda: now)
    qtbot.addWidget(view)
    view.resize(1300, 800)
    view.set_week(week_schedule(clinic.db, MONDAY))
    view.show()
    qtbot.waitExposed(view)
    return view


def _block(view: WeekView, appointment_id: int) -> WeekBlock:
    layout = view.week_layout()
    assert layout is not None
    block = layout.block_of(appointment_id)
    assert block is not None
    return block


def test_a_session_running_over_shows_its_tail_its_minutes_and_the_room_it_holds(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    grace, mary = _back_to_back(clinic)
    now = grace.end + dt.timedelta(minutes=25)
    view = _view(qtbot, clinic, now)
    g, m = _block(view, grace.id), _block(view, mary)
    assert g.overrun_minutes == 25
    assert g.busy_with is None
    assert m.busy_with is not None
    assert m.busy_with.id == grace.id
    assert m.busy_minutes == 25
    assert "Running over by 25 min (planned end 13:30)" in view.tooltip_of(grace.id)
    assert "booked next for Seacole, Mary at 13:30" in view.tooltip_of(grace.id)
    assert (
        "⚠ Room still in use: Hopper, Grace's Spravato (esketamine) is 25 min past its "
        "planned end 13:30" in html.unescape(view.tooltip_of(mary))
    )
    # The block's text leaves the mark its room: the patient is still named.
    assert view.block_text(grace.id) == [
        "11:00 Hopper G. SPR 2/12",
        "Room 1",
        "+25 min over · In session",
    ]
    assert view.block_text(mary)[2] == "⚠ Room busy: Hopper +25 min"
    view._select(grace.id)
    assert "+25 min over its planned end" in view.accessibleDescription()
    view._select(None)
    view.grab().save(str(picture_folder("week_overrun") / "week_overrun.png"))


def test_the_minutes_follow_the_clock(qtbot: QtBot, clinic: SmallClinic) -> None:
    grace, _mary = _back_to_back(clinic)
    now = [grace.end + dt.timedelta(minutes=5)]
    view = WeekView(now=lambda: now[0])
    qtbot.addWidget(view)
    view.resize(1300, 800)
    view.set_week(week_schedule(clinic.db, MONDAY))
    assert _block(view, grace.id).overrun_minutes == 5
    now[0] += dt.timedelta(minutes=40)
    view._on_minute_timer_timeout()
    assert _block(view, grace.id).overrun_minutes == 45


def test_no_overrun_before_the_planned_end_nor_on_another_day(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    grace, mary = _back_to_back(clinic)
    view = _view(qtbot, clinic, grace.end - dt.timedelta(minutes=1))
    assert _block(view, grace.id).overrun_minutes == 0
    assert _block(view, mary).busy_with is None
    # The next morning, a session left "in progress" is not a running overrun on its day.
    view = _view(qtbot, clinic, grace.end + dt.timedelta(days=1))
    assert _block(view, grace.id).overrun_minutes == 0
