"""Dates in words read month before day, the way a US clinic writes them, whatever the locale."""

from __future__ import annotations

import datetime as dt

import pytest

from ketadesk.scheduling.dates import (
    TIME_FORMATS,
    clock,
    clock_span,
    date_range,
    hour_label,
    long_date,
    moved_words,
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


def test_short_date_time_says_the_time_in_the_clinics_format() -> None:
    moment = dt.datetime(2026, 12, 1, 9, 5, 7)
    assert short_date_time(moment, "24h") == "Tue Dec 1 09:05"
    assert short_date_time(moment, "24h", year=True, seconds=True) == "Tue Dec 1, 2026 09:05:07"
    assert short_date_time(moment, "24h", weekday=False) == "Dec 1 09:05"
    assert short_date_time(moment, "12h") == "Tue Dec 1 9:05 AM"
    assert short_date_time(moment, "12h", year=True, seconds=True) == "Tue Dec 1, 2026 9:05:07 AM"


def test_a_move_is_said_one_way_wherever_it_is_told() -> None:
    """The session's history, the desk's "moved at another workstation", a closure's call and
    its status line: one sentence, with the places where they are named."""
    old, new = dt.datetime(2026, 12, 7, 12, 25), dt.datetime(2026, 12, 8, 9, 0)
    assert moved_words(old, new, "12h", old_place="Room 2", new_place="Room 3") == (
        "from Mon Dec 7 12:25 PM, Room 2 to Tue Dec 8 9:00 AM, Room 3"
    )
    assert moved_words(old, new, "24h") == "from Mon Dec 7 12:25 to Tue Dec 8 09:00"


def test_a_us_clinic_reads_twelve_hour_times_first() -> None:
    assert TIME_FORMATS[0] == "12h"  # the default, [clinic] time_format


@pytest.mark.parametrize(
    ("time", "twelve", "twenty_four"),
    [
        (dt.time(0, 0), "12:00 AM", "00:00"),  # midnight
        (dt.time(0, 5), "12:05 AM", "00:05"),  # just after midnight: 12:xx AM, never 0:05
        (dt.time(9, 30), "9:30 AM", "09:30"),
        (dt.time(11, 59), "11:59 AM", "11:59"),
        (dt.time(12, 0), "12:00 PM", "12:00"),  # noon
        (dt.time(12, 45), "12:45 PM", "12:45"),  # just after noon: 12:xx PM
        (dt.time(13, 0), "1:00 PM", "13:00"),
        (dt.time(23, 59), "11:59 PM", "23:59"),
    ],
)
def test_clock_in_both_formats(time: dt.time, twelve: str, twenty_four: str) -> None:
    assert clock(time, "12h") == twelve
    assert clock(time, "24h") == twenty_four
    moment = dt.datetime.combine(DAY, time)
    assert clock(moment, "12h") == twelve  # a datetime reads its own wall clock


def test_clock_with_seconds() -> None:
    assert clock(dt.time(14, 3, 9), "12h", seconds=True) == "2:03:09 PM"
    assert clock(dt.time(14, 3, 9), "24h", seconds=True) == "14:03:09"


def test_clock_refuses_a_format_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="12h, 24h"):
        clock(dt.time(9, 0), "12-hour")


@pytest.mark.parametrize(
    ("start", "end", "twelve", "twenty_four"),
    [
        ((9, 30), (11, 10), "9:30–11:10 AM", "09:30–11:10"),  # one half of the day: AM once
        ((13, 0), (14, 40), "1:00–2:40 PM", "13:00–14:40"),
        ((11, 30), (12, 10), "11:30 AM–12:10 PM", "11:30–12:10"),  # across noon: both said
        ((12, 0), (12, 30), "12:00–12:30 PM", "12:00–12:30"),
        ((0, 0), (0, 45), "12:00–12:45 AM", "00:00–00:45"),
        ((22, 0), (0, 0), "10:00 PM–12:00 AM", "22:00–00:00"),  # to midnight
    ],
)
def test_clock_span_says_am_or_pm_once_when_it_can(
    start: tuple[int, int], end: tuple[int, int], twelve: str, twenty_four: str
) -> None:
    a, b = dt.time(*start), dt.time(*end)
    assert clock_span(a, b, "12h") == twelve
    assert clock_span(a, b, "24h") == twenty_four


@pytest.mark.parametrize(
    ("hour", "twelve", "twenty_four"),
    [(0, "12 AM", "00:00"), (9, "9 AM", "09:00"), (12, "12 PM", "12:00"), (17, "5 PM", "17:00"),
     (24, "12 AM", "00:00"), (25, "1 AM", "01:00")],
)  # fmt: skip
def test_hour_label_is_the_rulers_narrow_form(hour: int, twelve: str, twenty_four: str) -> None:
    assert hour_label(hour, "12h") == twelve
    assert hour_label(hour, "24h") == twenty_four


@pytest.mark.parametrize("fmt", TIME_FORMATS)
def test_what_clock_says_reads_back_as_the_same_time(fmt: str) -> None:
    for minute in range(0, 24 * 60, 7):
        time = dt.time(minute // 60, minute % 60)
        assert parse_clock_time(clock(time, fmt)) == time


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
        ("14:30", dt.time(14, 30)),
        ("1430", dt.time(14, 30)),
        ("230p", dt.time(14, 30)),
        ("2:30pm", dt.time(14, 30)),
        ("12:05 AM", dt.time(0, 5)),
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
