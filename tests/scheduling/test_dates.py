"""Dates in words read month before day, the way a US clinic writes them, whatever the locale."""

from __future__ import annotations

import datetime as dt

from ketadesk.scheduling.dates import date_range, long_date, short_date, short_date_time

DAY = dt.date(2026, 11, 24)  # a Tuesday


def test_short_date_forms() -> None:
    assert short_date(DAY) == "Tue Nov 24"
    assert short_date(DAY, year=True) == "Tue Nov 24, 2026"
    assert short_date(DAY, weekday=False) == "Nov 24"
    assert short_date(DAY, year=True, weekday=False) == "Nov 24, 2026"
    assert short_date(dt.date(2026, 1, 5), year=True, weekday=False) == "Jan 5, 2026"


def test_short_date_time_keeps_the_24_hour_clock() -> None:
    moment = dt.datetime(2026, 12, 1, 9, 5, 7)
    assert short_date_time(moment) == "Tue Dec 1 09:05"
    assert short_date_time(moment, year=True, seconds=True) == "Tue Dec 1, 2026 09:05:07"
    assert short_date_time(moment, weekday=False) == "Dec 1 09:05"


def test_long_date_and_ranges() -> None:
    assert long_date(DAY) == "Tuesday, November 24, 2026"
    assert date_range(dt.date(2026, 11, 30), dt.date(2026, 12, 6)) == "Nov 30 – Dec 6, 2026"
    assert date_range(dt.date(2026, 12, 7), dt.date(2026, 12, 13)) == "Dec 7 – 13, 2026"
    assert date_range(dt.date(2026, 12, 28), dt.date(2027, 1, 3)) == "Dec 28, 2026 – Jan 3, 2027"
