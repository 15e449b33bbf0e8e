"""A reading entered well after it was taken is a late entry, said with when and by whom (a user
trial: a blood pressure taken at 10:00 and entered at 11:02 read like one entered on time)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ketadesk.scheduling.catalog import ConfigError
from ketadesk.scheduling.chair_rules import parse_chair_settings
from ketadesk.scheduling.late_entries import late_entry, later_words

LA = ZoneInfo("America/Los_Angeles")
TAKEN = dt.datetime(2026, 12, 8, 10, 0, tzinfo=LA)


def _after(minutes: float) -> dt.datetime:
    return TAKEN + dt.timedelta(minutes=minutes)


def test_an_entry_past_the_clinics_minutes_is_late_and_says_when_and_by_whom() -> None:
    entry = late_entry(TAKEN, _after(62), "RN Kim", late_after_minutes=15)
    assert entry is not None
    assert entry.minutes == 62
    assert entry.words(LA, "12h") == "entered 11:02 AM, 62 min later, by RN Kim"
    assert entry.words(LA, "24h") == "entered 11:02, 62 min later, by RN Kim"


def test_an_entry_within_the_minutes_is_on_time() -> None:
    assert late_entry(TAKEN, _after(15), "RN Kim", late_after_minutes=15) is None
    assert late_entry(TAKEN, _after(15.9), "RN Kim", late_after_minutes=15) is None
    assert late_entry(TAKEN, _after(16), "RN Kim", late_after_minutes=15) is not None
    # A reading typed ahead of the minute it names is not late either.
    assert late_entry(TAKEN, _after(-1), "RN Kim", late_after_minutes=15) is None


def test_an_entry_of_unknown_time_carries_no_mark() -> None:
    """A reading saved before entry times were kept (migration 0025) is not judged."""
    assert late_entry(TAKEN, None, "", late_after_minutes=15) is None


def test_an_entry_on_another_day_names_the_day_and_counts_hours() -> None:
    entry = late_entry(TAKEN, _after(23 * 60 + 10), "", late_after_minutes=15)
    assert entry is not None
    assert entry.words(LA, "12h") == "entered Wed Dec 9 9:10 AM, 23 h 10 min later"
    assert later_words(119) == "119 min"
    assert later_words(120) == "2 h"


def test_minutes_are_counted_across_a_clock_change() -> None:
    """01:50 PDT to 01:10 PST on the night the clocks go back is 20 minutes, not -40."""
    before = dt.datetime(2026, 11, 1, 1, 50, tzinfo=LA, fold=0)
    after = dt.datetime(2026, 11, 1, 1, 10, tzinfo=LA, fold=1)
    entry = late_entry(before, after, "", late_after_minutes=15)
    assert entry is not None
    assert entry.minutes == 20


def test_the_minutes_are_the_clinics_own() -> None:
    assert parse_chair_settings({}).late_entry_minutes == 15
    assert parse_chair_settings({"late_entry_minutes": 30}).late_entry_minutes == 30
    with pytest.raises(ConfigError, match=r"chair\.late_entry_minutes"):
        parse_chair_settings({"late_entry_minutes": 0})
