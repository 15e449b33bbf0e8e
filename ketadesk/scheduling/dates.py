"""Dates in words the way a US clinic reads them: month before day ("Tue Nov 24, 2026").

Pure and independent of the process locale, so every layer (services, printing, widgets) can say
a date the same way.  Times of day follow the clinic's own setting, ``[clinic] time_format``
(``TIME_FORMATS``: "12h" says "9:30 AM", the default for a US clinic; "24h" says "09:30"), and
are said only by ``clock``, ``clock_span``, ``hour_label``, ``short_date_time``,
``typed_clock`` and ``moved_words`` here, which every view, dialog, printed page and command
passes that setting.
What machines read (CSV, iCalendar, audit storage, file names) keeps its own fixed form.
"""

from __future__ import annotations

import datetime as dt
import re

WEEKDAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def short_date(day: dt.date, *, year: bool = False, weekday: bool = True) -> str:
    """``Tue Nov 24``; with ``year`` ``Tue Nov 24, 2026``; without ``weekday`` ``Nov 24``
    (``Nov 24, 2026``)."""
    text = f"{MONTH_ABBR[day.month - 1]} {day.day}"
    if year:
        text = f"{text}, {day.year}"
    if weekday:
        text = f"{WEEKDAY_ABBR[day.weekday()]} {text}"
    return text


def short_date_time(
    moment: dt.datetime,
    fmt: str,
    *,
    year: bool = False,
    weekday: bool = True,
    seconds: bool = False,
) -> str:
    """``Tue Nov 24 9:30 AM`` (``Tue Nov 24 09:30`` in 24-hour ``fmt``): the date as
    ``short_date`` says it, then the time as ``clock`` does."""
    time = clock(moment, fmt, seconds=seconds)
    return f"{short_date(moment, year=year, weekday=weekday)} {time}"


def moved_words(
    old: dt.datetime,
    new: dt.datetime,
    fmt: str,
    *,
    old_place: str = "",
    new_place: str = "",
) -> str:
    """A session's move, as the session's history, the desk's "moved at another workstation"
    and a closure's call to the patient all say it: ``from Mon Dec 7 12:25 PM, Room 2 to Mon
    Dec 7 12:40 PM, Room 3`` (``short_date_time`` each side, a place only where one is named;
    each time read on its own clock: convert it to the clinic's zone first)."""

    def place(moment: dt.datetime, where: str) -> str:
        when = short_date_time(moment, fmt)
        return f"{when}, {where}" if where else when

    return f"from {place(old, old_place)} to {place(new, new_place)}"


#: The clinic's ways of saying a time of day (``[clinic] time_format``), the first the default.
TIME_FORMATS = ("12h", "24h")
#: Each format as the Settings page offers it.
TIME_FORMAT_LABELS = {"12h": "12-hour (9:30 AM)", "24h": "24-hour (09:30)"}


def _is_24(fmt: str) -> bool:
    if fmt not in TIME_FORMATS:
        raise ValueError(f"time format {fmt!r} is not one of {', '.join(TIME_FORMATS)}")
    return fmt == "24h"


def clock(
    time: dt.time | dt.datetime, fmt: str, *, seconds: bool = False, compact: bool = False
) -> str:
    """A time of day as the clinic reads it: ``9:30 AM``, ``12:00 PM`` (noon), ``12:05 AM``
    (just after midnight) in "12h"; ``09:30``, ``12:00``, ``00:05`` in "24h".  A datetime is
    read on its own clock (convert it to the clinic's zone first).

    ``compact`` leaves out AM/PM ("9:30"): only for a time drawn beside an hour ruler that
    already says which half of the day it is in (the week's blocks, a narrow day block)."""
    if _is_24(fmt):
        return f"{time:%H:%M:%S}" if seconds else f"{time:%H:%M}"
    hour = time.hour % 12 or 12
    secs = f":{time.second:02d}" if seconds else ""
    text = f"{hour}:{time.minute:02d}{secs}"
    return text if compact else f"{text} {'AM' if time.hour < 12 else 'PM'}"


