"""A week a receptionist can read at 1,400 x 900 (issue 15): the demo clinic's week in the
main window, with the left panel at its default width.

Before: about 4 1/2 days showed (busy days widened for their lanes and the view scrolled
sideways), blocks read "SP... Mo...", and the heading showed one date instead of the week.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from ketadesk.commands.run import open_day_window
from ketadesk.scheduling.dates import clock
from ketadesk.services.common.context import Actor
from ketadesk.services.demo.clinic import build_demo
from ketadesk.services.schedule.day import clinic_today
from ketadesk.store.database import Database
from ketadesk.ui.common.dates import us_date_range
from ketadesk.ui.shell.main_window import MainWindow
from ketadesk.ui.timeline.day_layout import wall_minute
from ketadesk.ui.timeline.week_layout import (
    WeekBlock,
    WeekLayout,
    patient_initials,
)
from ketadesk.ui.timeline.week_view import WeekView
from tests.pictures import picture_folder
from tests.ui.shell.desk_helpers import wait_for_day

FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")
SIZE = (1400, 900)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """The demo clinic around its own today (six rooms, two offices)."""
    from ketadesk.services.clinic.clinic_setup import open_clinic

    url = f"sqlite:///{tmp_path_factory.mktemp('week15') / 'demo.sqlite'}"
    build_demo(url, weeks_back=1, weeks_ahead=1)
    opened = open_clinic(url)
    yield opened.db
    opened.db.dispose()


@pytest.fixture
def window(qtbot: QtBot, demo: Database) -> MainWindow:
    today = clinic_today(demo)
    win = open_day_window(demo, _shown_day(today), actor=FRONT_DESK)
    qtbot.addWidget(win)
    win.resize(*SIZE)
    win.show()
    qtbot.waitExposed(win)
    wait_for_day(qtbot, win)
    win.set_view("week")
    week = _week(win)
    qtbot.waitUntil(lambda: week.week() is not None, timeout=10_000)
    qtbot.wait(20)
    return win


def _shown_day(today: dt.date) -> dt.date:
    """A day of the clinic's current week, or of the next when this one is mostly gone: the
    demo books around its today, so either is full."""
    return today if today.weekday() < 5 else today + dt.timedelta(days=7 - today.weekday())


def _week(win: MainWindow) -> WeekView:
    page = win.page("week")
    assert isinstance(page, WeekView)
    return page


def _layout(view: WeekView) -> WeekLayout:
    layout = view.week_layout()
    assert layout is not None
    return layout


def test_every_open_day_of_the_week_fits_the_window(window: MainWindow) -> None:
    view = _week(window)
    layout, week = _layout(view), view.week()
    assert week is not None
    body_width = view.viewport().width() - view.metrics.axis_width
    open_days = [c for c, d in zip(layout.days, week.days, strict=True) if not d.is_closed]
    assert len(open_days) >= 4  # a holiday may close one
    assert view.horizontalScrollBar().maximum() == 0
    assert layout.width <= body_width
    for column in layout.days:
        assert column.x + column.w <= body_width, column.title
    widest_closed = max((c.w for c in layout.days if c.is_closed), default=0)
    for column in open_days:
        assert column.w >= 150, column.title  # room for "07:30 Seacole M. SPR 2/6"
        assert column.w > widest_closed
    # The columns follow the window.
    window.resize(1600, 900)
    QTest.qWait(20)
    wider = _layout(view)
    assert wider.days[0].w > layout.days[0].w
    assert view.horizontalScrollBar().maximum() == 0


def test_every_block_says_time_name_and_type(window: MainWindow) -> None:
    view = _week(window)
    layout = _layout(view)
    blocks = [b for b in layout.blocks if b.appointment.is_active]
    assert len(blocks) > 20
    for block in layout.blocks:
        a = block.appointment
        first = view.block_text(a.id)[0]
        assert "…" not in first, first
        assert "..." not in first, first
        # The demo clinic reads 12-hour; the hour row beside the block says AM or PM.
        start = clock(a.start, "12h", compact=True)
        assert re.match(rf"{start} ", first), first
        surname = a.patient_name.partition(",")[0]
        assert f"{start} {surname} " in first or (patient_initials(a.patient_name) in first), first
        assert a.session_type_short in first, first


def test_every_block_of_a_series_says_its_place_as_the_day_view_does(window: MainWindow) -> None:
    """A user trial read "Hernandez M. SPR" beside "Moreno E. SPR 4/12": a long surname cost
    the place in the series, which the day view's block always shows."""
    view = _week(window)
    in_series = [b.appointment for b in _layout(view).blocks if b.appointment.series_label]
    assert len(in_series) > 20
    for a in in_series:
        first = view.block_text(a.id)[0]
        assert first.endswith(f"{a.session_type_short} {a.series_label}"), first


