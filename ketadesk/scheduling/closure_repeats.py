"""Closures that repeat: one closure closing the same hours every day, or on chosen weekdays,
from its first day to its last (Christmas week's afternoons, Friday mornings for a month).

A repeating closure is kept as one row, stored as any closure is: from the start of its first
day's hours to the end of its last day's, so every query for the closures meeting a window still
finds it, with its rule in RFC 5545 words (``FREQ=DAILY``, ``FREQ=WEEKLY;BYDAY=MO,FR``; "" for a
closure that does not repeat).  ``occurrences`` makes it the stretches it really closes, the days
by dateutil's ``rrule`` and each day's hours from the clinic's wall-clock times, so 1:00 PM stays
1:00 PM across a daylight-saving change.  Whatever reads closure rows reads them through
``expand`` (the store's loaders, the day's rows, the check, the follow-up queue), so the
calendar, availability and the views only ever see the stretches themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from functools import lru_cache
from zoneinfo import ZoneInfo

from ketadesk.scheduling.calendar import ClosureSpan, Interval, local_instant
from ketadesk.scheduling.dates import WEEKDAY_ABBR, clock, short_date

#: How a closure may repeat: not at all, every day, or every week on chosen weekdays.
REPEATS = ("none", "daily", "weekly")
#: The weekdays as RFC 5545 writes them (0 = Monday, as ``date.weekday``).
DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MINUTES_A_DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class Repeat:
    """How a closure repeats: ``every`` one of ``REPEATS``; ``weekdays`` (0 = Monday) for a
    weekly one."""

    every: str = "none"
    weekdays: tuple[int, ...] = ()

    @property
    def repeats(self) -> bool:
        return self.every != "none"

    @property
    def rule(self) -> str:
        """The rule as stored: "" (no repeat), "FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,FR"."""
        if self.every == "daily":
            return "FREQ=DAILY"
        if self.every == "weekly":
            return "FREQ=WEEKLY;BYDAY=" + ",".join(DAY_CODES[d] for d in sorted(set(self.weekdays)))
        return ""

    def words(self) -> str:
        """ "Every day", "Every Fri", "Every Mon, Wed"; "" when it does not repeat."""
        if self.every == "daily":
            return "Every day"
        if self.every == "weekly":
            return "Every " + ", ".join(WEEKDAY_ABBR[d] for d in sorted(set(self.weekdays)))
        return ""


NO_REPEAT = Repeat()


@lru_cache(maxsize=64)
def parse_rule(rule: str | None) -> Repeat:
    """The repeat a stored rule says; ValueError naming it when it is none of ours."""
    text = (rule or "").strip().upper()
    if not text:
        return NO_REPEAT
    parts: dict[str, str] = {}
    for part in text.split(";"):
        key, _, value = part.partition("=")
        parts[key] = value
    if parts == {"FREQ": "DAILY"}:
        return Repeat("daily")
    codes = [c for c in parts.get("BYDAY", "").split(",") if c]
    weekly = set(parts) == {"FREQ", "BYDAY"} and parts["FREQ"] == "WEEKLY"
    if weekly and codes and all(c in DAY_CODES for c in codes):
        return Repeat("weekly", tuple(sorted({DAY_CODES.index(c) for c in codes})))
    raise ValueError(f"not a closure's repeat: {rule!r} (FREQ=DAILY or FREQ=WEEKLY;BYDAY=...)")


@dataclass(frozen=True, slots=True)
class DailyHours:
    """A repeating closure in the clinic's wall-clock time: its first and last day, and the
    hours it closes on each (``end_minute`` past 1440 when they run past midnight: a whole
    day closes from 0 to 1440)."""

    first_day: dt.date
    last_day: dt.date
    start_minute: int
    end_minute: int

    @property
    def all_day(self) -> bool:
        return self.start_minute == 0 and self.end_minute == MINUTES_A_DAY


def daily_hours(start: dt.datetime, end: dt.datetime) -> DailyHours:
    """The days and hours of a closure stored from ``start`` to ``end`` (local times): each day
    from ``start``'s time to ``end``'s, on the next day when that is not later (a whole day
    from midnight to midnight, the last day closed the one before ``end``'s midnight)."""
    start_minute = start.hour * 60 + start.minute
    end_minute = end.hour * 60 + end.minute
    last_day = end.date()
    if end_minute <= start_minute:
        end_minute += MINUTES_A_DAY
        last_day -= dt.timedelta(days=1)
    return DailyHours(start.date(), last_day, start_minute, end_minute)


def repeat_days(first: dt.date, last: dt.date, repeat: Repeat) -> list[dt.date]:
    """The days from ``first`` to ``last`` a closure repeating by ``repeat`` closes."""
    if not repeat.repeats:
        return [first] if first <= last else []
    from dateutil.rrule import DAILY, WEEKLY, rrule

    start = dt.datetime.combine(first, dt.time())
    until = dt.datetime.combine(last, dt.time())
    if repeat.every == "daily":
        rule = rrule(DAILY, dtstart=start, until=until)
    else:
        rule = rrule(WEEKLY, dtstart=start, until=until, byweekday=sorted(set(repeat.weekdays)))
    return [moment.date() for moment in rule]


def occurrences(span: Interval, repeat: Repeat, tz: ZoneInfo) -> list[Interval]:
    """The stretches a closure stored over ``span`` closes: ``span`` itself when it does not
    repeat, else the hours of each day ``repeat`` gives, in the clinic's zone ``tz``."""
    if not repeat.repeats:
        return [span]
    hours = daily_hours(span.start.astimezone(tz), span.end.astimezone(tz))
    return [
        Interval(
            local_instant(tz, day, hours.start_minute), local_instant(tz, day, hours.end_minute)
        )
        for day in repeat_days(hours.first_day, hours.last_day, repeat)
    ]


def expand(
    closure: ClosureSpan, rule: str | None, tz: ZoneInfo, window: Interval | None = None
) -> list[ClosureSpan]:
    """A stored closure (``rule`` its repeat as stored) as the stretches it closes that meet
    ``window`` (all of them when None)."""
    repeat = parse_rule(rule)
    if not repeat.repeats:
        if window is None or closure.span.overlaps(window):
            return [closure]
        return []
    return [
        replace(closure, span=span)
        for span in occurrences(closure.span, repeat, tz)
        if window is None or span.overlaps(window)
    ]


def repeat_problems(span: Interval, repeat: Repeat, tz: ZoneInfo) -> dict[str, str]:
    """What is wrong with a repeating closure (field -> message; empty when nothing): an
    unknown repeat, a weekly one without a weekday, or none of its days between its first and
    last day.  A closure that does not repeat has nothing to say here."""
    if repeat.every not in REPEATS:
        return {"repeat": f"must be one of {', '.join(REPEATS)}"}
    if not repeat.repeats:
        return {}
    if repeat.every == "weekly":
        if not repeat.weekdays:
            return {"weekdays": "choose at least one weekday for a weekly closure"}
        if any(not 0 <= d < 7 for d in repeat.weekdays):
            return {"weekdays": "a weekday is 0 (Monday) to 6 (Sunday)"}
    hours = daily_hours(span.start.astimezone(tz), span.end.astimezone(tz))
    if hours.last_day < hours.first_day:
        return {"ends_at": "the last day must not be before the first"}
    if not repeat_days(hours.first_day, hours.last_day, repeat):
        first, last = short_date(hours.first_day), short_date(hours.last_day)
        return {"weekdays": f"none of the chosen weekdays falls between {first} and {last}"}
    return {}


def repeat_words(start: dt.datetime, end: dt.datetime, repeat: Repeat, fmt: str) -> str:
    """A repeating closure stored from ``start`` to ``end`` (local times) in one phrase:
    "Every day Dec 21 – Dec 31, 1:00 PM – 5:00 PM", "Every Fri Jan 8 – Jan 29, all day" (its
    first and last day closed; the year said when they fall in two); ``fmt`` the clinic's time
    format."""
    hours = daily_hours(start, end)
    closed = repeat_days(hours.first_day, hours.last_day, repeat) or [hours.first_day]
    first, last = closed[0], closed[-1]
    year = first.year != last.year
    days = " – ".join(short_date(d, year=year, weekday=False) for d in (first, last))
    if hours.all_day:
        times = "all day"
    else:
        end_minute = hours.end_minute % MINUTES_A_DAY
        starts = dt.time(hours.start_minute // 60, hours.start_minute % 60)
        ends = dt.time(end_minute // 60, end_minute % 60)
        after = " the next day" if hours.end_minute > MINUTES_A_DAY else ""
        times = f"{clock(starts, fmt)} – {clock(ends, fmt)}{after}"
    return f"{repeat.words()} {days}, {times}"