def clock_span(
    start: dt.time | dt.datetime,
    end: dt.time | dt.datetime,
    fmt: str,
    *,
    compact: bool = False,
) -> str:
    """From one time to another, as narrow as it reads: ``9:30–11:10 AM`` (both in the same
    half of the day), ``11:30 AM–12:10 PM``; ``09:30–11:10`` in "24h".  ``compact``, beside
    an hour ruler only: ``11:30–12:10`` (see ``clock``)."""
    if compact or _is_24(fmt):
        return f"{clock(start, fmt, compact=True)}–{clock(end, fmt, compact=True)}"
    if (start.hour < 12) == (end.hour < 12):  # the span's end says AM (or PM) once
        return f"{clock(start, fmt, compact=True)}–{clock(end, fmt)}"
    return f"{clock(start, fmt)}–{clock(end, fmt)}"


def hour_label(hour: int, fmt: str) -> str:
    """An hour ruler's label, as narrow as a time can be: ``9 AM``, ``12 PM``, ``12 AM`` in
    "12h"; ``09:00`` in "24h".  ``hour`` may run past 23 (a day that runs over midnight)."""
    hour %= 24
    if _is_24(fmt):
        return f"{hour:02d}:00"
    return f"{hour % 12 or 12} {'AM' if hour < 12 else 'PM'}"


def long_date(day: dt.date) -> str:
    """``Tuesday, November 24, 2026``: a heading's date."""
    return f"{WEEKDAY_NAMES[day.weekday()]}, {MONTH_NAMES[day.month - 1]} {day.day}, {day.year}"


def date_range(first: dt.date, last: dt.date) -> str:
    """A span of days: ``Nov 30 – Dec 6, 2026``, ``Dec 7 – 13, 2026``,
    ``Dec 28, 2026 – Jan 3, 2027``."""
    end = short_date(last, year=True, weekday=False)
    if first.year != last.year:
        return f"{short_date(first, year=True, weekday=False)} – {end}"
    if first.month != last.month:
        return f"{short_date(first, weekday=False)} – {end}"
    return f"{short_date(first, weekday=False)} – {last.day}, {last.year}"


def whole_days(start: dt.datetime, end: dt.datetime) -> tuple[dt.date, dt.date] | None:
    """The first and the last day of a span from one local midnight to a later one (a
    closure of whole days, stored with its end at the midnight after its last day); None for
    a span that starts or ends at another time.  Both read on their own clock (convert them
    to the clinic's zone first)."""
    midnight = dt.time(0, 0)
    if start.time() != midnight or end.time() != midnight or end.date() <= start.date():
        return None
    return start.date(), end.date() - dt.timedelta(days=1)


def span_ends(
    start: dt.datetime, end: dt.datetime, fmt: str, *, year: bool = False
) -> tuple[str, str]:
    """A closure's From and To as a person reads them: a span of whole days by its first and
    its last day closed, "Mon Dec 7" and "Wed Dec 9 (all day)" (stored, it ends at "Thu Dec
    10 12:00 AM", which users read as the wrong day); a part-day span by its times, "Thu Dec
    24 8:00 AM" and "Thu Dec 24 12:00 PM" (``short_date_time``)."""
    days = whole_days(start, end)
    if days is None:
        return (
            short_date_time(start, fmt, year=year),
            short_date_time(end, fmt, year=year),
        )
    first, last = days
    return short_date(first, year=year), f"{short_date(last, year=year)} (all day)"


def span_words(start: dt.datetime, end: dt.datetime, fmt: str, *, year: bool = False) -> str:
    """A closure's span in one phrase: "Mon Dec 7 – Wed Dec 9, all day", "Mon Dec 7, all
    day", "Thu Dec 24 8:00 AM to Thu Dec 24 12:00 PM" (see ``span_ends``)."""
    days = whole_days(start, end)
    if days is None:
        return " to ".join(span_ends(start, end, fmt, year=year))
    first, last = days
    if first == last:
        return f"{short_date(first, year=year)}, all day"
    return f"{short_date(first, year=year)} – {short_date(last, year=year)}, all day"


# ---------------------------------------------------------------------------------------------
# Reading what was typed


