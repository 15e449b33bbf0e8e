"""Whether a follow-up's assignee is off when it falls to be worked (pure)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ketadesk.scheduling.followup_rules import assignee_away

LA = ZoneInfo("America/Los_Angeles")


def _at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, tzinfo=LA)


def test_due_inside_whole_days_off_names_the_last_day_off() -> None:
    away = assignee_away("Nurse Kim", _at(8, 9), _at(7, 8), [(_at(8), _at(10))], "12h")
    assert away is not None
    assert away.back == _at(10)
    assert away.words == "Assigned to Nurse Kim, who is off through Wed Dec 9"


def test_overdue_while_she_is_off_now_counts_from_now() -> None:
    assert assignee_away("Kim", _at(4, 9), _at(8, 9), [(_at(8), _at(9))], "12h") is not None
    assert assignee_away("Kim", _at(4, 9), _at(7, 9), [(_at(8), _at(9))], "12h") is None


def test_back_at_noon_is_said_with_the_time_and_spans_that_meet_are_one() -> None:
    off = [(_at(9, 12), _at(10, 13)), (_at(8), _at(9, 12))]
    away = assignee_away("Kim", _at(8, 10), _at(8, 8), off, "12h")
    assert away is not None
    assert away.words == "Assigned to Kim, who is off until Thu Dec 10 1:00 PM"


def test_due_after_she_is_back_is_hers() -> None:
    assert assignee_away("Kim", _at(10, 9), _at(8, 8), [(_at(8), _at(10))], "12h") is None
