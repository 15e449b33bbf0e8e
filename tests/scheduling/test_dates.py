"""Dates in words read month before day, the way a US clinic writes them, whatever the locale."""

from __future__ import annotations

import datetime as dt

import pytest

from ketadesk.scheduling.dates import (
    date_range,
    long_date,
    parse_clock_time,
    parse_date_time,
    parse_us_date,
    short_date,
    short_date_time,
)

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


# -- reading what was typed ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("12/12/2026", dt.date(2026, 12, 12)),
        ("12/2/2026", dt.date(2026, 12, 2)),
        ("01/05/2027", dt.date(2027, 1, 5)),
        ("1-5-27", dt.date(2027, 1, 5)),
        ("2026-12-12", dt.date(2026, 12, 12)),
        ("Sat 12/12/2026", dt.date(2026, 12, 12)),
        ("Mon Dec 7, 2026", dt.date(2026, 12, 7)),
        ("December 7 2026", dt.date(2026, 12, 7)),
        ("12/24", dt.date(2026, 12, 24)),  # the year the field shows
        ("2/30/2026", None),
        ("13/1/2026", None),
        ("soon", None),
    ],
)
def test_a_typed_date_is_read_month_first(typed: str, read: dt.date | None) -> None:
    assert parse_us_date(typed, default_year=2026) == read


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("10:30", dt.time(10, 30)),
        ("9:15", dt.time(9, 15)),
        ("0915", dt.time(9, 15)),
        ("915", dt.time(9, 15)),
        ("9", dt.time(9, 0)),
        ("2:30 pm", dt.time(14, 30)),
        ("12 am", dt.time(0, 0)),
        ("12:15 PM", dt.time(12, 15)),
        ("24:00", None),
        ("13 pm", None),
        ("noon", None),
    ],
)
def test_a_typed_time_is_read(typed: str, read: dt.time | None) -> None:
    assert parse_clock_time(typed) == read


def test_a_typed_date_and_time() -> None:
    assert parse_date_time("12/12/2026 10:30") == dt.datetime(2026, 12, 12, 10, 30)
    assert parse_date_time("Sat Dec 12, 2026 2:30 pm") == dt.datetime(2026, 12, 12, 14, 30)
    assert parse_date_time("12/12/2026") is None
