"""Switching days and weeks in the main window, signed in, on the five-year and the one-month
15-room demo clinics: from the key press (Right or Left arrow, the "next/previous day"
shortcuts) to the new day painted.  Not part of ``make test``; ``make bench`` runs it.

The window is the one ``ketadesk run`` shows once someone has signed in (``open_day_window``
with the front desk's account, its password checked), with its pages, its change watcher and its
background reads, offscreen at 1400x900.  Each sample is one ``QTest.keyClick`` and ends when
the day view's canvas has finished painting the new day (``timeline_bench.PaintWatch``): the
day read on the worker, its answer arrived, laid out and painted.  No collection is forced
between samples.

Both clinics walk the same calendar days (the one-month clinic's whole span, forward with the
Right arrow then back with the Left), alternating one key press on each, so a moment of someone
else's load touches both alike; the five-year / one-month ratio of the medians says whether the
cost follows the day or the history.  The week walks two years of the five-year clinic's
weeks.  Targets (issue 16, one 60 Hz frame): next/previous day median <= 16 ms and 95th
percentile <= 25 ms; next/previous week median <= 25 ms; the ratio <= 1.2.

The demo databases are built once and kept in ``.bench-cache/`` (shared with test_desk_bench).
"""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from ketadesk.ui.shell.main_window import MainWindow
from tests.benchmarks.test_desk_bench import TODAY, _demo
from tests.benchmarks.timeline_bench import Figures, PaintWatch, machine, signed_in_window, table

#: The one-month clinic's span of sessions: both clinics walk it forward, then back.
FIRST_DAY = TODAY - dt.timedelta(days=28)
LAST_DAY = TODAY + dt.timedelta(days=28)
WARM_UP = 4
DAY_MEDIAN_MS, DAY_P95_MS = 16.0, 25.0
WEEK_MEDIAN_MS = 25.0
WEEKS = 104
MAX_RATIO = 1.2


def _show(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)


def _focus(qtbot: QtBot, window: MainWindow) -> None:
    window.activateWindow()
    view = window.page(window.view())
    assert view is not None
    view.setFocus()
    qtbot.waitUntil(lambda: window.isActiveWindow() and view.hasFocus())


def _switch(qtbot: QtBot, window: MainWindow, watch: PaintWatch, key: Qt.Key) -> float:
    """One key press on the window's view, to its new day painted, in ms."""
    _focus(qtbot, window)
    step = 1 if key == Qt.Key.Key_Right else -1
    days = 7 if window.view() == "week" else 1
    target = window.day() + dt.timedelta(days=step * days)

    def painted() -> bool:
        if window.view() == "week":
            week = window.page("week").week()  # type: ignore[attr-defined]
            return week is not None and week.first_day <= target <= week.last_day
        schedule = window.day_view.schedule()
        return schedule is not None and schedule.day == target

    started = dt.datetime.now()
    t0 = _clock()
    QTest.keyClick(watch.view, key)
    ended = watch.wait_for(painted)
    assert window.day() == target, f"{started}: the key press went elsewhere"
    return (ended - t0) * 1000


def _clock() -> float:
    import time

    return time.perf_counter()


@pytest.mark.slow
def test_switching_days_paints_within_one_frame(qtbot: QtBot) -> None:
    windows, dbs = [], []
    try:
        for weeks in (260, 4):
            window, db = signed_in_window(_demo(weeks), FIRST_DAY)
            dbs.append(db)
            _show(qtbot, window)
            qtbot.waitUntil(lambda w=window: not w.is_reading())
            windows.append(window)
        watches = [PaintWatch(w.day_view, w.day_view.canvas()) for w in windows]
        samples: list[list[float]] = [[], []]
        blocks: list[int] = []
        keys = [Qt.Key.Key_Right] * (LAST_DAY - FIRST_DAY).days
        keys += [Qt.Key.Key_Left] * (LAST_DAY - FIRST_DAY).days
        for n, key in enumerate(keys):
            for i, (window, watch) in enumerate(zip(windows, watches, strict=True)):
                elapsed = _switch(qtbot, window, watch, key)
                if n >= WARM_UP:
                    samples[i].append(elapsed)
                    if i == 0:
                        layout = window.day_view.day_layout()
                        blocks.append(len(layout.blocks) if layout else 0)
        # The week: two years of the five-year clinic's weeks, a key press each.
        long = windows[0]
        long.set_view("week")
        long.set_day(TODAY - dt.timedelta(weeks=WEEKS + 2))
        week_view = long.page("week")
        qtbot.waitUntil(lambda: week_view.week() is not None)  # type: ignore[attr-defined]
        week_watch = PaintWatch(week_view, week_view.canvas())  # type: ignore[arg-type, attr-defined]
        weeks: list[float] = []
        for n in range(WEEKS + WARM_UP):
            elapsed = _switch(qtbot, long, week_watch, Qt.Key.Key_Right)
            if n >= WARM_UP:
                weeks.append(elapsed)
    finally:
        for db in dbs:
            db.dispose()

    five, one, week = Figures(tuple(samples[0])), Figures(tuple(samples[1])), Figures(tuple(weeks))
    ratio = five.median / one.median
    print()
    print(
        f"KetaDesk day and week switch, signed in, offscreen 1400x900: {machine()}; "
        f"days {FIRST_DAY:%-d %b} to {LAST_DAY:%-d %b %Y} and back; {WEEKS} weeks"
    )
    table(
        [
            (
                "next/previous day, 5-year clinic",
                five,
                f"median <= {DAY_MEDIAN_MS:.0f} ms, p95 <= {DAY_P95_MS:.0f} ms",
            ),
            ("next/previous day, 1-month clinic", one, ""),
            ("next week, 5-year clinic", week, f"median <= {WEEK_MEDIAN_MS:.0f} ms"),
        ]
    )
    busy = [s for s, b in zip(samples[0], blocks, strict=True) if b]
    print(
        f"open days: {len(busy)}, up to {max(blocks)} sessions; "
        f"5-year / 1-month median ratio {ratio:.2f} (target <= {MAX_RATIO})"
    )
    assert len(busy) >= len(blocks) // 2, "the days walked are mostly empty"
    assert five.median <= DAY_MEDIAN_MS, f"median day switch {five.median:.1f} ms"
    assert five.p95 <= DAY_P95_MS, f"95th percentile day switch {five.p95:.1f} ms"
    assert one.median <= DAY_MEDIAN_MS, f"median day switch (1 month) {one.median:.1f} ms"
    assert week.median <= WEEK_MEDIAN_MS, f"median week switch {week.median:.1f} ms"
    assert ratio <= MAX_RATIO, f"5-year / 1-month ratio {ratio:.2f}"
