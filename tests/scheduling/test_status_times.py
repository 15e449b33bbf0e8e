"""When a check-in, a start and a no-show open (``scheduling/status_times``): the rule the
services refuse by and the views grey their actions by."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ketadesk.scheduling.status_times import too_early

ZONE = "America/Los_Angeles"
LA = ZoneInfo(ZONE)


def _at(day: dt.date, hhmm: str) -> dt.datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(hours, minutes), LA)


def _early(action: str, start: dt.datetime, now: dt.datetime, ahead: int = 0) -> str | None:
    found = too_early(
        action, start, now, timezone=ZONE, check_in_days_ahead=ahead, time_format="12h"
    )
    return found.hint if found is not None else None


# A Sunday when the clocks go back (US, first Sunday of November), and the day before.
DST_ENDS = dt.date(2026, 11, 1)


def test_a_check_in_opens_at_the_clinics_midnight_even_when_the_clocks_change() -> None:
    start = _at(DST_ENDS, "09:00")
    assert _early("check_in", start, _at(DST_ENDS - dt.timedelta(days=1), "23:59")) == (
        "Check-in opens on the day of the session (Sun 11/1)"
    )
    assert _early("check_in", start, _at(DST_ENDS, "00:00")) is None
    assert _early("start", start, _at(DST_ENDS, "00:00")) is None
    found = too_early(
        "check_in", start, _at(DST_ENDS, "00:00") - dt.timedelta(minutes=1),
        timezone=ZONE, check_in_days_ahead=0, time_format="12h",
    )  # fmt: skip
    assert found is not None
    assert found.opens == _at(DST_ENDS, "00:00")
    assert "cannot be checked in before its own day (today is Sat 10/31)" in found.refusal


def test_days_ahead_move_the_opening_earlier() -> None:
    start = _at(DST_ENDS, "09:00")
    friday = _at(DST_ENDS - dt.timedelta(days=2), "09:00")
    assert _early("start", start, friday, ahead=1) == (
        "Starting opens 1 day before the session (Sat 10/31)"
    )
    assert _early("start", start, friday, ahead=2) is None


def test_a_no_show_opens_at_the_start_and_other_actions_are_not_timed() -> None:
    start = _at(DST_ENDS, "09:00")
    hint = _early("no_show", start, start - dt.timedelta(seconds=1))
    assert hint is not None
    assert hint.startswith("A no-show is marked once the session has started (Sun 11/1 at 9:00 AM)")
    assert _early("no_show", start, start) is None
    for action in ("complete", "cancel"):
        assert _early(action, start, start - dt.timedelta(days=30)) is None


# -- how late, in words (the day view's overrun and "Not started" badges) ------------------------


def test_not_started_counts_from_the_planned_start_not_the_planned_end() -> None:
    from ketadesk.scheduling.status_times import (
        minutes_not_started,
        not_started_forms,
        not_started_words,
    )

    start = _at(DST_ENDS - dt.timedelta(days=1), "11:00")
    end = start + dt.timedelta(minutes=150)
    assert not_started_words(minutes_not_started(start, start + dt.timedelta(minutes=10))) == (
        "Not started +10 min"
    )
    # Past the planned end it still counts from the start (a trial's +142 counted from the end).
    past_end = end + dt.timedelta(minutes=142)
    assert minutes_not_started(start, past_end) == 292
    assert minutes_not_started(start, start - dt.timedelta(minutes=5)) == 0
    assert not_started_forms(292) == ("Not started +292 min", "Not started +292", "Waiting +292")
    # Whole minutes: 9 min 59 s is 9.
    assert minutes_not_started(start, start + dt.timedelta(minutes=9, seconds=59)) == 9


def test_a_session_over_counts_from_its_planned_end_across_the_clock_change() -> None:
    from ketadesk.scheduling.status_times import minutes_over, over_forms, over_words

    end = _at(DST_ENDS, "01:30").replace(fold=0)  # the first 01:30, before the clocks go back
    assert minutes_over(end, end + dt.timedelta(minutes=25)) == 25
    # 01:10 after the clocks went back is 40 real minutes after the first 01:30.
    assert minutes_over(end, _at(DST_ENDS, "01:10").replace(fold=1)) == 40
    assert over_words(25) == "+25 min over"
    assert over_forms(195) == ("+195 min over", "+195 over", "+195")
    assert minutes_over(end, end - dt.timedelta(minutes=1)) == 0


def test_the_next_session_names_who_still_holds_the_room() -> None:
    from ketadesk.scheduling.status_times import room_busy_forms, room_busy_words

    assert room_busy_words("Hopper, Grace", 25) == "⚠ Room busy: Hopper +25 min"
    assert room_busy_words("Cher", 5) == "⚠ Room busy: Cher +5 min"
    assert room_busy_forms("Hopper, Grace", 25) == (
        "⚠ Room busy: Hopper +25 min",
        "⚠ Room busy: Hopper",
        "⚠ Room busy",
        "⚠ Busy",
    )
