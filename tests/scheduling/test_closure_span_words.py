"""A closure's span as a person reads it: whole days by the last day closed, never by the
midnight after it (a user trial read "12/10 12:00 AM" as a three-day closure's last day)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ketadesk.scheduling.dates import span_ends, span_words, whole_days

ZONE = ZoneInfo("America/Los_Angeles")


def _at(day: int, hour: int = 0, month: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=ZONE)


def test_three_whole_days_say_their_last_day() -> None:
    start, end = _at(7), _at(10)  # stored: to the midnight after Wed Dec 9
    assert whole_days(start, end) == (dt.date(2026, 12, 7), dt.date(2026, 12, 9))
    assert span_words(start, end, "12h") == "Mon Dec 7 – Wed Dec 9, all day"
    assert span_ends(start, end, "12h", year=True) == (
        "Mon Dec 7, 2026",
        "Wed Dec 9, 2026 (all day)",
    )
    assert "Dec 10" not in span_words(start, end, "12h")


def test_one_whole_day_and_a_day_across_the_clock_change() -> None:
    assert span_words(_at(7), _at(8), "12h") == "Mon Dec 7, all day"
    # Sun Nov 1 2026 is 25 hours long in California: still one whole day.
    assert span_words(_at(1, month=11), _at(2, month=11), "24h") == "Sun Nov 1, all day"


def test_part_day_spans_keep_their_times() -> None:
    assert whole_days(_at(24, 8), _at(24, 12)) is None
    assert span_ends(_at(24, 8), _at(24, 12), "12h") == (
        "Thu Dec 24 8:00 AM",
        "Thu Dec 24 12:00 PM",
    )
    assert span_words(_at(24, 8), _at(25, 0), "24h") == "Thu Dec 24 08:00 to Fri Dec 25 00:00"
    assert whole_days(_at(7), _at(7)) is None  # empty, not a day
