"""A closure that repeats: one closure for every afternoon of Christmas week, or every Friday
morning for a month, made into the stretches it closes (the days by dateutil's rrule, the hours
on the clinic's wall clock), named in one line, and refused in words when it closes no day."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ketadesk.scheduling.availability import RefusalKind
from ketadesk.scheduling.calendar import ClinicCalendar, ClosureSpan, Interval, local_instant
from ketadesk.scheduling.catalog import HoldMode
from ketadesk.scheduling.closure_repeats import (
    NO_REPEAT,
    Repeat,
    daily_hours,
    expand,
    occurrences,
    parse_rule,
    repeat_days,
    repeat_problems,
    repeat_words,
)
from ketadesk.scheduling.model import PlannedHold
from tests.scheduling.conftest import DemoClinic

LA = ZoneInfo("America/Los_Angeles")


def _at(day: dt.date, hhmm: str) -> dt.datetime:
    hours, minutes = hhmm.split(":")
    return local_instant(LA, day, int(hours) * 60 + int(minutes))


def _local(span: Interval) -> tuple[str, str]:
    start, end = span.start.astimezone(LA), span.end.astimezone(LA)
    return f"{start:%a %m-%d %H:%M}", f"{end:%a %m-%d %H:%M}"


def test_the_rule_is_stored_in_rfc_5545_words_and_read_back() -> None:
    assert NO_REPEAT.rule == ""
    assert Repeat("daily").rule == "FREQ=DAILY"
    assert Repeat("weekly", (4, 0, 4)).rule == "FREQ=WEEKLY;BYDAY=MO,FR"
    for repeat in (NO_REPEAT, Repeat("daily"), Repeat("weekly", (0, 4))):
        assert parse_rule(repeat.rule) == repeat
    assert parse_rule(None) == NO_REPEAT
    for bad in ("FREQ=HOURLY", "FREQ=WEEKLY", "FREQ=WEEKLY;BYDAY=XX", "FREQ=DAILY;COUNT=3"):
        with pytest.raises(ValueError, match="not a closure's repeat"):
            parse_rule(bad)


def test_christmas_week_afternoons_close_each_afternoon_and_only_then(clinic: DemoClinic) -> None:
    span = Interval(_at(dt.date(2026, 12, 21), "13:00"), _at(dt.date(2026, 12, 31), "17:00"))
    found = occurrences(span, Repeat("daily"), LA)
    assert len(found) == 11
    assert _local(found[0]) == ("Mon 12-21 13:00", "Mon 12-21 17:00")
    assert _local(found[-1]) == ("Thu 12-31 13:00", "Thu 12-31 17:00")
    calendar: ClinicCalendar = clinic.calendar(
        [ClosureSpan(s, "Christmas week afternoons") for s in found]
    )
    wednesday = dt.date(2026, 12, 23)
    open_then = [_local(iv) for iv in calendar.open_intervals(wednesday)]
    assert open_then[0][1] == "Wed 12-23 13:00"  # open in the morning, closed from 1:00 PM
    assert all(end <= "Wed 12-23 13:00" or start >= "Wed 12-23 17:00" for start, end in open_then)
    morning = Interval(_at(wednesday, "09:00"), _at(wednesday, "11:00"))
    afternoon = Interval(_at(wednesday, "14:00"), _at(wednesday, "15:00"))
    assert calendar.unavailable_reason(None, morning) is None
    assert calendar.unavailable_reason(None, afternoon) == "outside opening hours"
    closed = calendar.session_closed(afternoon)
    assert closed is not None
    assert closed.reason == "Christmas week afternoons"


def test_friday_mornings_for_a_month_are_the_fridays_by_rrule() -> None:
    assert repeat_days(dt.date(2027, 1, 4), dt.date(2027, 1, 31), Repeat("weekly", (4,))) == [
        dt.date(2027, 1, 8),
        dt.date(2027, 1, 15),
        dt.date(2027, 1, 22),
        dt.date(2027, 1, 29),
    ]
    span = Interval(_at(dt.date(2027, 1, 4), "08:00"), _at(dt.date(2027, 1, 31), "12:00"))
    found = occurrences(span, Repeat("weekly", (4,)), LA)
    assert _local(found[0]) == ("Fri 01-08 08:00", "Fri 01-08 12:00")
    assert len(found) == 4
    words = repeat_words(
        span.start.astimezone(LA), span.end.astimezone(LA), Repeat("weekly", (4,)), "12h"
    )
    assert words == "Every Fri Jan 8 – Jan 29, 8:00 AM – 12:00 PM"


def test_the_hours_stay_on_the_wall_clock_across_daylight_saving() -> None:
    span = Interval(_at(dt.date(2027, 3, 12), "13:00"), _at(dt.date(2027, 3, 16), "17:00"))
    found = occurrences(span, Repeat("daily"), LA)
    assert [_local(s) for s in found] == [
        (f"{day} 03-{n} 13:00", f"{day} 03-{n} 17:00")
        for day, n in (("Fri", 12), ("Sat", 13), ("Sun", 14), ("Mon", 15), ("Tue", 16))
    ]
    assert found[0].start.hour != found[-1].start.hour  # 21:00 UTC in PST, 20:00 in PDT


def test_whole_days_repeat_from_midnight_to_midnight() -> None:
    span = Interval(_at(dt.date(2027, 2, 1), "00:00"), _at(dt.date(2027, 3, 1), "00:00"))
    hours = daily_hours(span.start.astimezone(LA), span.end.astimezone(LA))
    assert hours.all_day
    assert hours.last_day == dt.date(2027, 2, 28)
    found = occurrences(span, Repeat("weekly", (0, 2)), LA)
    assert len(found) == 8
    assert all(s.minutes == 24 * 60 for s in found)
    words = repeat_words(
        span.start.astimezone(LA), span.end.astimezone(LA), Repeat("weekly", (0, 2)), "24h"
    )
    assert words == "Every Mon, Wed Feb 1 – Feb 24, all day"


def test_the_settings_line_of_christmas_week() -> None:
    start = _at(dt.date(2026, 12, 21), "13:00").astimezone(LA)
    end = _at(dt.date(2026, 12, 31), "17:00").astimezone(LA)
    assert repeat_words(start, end, Repeat("daily"), "12h") == (
        "Every day Dec 21 – Dec 31, 1:00 PM – 5:00 PM"
    )
    assert repeat_words(start, end, Repeat("daily"), "24h") == (
        "Every day Dec 21 – Dec 31, 13:00 – 17:00"
    )
    later = _at(dt.date(2027, 1, 2), "17:00").astimezone(LA)
    assert repeat_words(start, later, Repeat("daily"), "12h").startswith(
        "Every day Dec 21, 2026 – Jan 2, 2027,"
    )


def test_expand_gives_the_stretches_meeting_a_window_and_leaves_a_plain_closure_alone() -> None:
    span = Interval(_at(dt.date(2026, 12, 21), "13:00"), _at(dt.date(2026, 12, 31), "17:00"))
    stored = ClosureSpan(span, "Christmas week afternoons", "closure", None)
    day = dt.date(2026, 12, 24)
    window = Interval(_at(day, "00:00"), _at(day + dt.timedelta(days=1), "00:00"))
    found = expand(stored, "FREQ=DAILY", LA, window)
    assert [(_local(c.span), c.reason) for c in found] == [
        (("Thu 12-24 13:00", "Thu 12-24 17:00"), "Christmas week afternoons")
    ]
    assert expand(stored, "", LA, window) == [stored]
    assert len(expand(stored, "FREQ=DAILY", LA)) == 11


def test_a_repeat_that_closes_no_day_is_refused_in_words() -> None:
    monday, tuesday = dt.date(2027, 3, 1), dt.date(2027, 3, 2)
    span = Interval(_at(monday, "08:00"), _at(tuesday, "12:00"))
    assert repeat_problems(span, Repeat("weekly", (4,)), LA) == {
        "weekdays": "none of the chosen weekdays falls between Mon Mar 1 and Tue Mar 2"
    }
    assert repeat_problems(span, Repeat("weekly", ()), LA) == {
        "weekdays": "choose at least one weekday for a weekly closure"
    }
    assert repeat_problems(span, Repeat("hourly"), LA) == {
        "repeat": "must be one of none, daily, weekly"
    }
    assert repeat_problems(span, Repeat("daily"), LA) == {}
    assert repeat_problems(span, NO_REPEAT, LA) == {}


def test_availability_refuses_a_room_on_each_friday_morning_and_takes_it_between(
    clinic: DemoClinic,
) -> None:
    """Room 2 out of service every Friday morning for a month: refused on the Fridays'
    mornings, named; free on those afternoons and on the Thursdays."""
    span = Interval(_at(dt.date(2027, 1, 4), "08:00"), _at(dt.date(2027, 1, 31), "12:00"))
    stored = ClosureSpan(span, "deep clean", "maintenance", clinic.id("Room 2"))
    avail = clinic.availability(closures=expand(stored, "FREQ=WEEKLY;BYDAY=FR", LA))

    def room(day: dt.date, start: str, end: str) -> PlannedHold:
        return PlannedHold(
            need="any",
            resource_id=clinic.id("Room 2"),
            mode=HoldMode.EXCLUSIVE,
            span=Interval(_at(day, start), _at(day, end)),
            units=1,
        )

    for friday in (dt.date(2027, 1, 8), dt.date(2027, 1, 22)):
        refusal = avail.refusal(room(friday, "09:00", "10:40"))
        assert refusal is not None
        assert refusal.kind is RefusalKind.RESOURCE_CLOSED
        assert refusal.message == "Room 2 closed: deep clean"
        assert avail.can_take(room(friday, "13:00", "14:40"))
    assert avail.can_take(room(dt.date(2027, 1, 14), "09:00", "10:40"))