_WEEKDAY_WORD = re.compile(r"^\s*([A-Za-z]+)\.?,?\s+(?=\S)")
_NUMERIC_DATE = re.compile(r"(\d{1,4})\s*[/.-]\s*(\d{1,2})(?:\s*[/.-]\s*(\d{1,4}))?")
_WORDED_DATE = re.compile(r"([A-Za-z]+)\.?\s+(\d{1,2})(?:(?:,\s*|\s+)(\d{2}|\d{4}))?")
_CLOCK = re.compile(r"(\d{1,2})(?:[:.h](\d{2}))?|(\d)(\d{2})|(\d{2})(\d{2})")
_MERIDIEM = re.compile(r"\s*([ap])\.?\s*m?\.?\s*$", re.IGNORECASE)


def _month_of(word: str) -> int | None:
    word = word.lower()
    for number, name in enumerate(MONTH_NAMES, start=1):
        if len(word) >= 3 and name.lower().startswith(word):
            return number
    return None


def _is_weekday(word: str) -> bool:
    word = word.lower()
    return len(word) >= 2 and any(name.lower().startswith(word) for name in WEEKDAY_NAMES)


def _full_year(text: str | None, default_year: int | None) -> int | None:
    if text is None:
        return default_year
    if len(text) == 2:
        return 2000 + int(text)
    return int(text) if len(text) == 4 else None


def parse_us_date(text: str, *, default_year: int | None = None) -> dt.date | None:
    """The date typed in ``text`` as a US clinic types it, month first: ``12/12/2026``,
    ``12/2/26``, ``1-5-2027``, ``2026-12-12`` (year first when it has four digits), ``Dec 12,
    2026``, with or without a weekday before it (``Sat 12/12/2026``); a date without a year
    is in ``default_year``.  None when it is not a real date."""
    text = text.strip()
    weekday = _WEEKDAY_WORD.match(text)
    if weekday and _is_weekday(weekday.group(1)):
        text = text[weekday.end() :]
    numeric = _NUMERIC_DATE.fullmatch(text)
    if numeric:
        first, second, third = numeric.groups()
        if len(first) == 4:  # ISO: year, month, day
            if third is None:
                return None
            year: int | None = int(first)
            month, day = int(second), int(third)
        elif len(first) > 2:
            return None
        else:
            month, day = int(first), int(second)
            year = _full_year(third, default_year)
    else:
        worded = _WORDED_DATE.fullmatch(text)
        month_number = _month_of(worded.group(1)) if worded else None
        if worded is None or month_number is None:
            return None
        month, day = month_number, int(worded.group(2))
        year = _full_year(worded.group(3), default_year)
    if year is None:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def parse_clock_time(text: str) -> dt.time | None:
    """The time of day typed in ``text``: ``10:30``, ``9:15``, ``0915``, ``1030``, ``9``
    (on the hour), ``14:30``, ``2:30 pm``, ``2:30p``, ``230pm``, ``2pm``; None when it is not
    a time."""
    text = text.strip()
    meridiem = _MERIDIEM.search(text)
    if meridiem:
        text = text[: meridiem.start()]
    clock = _CLOCK.fullmatch(text.strip())
    if clock is None:
        return None
    groups = clock.groups()
    if groups[0] is not None:
        hour, minute = int(groups[0]), int(groups[1] or 0)
    elif groups[2] is not None:
        hour, minute = int(groups[2]), int(groups[3])
    else:
        hour, minute = int(groups[4]), int(groups[5])
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem.group(1).lower() == "p" else 0)
    if hour > 23 or minute > 59:
        return None
    return dt.time(hour, minute)


def typed_clock(text: str, fmt: str) -> str:
    """A time of day kept as text (the ride's pickup, stored "14:30") said as the clinic reads
    times (``clock``: "2:30 PM" in "12h"); text that is no time is said as it is."""
    time = parse_clock_time(text) if text.strip() else None
    return clock(time, fmt) if time is not None else text


def parse_date_time(text: str, *, default_year: int | None = None) -> dt.datetime | None:
    """A date and a time typed together (``12/12/2026 10:30``, ``Sat Dec 12, 2026 2:30 pm``):
    the date as ``parse_us_date`` reads it, then the time as ``parse_clock_time`` does (the
    time after the last space that leaves a date before it).  Naive; None when not both."""
    text = text.strip()
    spaces = [i for i, c in enumerate(text) if c.isspace()]
    for cut in reversed(spaces):
        day = parse_us_date(text[:cut], default_year=default_year)
        time = parse_clock_time(text[cut:])
        if day is not None and time is not None:
            return dt.datetime.combine(day, time)
    return None