def test_blocks_of_one_hour_stack_without_overlapping(window: MainWindow) -> None:
    layout = _layout(_week(window))
    by_day: dict[int, list[WeekBlock]] = {}
    for block in layout.blocks:
        by_day.setdefault(block.day_index, []).append(block)
    for blocks in by_day.values():
        for a in blocks:
            assert not any(a.rect.intersects(b.rect) for b in blocks if b is not a)


def test_the_heading_shows_the_week_s_dates(window: MainWindow) -> None:
    view = _week(window)
    week = view.week()
    assert week is not None
    heading = window.findChild(QLabel, "day_heading")
    assert isinstance(heading, QLabel)
    assert heading.text() == us_date_range(week.first_day, week.last_day)
    assert re.fullmatch(r"[A-Z][a-z]{2} \d{1,2} – ([A-Z][a-z]{2} )?\d{1,2}, \d{4}", heading.text())
    window.actions_by_name["next_day"].trigger()  # a week on
    monday = week.first_day + dt.timedelta(days=7)
    assert heading.text() == us_date_range(monday, monday + dt.timedelta(days=6))
    window.set_view("rooms")
    assert (
        heading.text()
        == f"{window.day():%A}, {window.day():%B} {window.day().day}, {window.day().year}"
    )


def test_us_date_ranges() -> None:
    assert us_date_range(dt.date(2026, 11, 30), dt.date(2026, 12, 6)) == "Nov 30 – Dec 6, 2026"
    assert us_date_range(dt.date(2026, 12, 7), dt.date(2026, 12, 13)) == "Dec 7 – 13, 2026"
    assert us_date_range(dt.date(2026, 12, 28), dt.date(2027, 1, 3)) == "Dec 28, 2026 – Jan 3, 2027"


def test_each_day_s_load_bar_is_its_booked_chair_time(window: MainWindow) -> None:
    view = _week(window)
    layout, week = _layout(view), view.week()
    assert week is not None
    for column, day in zip(layout.days, week.days, strict=True):
        if day.is_closed:
            assert column.load is None
            continue
        chairs = [r for r in day.rooms if r.subkind == "treatment"]
        opens, closes = wall_minute(day.opens, day.day), wall_minute(day.closes, day.day)  # type: ignore[arg-type]
        booked = sum(
            min(closes, wall_minute(a.end, day.day)) - max(opens, wall_minute(a.start, day.day))
            for a in day.appointments
            if a.is_active and a.room_id in {c.id for c in chairs}
        )
        load = column.load
        assert load is not None
        assert load.chairs == len(chairs) == 6
        assert load.booked_minutes == booked
        if not any(c.room_id is not None for c in day.closures):
            assert load.capacity_minutes == len(chairs) * (closes - opens)
        assert f"{load.percent}%" in column.detail or not day.appointments
        assert 0 <= load.fraction <= 1
    assert any(c.load is not None and c.load.fraction > 0.1 for c in layout.days)


