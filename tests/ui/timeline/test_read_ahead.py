"""ReadAhead: answers read on a worker and kept, and an answer read before a ``clear`` (the
clinic changed meanwhile) dropped however late it lands; a day (and a week) painted ahead looks
exactly as the day (the week) painted when shown."""

from __future__ import annotations

import datetime as dt
import threading

from pytestqt.qtbot import QtBot

from ketadesk.services.schedule.day import day_schedule
from ketadesk.services.schedule.week import week_schedule
from ketadesk.ui.timeline.day_view import DayView
from ketadesk.ui.timeline.read_ahead import ReadAhead
from ketadesk.ui.timeline.week_view import WeekView
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY, WEDNESDAY
from tests.ui.conftest import NOW


def test_answers_are_read_on_a_worker_and_kept(qtbot: QtBot) -> None:
    threads: list[str] = []
    landed: list[tuple[int, str]] = []

    def load(key: int) -> str:
        threads.append(threading.current_thread().name)
        return f"day {key}"

    ahead: ReadAhead[int, str] = ReadAhead(load, landed=lambda k, v: landed.append((k, v)))
    ahead.read_ahead([1, 2])
    qtbot.waitUntil(lambda: not ahead.is_reading())
    assert (ahead.get(1), ahead.get(2)) == ("day 1", "day 2")
    assert sorted(landed) == [(1, "day 1"), (2, "day 2")]
    assert threading.current_thread().name not in threads
    ahead.read_ahead([1, 2])  # kept: not read again
    assert not ahead.is_reading()
    assert len(threads) == 2


def test_an_answer_read_before_a_clear_is_dropped(qtbot: QtBot) -> None:
    release = threading.Event()
    reads: list[int] = []

    def load(key: int) -> str:
        reads.append(key)
        release.wait(5)
        return f"old {key}"

    ahead: ReadAhead[int, str] = ReadAhead(load)
    ahead.read_ahead([1])
    qtbot.waitUntil(lambda: reads == [1])
    waited: list[str | None] = []
    ahead.when_read(1, waited.append)
    ahead.clear()  # the clinic changed while day 1 was being read
    assert waited == [None]  # whoever waited for it reads it afresh
    release.set()
    qtbot.wait(100)
    assert ahead.get(1) is None
    # A value read before the clear is not kept either.
    generation = ahead.generation()
    ahead.clear()
    ahead.put(2, "stale", generation)
    assert ahead.get(2) is None


def test_a_failed_read_ahead_is_forgotten_quietly(qtbot: QtBot) -> None:
    def load(key: int) -> str:
        raise RuntimeError("server gone")

    ahead: ReadAhead[int, str] = ReadAhead(load)
    ahead.read_ahead([1])
    qtbot.waitUntil(lambda: not ahead.is_reading())
    assert ahead.get(1) is None


def test_a_day_painted_ahead_looks_as_the_day_painted_when_shown(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    tuesday = day_schedule(clinic.db, TUESDAY)
    wednesday = day_schedule(clinic.db, WEDNESDAY)
    views = []
    for _ in range(2):
        view = DayView(now=lambda: NOW + dt.timedelta(days=7))  # Tuesday is not today
        qtbot.addWidget(view)
        view.resize(900, 500)
        view.show()
        qtbot.waitExposed(view)
        view.set_schedule(wednesday)
        views.append(view)
    ahead, plain = views
    ahead.prepare(tuesday)
    ahead.set_schedule(tuesday)
    plain.set_schedule(tuesday)
    assert ahead.shows_painted_ahead()
    assert not plain.shows_painted_ahead()
    assert ahead.grab().toImage() == plain.grab().toImage()
    # Once the user selects a block (or scrolls, or drags), the view paints afresh.
    block = ahead.day_layout().blocks[0]  # type: ignore[union-attr]
    ahead.select_appointment(block.appointment.id)
    plain.select_appointment(block.appointment.id)
    assert not ahead.shows_painted_ahead()
    assert ahead.grab().toImage() == plain.grab().toImage()
    # A reload of the same day that found nothing new keeps what is on screen.
    ahead.set_schedule(day_schedule(clinic.db, TUESDAY))
    assert ahead.selected_id() == block.appointment.id


def test_a_week_painted_ahead_looks_as_the_week_painted_when_shown(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    monday = TUESDAY - dt.timedelta(days=TUESDAY.weekday())
    this_week = week_schedule(clinic.db, monday)
    week_before = week_schedule(clinic.db, monday - dt.timedelta(days=7))
    assert this_week.days
    assert any(d.appointments for d in this_week.days)
    views = []
    for _ in range(2):
        view = WeekView(now=lambda: NOW + dt.timedelta(days=14))  # the week is not this week
        qtbot.addWidget(view)
        view.resize(1100, 600)
        view.show()
        qtbot.waitExposed(view)
        view.set_week(week_before)
        views.append(view)
    ahead, plain = views
    ahead.prepare(this_week)
    ahead.set_week(this_week)
    plain.set_week(this_week)
    assert ahead.shows_painted_ahead()
    assert not plain.shows_painted_ahead()
    assert ahead.grab().toImage() == plain.grab().toImage()
    # A patient highlighted, or a block selected, and the view paints afresh.
    block = ahead.week_layout().blocks[0]  # type: ignore[union-attr]
    for view in views:
        view.highlight_patient(block.appointment.chart_number)
    assert not ahead.shows_painted_ahead()
    assert ahead.grab().toImage() == plain.grab().toImage()
    for view in views:
        view.highlight_patient(None)
    assert ahead.shows_painted_ahead()
    for view in views:
        view.select_appointment(block.appointment.id)
    assert not ahead.shows_painted_ahead()
    assert ahead.grab().toImage() == plain.grab().toImage()


def test_the_week_holding_today_is_laid_out_ahead_but_painted_when_shown(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    monday = TUESDAY - dt.timedelta(days=TUESDAY.weekday())
    view = WeekView(now=lambda: NOW)  # today is in this week: its "now" line moves
    qtbot.addWidget(view)
    view.resize(1100, 600)
    view.show()
    qtbot.waitExposed(view)
    view.set_week(week_schedule(clinic.db, monday - dt.timedelta(days=7)))
    this_week = week_schedule(clinic.db, monday)
    view.prepare(this_week)
    view.set_week(this_week)
    assert not view.shows_painted_ahead()
    assert view.week_layout() is not None