def test_highlighting_a_patient_marks_exactly_their_sessions(
    window: MainWindow, qtbot: QtBot
) -> None:
    view = _week(window)
    layout = _layout(view)
    charts = [b.appointment.chart_number for b in layout.blocks]
    chart = max(charts, key=charts.count)  # a patient in a series: more than one this week
    theirs = [b for b in layout.blocks if b.appointment.chart_number == chart]
    others = [b for b in layout.blocks if b.appointment.chart_number != chart]
    assert len(theirs) >= 2
    menu = view.context_menu(theirs[0].appointment)
    (mark,) = [a for a in menu.actions() if a.objectName() == "highlight_patient"]
    before = view.grab().toImage()
    with qtbot.waitSignal(view.highlight_changed) as changed:
        mark.trigger()
    assert changed.args == [chart]
    assert view.highlighted_patient() == chart
    assert sorted(view.highlighted_ids()) == sorted(b.appointment.id for b in theirs)
    assert theirs[0].appointment.patient_name in view.accessibleDescription()

    # Painted: theirs keep their colour, the others fade towards the background.
    after = view.grab().toImage()
    after.save(str(picture_folder("week15") / "highlight.png"))
    origin = view.body_origin()

    def lightness(image: object, block: WeekBlock) -> float:
        """Mean lightness inside the block's outline: a held (hatched) block has white between
        its stripes, so one pixel may be background in both pictures."""
        left, top = round(origin.x() + block.rect.x) + 3, round(origin.y() + block.rect.y) + 3
        right, bottom = left + round(block.rect.w) - 6, top + round(block.rect.h) - 6
        values = [
            QColor(image.pixel(x, y)).lightness()  # type: ignore[attr-defined]
            for x in range(left, right)
            for y in range(top, bottom)
        ]
        return sum(values) / len(values)

    visible = [b for b in others if 0 <= origin.y() + b.rect.y < view.viewport().height() - 20]
    assert visible
    for block in visible[:10]:
        assert lightness(after, block) > lightness(before, block)
    for block in theirs:
        if 0 <= origin.y() + block.rect.y < view.viewport().height() - 20:
            assert lightness(after, block) == lightness(before, block)

    # The menu now offers to clear it; Esc clears it too.
    menu = view.context_menu(others[0].appointment)
    (clear,) = [a for a in menu.actions() if a.objectName() == "clear_highlight"]
    assert clear.isVisible()
    clear.trigger()
    assert view.highlighted_patient() is None
    view.highlight_patient(chart)
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Escape)
    assert view.highlighted_patient() is None
    assert view.highlighted_ids() == []


def test_h_highlights_the_selected_patient(window: MainWindow) -> None:
    view = _week(window)
    block = _layout(view).blocks[0]
    view.setFocus()
    view.select_appointment(block.appointment.id)
    QTest.keyClick(view, Qt.Key.Key_H)
    assert view.highlighted_patient() == block.appointment.chart_number
    QTest.keyClick(view, Qt.Key.Key_H)
    assert view.highlighted_patient() is None


def test_a_narrower_window_names_patients_by_initials_rather_than_cut_them(
    window: MainWindow,
) -> None:
    window.resize(1000, 700)
    QTest.qWait(20)
    view = _week(window)
    layout = _layout(view)
    assert layout.days[0].w < 150
    shortened = 0
    for block in layout.blocks:
        a = block.appointment
        first = view.block_text(a.id)[0]
        assert "…" not in first, first
        assert a.session_type_short in first, first
        shortened += patient_initials(a.patient_name) in first
    assert shortened  # some of them had to


def test_the_highlight_follows_the_patient_to_the_next_week(
    window: MainWindow, qtbot: QtBot
) -> None:
    view = _week(window)
    layout = _layout(view)
    charts = [b.appointment.chart_number for b in layout.blocks]
    chart = max(charts, key=charts.count)
    view.highlight_patient(chart)
    first = view.week()
    assert first is not None
    with qtbot.waitSignal(view.feedback) as said:
        window.actions_by_name["next_day"].trigger()  # a week on
        qtbot.waitUntil(lambda: (w := view.week()) is not None and w.first_day != first.first_day)
    assert view.highlighted_patient() == chart
    assert "this week" in said.args[0]
    assert all(
        view.week_layout().block_of(i).appointment.chart_number == chart  # type: ignore[union-attr]
        for i in view.highlighted_ids()
    )
